import numpy as np
import pytest

from kinject.pipelines.selection.base import Batch, run_blocks
from kinject.pipelines.selection.perplexity import PerplexityFilter, score_token_rows, select_by_rank


@pytest.fixture(scope="module")
def random_llama():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128)
    return LlamaForCausalLM(config).eval()


def unbatched_nll(model, ids):
    """The definition, one row, no padding: mean of -log p(token_t | tokens_<t) over t >= 1."""
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    logp = torch.log_softmax(logits[:-1], dim=-1)
    return float(-logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].mean())


def test_batched_scores_equal_unbatched(random_llama):
    rng = np.random.default_rng(0)
    rows = [rng.integers(1, 50, size=int(n)).tolist() for n in rng.integers(2, 60, size=23)]
    batched = score_token_rows(random_llama, rows, batch_size=8, pad_id=0)
    one_by_one = score_token_rows(random_llama, rows, batch_size=1, pad_id=0)
    reference = np.array([unbatched_nll(random_llama, ids) for ids in rows])
    np.testing.assert_allclose(batched, reference, atol=1e-5, rtol=0)
    np.testing.assert_allclose(one_by_one, reference, atol=1e-5, rtol=0)
    assert len(set(np.round(batched, 4))) > 20  # rows really differ, so the comparison can fail


def test_bfloat16_scores_track_float32(random_llama):
    """The bfloat16 option really computes in bfloat16 (the scores move) and stays close enough to rank alike."""
    rng = np.random.default_rng(1)
    rows = [rng.integers(1, 50, size=int(n)).tolist() for n in rng.integers(2, 60, size=40)]
    exact = score_token_rows(random_llama, rows, batch_size=8, pad_id=0)
    fast = score_token_rows(random_llama, rows, batch_size=8, pad_id=0, dtype="bfloat16")
    assert not np.array_equal(fast, exact)
    np.testing.assert_allclose(fast, exact, atol=2e-2, rtol=0)
    assert np.corrcoef(np.argsort(np.argsort(fast)), np.argsort(np.argsort(exact)))[0, 1] > 0.95


def test_rows_without_a_prediction_are_a_user_error(random_llama):
    from kinject.errors import KinjectUserError

    with pytest.raises(KinjectUserError, match="row 1 has fewer than 2 tokens"):
        score_token_rows(random_llama, [[1, 2, 3], [4]], batch_size=2)


@pytest.mark.parametrize(("keep", "expected"), [("top", [0, 3]), ("bottom", [1, 4]), ("middle", [2, 4])])
def test_select_by_rank(keep, expected):
    ppl = np.array([9.0, 1.0, 5.0, 7.0, 3.0])  # ascending: 1(1.0) 4(3.0) 2(5.0) 3(7.0) 0(9.0)
    assert select_by_rank(ppl, keep, 2).tolist() == sorted(expected)


def test_filter_per_document_keeps_exact_fraction_with_reasons():
    ppl = [4.0, 2.0, 8.0, 6.0, 1.0, 3.0, 5.0]
    block = PerplexityFilter("top", 0.5)
    kept, reasons, scores = run_blocks([block], Batch({"ppl": ppl}))
    assert kept.tolist() == [True, False, True, True, False, False, True]  # 4 of 7 (3.5 rounds up)
    assert set(reasons) == {None, "perplexity_too_low"}
    np.testing.assert_array_equal(scores["ppl"], ppl)
    block = PerplexityFilter("bottom", 0.5)
    kept, reasons, _ = run_blocks([block], Batch({"ppl": ppl}))
    assert kept.tolist() == [True, True, False, False, True, True, False]
    assert reasons[2] == "perplexity_too_high" and block.stats["dropped_perplexity_too_high"] == 3
    block = PerplexityFilter("middle", 0.5)
    kept, reasons, _ = run_blocks([block], Batch({"ppl": [1.0, 2.0, 3.0, 4.0]}))
    assert kept.tolist() == [False, True, True, False]
    assert reasons == ["perplexity_too_low", None, None, "perplexity_too_high"]


def test_ties_are_broken_by_position():
    block = PerplexityFilter("top", 0.5)
    kept, _, _ = run_blocks([block], Batch({"ppl": [2.0, 2.0, 2.0, 2.0]}))
    assert kept.tolist() == [False, False, True, True]


def test_length_batches_prefer_one_length_and_respect_limits():
    from kinject.pipelines.selection.perplexity import length_batches

    lengths = [5] * 7 + [4] * 3 + [9] * 2
    batches = length_batches(lengths, batch_size=4, max_tokens=1000)
    assert sorted(i for b in batches for i in b) == list(range(12))
    assert all(len(b) <= 4 for b in batches)
    assert [sorted({lengths[i] for i in b}) for b in batches] == [[9], [5], [5], [4]]
    # lengths all different: a batch stops at a change only once half full, never at one row
    assert [len(b) for b in length_batches(list(range(2, 12)), batch_size=4, max_tokens=1000)] == [2, 2, 2, 2, 2]
    # a batch never pads past max_tokens
    assert all(len(b) * max(lengths[i] for i in b) <= 18 for b in length_batches(lengths, 8, max_tokens=18))
