"""Learning curves: ``curve.jsonl`` points, steps to a threshold, the plot and the results table.

A curve point is ``{step, exposures, fact_exposures, accuracy, per_category, train_loss, n}``: ``step`` counts
exposures per seed document (the paper's x-axis), ``accuracy`` is the judged share of evaluation questions
answered correctly. The plot follows the paper's Fig. 1: accuracy against steps, one line per run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

THRESHOLDS = (0.85, 0.90)  # the paper reports steps to 85 % and final accuracy around 90 %


def run_name(recipe, config: str) -> str:
    """Deterministic: the same recipe, config and seed write (and replace) the same run."""
    return f"{recipe.name}-{config}-s{recipe.train.seed}"


def read_curve(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def append_point(path: str | Path, point: Mapping) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(dict(point), ensure_ascii=False, sort_keys=True) + "\n")


def steps_to(curve: Sequence[Mapping], threshold: float) -> int | None:
    """The first evaluated step whose accuracy reaches ``threshold`` (None: never reached)."""
    for point in sorted(curve, key=lambda p: p["step"]):
        if point["accuracy"] >= threshold:
            return int(point["step"])
    return None


def summarize(curve: Sequence[Mapping]) -> dict:
    """Final accuracy, per-category accuracy of the last point, and steps to each threshold."""
    if not curve:
        return {"final_accuracy": None, "per_category": {}, "steps_to_85": None, "steps_to_90": None}
    last = max(curve, key=lambda p: p["step"])
    return {
        "final_step": int(last["step"]),
        "final_accuracy": last["accuracy"],
        "per_category": dict(last.get("per_category") or {}),
        "steps_to_85": steps_to(curve, 0.85),
        "steps_to_90": steps_to(curve, 0.90),
    }


def results_table(curves: Mapping[str, Sequence[Mapping]]) -> str:
    """A markdown table, one row per run: final step and accuracy, steps to 85 %/90 %, accuracy per category."""
    summaries = {run: summarize(curve) for run, curve in curves.items()}
    categories = sorted({c for s in summaries.values() for c in s["per_category"]})
    header = ["run", "step", "accuracy", "steps to 85 %", "steps to 90 %", *categories]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    fmt = lambda v: "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
    for run, s in summaries.items():
        cells = [run, fmt(s.get("final_step")), fmt(s["final_accuracy"]), fmt(s["steps_to_85"]), fmt(s["steps_to_90"])]
        cells += [fmt(s["per_category"].get(c)) for c in categories]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(curves: Mapping[str, Sequence[Mapping]], path: str | Path, title: str | None = None) -> Path:
    """Accuracy against steps, one line per run (a mean over seeds with its min–max band shaded), with the 85 % and
    90 % levels dashed (the paper's Fig. 1)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers or in CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for run, curve in curves.items():
        points = sorted(curve, key=lambda p: p["step"])
        steps = [p["step"] for p in points]
        line, = ax.plot(steps, [p["accuracy"] for p in points], marker="o", markersize=3, label=run)
        if points and all("accuracy_min" in p for p in points):  # a mean over seeds: shade its min–max band
            ax.fill_between(steps, [p["accuracy_min"] for p in points], [p["accuracy_max"] for p in points],
                            color=line.get_color(), alpha=0.2, linewidth=0)
    for level in THRESHOLDS:
        ax.axhline(level, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("steps (exposures per document)")
    ax.set_ylabel("QA accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if curves:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
