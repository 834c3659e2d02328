import json

import numpy as np
import pytest

from kinject.pipelines.selection.base import Batch, SelectionBlock, Verdict, run_blocks


class DropOdd(SelectionBlock):
    name = "odd"

    def judge(self, batch):
        return [Verdict(True, scores={"value": v}) if v % 2 == 0 else Verdict(False, "odd_value", {"value": v})
                for v in batch.column("value")]


class DropAboveFour(SelectionBlock):
    name = "big"

    def judge(self, batch):
        return [Verdict(v <= 4, None if v <= 4 else "big_value") for v in batch.column("value")]


def test_blocks_chain_and_count_reasons():
    batch = Batch({"value": list(range(10))})
    odd, big = DropOdd(), DropAboveFour()
    kept, reasons, scores = run_blocks([odd, big], batch)
    assert kept.tolist() == [True, False, True, False, True] + [False] * 5
    assert reasons[1] == "odd_value" and reasons[6] == "big_value" and reasons[0] is None
    assert big.stats["total"] == 5  # the second block sees only what the first kept
    stats = json.loads(odd.stats_json())
    assert stats["counts"] == {"total": 10, "kept": 5, "dropped": 5, "dropped_odd_value": 5}
    assert stats["block"] == "odd" and stats["batches"] == 1
    np.testing.assert_array_equal(scores["value"], np.arange(10))


def test_verdict_requires_reason_exactly_when_dropped():
    with pytest.raises(ValueError):
        Verdict(False)
    with pytest.raises(ValueError):
        Verdict(True, "why")


def test_reason_without_block_prefix_is_a_bug():
    class Bad(SelectionBlock):
        name = "bad"

        def judge(self, batch):
            return [Verdict(False, "other_reason")]

    with pytest.raises(RuntimeError, match="prefix"):
        Bad()(Batch({"value": [1]}))


def test_missing_dependency_names_the_pip_package():
    class NeedsMissing(DropOdd):
        requires = (("kinject_no_such_module", "no-such-package"),)

    with pytest.raises(ImportError, match="pip install no-such-package"):
        NeedsMissing()


def test_batch_take_is_a_view_with_unit_size():
    emb = np.eye(4, dtype=np.float32)
    batch = Batch({"value": [10, 11, 12, 13]}, emb)
    sub = batch.take([3, 1])
    assert sub.column("value") == [13, 11] and sub.unit_size == 4 and sub.embeddings is emb
    np.testing.assert_array_equal(sub.vectors(), emb[[3, 1]])
