"""``kinject reproduce REPO@REV``: re-run a published training run from its card alone and compare.

The card's ``kinject.results.<run>`` entry holds everything a reproduction needs: the resolved recipe (YAML
text), the data revision (repo and full sha) and config, the seed and model, and the reported numbers (steps to
85 % / 90 %, final accuracy, accuracy per category). ``reproduce`` writes that recipe to a temporary file, loads
it through the ordinary loader (so an invalid recorded recipe fails like any other), retrains on exactly that
data sha without publishing anything, and prints reported beside reproduced with the recipe's
``reproduce`` tolerances.

Exit codes: 0 every number within tolerance, 1 some number outside it, 2 the card lacks what a reproduction
needs (the message names the fields) — the same 2 the CLI uses for every user-fixable problem.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Callable, Mapping

import yaml

from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from kinject.recipes.schema import Recipe, ReproduceConfig, load_recipe

NEEDED = ("recipe", "data", "config", "seed")  # without these nothing can be retrained
REPORTED = ("final_accuracy", "steps_to_85")  # without these there is nothing to compare

# retrain(recipe, data pinned to a sha, config, output_dir) -> {final_accuracy, steps_to_85, steps_to_90, per_category}
Retrain = Callable[[Recipe, DatasetRef, str, Path], Mapping]


def pick_run(results: Mapping[str, Mapping], run: str | None, where: str) -> str:
    """The run to reproduce: ``run`` if given, else the only one, else the last one recorded."""
    if not results:
        raise KinjectUserError(f"{where}: card has no kinject.results: nothing was trained on this repo")
    if run is None:
        return list(results)[-1]
    if run not in results:
        raise KinjectUserError(f"{where}: kinject.results has no run {run!r} (has: {', '.join(results)})")
    return run


def missing_fields(entry: Mapping) -> list[str]:
    """Fields a reproduction needs that the results entry lacks (empty: reproducible)."""
    missing = [key for key in NEEDED + REPORTED if key not in entry]
    if not entry.get("recipe"):
        missing = sorted(set(missing) | {"recipe"}, key=(NEEDED + REPORTED).index)
    data = entry.get("data")
    if data and "@" not in str(data) and not entry.get("data_sha"):
        missing.append("data revision (data_sha)")
    return missing


def _data_ref(entry: Mapping) -> DatasetRef:
    data = DatasetRef.parse(str(entry["data"]))
    sha = entry.get("data_sha")
    return DatasetRef(repo_id=data.repo_id, revision=sha) if sha else data


def _steps_ok(reported, reproduced, tolerance: int) -> bool:
    if reported is None or reproduced is None:
        return reported is None and reproduced is None  # "never reached" must be reproduced as such
    return abs(int(reported) - int(reproduced)) <= tolerance


def compare(reported: Mapping, reproduced: Mapping, tol: ReproduceConfig, every_steps: int) -> list[dict]:
    """One row per number: ``{metric, reported, reproduced, tolerance, ok}``."""
    steps_tol = tol.steps_tolerance if tol.steps_tolerance is not None else every_steps
    rows = []
    for key in ("steps_to_85", "steps_to_90"):
        if key not in reported:
            continue
        a, b = reported.get(key), reproduced.get(key)
        rows.append({"metric": key.replace("_", " ").replace("85", "85 %").replace("90", "90 %"), "reported": a,
                     "reproduced": b, "tolerance": f"±{steps_tol} steps", "ok": _steps_ok(a, b, steps_tol)})
    a, b = reported.get("final_accuracy"), reproduced.get("final_accuracy")
    ok = a is not None and b is not None and abs(a - b) <= tol.accuracy_tolerance + 1e-9
    rows.append({"metric": "final accuracy", "reported": a, "reproduced": b,
                 "tolerance": f"±{tol.accuracy_tolerance:g}", "ok": ok})
    got = reproduced.get("per_category") or {}
    for category, a in sorted((reported.get("per_category") or {}).items()):
        b = got.get(category)
        ok = b is not None and abs(a - b) <= tol.category_tolerance + 1e-9
        rows.append({"metric": f"accuracy: {category}", "reported": a, "reproduced": b,
                     "tolerance": f"±{tol.category_tolerance:g}", "ok": ok})
    return rows


def format_table(rows: list[dict]) -> str:
    """Markdown: metric | reported | reproduced | tolerance | within."""
    fmt = lambda v: "never" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
    lines = ["| metric | reported | reproduced | tolerance | within |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['metric']} | {fmt(row['reported'])} | {fmt(row['reproduced'])} | {row['tolerance']} "
                     f"| {'yes' if row['ok'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def reproduce(
    ref: DatasetRef | str,
    run: str | None = None,
    *,
    registry_cfg=None,
    retrain: Retrain | None = None,
    workdir: Path | None = None,
    echo: Callable[[str], None] = print,
    echo_err: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """Re-run ``run`` of the card at ``ref`` and compare; returns the exit code (0 within, 1 outside, 2 missing).

    ``registry_cfg`` says where the card lives (default: the local registry of ``recipes/cpu.yaml``'s
    defaults); the recorded recipe's own ``registry`` is replaced by it, so the data is read from the same
    place. ``retrain`` defaults to ``kinject.study.retrain``, imported here rather than at module level
    because ``cards`` must not import ``trainers`` (docs/architecture.md): the core package wires the two together.
    """
    from kinject.cards.registry import open_registry
    from kinject.recipes.schema import RegistryConfig

    ref = DatasetRef.parse(ref) if isinstance(ref, str) else ref
    registry_cfg = registry_cfg or RegistryConfig()
    registry = open_registry(registry_cfg)
    pinned = DatasetRef(repo_id=ref.repo_id, revision=registry.resolve(ref))
    results = (registry.card_data(pinned).get("kinject") or {}).get("results") or {}
    try:
        name = pick_run(results, run, str(ref))
    except KinjectUserError as exc:
        echo_err(f"error: {exc}")
        return 2
    entry = results[name]
    if missing := missing_fields(entry):
        echo_err(f"error: {ref}: kinject.results.{name} lacks {', '.join(missing)}; a reproduction needs the "
             f"recipe, the data revision and config, the seed and the reported numbers")
        return 2
    data = _data_ref(entry)
    with tempfile.TemporaryDirectory(prefix="kinject-reproduce-") as tmp:
        tmp = Path(tmp)
        recipe_path = tmp / "recipe.yaml"
        recorded = entry["recipe"]  # the resolved recipe, as parsed YAML (or its text)
        text = recorded if isinstance(recorded, str) else yaml.safe_dump(recorded, sort_keys=False, allow_unicode=True)
        recipe_path.write_text(text, encoding="utf-8")
        recipe = load_recipe(recipe_path)
        # the recorded seed wins over anything else (it is what the numbers came from); the registry is where the
        # card was found, and the run goes to a scratch folder so the original run directory stays untouched
        recipe = recipe.model_copy(update={
            "registry": registry_cfg,
            "train": recipe.train.model_copy(update={"seed": int(entry["seed"])}),
        })
        if retrain is None:
            from kinject.study import retrain
        echo(f"reproducing {name} of {pinned}: config {entry['config']!r} of {data}, seed {entry['seed']}, "
             f"model {entry.get('model', recipe.train.model)}, {recipe.train.steps} steps")
        reproduced = retrain(recipe, data, str(entry["config"]), workdir or tmp / "runs")
    rows = compare(entry, reproduced, recipe.reproduce, recipe.eval.every_steps)
    echo(format_table(rows))
    ok = all(row["ok"] for row in rows)
    echo("reproduced: every number within tolerance" if ok else
         f"NOT reproduced: {', '.join(r['metric'] for r in rows if not r['ok'])} outside tolerance")
    return 0 if ok else 1
