"""D4 stage (e): SSL prototypes (Sorscher et al. 2022), pruning the easiest, most prototypical rows.

The rows left after deduplication are re-clustered with spherical k-means (as D4 does: the clusters SemDeDup
used still hold the removed duplicates) and each row's distance to its centroid, ``1 - cos``, is its difficulty.
Rows nearest their centroid are dropped first (ties: lower row position first) until exactly
``target_count(ratio, unit_size)`` rows remain, where ``unit_size`` counts the unit's rows before MinHash.
If deduplication already left fewer rows than the target, all remaining rows are kept and the unit is counted
in ``units_below_target`` (the subset is then smaller than the ratio asks, and the stats say so).

References: Sorscher et al. 2022, "Beyond neural scaling laws: beating power law scaling via data pruning";
Tirumala et al. 2023 (D4). Output columns: ``cluster``, ``proto_dist``.
Stats: ``dropped_prototype_easy``, ``units_below_target``, ``units_k_clamped``.
"""

from __future__ import annotations

import numpy as np

from kinject.pipelines.selection.base import Batch, SelectionBlock, Verdict, target_count
from kinject.pipelines.selection.embeddings import spherical_kmeans
from kinject.recipes.schema import D4Config


def prototype_keep(distances: np.ndarray, n_keep: int) -> np.ndarray:
    """Keep mask dropping the ``len - n_keep`` rows with the smallest distance (ties: lower position first)."""
    n = len(distances)
    keep = np.ones(n, dtype=bool)
    n_drop = max(0, n - n_keep)
    if n_drop:
        order = np.lexsort((np.arange(n), distances))
        keep[order[:n_drop]] = False
    return keep


class PrototypeSelector(SelectionBlock):
    """Drop the rows nearest their k-means centroid until the D4 ratio of the unit is reached.

    References: Sorscher et al. 2022. Input: a ``Batch`` with embeddings. Output columns: ``cluster``,
    ``proto_dist``. Stats: ``dropped_prototype_easy``, ``units_below_target``.
    """

    name = "prototype"
    requires = (("faiss", "faiss-cpu"),)

    def __init__(self, config: D4Config) -> None:
        super().__init__()
        self.config = config

    def params(self) -> dict:
        c = self.config
        return {"n_clusters": c.n_clusters, "ratio": c.ratio, "seed": c.seed, "kmeans_iters": c.kmeans_iters,
                "kmeans_redo": c.kmeans_redo,
                "distance": "1 - cosine to centroid", "rounding": "floor(ratio * unit_rows + 0.5), at least 1"}

    def judge(self, batch: Batch) -> list[Verdict]:
        n = len(batch)
        n_keep = target_count(self.config.ratio, batch.unit_size)
        if n <= n_keep:
            self.stats["units_below_target"] += int(n < n_keep)
        k = min(self.config.n_clusters, n)
        if k < self.config.n_clusters:
            self.stats["units_k_clamped"] += 1
        labels, centroid_sim, _ = spherical_kmeans(n, batch.vectors, k, seed=self.config.seed,
                                                   niter=self.config.kmeans_iters,
                                                   redo=self.config.kmeans_redo)
        distances = 1.0 - centroid_sim.astype(np.float64)
        keep = prototype_keep(distances, n_keep)
        return [
            Verdict(bool(kk), None if kk else "prototype_easy", {"cluster": int(c), "proto_dist": float(dist)})
            for kk, c, dist in zip(keep, labels, distances)
        ]
