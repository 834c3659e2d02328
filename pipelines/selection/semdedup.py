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
Stats: ``dropped_semdedup_near_duplicate``, ``clusters``, ``units_k_clamped``, ``units_short_of_target``, and
``thresholds_used`` (the cosine thresholds the units used: the ratio's budget can raise ``1 - epsilon``).
"""

from __future__ import annotations

import numpy as np

from kinject.pipelines.selection.base import Batch, SelectionBlock, Verdict, target_count
from kinject.pipelines.selection.embeddings import cluster_members, spherical_kmeans
from kinject.recipes.schema import D4Config

NO_NEIGHBOUR = -1.0
# Bisection steps on the cosine threshold when a unit would fall below the ratio: 12 halve (0.05 wide) to 1e-5.
_BISECTIONS = 12


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
    """Drop rows whose cosine to a kept row of the same k-means cluster exceeds ``1 - epsilon``, leaving at least
    the D4 ratio's share of the unit: where ``1 - epsilon`` would leave fewer than ``target_count(ratio,
    unit_size)`` rows, the threshold is raised (bisection) to the lowest that leaves enough.

    References: Abbas et al. 2023. Input: a ``Batch`` with embeddings. Output columns: ``semdedup_cluster``,
    ``semdedup_max_sim``. Stats: ``dropped_semdedup_near_duplicate``.
    """

    name = "semdedup"
    requires = (("faiss", "faiss-cpu"),)

    def __init__(self, config: D4Config, block_size: int = 1024) -> None:
        super().__init__()
        self.config = config
        self.block_size = block_size
        self.thresholds: list[float] = []  # the cosine threshold each unit used

    def params(self) -> dict:
        c = self.config
        return {"n_clusters": c.n_clusters, "epsilon": c.epsilon, "threshold": 1 - c.epsilon, "seed": c.seed,
                "kmeans_iters": c.kmeans_iters,
                "kmeans_redo": c.kmeans_redo, "order": "ascending cosine to centroid, then row position"}

    def judge(self, batch: Batch) -> list[Verdict]:
        n = len(batch)
        k = min(self.config.n_clusters, n)
        if k < self.config.n_clusters:
            self.stats["units_k_clamped"] += 1  # MinHash left fewer rows than clusters in this unit
        labels, centroid_sim, _ = spherical_kmeans(n, batch.vectors, k, seed=self.config.seed,
                                                   niter=self.config.kmeans_iters,
                                                   redo=self.config.kmeans_redo)
        clusters = [members[np.lexsort((members, centroid_sim[members]))]
                    for members in cluster_members(labels) if len(members)]
        self.stats["clusters"] += len(clusters)
        vectors = [batch.vectors(order) for order in clusters]

        def dedup(threshold: float) -> tuple[np.ndarray, np.ndarray]:
            keep = np.zeros(n, dtype=bool)
            max_sim = np.empty(n, dtype=np.float32)
            for order, x in zip(clusters, vectors):
                keep[order], max_sim[order] = semdedup_cluster(x, threshold, self.block_size)
            return keep, max_sim

        n_keep = target_count(self.config.ratio, batch.unit_size)
        threshold = 1.0 - self.config.epsilon
        keep, max_sim = dedup(threshold)
        if keep.sum() < n_keep:
            threshold, keep, max_sim = self._loosen(dedup, threshold, n_keep)
        self.thresholds.append(threshold)
        drop = "semdedup_near_duplicate"
        return [
            Verdict(bool(kk), None if kk else drop, {"semdedup_cluster": int(c), "semdedup_max_sim": float(s)})
            for kk, c, s in zip(keep, labels, max_sim)
        ]

    def _loosen(self, dedup, low: float, n_keep: int) -> tuple[float, np.ndarray, np.ndarray]:
        """The lowest cosine threshold in ``(low, 1]`` that keeps at least ``n_keep`` rows, by bisection.

        The kept count grows with the threshold (a stricter notion of duplicate drops fewer rows); greedy order
        can make it step back by a row, so every candidate is checked, and the answer is one that was.
        """
        high = 1.0
        keep, max_sim = dedup(high)
        if keep.sum() < n_keep:  # only cosine-identical rows left to drop: fewer distinct rows than the target
            self.stats["units_short_of_target"] += 1
            return high, keep, max_sim
        for _ in range(_BISECTIONS):
            mid = (low + high) / 2
            mid_keep, mid_sim = dedup(mid)
            if mid_keep.sum() >= n_keep:
                high, keep, max_sim = mid, mid_keep, mid_sim
            else:
                low = mid
        return high, keep, max_sim

    def stats_dict(self) -> dict:
        out = super().stats_dict()
        if self.thresholds:
            t = np.asarray(self.thresholds)
            out["thresholds_used"] = {"units": len(t), "at_configured": int((t == 1.0 - self.config.epsilon).sum()),
                                      "min": round(float(t.min()), 5), "median": round(float(np.median(t)), 5),
                                      "max": round(float(t.max()), 5)}
        return out
