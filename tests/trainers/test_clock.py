"""The step clock: one sample per document per step, reuse in a new order, and the mixed-training split."""

from collections import Counter

import pytest

from kinject.errors import KinjectUserError
from kinject.trainers.clock import (
    CyclingDraw,
    StepClock,
    build_stream,
    qa_pairs,
    qa_prompt,
    qa_text,
    sequences_per_step,
    split_documents,
)


def corpus(samples: dict[str, int]) -> list[dict]:
    return [{"doc_id": d, "text": f"{d}-{i}"} for d, n in samples.items() for i in range(n)]


def seeds(n_per_cat: int, cats=("product", "terms")) -> list[dict]:
    rows = []
    for c in cats:
        for i in range(n_per_cat):
            doc = f"{c}-{i}"
            qs = [{"question": f"{doc} q{k}？", "answer": f"a{k}", "key": f"k{k}"} for k in range(3)]
            rows.append({"doc_id": doc, "category": c, "lang": "ja", "questions": qs})
    return rows


def test_each_step_draws_exactly_one_sample_of_every_document():
    clock = StepClock(corpus({"a": 5, "b": 3, "c": 7}), seed=0)
    for _ in range(20):
        rows = clock.next_step()
        assert [r["doc_id"] for r in rows] == ["a", "b", "c"]


def test_samples_are_used_once_before_any_is_reused():
    clock = StepClock(corpus({"a": 5, "b": 3}), seed=0)
    steps = [clock.next_step() for _ in range(15)]
    b_texts = [s[1]["text"] for s in steps]
    for p in range(5):  # passes over b's 3 samples
        assert sorted(b_texts[3 * p : 3 * p + 3]) == ["b-0", "b-1", "b-2"]
    a_texts = [s[0]["text"] for s in steps]
    assert Counter(a_texts) == {f"a-{i}": 3 for i in range(5)}
    assert clock.passes("b") == 5 and clock.passes("a") == 3


def test_reuse_is_in_a_new_order():
    draw = CyclingDraw(list(range(6)), seed=3, key="doc")
    passes = [[draw.draw() for _ in range(6)] for _ in range(8)]
    for prev, cur in zip(passes, passes[1:]):
        assert sorted(cur) == list(range(6))
        assert cur != prev
    two = CyclingDraw(["x", "y"], seed=0, key="d")
    seq = [two.draw() for _ in range(10)]
    pairs = [seq[i : i + 2] for i in range(0, 10, 2)]
    assert all(sorted(p) == ["x", "y"] for p in pairs)
    assert all(prev != cur for prev, cur in zip(pairs, pairs[1:]))  # two items: every pass flips the order


def test_order_is_seeded_and_depends_on_the_seed():
    rows = corpus({"a": 50, "b": 50})

    def texts(seed: int) -> list[str]:
        clock = StepClock(rows, seed)
        return [r["text"] for _ in range(60) for r in clock.next_step()]

    assert texts(0) == texts(0)
    assert texts(1) != texts(0)


def test_empty_corpus_is_a_user_error():
    with pytest.raises(KinjectUserError, match="no rows"):
        StepClock([], seed=0)


def test_split_is_stratified_seeded_and_disjoint():
    rows = seeds(10, cats=("product", "terms", "company"))
    train, held = split_documents(rows, 0.5, seed=0)
    assert set(train).isdisjoint(held) and len(train) + len(held) == 30
    by_cat = Counter(d.rsplit("-", 1)[0] for d in train)
    assert by_cat == {"product": 5, "terms": 5, "company": 5}
    assert split_documents(rows, 0.5, seed=0) == (train, held)
    assert split_documents(rows, 0.5, seed=1) != (train, held)
    tiny_train, tiny_held = split_documents(seeds(2, cats=("product",)), 0.9, seed=0)
    assert len(tiny_train) == 1 and len(tiny_held) == 1  # every category is both taught and measured


def test_mixed_stream_never_contains_held_out_qa():
    rows = seeds(4)
    train, held = split_documents(rows, 0.5, seed=0)
    train_qa = qa_pairs(rows, train)
    corpus_rows = corpus({d["doc_id"]: 3 for d in rows})
    stream = list(build_stream(corpus_rows, steps=5, seed=0, train_qa=train_qa))
    qa_rows = [r for r in stream if r["kind"] == "qa"]
    assert {r["doc_id"] for r in qa_rows} == set(train)
    held_questions = {q["question"] for q in qa_pairs(rows, held)}
    assert not any(q in r["text"] for r in stream for q in held_questions)
    # all train QA every step, each as its own sequence in the template the evaluation prompts with
    per_step = Counter(r["step"] for r in qa_rows)
    assert set(per_step.values()) == {len(train_qa)}
    assert qa_rows[0]["text"] == qa_text(train_qa[0]["question"], train_qa[0]["gold"], "ja")
    assert qa_rows[0]["text"].startswith(qa_prompt(train_qa[0]["question"], "ja"))
    assert len(stream) == 5 * sequences_per_step(len(rows), len(train_qa), None)


def test_stream_steps_are_contiguous_with_one_sample_per_document():
    corpus_rows = corpus({"a": 2, "b": 3})
    train_qa = qa_pairs(seeds(1, cats=("product",)), ["product-0"])
    stream = list(build_stream(corpus_rows, steps=4, seed=0, train_qa=train_qa, qa_per_step=2))
    assert [r["step"] for r in stream] == sorted(r["step"] for r in stream)
    for step in range(1, 5):
        rows = [r for r in stream if r["step"] == step]
        assert [r["doc_id"] for r in rows if r["kind"] == "corpus"] == ["a", "b"]
        assert sum(r["kind"] == "qa" for r in rows) == 2
    qa_texts = [r["text"] for r in stream if r["kind"] == "qa"]
    assert Counter(qa_texts[:3]) == Counter(qa_text(q["question"], q["gold"], "ja") for q in train_qa)
    assert sequences_per_step(2, 3, 2) == 4 and sequences_per_step(2, 3, 0) == 2 and sequences_per_step(2, 0, None) == 2


def test_pure_cpt_stream_has_only_corpus_rows():
    stream = list(build_stream(corpus({"a": 2}), steps=3, seed=0))
    assert [r["kind"] for r in stream] == ["corpus"] * 3
    assert qa_prompt("What?", "en") == "Question: What? Answer:"
