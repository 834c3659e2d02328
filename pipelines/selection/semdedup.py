"""D4 stage (d): SemDeDup (Abbas et al. 2023), semantic near-duplicate removal inside k-means clusters.

Rows are clustered with spherical k-means; inside each cluster, rows are visited from the least to the most
typical (ascending cosine to the centroid, ties by row position: SemDeDup keeps the example farthest from the
centroid of a duplicate group) and a row is dropped when its cosine similarity to a row already *kept* exceeds
``1 - epsilon``. Similarities are computed cluster by cluster in blocks of ``block_size`` rows, never as an
n × n matrix over the whole set.

References: Abbas et al. 2023, "SemDeDup: Data-efficient learning at web-scale through semantic deduplication";
Tirumala et al. 2023, "D4: Improving LLM Pretraining via Document De-Duplication and Diversification".
Input: a ``Batch`` with embeddings. Output columns: ``semdedup_cluster``, ``semdedup_max_sim`` (highest cosine
to an earlier kept row of the cluster; -1.0, the floor of cosine, when there is none).
Stats: ``dropped_semdedup_near_duplicate``, ``clusters``, ``units_k_clamped``.
"""

from __future__ import annotations

import numpy as np

from kinject.pipelines.selection.base import Batch, SelectionBlock, Verdict
from kinject.pipelines.selection.embeddings import cluster_members, spherical_kmeans
from kinject.recipes.schema import D4Config

NO_NEIGHBOUR = -1.0


def semdedup_cluster(vectors: np.ndarray, threshold: float, block_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Greedy dedup of one cluster whose rows are already in visiting order.

    Returns ``(keep, max_sim)``: row j is kept iff no kept row i < j has ``cos(i, j) > threshold``; ``max_sim[j]``
    is the highest cosine between j and a kept row before it. Memory: O(block_size × kept + m × d).
    """
    m, d = vectors.shape
    keep = np.zeros(m, dtype=bool)
    max_sim = np.full(m, NO_NEIGHBOUR, dtype=np.float32)
    kept_vectors = np.empty((m, d), dtype=np.float32)
    n_kept = 0
    for start in range(0, m, block_size):
        block = vectors[start:start + block_size]
        b = len(block)
        prior = np.full(b, NO_NEIGHBOUR, dtype=np.float32)
        if n_kept:
            prior = np.maximum(prior, (block @ kept_vectors[:n_kept].T).max(axis=1))
        within = block @ block.T
        within[np.tril_indices(b)] = NO_NEIGHBOUR  # only earlier rows (i < j) count for row j
        alive = prior <= threshold
        # Fast path: no pair inside the block crosses the threshold, so the greedy order cannot matter here.
        if (within[np.ix_(alive, alive)] > threshold).any():
            for j in range(b):
                if alive[j] and (within[:j, j][alive[:j]] > threshold).any():
                    alive[j] = False
        within[~alive, :] = NO_NEIGHBOUR  # similarity to dropped rows does not count
        block_max = np.maximum(prior, within.max(axis=0))
        keep[start:start + b] = alive
        max_sim[start:start + b] = block_max
        kept_vectors[n_kept:n_kept + alive.sum()] = block[alive]
        n_kept += int(alive.sum())
    return keep, max_sim


class SemDeDup(SelectionBlock):
    """Drop rows whose cosine to a kept row of the same k-means cluster exceeds ``1 - epsilon``.

    References: Abbas et al. 2023. Input: a ``Batch`` with embeddings. Output columns: ``semdedup_cluster``,
    ``semdedup_max_sim``. Stats: ``dropped_semdedup_near_duplicate``.
    """

    name = "semdedup"
    requires = (("faiss", "faiss-cpu"),)

    def __init__(self, config: D4Config, block_size: int = 1024) -> None:
        super().__init__()
        self.config = config
        self.block_size = block_size

    def params(self) -> dict:
        c = self.config
        return {"n_clusters": c.n_clusters, "epsilon": c.epsilon, "threshold": 1 - c.epsilon, "seed": c.seed,
                "kmeans_iters": c.kmeans_iters, "order": "ascending cosine to centroid, then row position"}

    def judge(self, batch: Batch) -> list[Verdict]:
        n = len(batch)
        k = min(self.config.n_clusters, n)
        if k < self.config.n_clusters:
            self.stats["units_k_clamped"] += 1  # MinHash left fewer rows than clusters in this unit
        labels, centroid_sim, _ = spherical_kmeans(n, batch.vectors, k, seed=self.config.seed,
                                                   niter=self.config.kmeans_iters)
        keep = np.zeros(n, dtype=bool)
        max_sim = np.empty(n, dtype=np.float32)
        threshold = 1.0 - self.config.epsilon
        for members in cluster_members(labels):
            if not len(members):
                continue
            self.stats["clusters"] += 1
            order = members[np.lexsort((members, centroid_sim[members]))]
            kept, sims = semdedup_cluster(batch.vectors(order), threshold, self.block_size)
            keep[order] = kept
            max_sim[order] = sims
        drop = "semdedup_near_duplicate"
        return [
            Verdict(bool(kk), None if kk else drop, {"semdedup_cluster": int(c), "semdedup_max_sim": float(s)})
            for kk, c, s in zip(keep, labels, max_sim)
        ]
