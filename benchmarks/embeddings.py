"""Which encoder reads the corpus's language: D4's embeddings judged by how well they separate documents.

On the default ``graph`` and ``fact`` corpora (``_corpora.py``), ``PER_DOC`` rows of each document (seeded
sample) are embedded by every candidate encoder (``pipelines/selection/encoders.py``), then:

- purity: spherical k-means (faiss, as SemDeDup and the prototypes use it) with k = number of documents; each
  cluster counts its most common ``doc_id``; purity = those counts summed / rows. Target ≥ 0.9.
- nearest neighbour: the share of rows whose nearest other row (cosine) belongs to the same document. Target
  ≥ 0.95.

A D4 whose embeddings mix documents deduplicates across them and keeps prototypes of nothing in particular;
these two figures say whether an encoder sees the documents at all. Each candidate runs in a fresh two-thread
child process (``benchmarks.selection._child``), which also reports its rows/s. Candidates: ``char-tfidf``,
``all-MiniLM-L6-v2``, ``lm:tiny`` (the perplexity reference LM's mean-pooled hidden states), and GiNZA's word
vectors (``ja_ginza``) when that package is installed.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import figure

CANDIDATES = ("char-tfidf", "all-MiniLM-L6-v2", "lm:tiny", "ja-ginza")
PER_DOC = 40
TARGET_PURITY = 0.9
TARGET_NN = 0.95


def cluster_purity(labels: np.ndarray, doc_ids: list[str]) -> float:
    """Share of rows whose cluster's most common document is their own."""
    labels = np.asarray(labels)
    docs = np.unique(np.asarray(doc_ids), return_inverse=True)[1]
    table = np.zeros((labels.max() + 1, docs.max() + 1), dtype=np.int64)
    np.add.at(table, (labels, docs), 1)
    return float(table.max(axis=1).sum() / len(labels))


def nearest_same_doc(vectors: np.ndarray, doc_ids: list[str]) -> float:
    """Share of rows whose nearest other row (inner product of unit vectors) has the same document."""
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    _, nearest = index.search(x, 2)
    rows = np.arange(len(x))
    # the row itself is usually hit first; with an identical vector elsewhere it may come second
    other = np.where(nearest[:, 0] == rows, nearest[:, 1], nearest[:, 0])
    docs = np.asarray(doc_ids)
    return float((docs[other] == docs).mean())


def separation(vectors: np.ndarray, doc_ids: list[str], seed: int = 0) -> dict:
    """Purity of k-means with k = number of documents, and nearest-neighbour agreement."""
    from kinject.pipelines.selection.embeddings import spherical_kmeans
    from kinject.recipes.schema import D4Config

    k = len(set(doc_ids))
    labels, _, _ = spherical_kmeans(len(vectors), lambda pos: vectors[pos], k, seed=seed, redo=D4Config().kmeans_redo)
    return {"purity": cluster_purity(labels, doc_ids), "nn_same_doc": nearest_same_doc(vectors, doc_ids)}


def sample_rows(doc_ids: list[str], per_doc: int, seed: int = 0) -> np.ndarray:
    """Up to ``per_doc`` positions of each document, seeded, in ascending order."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, doc in enumerate(doc_ids):
        groups.setdefault(doc, []).append(i)
    picked = [rng.choice(rows, min(per_doc, len(rows)), replace=False) for rows in groups.values()]
    return np.sort(np.concatenate(picked))


def _ginza_vectors(texts: list[str]) -> np.ndarray:
    """GiNZA's document vectors (mean of its word2vec token vectors), tokenizer and vectors only."""
    import spacy

    nlp = spacy.load("ja_ginza")
    # doc.vector reads the static vectors table after SudachiPy's tokenizer; the pipes would only add time
    x = np.stack([doc.vector for doc in nlp.pipe(texts, disable=nlp.pipe_names, batch_size=64)]).astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _job_embed(sample_file: str, candidate: str, registry_root: str = "", source: str = "") -> dict:
    """Embed the sampled rows of ``sample_file`` with ``candidate``; return the figures and the rows/s."""
    data = json.loads(Path(sample_file).read_text())
    texts, doc_ids = data["texts"], data["doc_ids"]
    start = time.perf_counter()
    if candidate == "ja-ginza":
        vectors = _ginza_vectors(texts)
    else:
        from kinject.pipelines.selection.embeddings import embed_texts
        from kinject.pipelines.selection.encoders import load_encoder

        encoder = load_encoder(candidate, reference=lambda: _tiny_reference(data["recipe"], data["source"]))
        vectors = embed_texts(encoder, texts, show_progress=False)
    seconds = time.perf_counter() - start
    return {**separation(vectors, doc_ids), "seconds": seconds, "rows": len(texts), "dim": int(vectors.shape[1])}


def _tiny_reference(recipe_file: str, source: str):
    """The perplexity reference LM of the benchmark's recipe, trained on the corpus repo's seeds."""
    from kinject.cards.refs import DatasetRef
    from kinject.cards.registry import open_registry
    from kinject.pipelines.selection.reference import load_reference
    from kinject.recipes.schema import Recipe

    recipe = Recipe.model_validate_json(Path(recipe_file).read_text())
    registry = open_registry(recipe.registry)
    ref = DatasetRef.parse(source)
    seeds = list(registry.load(ref, "seeds")["text"])
    return load_reference(recipe.selection.perplexity, recipe.train.tiny, seeds,
                          cache_root=Path(recipe.registry.root).parent / "ppl-reference")


def _available(candidate: str) -> bool:
    import importlib.util

    return candidate != "ja-ginza" or importlib.util.find_spec("ja_ginza") is not None


def run(quick: bool = False) -> list[dict]:
    from benchmarks import _corpora
    from benchmarks.selection import _child

    per_doc = 4 if quick else PER_DOC
    rows = []
    with tempfile.TemporaryDirectory(prefix="kinject-bench-emb-") as tmp:
        recipe, refs = _corpora.build(("graph", "fact"), quick, tmp)
        recipe_file = Path(tmp) / "recipe.json"
        recipe_file.write_text(recipe.model_dump_json())
        from kinject.cards.registry import open_registry

        registry = open_registry(recipe.registry)
        for method, ref in refs.items():
            ds = registry.load(ref, method)
            doc_ids = list(ds["doc_id"])
            picked = sample_rows(doc_ids, per_doc)
            sample_file = Path(tmp) / f"{method}.json"
            sample_file.write_text(json.dumps({"texts": [ds[int(i)]["text"] for i in picked],
                                               "doc_ids": [doc_ids[i] for i in picked],
                                               "recipe": str(recipe_file), "source": str(ref)}, ensure_ascii=False))
            docs = len(set(doc_ids))
            for candidate in CANDIDATES:
                if not _available(candidate):
                    rows.append(figure(f"{method}_{candidate}_purity", float("nan"), "",
                                       note="not installed (pip install ja-ginza); measured separately, see "
                                            "benchmarks/README.md"))
                    continue
                out = _child("embed", str(sample_file), candidate, module="benchmarks.embeddings")
                where = f"{method} corpus, {out['rows']} rows ({per_doc} of each of {docs} documents)"
                rows.append(figure(f"{method}_{candidate}_purity", out["purity"], "", target=TARGET_PURITY,
                                   note=f"{where}; k-means k={docs}; dim {out['dim']}"))
                rows.append(figure(f"{method}_{candidate}_nn_same_doc", out["nn_same_doc"], "", target=TARGET_NN,
                                   note=f"{where}; {out['rows'] / out['seconds']:.0f} rows/s embedding, model load included"))
    return rows


if __name__ == "__main__":
    import sys

    from benchmarks.selection import child_main

    child_main({"embed": _job_embed}, sys.argv[1:])
