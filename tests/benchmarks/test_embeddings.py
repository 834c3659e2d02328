import numpy as np

from benchmarks.embeddings import cluster_purity, nearest_same_doc, sample_rows, separation


def test_purity_counts_each_clusters_majority_document():
    docs = ["a", "a", "a", "b", "b", "c", "c", "c"]
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 0])  # cluster 0: a a c, cluster 1: a b b, cluster 2: c c
    assert cluster_purity(labels, docs) == (2 + 2 + 2) / 8
    assert cluster_purity(np.array([0, 0, 0, 1, 1, 2, 2, 2]), docs) == 1.0
    assert cluster_purity(np.zeros(8, dtype=int), docs) == 3 / 8


def test_nearest_neighbour_share_on_planted_vectors():
    docs = ["a", "a", "b", "b"]
    x = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.14, 0.99]], dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    assert nearest_same_doc(x, docs) == 1.0
    assert nearest_same_doc(x, ["a", "b", "a", "b"]) == 0.0
    # an identical vector elsewhere may be returned before the row itself: it still counts as the neighbour
    assert nearest_same_doc(np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32), ["a", "a", "b"]) == 2 / 3


def test_separation_tells_separated_documents_from_mixed_ones():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 16))
    docs = [f"d{i % 5}" for i in range(100)]
    tight = centres[np.arange(100) % 5] + 0.05 * rng.standard_normal((100, 16))
    tight = (tight / np.linalg.norm(tight, axis=1, keepdims=True)).astype(np.float32)
    assert separation(tight, docs) == {"purity": 1.0, "nn_same_doc": 1.0}
    noise = rng.standard_normal((100, 16)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    mixed = separation(noise, docs)
    assert mixed["purity"] < 0.6 and mixed["nn_same_doc"] < 0.5


def test_sample_rows_takes_up_to_n_of_each_document():
    docs = ["a"] * 10 + ["b"] * 2 + ["c"] * 5
    picked = sample_rows(docs, 3, seed=0)
    assert sorted(docs[i] for i in picked) == ["a"] * 3 + ["b"] * 2 + ["c"] * 3
    assert picked.tolist() == sorted(picked.tolist()) == sample_rows(docs, 3, seed=0).tolist()
