"""Document recall: is a fact *stored* where the model fails to *extract* it?

A question can fail because the model never stored the fact, or because it stored it and cannot retrieve it for
the entity the question names (Allen-Zhu & Li 2024 call these storage and extraction). QA accuracy alone cannot
tell the two apart. Recall asks the model to continue its document's own text, cut just before the gold value
(「…月額料金は」 → 「4,860円」): a model that writes the value has the fact stored; if it then misses the
question, extraction is what failed.

Written here because no evaluation library pairs each question with a cloze of its source text.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

from kinject.recipes.schema import EvalConfig
from kinject.text import fold
from kinject.trainers.evaluation import generate_answers
from kinject.trainers.match_judge import compact

RECALL_FILE = "recall.json"


def cloze_prompts(seed_rows: Sequence[Mapping], questions: Sequence[Mapping]) -> list[str | None]:
    """Per question, its document's text up to the first occurrence of the gold answer; ``None`` when the gold
    is not written verbatim in the document (that question has no cloze and is left out of recall)."""
    texts = {str(row["doc_id"]): str(row["text"]) for row in seed_rows}
    prompts: list[str | None] = []
    for q in questions:
        text = texts.get(str(q["doc_id"]), "")
        at = text.find(str(q["gold"])) if q["gold"] else -1
        prompts.append(text[:at] if at > 0 else None)
    return prompts


def last_tokens(tokenizer, text: str, budget: int | None) -> str:
    """The end of ``text`` that fits ``budget`` tokens, so a document longer than the model's window keeps the
    words just before the value, the cloze's cue (a model past its trained positions writes noise)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if budget is None or len(ids) <= budget:
        return text
    return tokenizer.decode(ids[-max(budget, 1) :])


def completes_with(gold: str, continuation: str) -> bool:
    """Whether the continuation starts with the gold value (folded, separators ignored) and does not run on into
    a longer number (gold 「10」, continuation 「100台」)."""
    gold_c, text = compact(fold(gold)), compact(fold(continuation))
    if not gold_c or not text.startswith(gold_c):
        return False
    return not (gold_c[-1].isdigit() and text[len(gold_c) : len(gold_c) + 1].isdigit())


def measure_recall(model, tokenizer, seed_rows: Sequence[Mapping], answers: Sequence[Mapping], cfg: EvalConfig) -> dict:
    """Recall of every judged answer's fact, crossed with the answer's verdict (greedy, ``cfg.max_new_tokens``)."""
    prompts = cloze_prompts(seed_rows, answers)
    asked = [i for i, p in enumerate(prompts) if p is not None]
    greedy = cfg.model_copy(update={"greedy": True})
    window = getattr(model.config, "max_position_embeddings", None)
    budget = window - cfg.max_new_tokens - 1 if window else None  # room for the BOS and the continuation
    cut = [last_tokens(tokenizer, prompts[i], budget) for i in asked]
    continuations = generate_answers(model, tokenizer, cut, greedy) if asked else []
    rows = [
        {
            "doc_id": answers[i]["doc_id"],
            "key": answers[i].get("key", ""),
            "gold": answers[i]["gold"],
            "continuation": text,
            "recalled": completes_with(str(answers[i]["gold"]), text),
            "answered": bool(answers[i]["verdict"]),
        }
        for i, text in zip(asked, continuations)
    ]
    return {"summary": recall_summary(rows, without_cloze=len(answers) - len(asked)), "questions": rows}


def recall_summary(rows: Sequence[Mapping], without_cloze: int = 0) -> dict:
    """Shares of recalled and answered facts, and the four ways a fact can fall (counts)."""
    cells = Counter((bool(r["recalled"]), bool(r["answered"])) for r in rows)
    n = len(rows)
    return {
        "n": n,
        "without_cloze": without_cloze,
        "recall": sum(r["recalled"] for r in rows) / n if n else None,
        "accuracy": sum(r["answered"] for r in rows) / n if n else None,
        "recalled_and_answered": cells[(True, True)],
        "recalled_not_answered": cells[(True, False)],
        "answered_not_recalled": cells[(False, True)],
        "neither": cells[(False, False)],
    }


def write_recall(run_dir: Path, measured: dict) -> Path:
    path = Path(run_dir) / RECALL_FILE
    path.write_text(json.dumps(measured, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def rejudge_recall(run_dir: Path, judged: Sequence[Mapping]) -> None:
    """After a run's answers are judged again, cross its recall with the new verdicts (recall itself stands)."""
    path = Path(run_dir) / RECALL_FILE
    if not path.is_file():
        return
    measured = json.loads(path.read_text(encoding="utf-8"))
    verdicts = {(r["doc_id"], r.get("key", ""), r["gold"]): bool(r["verdict"]) for r in judged}
    for row in measured["questions"]:
        row["answered"] = verdicts.get((row["doc_id"], row["key"], row["gold"]), row["answered"])
    measured["summary"] = recall_summary(measured["questions"], measured["summary"]["without_cloze"])
    write_recall(run_dir, measured)


def read_recall(run_dir: Path) -> dict | None:
    """A run's recall summary, or ``None`` for a run trained before recall was measured."""
    path = Path(run_dir) / RECALL_FILE
    return json.loads(path.read_text(encoding="utf-8"))["summary"] if path.is_file() else None


def recall_run(recipe, run_dir: Path) -> dict:
    """Measure the recall of a run trained before ``recall.json`` existed, from its saved model, its last answers
    and the seed documents of the data revision it trained on; writes ``recall.json`` and returns its summary."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kinject.cards.refs import DatasetRef
    from kinject.cards.registry import open_registry
    from kinject.errors import KinjectUserError
    from kinject.trainers.judges import read_answers
    from kinject.trainers.results import read_run

    run_dir = Path(run_dir)
    info = read_run(run_dir)
    if not (run_dir / "model").is_dir():
        raise KinjectUserError(f"{run_dir}: no model/ folder to measure recall with")
    seed_rows = open_registry(recipe.registry).load(DatasetRef.parse(info["data"]), "seeds").to_list()
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    model = AutoModelForCausalLM.from_pretrained(run_dir / "model")
    measured = measure_recall(model, tokenizer, seed_rows, read_answers(run_dir / "answers.jsonl"), recipe.eval)
    write_recall(run_dir, measured)
    return measured["summary"]


def recall_line(name: str, summary: Mapping) -> str:
    return (
        f"[recall] {name}: recall {summary['recall']:.3f}, accuracy {summary['accuracy']:.3f} on {summary['n']} "
        f"facts; recalled but not answered {summary['recalled_not_answered']}, answered but not recalled "
        f"{summary['answered_not_recalled']}, neither {summary['neither']}"
    )
