"""D4 stage (a): MinHash near-duplicate removal with text-dedup, on character n-gram shingles.

Each text gets a MinHash signature (text-dedup's ``embed_func``: xxh3 base hashes permuted ``num_perm`` times),
signatures are cut into ``b`` bands of ``r`` rows (text-dedup's ``optimal_param`` for the Jaccard threshold),
rows sharing a band bucket are joined with text-dedup's ``UnionFind``, and each connected group keeps its first
row (lowest position). The threshold is raised, unit by unit, where it would leave fewer rows than the D4 ratio
keeps (``MinHashDedup``); whole signatures are kept so every threshold tried reuses one signing pass.
Signatures are computed in-process: text-dedup's own driver maps a ``datasets`` table
with ``num_proc`` workers, which costs more than it saves for a document's few thousand rows.

text-dedup shingles *words*: it splits on the regex ``\\W``. Japanese has no spaces, so a whole sentence would
be one "word" and two sentences differing by one character would share no shingle at all. We therefore hand it
the text's word characters separated by spaces (punctuation and whitespace dropped): its ``\\W`` split then
yields single characters and ``ngram_size=char_ngram`` gives character n-grams, which work for Japanese and
English alike.

References: Broder 1997; Lee et al. 2022 (dedup for LMs); Tirumala et al. 2023 (D4), stage one.
Input column: ``text``. Stats: ``dropped_minhash_near_duplicate``, ``threshold_<t>``, ``units_short_of_target``.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from kinject.pipelines.selection.base import Batch, SelectionBlock, Verdict, target_count
from kinject.recipes.schema import D4Config

_NON_WORD = re.compile(r"\W", re.UNICODE)
# text-dedup's default (its "64-bit" mode): uint64 arithmetic, 32-bit hash values, Mersenne prime 2**61 - 1.
_DTYPE = np.uint64
_MAX_HASH = np.uint64((1 << 32) - 1)
_MODULO_PRIME = np.uint64((1 << 61) - 1)
# How far the Jaccard threshold moves per try when a unit would fall below the ratio: 0.05 keeps the tries few
# (at most 5 from 0.8) while each loosening step stays small.
_THRESHOLD_STEP = 0.05


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


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """``(bands, rows_per_band)`` for a Jaccard ``threshold`` (text-dedup's ``optimal_param``); at 1.0 one band of
    every permutation, so only identical signatures (identical shingle sets, with high probability) collide."""
    from text_dedup.utils import optimal_param

    if threshold >= 1.0:
        return 1, num_perm
    return optimal_param(threshold, num_perm, false_positive_weight=0.5, false_negative_weight=0.5)


class MinHashSigner:
    """MinHash signatures of texts as character n-gram sets, with text-dedup's hashing.

    The whole signature (``num_perm`` values) is kept, not only its band keys, so one signing pass serves every
    threshold the ratio tuning tries: banding a signature again costs a slice, signing costs the hashing.
    """

    def __init__(self, num_perm: int, char_ngram: int, seed: int) -> None:
        minhash = _text_dedup()
        from text_dedup.utils import xxh3_32hash

        self._embed = minhash.embed_func
        self._hash = xxh3_32hash
        self.num_perm = num_perm
        self.char_ngram = char_ngram
        rng = np.random.RandomState(seed)
        self.permutations = (
            rng.randint(1, _MODULO_PRIME, size=(num_perm,), dtype=_DTYPE),  # multiplier a, never 0
            rng.randint(0, _MODULO_PRIME, size=(num_perm,), dtype=_DTYPE),  # offset b
        )

    def signature(self, text: str) -> np.ndarray:
        """The ``num_perm`` MinHash values of ``text``'s character n-grams."""
        return self.signature_of_tokens(char_shingle_input(text))

    def signature_of_tokens(self, content: str) -> np.ndarray:
        """The MinHash values of ``content`` as text-dedup tokenises it (``\\W``-split words)."""
        # min_length=0: a text shorter than one n-gram is shingled whole rather than given an empty signature
        # (all empty signatures would collide). One hash range spanning every permutation: the full signature.
        out = self._embed(
            content, 0, num_perm=self.num_perm, ngram_size=self.char_ngram, min_length=0,
            hashranges=[(0, self.num_perm)], permutations=self.permutations, hash_func=self._hash, dtype=_DTYPE,
            max_hash=_MAX_HASH, modulo_prime=_MODULO_PRIME,
        )
        return np.frombuffer(out["__signatures__"][0], dtype=_DTYPE)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """(n, num_perm) signatures."""
        out = np.empty((len(texts), self.num_perm), dtype=_DTYPE)
        for i, text in enumerate(texts):
            out[i] = self.signature(text)
        return out


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """The LSH bucket keys of one signature: ``bands`` slices of ``rows`` values."""
    return [signature[b * rows:(b + 1) * rows].tobytes() for b in range(bands)]


def near_duplicate_groups(signatures: np.ndarray, threshold: float) -> np.ndarray:
    """For each row, the lowest row of its near-duplicate group at Jaccard ``threshold`` (itself when unique)."""
    from text_dedup.utils import UnionFind

    n, num_perm = signatures.shape
    bands, rows = lsh_params(threshold, num_perm)
    tables: list[dict[bytes, int]] = [{} for _ in range(bands)]
    union_find = UnionFind()
    for position in range(n):
        for band, key in enumerate(band_keys(signatures[position], bands, rows)):
            first = tables[band].setdefault(key, position)
            if first != position:
                union_find.union(position, first)
    roots = np.array([union_find.find(i) for i in range(n)], dtype=np.int64)
    representative = {}
    for position, root in enumerate(roots):
        representative.setdefault(int(root), position)  # positions ascend, so the first seen is the lowest
    return np.array([representative[int(root)] for root in roots], dtype=np.int64)


def near_duplicate_share(texts: Sequence[str], doc_ids: Sequence[str], config: D4Config) -> float:
    """Share of rows with a near-duplicate earlier in their own document at ``config.minhash_threshold``: a
    corpus's lack of variety as D4's MinHash stage sees it (0.0 when every row is distinct)."""
    signer = MinHashSigner(config.num_perm, config.char_ngram, config.seed)
    signatures = signer.signatures(texts)
    by_doc: dict[str, list[int]] = {}
    for position, doc in enumerate(doc_ids):
        by_doc.setdefault(doc, []).append(position)
    duplicates = 0
    for rows in by_doc.values():
        groups = near_duplicate_groups(signatures[rows], config.minhash_threshold)
        duplicates += int((groups != np.arange(len(rows))).sum())
    return duplicates / max(len(texts), 1)


def threshold_ladder(start: float) -> list[float]:
    """The Jaccard thresholds tried, loosest first: ``start``, then up in steps of ``_THRESHOLD_STEP``, then 1.0."""
    steps = int(np.ceil((1.0 - start) / _THRESHOLD_STEP - 1e-9))
    return [round(min(1.0, start + i * _THRESHOLD_STEP), 4) for i in range(steps)] + [1.0]


class MinHashDedup(SelectionBlock):
    """Drop rows whose character-shingle Jaccard similarity to an earlier row is about the threshold or more
    (MinHash LSH estimate), leaving at least the D4 ratio's share of the unit.

    The threshold starts at ``minhash_threshold``. Where it would leave fewer rows than
    ``target_count(ratio, unit_size)``, it is raised in steps of 0.05 up to 1.0 (identical shingle sets only) and
    the first that leaves enough is used: D4's ratio is the budget the dedup stages share, and a unit must not
    lose more rows to dedup than the ratio keeps. The threshold each unit used is counted in the stats.

    References: Broder 1997; Tirumala et al. 2023. Input column: ``text``.
    Stats: ``dropped_minhash_near_duplicate``, ``threshold_<t>`` (units that used threshold t),
    ``units_short_of_target`` (units with fewer distinct texts than the target).
    """

    name = "minhash"
    requires = (("text_dedup", "text-dedup==0.4.0"), ("xxhash", "xxhash"))

    def __init__(self, config: D4Config) -> None:
        super().__init__()
        self.config = config
        self.signer = MinHashSigner(config.num_perm, config.char_ngram, config.seed)

    def params(self) -> dict:
        c = self.config
        bands, rows = lsh_params(c.minhash_threshold, c.num_perm)
        return {"threshold": c.minhash_threshold, "thresholds_tried": threshold_ladder(c.minhash_threshold),
                "num_perm": c.num_perm, "char_ngram": c.char_ngram, "bands": bands, "rows_per_band": rows,
                "seed": c.seed, "shingles": "character n-grams of the text's word characters (text-dedup, \\W-split)"}

    def judge(self, batch: Batch) -> list[Verdict]:
        signatures = self.signer.signatures(batch.column("text"))
        n_keep = target_count(self.config.ratio, batch.unit_size)
        for threshold in threshold_ladder(self.config.minhash_threshold):
            groups = near_duplicate_groups(signatures, threshold)
            if int((groups == np.arange(len(groups))).sum()) >= n_keep:
                break
        else:
            self.stats["units_short_of_target"] += 1  # fewer distinct texts than the ratio keeps
        self.stats[f"threshold_{threshold:g}"] += 1
        return [Verdict(True) if g == i else Verdict(False, "minhash_near_duplicate") for i, g in enumerate(groups)]
