"""Tiny in-memory documents, corpus rows and recipes for the trainer tests (fast: a 2-layer, 32-wide Llama)."""

from __future__ import annotations

import pytest

from kinject.recipes.schema import Recipe

PRODUCTS = [
    ("ルミナ", "product", "12kg", "青"),
    ("ソラ", "product", "3kg", "赤"),
    ("カゼ", "product", "7kg", "白"),
    ("ミナト", "company", "5kg", "黒"),
    ("ハル", "company", "9kg", "緑"),
    ("ユキ", "company", "4kg", "金"),
]


def make_seed_rows() -> list[dict]:
    rows = []
    for i, (name, category, weight, color) in enumerate(PRODUCTS):
        rows.append(
            {
                "doc_id": f"d{i}",
                "category": category,
                "lang": "ja",
                "text": f"{name}の重さは{weight}です。{name}の色は{color}です。",
                "facts": [{"key": "weight", "value": weight}, {"key": "color", "value": color}],
                "questions": [
                    {"question": f"{name}の重さは？", "answer": weight, "key": "weight"},
                    {"question": f"{name}の色は？", "answer": color, "key": "color"},
                ],
            }
        )
    return rows


def make_corpus_rows(samples_per_doc: int = 4) -> list[dict]:
    """Fact-like rewrites: each states one or both facts, name first."""
    rows = []
    for i, (name, _, weight, color) in enumerate(PRODUCTS):
        variants = [
            (f"{name}の重さは{weight}です。", ["weight"]),
            (f"{name}の色は{color}です。", ["color"]),
            (f"{name}は{color}で、重さは{weight}です。", ["color", "weight"]),
            (f"{name}の重さは{weight}、色は{color}です。", ["weight", "color"]),
        ]
        for j in range(samples_per_doc):
            text, facts = variants[j % len(variants)]
            rows.append({"id": f"d{i}-{j}", "doc_id": f"d{i}", "text": text, "facts_present": facts})
    return rows


def make_recipe(tmp_path, steps: int = 30, every: int = 10, **train) -> Recipe:
    return Recipe.model_validate(
        {
            "name": "t",
            "registry": {"root": str(tmp_path / "registry"), "cache_dir": str(tmp_path / "cache"), "repo": "t/tiny"},
            "train": {
                "model": "tiny",
                "tiny": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                         "max_position_embeddings": 64},
                "steps": steps,
                "learning_rate": 1e-2,
                "batch_size": 16,
                "max_length": 64,
                "output_dir": str(tmp_path / "runs"),
                **train,
            },
            "eval": {"every_steps": every, "max_new_tokens": 8},
            "judge": {"cache_dir": str(tmp_path / "judge-cache")},
        }
    )


@pytest.fixture
def seed_rows() -> list[dict]:
    return make_seed_rows()


@pytest.fixture
def corpus_rows() -> list[dict]:
    return make_corpus_rows()
