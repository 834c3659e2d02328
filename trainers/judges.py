"""Judges decide whether an answer states a document's fact; ``make_judge`` picks one from the recipe.

``match`` (offline default, ``match_judge.py``) is conservative normalised matching; ``llm`` (``llm_judge.py``) is a
rubric prompt to an OpenAI-compatible endpoint, cached on disk. Both take rows with ``question``, ``gold`` and
``answer`` and return them with ``verdict`` (bool), ``reason`` and ``judge`` added; other fields are kept.
``judge_file`` does that for a JSON Lines file (``kinject judge --answers``); ``publish_judged`` saves judged
answers as a dataset config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from kinject.recipes.schema import JudgeConfig, Recipe

REQUIRED_FIELDS = ("question", "gold", "answer")


class Judge(Protocol):
    """Anything that adds ``verdict``, ``reason`` and ``judge`` to answer rows."""

    name: str

    def judge(self, rows: list[dict]) -> list[dict]: ...


def make_judge(cfg: JudgeConfig) -> Judge:
    """The judge the recipe's ``judge`` section names."""
    if cfg.kind == "match":
        from kinject.trainers.match_judge import MatchJudge

        return MatchJudge()
    if cfg.kind == "llm":
        from kinject.trainers.llm_judge import LLMJudge

        return LLMJudge(cfg)
    raise ValueError(f"unknown judge kind {cfg.kind!r}")  # the schema's Literal keeps this unreachable


def read_answers(path: Path) -> list[dict]:
    """Rows of a JSON Lines answers file, checked: each an object with string ``question``/``gold`` and an
    ``answer`` (string or null). Errors name the file, the line and the field."""
    path = Path(path)
    if not path.is_file():
        raise KinjectUserError(f"{path}: answers file not found")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise KinjectUserError(f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(row, dict):
                raise KinjectUserError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            for field in REQUIRED_FIELDS:
                if field not in row:
                    raise KinjectUserError(
                        f"{path}:{lineno}: missing field {field!r} (each line needs {', '.join(REQUIRED_FIELDS)})"
                    )
            for field in ("question", "gold"):
                value = row[field]
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    row[field] = value = str(value)  # a bare number as gold (2019) is fine
                if not isinstance(value, str) or not value.strip():
                    raise KinjectUserError(f"{path}:{lineno}: field {field!r} must be a non-empty string, got {value!r}")
            if row["answer"] is not None and not isinstance(row["answer"], str):
                raise KinjectUserError(
                    f"{path}:{lineno}: field 'answer' must be a string or null, got {type(row['answer']).__name__}"
                )
            rows.append(row)
    if not rows:
        raise KinjectUserError(f"{path}: no answers (the file is empty)")
    return rows


def write_jsonl(rows: list[dict], path: Path) -> None:
    """Write rows atomically: a reader never sees half a file, a failure leaves the old one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def accuracy(rows: list[dict]) -> float:
    return sum(bool(r["verdict"]) for r in rows) / len(rows) if rows else 0.0


def judge_file(cfg: JudgeConfig, answers: Path, out: Path) -> float:
    """Judge a JSON Lines file of answers into ``out`` (all fields kept, verdicts added); return the accuracy."""
    rows = read_answers(answers)
    judged = make_judge(cfg).judge(rows)
    write_jsonl(judged, out)
    return accuracy(judged)


def publish_judged(recipe: Recipe, rows: list[dict], config: str, *, source: str) -> DatasetRef:
    """Publish judged answers as config ``config`` (split ``train``) of the recipe's dataset repo."""
    from datasets import Dataset

    from kinject.cards.registry import open_registry

    provenance = {
        "kind": "judged_answers",
        "source": source,
        "judge": rows[0]["judge"] if rows else recipe.judge.kind,
        "judge_config": recipe.judge.model_dump(mode="json"),
        "rows": len(rows),
        "accuracy": accuracy(rows),
    }
    return open_registry(recipe.registry).publish(
        recipe.registry.repo,
        {config: {"train": Dataset.from_list(rows)}},
        provenance={config: provenance},
        message=f"judged answers: {config} ({provenance['judge']}, accuracy {provenance['accuracy']:.3f})",
    )
