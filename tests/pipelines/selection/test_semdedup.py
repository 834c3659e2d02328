import numpy as np
import pytest

from kinject.pipelines.selection.base import Batch, run_blocks
from kinject.pipelines.selection.embeddings import spherical_kmeans
from kinject.pipelines.selection.semdedup import NO_NEIGHBOUR, SemDeDup, semdedup_cluster
from kinject.recipes.schema import D4Config


def brute_force_semdedup(x, labels, centroids, epsilon):
    """The definition, one pair at a time in float64: visit each cluster by (cosine to centroid, position);
    keep a row unless its cosine to an already kept row exceeds 1 - epsilon."""
    x = x.astype(np.float64)
    keep, max_sim = {}, {}
    for c in sorted(set(labels.tolist())):
        members = [i for i in range(len(x)) if labels[i] == c]
        members.sort(key=lambda i: (float(x[i] @ centroids[c].astype(np.float64)), i))
        kept = []
        for j in members:
            sims = [float(x[i] @ x[j]) for i in kept]
            max_sim[j] = max(sims, default=NO_NEIGHBOUR)
            keep[j] = max_sim[j] <= 1 - epsilon
            if keep[j]:
                kept.append(j)
    return {i for i, k in keep.items() if k}, max_sim


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("block_size", [5, 1024])
def test_semdedup_block_equals_brute_force(planted_vectors, seed, block_size):
    x, _ = planted_vectors(60, 40, 16, noise=0.15, seed=seed)
    config = D4Config(n_clusters=4, epsilon=0.1, seed=seed)
    block = SemDeDup(config, block_size=block_size)
    verdicts = block(Batch({}, x))
    labels = np.array([v.scores["semdedup_cluster"] for v in verdicts])
    # The block's clustering is deterministic for a seed: recompute it for the reference.
    ref_labels, _, centroids = spherical_kmeans(len(x), lambda p: x[p], 4, seed=seed, niter=config.kmeans_iters,
                                                 redo=config.kmeans_redo)
    np.testing.assert_array_equal(labels, ref_labels)
    expected_kept, expected_max = brute_force_semdedup(x, labels, centroids, 0.1)
    kept = {i for i, v in enumerate(verdicts) if v.keep}
    assert kept == expected_kept
    assert 0 < len(kept) < len(x)  # the planted copies make the comparison non-trivial
    for i, v in enumerate(verdicts):
        assert v.scores["semdedup_max_sim"] == pytest.approx(expected_max[i], abs=1e-5)
        assert v.reason == (None if v.keep else "semdedup_near_duplicate")
    assert block.stats["dropped_semdedup_near_duplicate"] == len(x) - len(kept)


def test_chain_keeps_row_whose_only_neighbour_was_dropped():
    # a ~ b and b ~ c but a !~ c: b is dropped (near kept a), so c has no kept neighbour and stays.
    angle = np.deg2rad([0.0, 14.0, 28.0])
    x = np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)
    threshold = np.cos(np.deg2rad(20.0))
    for block_size in (1, 2, 3):
        keep, max_sim = semdedup_cluster(x, threshold, block_size=block_size)
        assert keep.tolist() == [True, False, True]
        assert max_sim[0] == NO_NEIGHBOUR
        assert max_sim[2] == pytest.approx(np.cos(np.deg2rad(28.0)), abs=1e-6)


def test_planted_duplicates_removed_and_distinct_rows_kept(planted_vectors):
    x, copies = planted_vectors(200, 50, 32, noise=0.05, seed=3)
    kept, _, _ = run_blocks([SemDeDup(D4Config(n_clusters=8, epsilon=0.05))], Batch({}, x))
    # every copy is within cos > 0.95 of its source; random 32-d vectors are nowhere near each other
    assert not any(kept[i] and _has_kept_twin(x, kept, i) for i in range(len(x)))
    assert kept.sum() == 200


def _has_kept_twin(x, kept, i):
    sims = x @ x[i]
    sims[i] = -1
    return bool((sims[kept] > 0.95).any())


def test_threshold_rises_until_the_ratio_is_reachable(planted_vectors):
    """10 rows and 30 close copies of them: at epsilon 0.1 SemDeDup would keep about 10 of 40, under the 20 that
    ratio 0.5 keeps; the cosine threshold rises (bisection) to the lowest that keeps at least 20."""
    x, _ = planted_vectors(10, 30, 16, noise=0.15, seed=0)
    config = D4Config(n_clusters=2, epsilon=0.1, ratio=0.5, seed=0)
    strict = SemDeDup(config.model_copy(update={"ratio": 0.01}))
    assert sum(v.keep for v in strict(Batch({}, x))) < 20  # the planted case needs the rise
    block = SemDeDup(config)
    verdicts = block(Batch({}, x))
    kept = sum(v.keep for v in verdicts)
    assert 20 <= kept <= 22
    used = block.stats_dict()["thresholds_used"]
    assert used["units"] == 1 and used["at_configured"] == 0 and 0.9 < used["min"] < 1.0
    assert all(v.scores["semdedup_max_sim"] <= used["min"] + 1e-6 for v in verdicts if v.keep)
    again = SemDeDup(config)(Batch({}, x))
    assert [v.keep for v in again] == [v.keep for v in verdicts]
