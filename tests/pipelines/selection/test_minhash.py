import multiprocessing as mp

import pytest

from kinject.pipelines.selection.base import Batch, run_blocks
from kinject.pipelines.selection.minhash import MinHashDedup, MinHashSigner, _text_dedup, char_shingle_input
from kinject.recipes.schema import D4Config


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
    signer = MinHashSigner(num_perm=128, char_ngram=5, threshold=0.8, seed=0)
    raw = [signer.bands_of_tokens(t, i) for i, t in enumerate([texts[0], texts[5]])]
    assert not any(a == b for a, b in zip(*raw))  # no shared band: the near-duplicate would be kept
    shingled = [signer.bands_of(t, i) for i, t in enumerate([texts[0], texts[5]])]
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
