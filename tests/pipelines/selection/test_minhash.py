import multiprocessing as mp

import pytest

from kinject.pipelines.selection.base import Batch, run_blocks
from kinject.pipelines.selection.minhash import (
    MinHashDedup,
    MinHashSigner,
    _text_dedup,
    band_keys,
    char_shingle_input,
    lsh_params,
    near_duplicate_share,
    threshold_ladder,
)
from kinject.recipes.schema import D4Config

from .conftest import JA_BASE


def test_char_shingle_input_drops_punctuation_and_spaces_characters():
    assert char_shingle_input("東京は、晴れ。Rain!") == "東 京 は 晴 れ r a i n"


def test_planted_japanese_and_english_near_duplicates_are_removed(planted_texts):
    texts, duplicates = planted_texts
    block = MinHashDedup(D4Config(minhash_threshold=0.8, char_ngram=5))
    kept, reasons, _ = run_blocks([block], Batch({"text": texts}))
    assert {i for i, k in enumerate(kept) if not k} == duplicates
    assert all(reasons[i] == "minhash_near_duplicate" for i in duplicates)
    assert block.stats["dropped_minhash_near_duplicate"] == len(duplicates)
    assert block.stats["kept"] == len(texts) - len(duplicates)


def test_raw_text_dedup_word_split_misses_japanese_near_duplicates(planted_texts):
    """Why the texts are pre-split into characters: fed raw, text-dedup sees one 'word' per clause."""
    texts, _ = planted_texts
    signer = MinHashSigner(num_perm=128, char_ngram=5, seed=0)
    bands, rows = lsh_params(0.8, 128)
    raw = [band_keys(signer.signature_of_tokens(t), bands, rows) for t in (texts[0], texts[5])]
    assert not any(a == b for a, b in zip(*raw))  # no shared band: the near-duplicate would be kept
    shingled = [band_keys(signer.signature(t), bands, rows) for t in (texts[0], texts[5])]
    assert any(a == b for a, b in zip(*shingled))


def test_distinct_short_texts_are_kept():
    texts = ["りんご", "みかん", "ぶどう", "apple", "pear", "東京", "大阪"]
    kept, _, _ = run_blocks([MinHashDedup(D4Config())], Batch({"text": texts}))
    assert kept.all()


def test_exact_duplicates_keep_first_occurrence():
    texts = ["同じ文章です。とても長い文章ではありません。"] * 3 + ["違う内容の文章がここにあります。"]
    kept, _, _ = run_blocks([MinHashDedup(D4Config())], Batch({"text": texts}))
    assert kept.tolist() == [True, False, False, True]


def test_import_side_effects_are_contained():
    before = mp.get_start_method(allow_none=True)
    _text_dedup()
    assert mp.get_start_method(allow_none=True) == before


def test_same_seed_same_verdicts(planted_texts):
    texts, _ = planted_texts
    a = run_blocks([MinHashDedup(D4Config(seed=7))], Batch({"text": texts}))[0]
    b = run_blocks([MinHashDedup(D4Config(seed=7))], Batch({"text": texts}))[0]
    assert a.tolist() == b.tolist()


def test_threshold_ladder_starts_at_the_configured_threshold_and_ends_at_identical_sets():
    assert threshold_ladder(0.8) == [0.8, 0.85, 0.9, 0.95, 1.0]
    assert threshold_ladder(0.97) == [0.97, 1.0]
    assert threshold_ladder(1.0) == [1.0]


def test_threshold_rises_until_the_ratio_is_reachable():
    """12 variants of a 180-character text, each with one character changed (character 5-gram Jaccard about
    0.9 between two variants): at 0.8 they are one group and the unit would keep 1 row of the 6 that ratio 0.5
    asks for; the threshold rises until 6 survive."""
    base = JA_BASE[0] + JA_BASE[2]
    texts = [base[:i] + "漢" + base[i + 1:] for i in range(3, 180, 15)]
    block = MinHashDedup(D4Config(minhash_threshold=0.8, ratio=0.5))
    kept, reasons, _ = run_blocks([block], Batch({"text": texts}))
    assert kept.sum() >= 6
    assert all(r in (None, "minhash_near_duplicate") for r in reasons)
    used = [k for k in block.stats if k.startswith("threshold_")]
    assert len(used) == 1 and used[0] != "threshold_0.8"
    assert block.stats_dict()["params"]["thresholds_tried"][0] == 0.8


def test_fewer_distinct_texts_than_the_target_are_counted():
    texts = ["同じ文章です。とても長い文章ではありません。"] * 6 + ["違う内容の文章がここにあります。"] * 2
    block = MinHashDedup(D4Config(ratio=0.5))
    kept, _, _ = run_blocks([block], Batch({"text": texts}))
    assert kept.tolist() == [True] + [False] * 5 + [True, False]
    assert block.stats["units_short_of_target"] == 1
    assert block.stats["threshold_1"] == 1


def test_near_duplicate_share_counts_repeats_within_a_document_only(planted_texts):
    texts, duplicates = planted_texts
    config = D4Config(minhash_threshold=0.8, char_ngram=5)
    # one document: every planted near-duplicate counts
    assert near_duplicate_share(texts, ["d"] * len(texts), config) == pytest.approx(len(duplicates) / len(texts))
    # each text its own document: nothing has an earlier row in its document to repeat
    assert near_duplicate_share(texts, [f"d{i}" for i in range(len(texts))], config) == 0.0
