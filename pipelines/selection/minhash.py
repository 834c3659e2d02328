"""D4 stage (a): MinHash near-duplicate removal with text-dedup, on character n-gram shingles.

Each text gets a MinHash signature (text-dedup's ``embed_func``: xxh3 base hashes permuted ``num_perm`` times),
signatures are cut into ``b`` bands of ``r`` rows (text-dedup's ``optimal_param`` for the Jaccard threshold),
rows sharing a band bucket are joined with text-dedup's ``UnionFind``, and each connected group keeps its first
row (lowest position). Signatures are computed in-process: text-dedup's own driver maps a ``datasets`` table
with ``num_proc`` workers, which costs more than it saves for a document's few thousand rows.

text-dedup shingles *words*: it splits on the regex ``\\W``. Japanese has no spaces, so a whole sentence would
be one "word" and two sentences differing by one character would share no shingle at all. We therefore hand it
the text's word characters separated by spaces (punctuation and whitespace dropped): its ``\\W`` split then
yields single characters and ``ngram_size=char_ngram`` gives character n-grams, which work for Japanese and
English alike.

References: Broder 1997; Lee et al. 2022 (dedup for LMs); Tirumala et al. 2023 (D4), stage one.
Input column: ``text``. Stats: ``dropped_minhash_near_duplicate``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Sequence

import numpy as np

from kinject.pipelines.selection.base import Batch, SelectionBlock, Verdict
from kinject.recipes.schema import D4Config

_NON_WORD = re.compile(r"\W", re.UNICODE)
# text-dedup's default (its "64-bit" mode): uint64 arithmetic, 32-bit hash values, Mersenne prime 2**61 - 1.
_DTYPE = np.uint64
_MAX_HASH = np.uint64((1 << 32) - 1)
_MODULO_PRIME = np.uint64((1 << 61) - 1)


def _text_dedup():
    """Import ``text_dedup.minhash`` without keeping its import-time side effects.

    It calls ``multiprocessing.set_start_method("fork", force=True)`` and silences ``datasets`` logging when
    imported; both are global, so the previous settings are put back (a forced "fork" would break torch or
    any caller that relies on "spawn").
    """
    import multiprocessing as mp

    import datasets

    previous_method = mp.get_start_method(allow_none=True)
    previous_verbosity = datasets.logging.get_verbosity()
    try:
        from text_dedup import minhash
    finally:
        mp.set_start_method(previous_method, force=True)
        datasets.logging.set_verbosity(previous_verbosity)
    return minhash


def char_shingle_input(text: str) -> str:
    """``"東京は、晴れ。"`` → ``"東 京 は 晴 れ"``: text-dedup's ``\\W`` split then yields characters."""
    return " ".join(_NON_WORD.sub("", text.lower()))


class MinHashSigner:
    """MinHash band signatures of texts as character n-gram sets, with text-dedup's hashing."""

    def __init__(self, num_perm: int, char_ngram: int, threshold: float, seed: int) -> None:
        minhash = _text_dedup()
        from text_dedup.utils import optimal_param, xxh3_32hash

        self._embed = minhash.embed_func
        self._hash = xxh3_32hash
        self.num_perm = num_perm
        self.char_ngram = char_ngram
        self.bands, self.rows = optimal_param(threshold, num_perm, false_positive_weight=0.5,
                                              false_negative_weight=0.5)
        self.hashranges = [(i * self.rows, (i + 1) * self.rows) for i in range(self.bands)]
        rng = np.random.RandomState(seed)
        self.permutations = (
            rng.randint(1, _MODULO_PRIME, size=(num_perm,), dtype=_DTYPE),  # multiplier a, never 0
            rng.randint(0, _MODULO_PRIME, size=(num_perm,), dtype=_DTYPE),  # offset b
        )

    def bands_of(self, text: str, position: int) -> list[bytes]:
        """The LSH band keys of ``text``'s character n-grams."""
        return self.bands_of_tokens(char_shingle_input(text), position)

    def bands_of_tokens(self, content: str, position: int) -> list[bytes]:
        """Band keys of ``content`` as text-dedup tokenises it (``\\W``-split words)."""
        # min_length=0: a text shorter than one n-gram is shingled whole rather than given an empty signature
        # (all empty signatures would collide).
        out = self._embed(
            content, position, num_perm=self.num_perm, ngram_size=self.char_ngram, min_length=0,
            hashranges=self.hashranges, permutations=self.permutations, hash_func=self._hash, dtype=_DTYPE,
            max_hash=_MAX_HASH, modulo_prime=_MODULO_PRIME,
        )
        return out["__signatures__"]


def near_duplicate_groups(signer: MinHashSigner, texts: Sequence[str]) -> np.ndarray:
    """For each position, the lowest position of its near-duplicate group (itself when unique)."""
    from text_dedup.utils import UnionFind

    tables: list[dict[bytes, int]] = [defaultdict(lambda: -1) for _ in range(signer.bands)]
    union_find = UnionFind()
    for position, text in enumerate(texts):
        for band, key in enumerate(signer.bands_of(text, position)):
            first = tables[band][key]
            if first < 0:
                tables[band][key] = position
            else:
                union_find.union(position, first)
    roots = np.array([union_find.find(i) for i in range(len(texts))], dtype=np.int64)
    representative = {}
    for position, root in enumerate(roots):
        representative.setdefault(int(root), position)  # positions ascend, so the first seen is the lowest
    return np.array([representative[int(root)] for root in roots], dtype=np.int64)


class MinHashDedup(SelectionBlock):
    """Drop rows whose character-shingle Jaccard similarity to an earlier row is about ``minhash_threshold``
    or more (MinHash LSH estimate).

    References: Broder 1997; Tirumala et al. 2023. Input column: ``text``.
    Stats: ``dropped_minhash_near_duplicate``.
    """

    name = "minhash"
    requires = (("text_dedup", "text-dedup==0.4.0"), ("xxhash", "xxhash"))

    def __init__(self, config: D4Config) -> None:
        super().__init__()
        self.config = config
        self.signer = MinHashSigner(config.num_perm, config.char_ngram, config.minhash_threshold, config.seed)

    def params(self) -> dict:
        c = self.config
        return {"threshold": c.minhash_threshold, "num_perm": c.num_perm, "char_ngram": c.char_ngram,
                "bands": self.signer.bands, "rows_per_band": self.signer.rows, "seed": c.seed,
                "shingles": "character n-grams of the text's word characters (text-dedup, \\W-split)"}

    def judge(self, batch: Batch) -> list[Verdict]:
        groups = near_duplicate_groups(self.signer, batch.column("text"))
        return [Verdict(True) if g == i else Verdict(False, "minhash_near_duplicate") for i, g in enumerate(groups)]
