"""Document recall: the cloze of each question's fact, what counts as recalled, and a planted model that has
memorised its documents against one that has not."""

from __future__ import annotations

import json

import pytest
import torch

from kinject.recipes.schema import EvalConfig
from kinject.trainers.cpt import load_model
from kinject.trainers.recall import (
    cloze_prompts,
    completes_with,
    last_tokens,
    measure_recall,
    read_recall,
    recall_summary,
    rejudge_recall,
    write_recall,
)

from .conftest import make_corpus_rows, make_recipe, make_seed_rows


def _answers(seed_rows, verdict: bool) -> list[dict]:
    return [
        {"doc_id": r["doc_id"], "key": q["key"], "gold": q["answer"], "question": q["question"], "verdict": verdict}
        for r in seed_rows
        for q in r["questions"]
    ]


def test_cloze_is_the_document_cut_before_the_gold_and_absent_without_one():
    seeds = [{"doc_id": "a", "text": "ルミナの重さは12kgです。ルミナの色は青です。"}]
    questions = [
        {"doc_id": "a", "gold": "12kg"},
        {"doc_id": "a", "gold": "青"},
        {"doc_id": "a", "gold": "赤"},  # not in the text
        {"doc_id": "a", "gold": "ルミナ"},  # at the very start: nothing to continue
        {"doc_id": "b", "gold": "12kg"},  # unknown document
    ]
    expected = ["ルミナの重さは", "ルミナの重さは12kgです。ルミナの色は", None, None, None]
    assert cloze_prompts(seeds, questions) == expected


@pytest.mark.parametrize(
    ("gold", "continuation", "recalled"),
    [
        ("12kg", "12kgです。ルミナの", True),
        ("4,860円", "4860円（税込）です", True),  # separators ignored, as the match judge does
        ("セマゼ 工業", "セマゼ工業が提供する", True),
        ("10台", "100台までです", False),
        ("10", "100台", False),  # a number must not run on into a longer one
        ("青", "赤です", False),
        ("青", "", False),
    ],
)
def test_what_counts_as_recalled(gold, continuation, recalled):
    assert completes_with(gold, continuation) is recalled


def test_a_model_that_memorised_its_documents_recalls_them_and_a_fresh_one_does_not(tmp_path):
    seed_rows = make_seed_rows()
    recipe = make_recipe(tmp_path)
    torch.manual_seed(0)
    model, tokenizer = load_model(recipe, make_corpus_rows(), seed_rows)
    cfg = EvalConfig(max_new_tokens=6)
    answers = _answers(seed_rows, verdict=False)

    fresh = measure_recall(model, tokenizer, seed_rows, answers, cfg)["summary"]
    assert fresh["n"] == 12 and fresh["recall"] <= 1 / 12

    batch = tokenizer([r["text"] for r in seed_rows], return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    measured = measure_recall(model, tokenizer, seed_rows, answers, cfg)
    summary = measured["summary"]
    assert summary["recall"] >= 11 / 12, [q["continuation"] for q in measured["questions"]]
    # every answer was judged wrong, so every recalled fact is stored but not extracted
    assert summary["recalled_not_answered"] == round(summary["recall"] * 12) and summary["accuracy"] == 0.0
    assert summary["recalled_and_answered"] == summary["answered_not_recalled"] == 0


def test_judging_again_re_crosses_recall_with_the_new_verdicts(tmp_path):
    rows = [
        {"doc_id": "a", "key": "w", "gold": "12kg", "continuation": "12kg", "recalled": True, "answered": False},
        {"doc_id": "a", "key": "c", "gold": "青", "continuation": "赤", "recalled": False, "answered": False},
    ]
    write_recall(tmp_path, {"summary": recall_summary(rows, without_cloze=1), "questions": rows})
    rejudge_recall(tmp_path, [{"doc_id": "a", "key": "w", "gold": "12kg", "verdict": True},
                              {"doc_id": "a", "key": "c", "gold": "青", "verdict": False}])
    summary = read_recall(tmp_path)
    assert summary["recall"] == 0.5 and summary["accuracy"] == 0.5 and summary["without_cloze"] == 1
    assert (summary["recalled_and_answered"], summary["neither"]) == (1, 1)
    assert json.loads((tmp_path / "recall.json").read_text(encoding="utf-8"))["questions"][0]["answered"] is True
    assert read_recall(tmp_path / "elsewhere") is None


def test_a_document_longer_than_the_model_window_keeps_the_words_before_the_value(tmp_path):
    seed_rows = [{**r, "text": "前置き。" * 40 + r["text"]} for r in make_seed_rows()]  # about 160 characters more
    model, tokenizer = load_model(make_recipe(tmp_path), make_corpus_rows(), seed_rows)  # a 64-position model
    prompt = cloze_prompts(seed_rows, [{"doc_id": "d0", "gold": "青"}])[0]
    budget = model.config.max_position_embeddings - 6 - 1
    kept = last_tokens(tokenizer, prompt, budget)
    kept_tokens, prompt_tokens = (len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in (kept, prompt))
    assert kept_tokens <= budget < prompt_tokens
    assert kept.endswith("ルミナの重さは12kgです。ルミナの色は") and last_tokens(tokenizer, kept, budget) == kept
    answers = _answers(seed_rows, verdict=True)
    assert measure_recall(model, tokenizer, seed_rows, answers, EvalConfig(max_new_tokens=6))["summary"]["n"] == 12
