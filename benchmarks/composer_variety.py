"""How often the offline composer repeats itself: distinct texts per document, per method, on the embedded seeds.

Exact duplicates go to a corpus's ``failures`` split, so repeats cost exposures. Each method's ``compose`` (what
its composer step runs) on the planned rows, without a distilabel run: the same texts ``make corpus`` writes.
Full: the defaults' 1,000 samples for all 50 documents; quick: 40 samples for 2 documents per category.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from benchmarks import figure

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "cpu.yaml"


def run(quick: bool = False) -> list[dict]:
    from kinject.pipelines import fact, graph, rephrase
    from kinject.pipelines.corpus import plan_rows
    from kinject.pipelines.seeds import build_seeds
    from kinject.recipes.schema import load_recipe

    recipe = load_recipe(RECIPE)
    samples, per_category = (40, 2) if quick else (recipe.corpus.samples_per_doc, recipe.seeds.per_category)
    by_category: Counter = Counter()
    docs = []
    for doc in build_seeds(recipe.seeds):
        by_category[doc["category"]] += 1
        if by_category[doc["category"]] <= per_category:
            docs.append(doc)
    rows = []
    for method, module in (("rephrase", rephrase), ("fact", fact), ("graph", graph)):
        total = distinct = 0
        fewest = (samples + 1, "")
        for doc in docs:
            texts = {module.compose(row) for row in plan_rows(method, doc, samples, recipe)}
            total += samples
            distinct += len(texts)
            fewest = min(fewest, (len(texts), doc["doc_id"]))
        rows.append(figure(f"{method}_distinct", distinct / total, "share of texts", note=(
            f"{samples} samples x {len(docs)} documents; fewest distinct: {fewest[1]} ({fewest[0]})")))
    return rows
