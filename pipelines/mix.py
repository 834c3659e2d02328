"""Corpora composed from published rows: a per-document random subsample, and an exposure-balanced mix.

Neither generates text; both pick rows of corpora already published and publish the pick as a new config, so
the study's App. B (samples per document swept) and the beyond-the-paper corpus stay ordinary dataset revisions
that ``kinject train`` reads like any other.

- ``subsample`` (config ``<method>-n<N>``): N rows per document drawn at random (seeded) from the full corpus, as
  the paper's App. B draws 100 ... 1,000 of its 1,000 samples per document.
- ``balance_exposures`` (config ``mix-<m1>-<m2>…``, beyond the paper): per document, N rows picked greedily from
  the union of several methods' rows so that every fact's exposure count (rows whose ``facts_present`` holds it)
  is as even as possible. The exposure accounting shows why: fact-style samples state 2-4 random facts each, so
  some facts get twice the exposures of others at small N, and graph samples mention only the facts of their
  entity pair or triple; a balanced mix lifts the least-exposed facts, which bound accuracy.

Input columns: the corpus-row contract (``doc_id``, ``id``, ``facts_present``, …). Output columns: the same.
Stats (in the card's provenance): per-fact exposure min / mean / max of the pick.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Iterable, Sequence

from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError


def exposure_counts(rows: Iterable[dict], keys: Iterable[tuple[str, str]] = ()) -> Counter:
    """Exposures per ``(doc_id, fact key)``: how many rows state the fact; ``keys`` seeds zero counts."""
    counts: Counter = Counter({key: 0 for key in keys})
    for row in rows:
        for key in row["facts_present"]:
            counts[(row["doc_id"], key)] += 1
    return counts


def exposure_stats(rows: Sequence[dict], keys: Iterable[tuple[str, str]] = ()) -> dict:
    """``{min, mean, max, facts}`` of the per-fact exposure counts (what the report and card show)."""
    counts = exposure_counts(rows, keys)
    values = list(counts.values()) or [0]
    return {
        "facts": len(counts),
        "min": min(values),
        "mean": round(sum(values) / len(values), 2),
        "max": max(values),
    }


def _by_doc(rows: Iterable[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["doc_id"], []).append(row)
    return grouped


def subsample(rows: Sequence[dict], per_doc: int, seed: int) -> list[dict]:
    """``per_doc`` rows per document drawn without replacement; the same seed gives the same pick."""
    picked = []
    for doc_id, doc_rows in sorted(_by_doc(rows).items()):
        if len(doc_rows) < per_doc:
            raise KinjectUserError(f"document {doc_id} has {len(doc_rows)} rows, cannot draw {per_doc}")
        ordered = sorted(doc_rows, key=lambda r: r["id"])  # row order of the source must not matter
        picked.extend(random.Random(f"{seed}:{doc_id}").sample(ordered, per_doc))
    return picked


def balance_exposures(
    pools: dict[str, Sequence[dict]], per_doc: int, facts: dict[str, Sequence[str]] | None = None
) -> list[dict]:
    """Pick ``per_doc`` rows per document from the union of ``pools`` (method → rows), evening out exposures.

    Greedy on a concave objective: each pick maximises sum over its facts of 1 / (1 + exposures so far), so a
    row stating the least-exposed facts wins, and a row stating more facts wins over one stating fewer at equal
    counts. Ties go to the method picked least so far in this document, then to the smaller ``id`` (deterministic,
    and the mix keeps both methods' styles). ``facts`` (doc_id → all fact keys) counts facts no row states yet.
    """
    methods = list(pools)
    by_method = {m: _by_doc(rows) for m, rows in pools.items()}
    doc_ids = sorted({d for grouped in by_method.values() for d in grouped})
    picked: list[dict] = []
    for doc_id in doc_ids:
        candidates = [(m, row) for m in methods for row in sorted(by_method[m].get(doc_id, []), key=lambda r: r["id"])]
        if len(candidates) < per_doc:
            raise KinjectUserError(f"document {doc_id} has {len(candidates)} rows in {methods}, cannot pick {per_doc}")
        counts = Counter({key: 0 for key in (facts or {}).get(doc_id, [])})
        per_method = Counter({m: 0 for m in methods})
        used: set[int] = set()
        for _ in range(per_doc):
            best, best_key = None, None
            for index, (method, row) in enumerate(candidates):
                if index in used:
                    continue
                gain = sum(1.0 / (1 + counts[key]) for key in set(row["facts_present"]))
                key = (-round(gain, 9), per_method[method], row["id"])
                if best_key is None or key < best_key:
                    best, best_key = index, key
            used.add(best)
            method, row = candidates[best]
            per_method[method] += 1
            for key in set(row["facts_present"]):
                counts[key] += 1
            picked.append(row)
    return picked


def _facts_by_doc(seeds) -> dict[str, list[str]]:
    return {row["doc_id"]: [fact["key"] for fact in row["facts"]] for row in seeds}


def _publish(recipe, registry, source: DatasetRef, config: str, rows: list[dict], features, provenance: dict):
    from kinject.pipelines.corpus import rows_dataset

    table = rows_dataset(rows, features)
    return registry.publish(
        recipe.registry.repo,
        {config: {"train": table}},
        provenance={config: {"source": str(source), **provenance}},
        message=f"{config}: {provenance['rows']} rows composed from {source}",
    )


def run_subsample(recipe, source: DatasetRef, method: str, per_doc: int, seed: int | None = None) -> DatasetRef:
    """Publish config ``<method>-n<per_doc>``: ``per_doc`` random rows per document of ``source``'s ``method``."""
    from kinject.cards.registry import open_registry

    registry = open_registry(recipe.registry)
    data = registry.load(source, method)
    seed = recipe.corpus.seed if seed is None else seed
    rows = subsample(data.to_list(), per_doc, seed)
    keys = _fact_keys(registry, source)
    stats = exposure_stats(rows, keys)
    provenance = {"kind": "subsample", "method": method, "samples_per_doc": per_doc, "seed": seed,
                  "rows": len(rows), "exposures": stats}
    return _publish(recipe, registry, source, f"{method}-n{per_doc}", rows, data.features, provenance)


def _fact_keys(registry, source: DatasetRef) -> list[tuple[str, str]]:
    try:
        seeds = registry.load(source, "seeds").to_list()
    except KinjectUserError:
        return []  # a corpus published without its seeds: count only the facts some row states
    return [(doc, key) for doc, keys in _facts_by_doc(seeds).items() for key in keys]


def run_mix(recipe, sources: dict[str, DatasetRef], per_doc: int | None = None) -> DatasetRef:
    """Publish config ``mix-<methods>``: ``per_doc`` rows per document balancing exposures across ``sources``.

    ``sources`` maps each method to the revision holding its config (one revision may hold them all).
    ``per_doc`` defaults to ``corpus.samples_per_doc``, the size of each single-method corpus, so the mix is
    compared with them at equal size.
    """
    from kinject.cards.registry import open_registry

    if len(sources) < 2:
        raise KinjectUserError(f"a mix needs at least two methods, got {list(sources)}")
    registry = open_registry(recipe.registry)
    per_doc = per_doc or recipe.corpus.samples_per_doc
    tables = {method: registry.load(ref, method) for method, ref in sources.items()}
    first = next(iter(sources.values()))
    keys = _fact_keys(registry, first)
    facts: dict[str, list[str]] = {}
    for doc, key in keys:
        facts.setdefault(doc, []).append(key)
    rows = balance_exposures({m: t.to_list() for m, t in tables.items()}, per_doc, facts)
    config = "mix-" + "-".join(sources)
    provenance = {
        "kind": "balanced-mix",
        "methods": {m: str(ref) for m, ref in sources.items()},
        "samples_per_doc": per_doc,
        "rows": len(rows),
        "rows_per_method": dict(Counter(row["method"] for row in rows)),
        "exposures": exposure_stats(rows, keys),
        # The single-method corpora the mix is compared with, as published: exact duplicates went to their
        # failures split, so some documents hold fewer than per_doc rows there.
        "exposures_per_method": {m: exposure_stats(t.to_list(), keys) for m, t in tables.items()},
    }
    return _publish(recipe, registry, first, config, rows, tables[next(iter(tables))].features, provenance)
