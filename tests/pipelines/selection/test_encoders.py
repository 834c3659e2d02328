import numpy as np
import pytest

from kinject.errors import KinjectUserError
from kinject.pipelines.selection.encoders import CausalLMEncoder, CharTfidfEncoder, load_encoder

from .conftest import EN_BASE, JA_BASE


def _variants(text: str, n: int) -> list[str]:
    return [text[:5 * i] + "。" + text[5 * i:] for i in range(n)]


def test_char_tfidf_separates_japanese_documents_and_is_deterministic():
    texts = _variants(JA_BASE[0], 6) + _variants(JA_BASE[1], 6) + _variants(JA_BASE[2], 6)
    a = CharTfidfEncoder(seed=0, dim=4).encode(texts)
    b = CharTfidfEncoder(seed=0, dim=4).encode(texts)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    sims = a @ a.T
    same = np.kron(np.eye(3), np.ones((6, 6))).astype(bool)
    assert sims[same].min() > sims[~same].max()


def test_char_tfidf_handles_tiny_inputs_and_unseen_text():
    encoder = CharTfidfEncoder(seed=0)
    assert encoder.encode(["あ"]).shape == (1, 1)
    out = encoder.encode(JA_BASE + EN_BASE + ["！"])  # the last shares no n-gram seen twice
    assert np.isfinite(out).all() and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert encoder.info["model"] == "char-tfidf" and encoder.info["library"].startswith("scikit-learn==")


def test_causal_lm_encoder_pools_each_text_alone():
    import torch

    from kinject.recipes.schema import TinyModelConfig
    from kinject.tiny import build_tiny_llama, train_char_tokenizer

    texts = JA_BASE + EN_BASE
    tokenizer = train_char_tokenizer(texts)
    torch.manual_seed(0)
    model = build_tiny_llama(TinyModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32),
                             tokenizer)
    encoder = CausalLMEncoder(model, tokenizer, {"model": "tiny"})
    batched = encoder.encode(texts, batch_size=4)
    alone = np.concatenate([encoder.encode([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    assert batched.shape == (len(texts), 16)


def test_lm_tiny_needs_the_reference_model():
    with pytest.raises(KinjectUserError, match="lm:tiny"):
        load_encoder("lm:tiny")
