"""Small hand-built rows in the seeds contract (until the seeds module lands, tests build them here)."""

from __future__ import annotations

import datasets


def seed_rows(n: int = 3, tag: str = "v1") -> list[dict]:
    """Seed documents in the seeds contract; ``tag`` makes rows of different revisions differ."""
    return [
        {
            "doc_id": f"doc-{i}",
            "category": "product",
            "lang": "ja",
            "text": f"製品{i}の価格は{1000 + i}円です。({tag})",
            "facts": [{"key": "price", "value": f"{1000 + i}円"}],
            "questions": [{"question": f"製品{i}の価格は？", "answer": f"{1000 + i}円", "key": "price"}],
        }
        for i in range(n)
    ]


def seeds_table(n: int = 3, tag: str = "v1") -> datasets.Dataset:
    return datasets.Dataset.from_list(seed_rows(n, tag))
