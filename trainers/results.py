"""Results into cards: a finished run's curve and summary become a new revision of the dataset it trained on.

``publish_results`` writes ``kinject.results.<run>`` (model, data revision, config, seed, recipe, curve, steps to
85 %/90 %, final accuracy, per category, document recall) and the files
``results/<run>/{curve.png,curve.jsonl,results.md,recall.json}`` in one commit. ``judge_run`` re-judges a run's
last answers with the recipe's judge (a stricter or an LLM judge after the fact, no model needed), rewrites the
run's files and publishes again.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from kinject.recipes.schema import Recipe
from kinject.trainers.curves import plot_curves, read_curve, results_table, summarize
from kinject.trainers.evaluation import score, write_answers
from kinject.trainers.recall import RECALL_FILE, read_recall, rejudge_recall


def read_run(run_dir: Path) -> dict:
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise KinjectUserError(f"{run_dir}: not a finished run (no run.json); was `make train` run?")
    return json.loads(path.read_text(encoding="utf-8"))


def run_results(run_dir: Path) -> dict:
    """The card entry of one run, from its files."""
    run_dir = Path(run_dir)
    info = read_run(run_dir)
    curve = read_curve(run_dir / "curve.jsonl")
    recipe_path = run_dir / "recipe.yaml"
    recipe = yaml.safe_load(recipe_path.read_text(encoding="utf-8")) if recipe_path.is_file() else None
    return {
        "run": info["run"],
        "model": info["model"],
        "model_path": str(run_dir / "model"),
        "data": info["data"],
        "config": info["config"],
        "seed": info["seed"],
        "protocol": info.get("protocol"),
        "judge": info.get("judge"),
        "recipe": recipe,
        "curve": curve,
        **summarize(curve),
        "recall": read_recall(run_dir),
    }


def publish_results(recipe: Recipe, data_ref: DatasetRef, run_dir: Path) -> DatasetRef:
    """Publish the run's results into the card of ``data_ref``'s repo as a new revision; returns it."""
    from kinject.cards.registry import open_registry

    run_dir = Path(run_dir)
    results = run_results(run_dir)
    run = results["run"]
    files = {
        f"results/{run}/curve.jsonl": (run_dir / "curve.jsonl").read_text(encoding="utf-8"),
        f"results/{run}/results.md": (run_dir / "results.md").read_text(encoding="utf-8"),
        f"results/{run}/curve.png": (run_dir / "curve.png").read_bytes(),
    }
    if (run_dir / RECALL_FILE).is_file():
        files[f"results/{run}/{RECALL_FILE}"] = (run_dir / RECALL_FILE).read_text(encoding="utf-8")
    registry = open_registry(recipe.registry)
    return registry.publish(
        data_ref.repo_id,
        {},
        results={run: results},
        files=files,
        message=f"results of {run} (trained on {results['data']}, config {results['config']})",
    )


def latest_run(recipe: Recipe) -> Path:
    """The most recently finished run under ``train.output_dir``."""
    root = Path(recipe.train.output_dir)
    runs = sorted(root.glob("*/run.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise KinjectUserError(f"{root}: no finished runs; run `make train` first")
    return runs[-1].parent


def judge_run(recipe: Recipe, run_dir: Path | None = None) -> DatasetRef:
    """Re-judge a run's ``answers.jsonl`` with ``recipe.judge``, rewrite its results and publish them.

    The answers are those of the run's last evaluation, so only the final curve point changes; the earlier
    points keep the verdicts of the judge that ran during training (the card records both judges' names).
    """
    from kinject.trainers.judges import make_judge

    run_dir = Path(run_dir) if run_dir else latest_run(recipe)
    info = read_run(run_dir)
    answers_path = run_dir / "answers.jsonl"
    if not answers_path.is_file():
        raise KinjectUserError(f"{run_dir}: no answers.jsonl to judge")
    rows = [json.loads(line) for line in answers_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    judged = make_judge(recipe.judge).judge([{k: v for k, v in r.items() if k not in ("verdict", "reason", "judge")}
                                             for r in rows])
    accuracy, per_category = score(judged)
    write_answers(answers_path, judged)
    curve = read_curve(run_dir / "curve.jsonl")
    if curve:
        last = max(curve, key=lambda p: p["step"])
        last.update(accuracy=accuracy, per_category=per_category, n=len(judged))
        (run_dir / "curve.jsonl").write_text(
            "".join(json.dumps(p, ensure_ascii=False, sort_keys=True) + "\n" for p in curve), encoding="utf-8"
        )
        plot_curves({info["run"]: curve}, run_dir / "curve.png")
    (run_dir / "results.md").write_text(results_table({info["run"]: curve}), encoding="utf-8")
    rejudge_recall(run_dir, judged)
    info["judge"] = sorted({str(r.get("judge")) for r in judged})
    (run_dir / "run.json").write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"[judge] {info['run']}: accuracy {accuracy:.3f} on {len(judged)} answers", flush=True)
    return publish_results(recipe, DatasetRef.parse(info["data"]), run_dir)
