"""``make select`` end to end on the default graph corpus: ``--by ppl`` and ``--by d4`` against the code of
``BASELINE`` (the last revision before the selection was reworked), side by side in one run.

Each selection runs ``run_selection`` in a fresh two-thread child (``benchmarks.selection._child``) on its own
copy of the corpus registry, so neither side reuses the other's work. The baseline's code is that revision's tree
(``git archive``), laid out as the installed ``kinject.*`` namespace and put first on ``PYTHONPATH``; where git or
the revision is missing (an sdist), the baseline rows say so and only today's figures are reported. The child
times the phases by wrapping the functions that do them (reference LM, scoring, embedding, publishing); the
blocks (MinHash, SemDeDup, prototypes) time themselves. Targets (2 cores, 37,971 rows): ≤ 180 s each way. A
second ``--by ppl`` with another fraction measures what reusing the published scores saves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks import figure

BASELINE = "6eae5c4"
ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 180.0
# The installed namespace: kinject.<name> lives in the folder <path> of the checkout (pyproject's package-dir).
NAMESPACE = {"recipes": "recipes", "pipelines": "pipelines", "trainers": "trainers", "cards": "cards"}


def baseline_tree(tmp: Path) -> Path | None:
    """``BASELINE``'s ``kinject`` package laid out for import under ``tmp/pkg``; None without git or the commit."""
    tree = tmp / "tree"
    tree.mkdir(parents=True)
    try:
        archive = subprocess.run(["git", "archive", BASELINE], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    package = tmp / "pkg" / "kinject"
    shutil.copytree(tree / "kinject", package)
    for name, folder in NAMESPACE.items():
        (package / name).symlink_to(tree / folder, target_is_directory=True)
    return tmp / "pkg"


def _recipe_file(where: Path, checkout: Path, registry: Path, **selection) -> Path:
    """A recipe extending ``checkout``'s ``recipes/cpu.yaml`` with its registry at ``registry``."""
    recipe = {"extends": str(checkout / "recipes" / "cpu.yaml"),
              "registry": {"kind": "local", "root": str(registry), "cache_dir": str(where / "cache"),
                           "repo": "kinject/cpu-ja"}}
    if selection:
        recipe["selection"] = selection
    path = where / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True))
    return path


def _job_select(recipe_file: str, by: str, method: str = "graph") -> dict:
    """Run ``kinject select`` in-process with the phases timed; ``kinject`` is whichever tree is importable."""
    import kinject
    import kinject.pipelines.selection.embeddings as embeddings
    import kinject.pipelines.selection.perplexity as perplexity
    import kinject.pipelines.selection.run as run
    import kinject.pipelines.selection.reference as reference
    from kinject.cards.local import LocalRegistry
    from kinject.cards.registry import open_registry
    from kinject.recipes.schema import load_recipe

    phases: dict[str, float] = {}

    def timed(owner, attr: str, phase: str) -> None:
        original = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - start

        setattr(owner, attr, wrapper)

    timed(reference, "load_reference", "reference_lm")
    timed(perplexity, "score_texts", "scoring")
    timed(embeddings, "embed_texts", "embedding")
    timed(LocalRegistry, "publish", "publishing")
    recipe = load_recipe(recipe_file)
    start = time.perf_counter()
    ref = run.run_selection(recipe, None, method, by)
    seconds = time.perf_counter() - start
    configs = open_registry(recipe.registry).card_data(ref)["kinject"]["configs"]
    subsets = {name: {"rows_in": c["rows_in"], "rows_out": c["rows_out"],
                      "blocks": {b: v["seconds_total"] for b, v in c.get("blocks", {}).items()},
                      "dropped": {b: v["counts"]["dropped"] for b, v in c.get("blocks", {}).items()},
                      "reused": (c.get("reference_model") or {}).get("scores_reused_from")}
               for name, c in configs.items() if f"{method}-{by}-" in name}
    return {"seconds": seconds, "phases": phases, "subsets": subsets, "kinject": str(Path(kinject.__file__).parent)}


def _select(tmp: Path, registry: Path, by: str, baseline: Path | None, **selection) -> dict:
    from benchmarks.selection import _child

    where = Path(tempfile.mkdtemp(prefix=f"{by}-", dir=tmp))
    checkout = (baseline / "kinject" / "recipes").resolve().parent if baseline else ROOT
    recipe = _recipe_file(where, checkout, registry, **selection)
    env_path = f"{baseline}:{ROOT}" if baseline else str(ROOT)
    return _child("select", str(recipe), by, module="benchmarks.make_select", cwd=where, pythonpath=env_path)


def _note(out: dict) -> str:
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(out["phases"].items()))
    subsets = "; ".join(f"{name} {s['rows_out']}/{s['rows_in']} rows"
                        + (f" (blocks: {', '.join(f'{b} {t:.0f} s' for b, t in s['blocks'].items())})"
                           if s["blocks"] else "") for name, s in out["subsets"].items())
    return f"{phases}; {subsets}"


def run(quick: bool = False) -> list[dict]:
    from benchmarks import _corpora

    rows = []
    with tempfile.TemporaryDirectory(prefix="kinject-bench-select-") as tmp:
        tmp = Path(tmp)
        recipe, refs = _corpora.build(("graph",), quick, tmp / "corpus")
        base_pkg = baseline_tree(tmp / "baseline")
        sides = {"today": None, "baseline": base_pkg} if base_pkg else {"today": None}
        registries = {}
        for side in sides:
            registries[side] = tmp / f"registry-{side}"
            shutil.copytree(recipe.registry.root, registries[side])
        results: dict[tuple[str, str], dict] = {}
        for by in ("ppl", "d4"):
            for side, pkg in sides.items():
                results[by, side] = _select(tmp, registries[side], by, pkg)
        rerun = _select(tmp, registries["today"], "ppl", None, perplexity={"fraction": 0.25})
    n = next(iter(results["ppl", "today"]["subsets"].values()))["rows_in"]
    for by in ("ppl", "d4"):
        today = results[by, "today"]
        base = results.get((by, "baseline"))
        rows.append(figure(
            f"select_{by}_seconds", today["seconds"], "s", target=TARGET_S, higher_is_better=False,
            baseline=base["seconds"] if base else None,
            note=f"kinject select --by {by}, graph corpus {n} rows, 2 threads; today: {_note(today)}"
                 + (f" | {BASELINE}: {_note(base)}" if base else " | baseline not measured (no git history)")))
    d4 = results["d4", "today"]["subsets"]
    for name, s in d4.items():
        fraction = s["rows_out"] / s["rows_in"]
        rows.append(figure("select_d4_ratio_error", abs(fraction - 0.5), "", target=0.01, higher_is_better=False,
                           note=f"{name} kept {fraction:.4f} of the rows (ratio 0.5, tolerance 0.01); dropped per "
                                f"stage {s['dropped']}"
                                + (f"; {BASELINE} kept " + ", ".join(f"{b['rows_out']}/{b['rows_in']}" for b in
                                                                     results["d4", "baseline"]["subsets"].values())
                                   if ("d4", "baseline") in results else "")))
    reused = next(iter(rerun["subsets"].values()))["reused"]
    rows.append(figure("select_ppl_rerun_seconds", rerun["seconds"], "s", target=TARGET_S, higher_is_better=False,
                       baseline=results["ppl", "today"]["seconds"],
                       note=f"--by ppl again at fraction 0.25: scores read back from {reused}; {_note(rerun)}"))
    return rows


if __name__ == "__main__":
    from benchmarks.selection import child_main

    child_main({"select": _job_select}, sys.argv[1:])
