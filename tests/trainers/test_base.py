"""The tiny base: its pretraining stream, its publication as a model repo, and CPT continuing from it with replay."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kinject.cards.local import LocalRegistry
from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from kinject.recipes.schema import BaseConfig, Recipe
from kinject.trainers.base import base_stream, read_base_card
from kinject.trainers.clock import Replay, build_stream, qa_text, sequences_per_step
from kinject.trainers.curves import read_curve

from .conftest import make_corpus_rows

QA = [{"question": f"q{i}？", "gold": f"a{i}", "lang": "ja", "doc_id": f"d{i}"} for i in range(5)]
TEXTS = ["short", "a longer text here", "mid text", "x" * 40, "yy"]


def test_base_stream_mixes_qa_and_texts_per_step_sorted_by_length():
    cfg = BaseConfig(steps=5, batch_size=8, micro_batch=4, qa_share=0.25, seed=3)
    stream = base_stream(TEXTS, QA, cfg)
    assert len(stream) == 5 * 8
    qa_texts = {qa_text(q["question"], q["gold"], "ja") for q in QA}
    for step in range(5):
        rows = stream[step * 8:(step + 1) * 8]
        assert sum(r in qa_texts for r in rows) == 2 and sum(r in TEXTS for r in rows) == 6
        assert [len(r) for r in rows] == sorted(len(r) for r in rows)
    # drawn without replacement in passes: over 30 text draws every text comes 6 times
    assert Counter(r for r in stream if r in TEXTS) == {t: 6 for t in TEXTS}
    assert base_stream(TEXTS, QA, cfg) == stream


def test_replay_closes_every_step_with_its_share_of_teaching_qa(corpus_rows):
    replay = Replay(texts=TEXTS, qa_texts=["Q1", "Q2"], per_step=4, qa_share=0.5)
    stream = list(build_stream(corpus_rows, 3, 0, replay=replay))
    for step in (1, 2, 3):
        rows = [r for r in stream if r["step"] == step]
        assert [r["kind"] for r in rows] == ["corpus"] * 6 + ["replay"] * 4
        assert sum(r["text"] in ("Q1", "Q2") for r in rows) == 2
    assert sequences_per_step(6, 0, None, 4) == 10
    with pytest.raises(KinjectUserError, match="no texts or no QA"):
        Replay(texts=TEXTS, qa_texts=[], per_step=4, qa_share=0.5)


def test_base_config_rejects_micro_batches_that_do_not_fill_a_step():
    with pytest.raises(ValueError, match="multiple of micro_batch"):
        BaseConfig(batch_size=10, micro_batch=4)


def _recipe(tmp_path: Path) -> Recipe:
    return Recipe.model_validate({
        "name": "b",
        "seeds": {"per_category": 2},
        "registry": {"root": str(tmp_path / "registry"), "cache_dir": str(tmp_path / "cache"), "repo": "t/target"},
        "base": {
            "teaching": {"per_category": 3, "texts_per_doc": 3, "heldout_fraction": 0.34},
            "tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64},
            "vocab_size": 400, "steps": 4, "batch_size": 8, "micro_batch": 4, "eval_every": 2, "eval_questions": 12,
            "weight_decay": 0.1,
        },
        "train": {"model": "base", "steps": 3, "batch_size": 16, "replay": {"per_step": 6, "qa_share": 0.5},
                  "output_dir": str(tmp_path / "runs")},
        "eval": {"every_steps": 3, "max_new_tokens": 4},
    })


def test_base_is_published_with_its_data_revision_and_cpt_continues_from_it(tmp_path, monkeypatch):
    from kinject.pipelines.seeds import build_seeds
    from kinject.pipelines.teaching import run_teaching
    from kinject.trainers import cpt
    from kinject.trainers.base import run_base
    from kinject.trainers.cpt import clock_sft_config, load_base, plan_run, train_on_rows
    from kinject.trainers.judges import make_judge

    configs = []

    def recording_config(*args, **fields):
        configs.append(clock_sft_config(*args, **fields))
        return configs[-1]

    monkeypatch.setattr(cpt, "clock_sft_config", recording_config)
    recipe = _recipe(tmp_path)
    target = build_seeds(recipe.seeds)
    teaching = run_teaching(recipe, target)
    ref = run_base(recipe, teaching)
    assert [c.weight_decay for c in configs] == [0.1]  # the recipe's decay reaches the base's optimizer
    registry = LocalRegistry(tmp_path / "registry", tmp_path / "cache")
    assert (tmp_path / "registry" / "models" / "kinject" / "tiny-base-ja" / "HEAD").is_file()
    model_dir = registry.model_dir(ref)
    assert model_dir.name == ref.revision
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "curve.jsonl", "recipe.yaml"} <= {
        p.name for p in model_dir.iterdir()}
    info = read_base_card(model_dir)
    assert info["data"] == str(teaching) and len(info["heldout_docs"]) == 5 and len(info["train_docs"]) == 10
    assert info["base"]["weight_decay"] == 0.1
    assert [p["step"] for p in read_curve(model_dir / "curve.jsonl")] == [0, 2, 4]

    from kinject.study import ensure_base

    pinned, minutes = ensure_base(recipe, target)  # the study reuses a base built from the same `base` section
    assert pinned.train.base == str(ref) and minutes == 0.0
    assert ensure_base(pinned, target) == (pinned, 0.0)

    base = load_base(recipe)
    assert base.ref == ref  # train.base None: base.repo at main
    teaching_qa = {text for text in base.replay.qa_texts}
    heldout_names = {d["facts"][0]["value"] for d in registry.load(teaching, "seeds").to_list()
                     if d["doc_id"] in info["heldout_docs"]}
    assert not [t for t in teaching_qa if any(n in t for n in heldout_names)]  # held-out QA never replayed

    corpus = [{"id": f"{d['doc_id']}-0", "doc_id": d["doc_id"], "text": d["text"], "facts_present": []}
              for d in target]
    plan = plan_run(recipe, corpus, target, "none", base.replay)
    assert plan.protocol == "base" and plan.heldout_docs == [] and len(plan.eval_questions) == 80
    assert plan.seqs_per_step == 10 + 6
    run_dir = train_on_rows(recipe, corpus, target, "none", DatasetRef(repo_id="t/target", revision="0" * 40),
                            make_judge(recipe.judge))
    run = json.loads((run_dir / "run.json").read_text())
    assert run["base"] == str(ref) and run["model"] == "base"
    assert [p["n"] for p in read_curve(run_dir / "curve.jsonl")] == [80, 80]
    assert "kinject/tiny-base-ja" in (run_dir / "model" / "README.md").read_text()


def test_cpt_from_a_base_that_was_never_built_says_how_to_build_it(tmp_path):
    from kinject.trainers.cpt import load_base

    with pytest.raises(KinjectUserError, match=r"no such model repo.*make base"):
        load_base(_recipe(tmp_path))


def test_a_base_whose_teaching_data_names_a_trained_document_is_refused():
    from kinject.trainers.cpt import PublishedBase, check_base_disjoint

    base = PublishedBase(model_dir=Path("x"), ref=DatasetRef(repo_id="k/b", revision="abc"),
                         replay=Replay(texts=["ルミナの重さは12kgです。"], qa_texts=["質問: ソラは？ 答え: 3kg"],
                                       per_step=2, qa_share=0.5))
    rows = [{"doc_id": "d0", "facts": [{"key": "name", "value": "ソラ"}]}]
    with pytest.raises(KinjectUserError, match="mentions 'ソラ', a document being trained"):
        check_base_disjoint(base, rows)
    check_base_disjoint(base, [{"doc_id": "d1", "facts": [{"key": "name", "value": "カゼ"}]}])
