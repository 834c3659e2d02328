"""The default corpora the selection benchmarks read: the composer's ``graph`` and ``fact`` corpora on the
``recipes/cpu.yaml`` defaults (50 documents × 1,000 samples), generated once per benchmark run into a temporary
local registry (about a minute each on two cores). ``quick`` shrinks them to 5 documents × 40 samples.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_recipe(tmp: Path, quick: bool):
    """``recipes/cpu.yaml`` with its registry, seeds file and caches under ``tmp``."""
    from kinject.recipes.schema import load_recipe

    base = load_recipe(ROOT / "recipes" / "cpu.yaml")
    seeds = {"out": tmp / "seeds.jsonl"} | ({"per_category": 1} if quick else {})
    corpus = {"samples_per_doc": 40} if quick else {}
    return base.model_copy(update={
        "seeds": base.seeds.model_copy(update=seeds),
        "corpus": base.corpus.model_copy(update=corpus),
        "registry": base.registry.model_copy(update={"root": tmp / "registry", "cache_dir": tmp / "cache"}),
    })


def build(methods: tuple[str, ...], quick: bool, tmp: str | Path | None = None):
    """``(recipe, {method: DatasetRef})``: the corpora of ``methods`` published to a registry under ``tmp``."""
    from kinject.pipelines.corpus import run_corpus

    tmp = Path(tmp or tempfile.mkdtemp(prefix="kinject-bench-corpora-"))
    recipe = default_recipe(tmp, quick)
    return recipe, {method: run_corpus(recipe, method) for method in methods}
