"""``run_selection``: read a corpus config by revision, choose subsets, publish them as configs in ONE commit.

``by="ppl"`` publishes ``<method>-ppl-<keep><pct>`` for each ``selection.perplexity.keep`` (e.g.
``rephrase-ppl-top50``, ``rephrase-ppl-bottom50``) with the ``ppl`` column; ``by="d4"`` publishes
``<method>-d4-<pct>`` with ``semdedup_cluster``, ``semdedup_max_sim``, ``cluster`` and ``proto_dist`` (``<pct>`` is
the share really kept, with a warning, when some document has fewer distinct texts than the ratio asks). Each
config has a ``train`` split (the kept rows, in corpus order) and a ``dropped`` split (the other rows with their
``reason``), its parameters, source revision and block stats in the card, and ``stats/<config>/<block>.json``.
A ``--by ppl`` run whose scores an earlier one already published (same rows, same reference LM) reads them back
from that subset's splits instead of scoring again; the card names where they came from.
Every check that can fail on the user's input runs before anything is computed or published.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from typing import Any, Literal

import numpy as np

from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError
from kinject.pipelines.selection.base import Batch, SelectionBlock, run_blocks, target_count
from kinject.recipes.schema import Recipe

INT_SCORES = ("cluster", "semdedup_cluster")  # -1 where a block did not reach the row
logger = logging.getLogger(__name__)


def _pct(ratio: float) -> str:
    return f"{ratio * 100:g}".replace(".", "p")


def scope_units(doc_ids: list[str] | None, n: int) -> list[np.ndarray]:
    """Row positions of each scope unit: one per document (first-appearance order), or one for all rows."""
    if doc_ids is None:
        return [np.arange(n)]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, doc in enumerate(doc_ids):
        groups[doc].append(i)
    return [np.array(rows, dtype=np.int64) for rows in groups.values()]


def _with_columns(ds, columns: dict[str, np.ndarray]):
    for name, values in columns.items():
        if name in INT_SCORES:
            values = [int(v) if np.isfinite(v) else -1 for v in values]
        else:
            values = [float(v) for v in values]
        if name in ds.column_names:
            ds = ds.remove_columns(name)
        ds = ds.add_column(name, values)
    return ds


def _tables(ds, kept: np.ndarray, reasons: list[str | None], scores: dict[str, np.ndarray]) -> dict[str, Any]:
    kept_idx = np.flatnonzero(kept)
    dropped_idx = np.flatnonzero(~kept)
    train = _with_columns(ds.select(kept_idx), {k: v[kept_idx] for k, v in scores.items()})
    dropped = _with_columns(ds.select(dropped_idx), {k: v[dropped_idx] for k, v in scores.items()})
    dropped = dropped.add_column("reason", [reasons[i] for i in dropped_idx])
    return {"train": train, "dropped": dropped}


def _apply(blocks: list[SelectionBlock], batch: Batch, units: list[np.ndarray], n: int,
           alive: np.ndarray | None = None) -> tuple[np.ndarray, list[str | None], dict[str, np.ndarray]]:
    """Run ``blocks`` on each unit (restricted to ``alive`` rows); merge verdicts into corpus-wide arrays."""
    kept = np.zeros(n, dtype=bool)
    reasons: list[str | None] = [None] * n
    scores: dict[str, np.ndarray] = {}
    for unit in units:
        rows = unit if alive is None else unit[alive[unit]]
        view = Batch(batch.columns, batch.embeddings, rows, unit_size=len(unit))
        unit_kept, unit_reasons, unit_scores = run_blocks(blocks, view)
        kept[rows] = unit_kept
        for row, reason in zip(rows, unit_reasons):
            reasons[row] = reason
        for key, values in unit_scores.items():
            scores.setdefault(key, np.full(n, np.nan))[rows] = values
    return kept, reasons, scores


def _provenance(by: str, method: str, source: DatasetRef, params: dict, blocks: list[SelectionBlock],
                n_in: int, n_out: int, extra: dict | None = None) -> dict:
    return {"selection": by, "method": method, "source": str(source), "params": params, "rows_in": n_in,
            "rows_out": n_out, "blocks": {b.name: b.stats_dict() for b in blocks}, **(extra or {})}


def _reference(recipe: Recipe, registry, source: DatasetRef):
    """The perplexity reference LM ``(model, tokenizer, provenance)``; 'tiny' trains on the repo's seeds."""
    from kinject.pipelines.selection.reference import load_reference

    cfg = recipe.selection.perplexity
    seed_texts = None
    if cfg.model == "tiny":
        if "seeds" not in registry.configs(source):
            raise KinjectUserError(f"{source} has no config 'seeds' (has: {', '.join(registry.configs(source))}); "
                                   "selection.perplexity.model 'tiny' trains on it")
        seed_texts = list(registry.load(source, "seeds")["text"])
    return load_reference(cfg, recipe.train.tiny, seed_texts)


def scores_key(recipe: Recipe, registry, source: DatasetRef, ds) -> str:
    """What decides every row's perplexity: the rows' ids and texts, the seed documents a 'tiny' reference LM trains
    on, and the reference LM's parameters; ``fraction`` and ``keep`` only choose among the scores. Contents, not
    the revision: publishing a subset moves the repo's ``main`` without changing the corpus."""
    cfg = recipe.selection.perplexity
    digest = hashlib.sha256()
    for name in ("id", "text"):
        for value in (ds[name] if name in ds.column_names else []):
            digest.update(str(value).encode() + b"\0")
    if cfg.model == "tiny" and "seeds" in registry.configs(source):
        for text in registry.load(source, "seeds")["text"]:
            digest.update(text.encode() + b"\1")
    payload = {"rows": digest.hexdigest(), "model": cfg.model, "max_length": cfg.max_length, "dtype": cfg.dtype,
               "reference_steps": cfg.reference_steps, "seed": cfg.seed,
               "tiny": recipe.train.tiny.model_dump(mode="json") if cfg.model == "tiny" else None}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def earlier_scores(registry, repo_id: str, method: str, key: str, ids: list[str]) -> tuple[np.ndarray, dict] | None:
    """Perplexities an earlier ``--by ppl`` published in ``repo_id`` (at ``main``) with the same ``scores_key``,
    read back from that subset's ``train`` and ``dropped`` splits, in the order of ``ids``; None when there are
    none or they do not cover every row. The reference model's provenance comes along, naming where it came from.
    """
    head = DatasetRef(repo_id=repo_id, revision="main")
    try:
        configs = registry.card_data(head).get("kinject", {}).get("configs", {})
    except KinjectUserError:  # no such repo or revision yet: nothing to reuse
        return None
    for name, prov in sorted(configs.items()):
        reference = prov.get("reference_model") or {}
        if not name.startswith(f"{method}-ppl-") or reference.get("scores_key") != key:
            continue
        found: dict[str, float] = {}
        for split in ("train", "dropped"):
            part = registry.load(head, name, split)
            found.update(zip(part["id"], part["ppl"]))
        if all(i in found for i in ids):
            origin = f"{repo_id}@{registry.resolve(head)} config {name}"
            return np.array([found[i] for i in ids], dtype=np.float64), {**reference, "scores_reused_from": origin}
    return None


def _select_ppl(recipe: Recipe, registry, source: DatasetRef, method: str, ds, units) -> tuple[dict, dict, dict]:
    from kinject.pipelines.selection.perplexity import PerplexityFilter, score_texts

    cfg = recipe.selection.perplexity
    key = scores_key(recipe, registry, source, ds)
    earlier = (earlier_scores(registry, recipe.registry.repo, method, key, list(ds["id"]))
               if "id" in ds.column_names else None)
    if earlier is not None:
        ppl, ref_info = earlier
    else:
        model, tokenizer, ref_info = _reference(recipe, registry, source)
        ppl = score_texts(model, tokenizer, list(ds["text"]), batch_size=cfg.batch_size, max_length=cfg.max_length,
                          dtype=cfg.dtype, show_progress=True)
        ref_info = {**ref_info, "scores_key": key}
    columns = {"ppl": ppl}
    tables, provenance, files = {}, {}, {}
    for keep in cfg.keep:
        block = PerplexityFilter(keep, cfg.fraction)
        kept, reasons, scores = _apply([block], Batch(columns), units, len(ds))
        name = f"{method}-ppl-{keep}{_pct(cfg.fraction)}"
        tables[name] = _tables(ds, kept, reasons, scores)
        provenance[name] = _provenance("ppl", method, source, cfg.model_dump(mode="json"), [block], len(ds),
                                       int(kept.sum()), {"reference_model": ref_info})
        files[f"stats/{name}/{block.name}.json"] = block.stats_json()
    return tables, provenance, files


def d4_fraction(ratio: float, kept: int, targets: int, total: int, method: str) -> float:
    """The fraction a D4 config is named by: ``ratio`` when every scope unit kept its target
    (``target_count(ratio, unit rows)``, summed: ``targets``), else the share really kept (whole percent), with a
    warning: some units had fewer distinct texts than the ratio asks."""
    if kept >= targets:
        return ratio
    actual = round(kept / total, 2)
    logger.warning("selection.d4.ratio %s: %s has fewer distinct texts than the ratio asks; kept %d of %d rows "
                   "(%.1f %%, target %d), published as %s-d4-%s", ratio, method, kept, total, 100 * kept / total,
                   targets, method, _pct(actual))
    return actual


def _select_d4(recipe: Recipe, registry, source: DatasetRef, method: str, ds, units) -> tuple[dict, dict, dict]:
    from kinject.pipelines.selection.d4 import d4_blocks
    from kinject.pipelines.selection.embeddings import embed_texts
    from kinject.pipelines.selection.encoders import load_encoder

    cfg = recipe.selection.d4
    smallest = min(len(u) for u in units)
    if cfg.n_clusters > smallest:
        where = "the smallest document" if cfg.scope == "per_doc" else "the corpus"
        raise KinjectUserError(f"{recipe.source or 'recipe'}: selection.d4.n_clusters: must be <= the rows of "
                               f"each scope unit, got {cfg.n_clusters} but {where} of {source} config "
                               f"'{method}' has {smallest} rows; lower n_clusters or use scope: global")
    minhash, semdedup, prototypes = d4_blocks(cfg)
    texts = list(ds["text"])
    batch = Batch({"text": texts})
    alive, reasons, _ = _apply([minhash], batch, units, len(ds))
    encoder = load_encoder(cfg.embedding_model, seed=cfg.seed, reference=lambda: _reference(recipe, registry, source))
    survivors = np.flatnonzero(alive)
    vectors = embed_texts(encoder, [texts[i] for i in survivors], batch_size=cfg.embedding_batch_size)
    embeddings = np.zeros((len(ds), vectors.shape[1]), dtype=np.float32)
    embeddings[survivors] = vectors
    kept, later_reasons, scores = _apply([semdedup, prototypes], Batch({"text": texts}, embeddings), units,
                                         len(ds), alive)
    reasons = [r if r is not None else lr for r, lr in zip(reasons, later_reasons)]
    targets = sum(target_count(cfg.ratio, len(unit)) for unit in units)
    name = f"{method}-d4-{_pct(d4_fraction(cfg.ratio, int(kept.sum()), targets, len(ds), method))}"
    tables = {name: _tables(ds, kept, reasons, scores)}
    blocks = [minhash, semdedup, prototypes]
    provenance = {name: _provenance("d4", method, source, cfg.model_dump(mode="json"), blocks, len(ds),
                                    int(kept.sum()), {"embedding": encoder.info,
                                                      "embedding_dim": int(vectors.shape[1]),
                                                      "kept_fraction": round(float(kept.mean()), 4)})}
    files = {f"stats/{name}/{b.name}.json": b.stats_json() for b in blocks}
    return tables, provenance, files


def run_selection(recipe: Recipe, source: DatasetRef | None, method: str,
                  by: Literal["ppl", "d4"]) -> DatasetRef:
    """Publish the ``by`` subsets of corpus config ``method`` read from ``source`` (default: the recipe's repo at
    ``main``) to ``recipe.registry.repo`` in one commit; return the new revision."""
    from kinject.cards.registry import open_registry

    if by not in ("ppl", "d4"):
        raise KinjectUserError(f"--by: expected 'ppl' or 'd4', got {by!r}")
    registry = open_registry(recipe.registry)
    source = source or DatasetRef(repo_id=recipe.registry.repo, revision="main")
    configs = registry.configs(source)
    if method not in configs:
        raise KinjectUserError(f"{source} has no config {method!r} (has: {', '.join(configs) or 'none'}); "
                               f"was `make corpus METHOD={method}` run?")
    source = DatasetRef(repo_id=source.repo_id, revision=registry.resolve(source))
    ds = registry.load(source, method, "train")
    if len(ds) == 0:
        raise KinjectUserError(f"{source} config '{method}' split 'train' is empty; nothing to select from")
    scope = recipe.selection.perplexity.scope if by == "ppl" else recipe.selection.d4.scope
    needed = ["text"] + (["doc_id"] if scope == "per_doc" else [])
    missing = [c for c in needed if c not in ds.column_names]
    if missing:
        raise KinjectUserError(f"{source} config '{method}': missing column(s) {', '.join(missing)} "
                               f"(has: {', '.join(ds.column_names)})")
    units = scope_units(list(ds["doc_id"]) if scope == "per_doc" else None, len(ds))
    if by == "ppl":
        tables, provenance, files = _select_ppl(recipe, registry, source, method, ds, units)
    else:
        tables, provenance, files = _select_d4(recipe, registry, source, method, ds, units)
    summary = ", ".join(f"{name} ({len(t['train'])}/{len(ds)})" for name, t in tables.items())
    return registry.publish(recipe.registry.repo, tables, provenance=provenance, files=files,
                            message=f"select {by}: {summary} from {source}")
