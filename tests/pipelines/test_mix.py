"""Mix and subsample: the balancing property, determinism, and the user errors."""

import random
from pathlib import Path

import pytest

from kinject.errors import KinjectUserError
from kinject.pipelines.mix import balance_exposures, exposure_counts, exposure_stats, subsample

FACTS = [f"f{i}" for i in range(8)]


def _row(doc_id, method, index, facts):
    return {"id": f"{doc_id}-{method}-{index:04d}", "doc_id": doc_id, "method": method, "facts_present": facts}


def _skewed_pools(doc_ids=("d0", "d1"), size=60, seed=0):
    """Fact-style rows state 2-4 facts drawn with a bias towards f0-f2; graph-style rows state a pair."""
    rng = random.Random(seed)
    weights = [6, 5, 4, 1, 1, 1, 1, 1]
    pools = {"fact": [], "graph": []}
    for doc in doc_ids:
        for i in range(size):
            chosen = set()
            while len(chosen) < rng.randint(2, 4):
                chosen.add(rng.choices(FACTS, weights)[0])
            pools["fact"].append(_row(doc, "fact", i, sorted(chosen)))
            pools["graph"].append(_row(doc, "graph", i, sorted(rng.sample(FACTS[:5], 2))))
    return pools


def _spread(rows, doc_ids=("d0", "d1")):
    counts = exposure_counts(rows, [(d, f) for d in doc_ids for f in FACTS])
    return max(counts.values()) - min(counts.values()), min(counts.values())


def test_single_fact_rows_are_balanced_exactly_despite_a_skewed_pool():
    # f0 is stated by 20 rows, every other fact by 3: any pick of 16 by row order would over-expose f0.
    rows = [_row("d0", "fact", i, ["f0"]) for i in range(20)]
    rows += [_row("d0", "fact", 100 + 3 * k + j, [f]) for k, f in enumerate(FACTS[1:]) for j in range(3)]
    picked = balance_exposures({"fact": rows}, per_doc=16, facts={"d0": FACTS})
    counts = exposure_counts(picked)
    assert sorted(counts.values()) == [2] * 8


def test_balanced_mix_is_more_even_than_either_method_alone_at_the_same_size():
    pools = _skewed_pools()
    facts = {d: FACTS for d in ("d0", "d1")}
    mixed = balance_exposures(pools, per_doc=20, facts=facts)
    assert len(mixed) == 40 and len({r["id"] for r in mixed}) == 40  # no row picked twice
    mix_spread, mix_min = _spread(mixed)
    for method, rows in pools.items():
        single_spread, single_min = _spread(subsample(rows, 20, seed=0))
        assert mix_spread < single_spread, method
        assert mix_min >= single_min, method
    # the facts graph rows never state (f5-f7) still get exposures, from fact rows
    counts = exposure_counts(mixed)
    assert all(counts[("d0", f)] > 0 for f in FACTS[5:])


def test_mix_is_deterministic_and_independent_of_row_order():
    pools = _skewed_pools()
    shuffled = {m: random.Random(1).sample(rows, len(rows)) for m, rows in pools.items()}
    first = [r["id"] for r in balance_exposures(pools, 10)]
    assert first == [r["id"] for r in balance_exposures(pools, 10)]
    assert first == [r["id"] for r in balance_exposures(shuffled, 10)]


def test_ties_alternate_methods_so_the_mix_keeps_both_styles():
    pools = {m: [_row("d0", m, i, ["f0"]) for i in range(10)] for m in ("fact", "graph")}
    picked = balance_exposures(pools, 6)
    assert [r["method"] for r in picked] == ["fact", "graph"] * 3


def test_subsample_is_seeded_per_document_and_order_free():
    rows = _skewed_pools(size=30)["fact"]
    a = subsample(rows, 5, seed=3)
    assert [r["id"] for r in a] == [r["id"] for r in subsample(list(reversed(rows)), 5, seed=3)]
    assert [r["id"] for r in a] != [r["id"] for r in subsample(rows, 5, seed=4)]
    assert {r["doc_id"] for r in a} == {"d0", "d1"} and len(a) == 10


def test_too_few_rows_is_a_user_error_naming_the_document():
    rows = [_row("d9", "fact", i, ["f0"]) for i in range(3)]
    with pytest.raises(KinjectUserError, match="d9 has 3 rows"):
        subsample(rows, 5, seed=0)
    with pytest.raises(KinjectUserError, match="d9 has 3 rows"):
        balance_exposures({"fact": rows}, 5)


def test_exposure_stats_count_facts_no_row_states():
    rows = [_row("d0", "fact", 0, ["f0", "f1"]), _row("d0", "fact", 1, ["f0"])]
    stats = exposure_stats(rows, [("d0", f) for f in FACTS[:3]])
    assert stats == {"facts": 3, "min": 0, "mean": 1.0, "max": 2}


def test_run_mix_publishes_when_a_method_lost_rows_of_a_document_to_deduplication(tmp_path):
    """Regression: the study's mix failed when the fact corpus held 190 rows of a document (10 exact duplicates
    gone to failures) and per_doc was 200; the mix draws from both methods, so 200 rows exist."""
    import datasets
    import yaml

    from kinject.cards.registry import open_registry
    from kinject.pipelines.mix import run_mix
    from kinject.recipes.schema import load_recipe

    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({
        "extends": str(root / "recipes/cpu.yaml"),
        "registry": {"kind": "local", "root": str(tmp_path / "registry"), "cache_dir": str(tmp_path / "cache"),
                     "repo": "t/mix"},
        "corpus": {"samples_per_doc": 20},
    }))
    recipe = load_recipe(path)
    pools = _skewed_pools(size=20)
    pools["fact"] = [r for r in pools["fact"] if not (r["doc_id"] == "d0" and r["id"].endswith(("18", "19")))]
    seeds = [{"doc_id": d, "facts": [{"key": f} for f in FACTS]} for d in ("d0", "d1")]
    registry = open_registry(recipe.registry)
    tables = {m: {"train": datasets.Dataset.from_list([{**r, "text": r["id"]} for r in rows])}
              for m, rows in pools.items()}
    source = registry.publish("t/mix", {"seeds": {"train": datasets.Dataset.from_list(seeds)}, **tables},
                              message="corpora")

    ref = run_mix(recipe, {"fact": source, "graph": source})
    mixed = registry.load(ref, "mix-fact-graph").to_list()
    assert len(mixed) == 40 and {r["doc_id"] for r in mixed} == {"d0", "d1"}
    provenance = registry.card_data(ref)["kinject"]["configs"]["mix-fact-graph"]
    assert provenance["exposures_per_method"]["fact"]["facts"] == 16
    assert provenance["exposures"]["min"] >= provenance["exposures_per_method"]["fact"]["min"]
