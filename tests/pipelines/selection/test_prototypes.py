import numpy as np
import pytest

from kinject.pipelines.selection.base import Batch, run_blocks, target_count
from kinject.pipelines.selection.embeddings import spherical_kmeans
from kinject.pipelines.selection.prototypes import PrototypeSelector, prototype_keep
from kinject.recipes.schema import D4Config


def brute_force_prototypes(x, labels, centroids, n_keep):
    """Definition: distance 1 - cos to the own centroid; drop the nearest (ties: lower position) until n_keep."""
    dist = [1.0 - float(x[i].astype(np.float64) @ centroids[labels[i]].astype(np.float64)) for i in range(len(x))]
    order = sorted(range(len(x)), key=lambda i: (dist[i], i))
    return set(order[len(x) - n_keep:]), dist


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("ratio", [0.5, 0.3, 1.0])
def test_prototype_block_equals_brute_force(seed, ratio):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((97, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    config = D4Config(n_clusters=5, ratio=ratio, seed=seed)
    block = PrototypeSelector(config)
    verdicts = block(Batch({}, x))
    labels = np.array([v.scores["cluster"] for v in verdicts])
    ref_labels, _, centroids = spherical_kmeans(len(x), lambda p: x[p], 5, seed=seed, niter=config.kmeans_iters,
                                                 redo=config.kmeans_redo)
    np.testing.assert_array_equal(labels, ref_labels)
    n_keep = target_count(ratio, len(x))
    expected, dist = brute_force_prototypes(x, labels, centroids, n_keep)
    kept = {i for i, v in enumerate(verdicts) if v.keep}
    assert kept == expected
    assert len(kept) == n_keep  # ratio honoured exactly
    for i, v in enumerate(verdicts):
        assert v.scores["proto_dist"] == pytest.approx(dist[i], abs=1e-5)
        assert v.reason == (None if v.keep else "prototype_easy")


def test_prototype_keep_ties_drop_lower_position_first():
    assert prototype_keep(np.array([0.2, 0.1, 0.1, 0.3]), 2).tolist() == [True, False, False, True]
    assert prototype_keep(np.array([0.1, 0.1, 0.1]), 1).tolist() == [False, False, True]


@pytest.mark.parametrize(("ratio", "n", "expected"), [(0.5, 10, 5), (0.5, 5, 3), (0.5, 1, 1), (1.0, 7, 7),
                                                      (0.3, 10, 3), (0.25, 6, 2), (0.01, 10, 1)])
def test_target_count_rounds_half_up_and_keeps_one(ratio, n, expected):
    assert target_count(ratio, n) == expected


def test_ratio_is_of_the_unit_before_dedup_and_shortfall_is_reported():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 4)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    block = PrototypeSelector(D4Config(n_clusters=2, ratio=0.5))
    # 8 rows left of a 20-row unit: target 10 > 8, so all 8 are kept and the shortfall is counted
    kept, reasons, _ = run_blocks([block], Batch({}, x, rows=np.arange(8), unit_size=20))
    assert kept.all() and block.stats["units_below_target"] == 1
    # 10 rows left of a 12-row unit: exactly 6 kept
    block = PrototypeSelector(D4Config(n_clusters=2, ratio=0.5))
    kept, reasons, _ = run_blocks([block], Batch({}, x, unit_size=12))
    assert kept.sum() == 6 and reasons.count("prototype_easy") == 4
