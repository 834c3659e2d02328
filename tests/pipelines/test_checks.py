"""Per-row checks: each rule on clean and tricky input, and check_rows' reasons."""

import pytest

from kinject.pipelines.checks import (
    check_rows, exposures, facts_present, lang_ok, length_reason, normalize, text_hash, value_contradictions,
)

FACTS = [
    {"key": "name", "value": "アルファ電卓"},
    {"key": "price", "value": "1,200円"},
    {"key": "release", "value": "2019年4月"},
    {"key": "weight", "value": "3.5kg"},
]
SOURCE = "アルファ電卓は2019年4月に発売された。同製品の価格は1,200円で、重さは3.5kgである。保証は2年。"
DOC = {"doc_id": "d1", "lang": "ja", "text": SOURCE, "facts": FACTS}


@pytest.mark.parametrize("raw, expected", [
    ("１，２００円", "1200円"), ("1,200 円", "1200円"), ("Alpha  Beta", "alphabeta"), ("12,3456", "12,3456"),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("text, keys", [
    ("アルファ電卓の価格は１２００円です。", ["name", "price"]),
    ("重さは 3.5 kg、発売は2019年4月。", ["release", "weight"]),
    ("価格は12,000円です。", []),  # "12000円" does not contain "1200円": the 円 follows a 0
])
def test_facts_present(text, keys):
    assert facts_present(text, FACTS) == keys


@pytest.mark.parametrize("text, lang, ok", [
    ("アルファ電卓の価格は1200円です。", "ja", True),
    ("Alpha Calculator (アルファ電卓) costs 1200 yen and weighs 3.5 kg.", "ja", False),
    ("The price of Alpha is 1200 yen.", "en", True),
    ("アルファの価格は1200円です。", "en", False),
    ("1200 3.5", "ja", False),
    ("", "en", False),
])
def test_lang_ok(text, lang, ok):
    assert lang_ok(text, lang) is ok


def test_length_reason():
    assert length_reason("", 5, 10) == "empty"
    assert length_reason("   ", 5, 10) == "empty"
    assert length_reason("abcd", 5, 10) == "too_short"
    assert length_reason("a" * 11, 5, 10) == "too_long"
    assert length_reason("a" * 7, 5, 10) is None


@pytest.mark.parametrize("text, bad", [
    ("アルファ電卓の価格は1,500円です。", ["price"]),
    ("アルファ電卓の価格は１２００円、重さは4kg。", ["weight"]),
    ("アルファ電卓は2020年4月に発売された。", ["release"]),
    ("保証は2年で、価格は1200円。", []),  # 2年 is in the source document: not a contradiction
    ("価格は12,000円です。", ["price"]),
    ("アルファ電卓は便利だ。", []),
    ("アルファ電卓の重さは3500gです。", []),  # the same value in another unit
    ("アルファ電卓の重さは4000gです。", ["weight"]),
])
def test_value_contradictions(text, bad):
    assert value_contradictions(text, FACTS, SOURCE) == bad


EN_FACTS = [{"key": "weight", "value": "0.1 kg"}, {"key": "power", "value": "300 W"}]
EN_SOURCE = "Zariso S2 weighs 0.1 kg and draws 300 W when running."


@pytest.mark.parametrize("text, bad", [
    ("Zariso S2 weighs 0.1 kg and draws 300 W when running.", []),  # "S2 weighs" is a name and a verb, not 2 W
    ("The model X5 was sold in 1996.", []),
    ("Zariso S2 draws 350 watts.", ["power"]),
])
def test_value_contradictions_read_units_as_words(text, bad):
    assert value_contradictions(text, EN_FACTS, EN_SOURCE) == bad


def _row(i, text, doc_id="d1"):
    return {"id": f"r{i}", "doc_id": doc_id, "method": "fact", "variant": "v", "text": text}


def test_check_rows_reasons_and_columns():
    rows = [
        _row(0, "アルファ電卓の価格は1,200円である。"),
        _row(1, "アルファ電卓の価格は１２００円である。"),  # a duplicate once normalised
        _row(2, ""),
        _row(3, "短い"),
        _row(4, "The Alpha calculator costs 1,200 yen."),
        _row(5, "アルファ電卓の価格は1,500円である。"),
        {**_row(6, ""), "reason": "unparseable_extraction"},
        _row(7, "アルファ電卓は2019年4月に発売され、重さは3.5kgである。"),
    ]
    kept, failures, reasons = check_rows(rows, {"d1": DOC}, min_chars=5, max_chars=100)
    assert [r["id"] for r in kept] == ["r0", "r7"]
    assert kept[0]["facts_present"] == ["name", "price"] and kept[0]["lang_ok"] is True
    assert {f["id"]: f["reason"] for f in failures} == {
        "r1": "duplicate", "r2": "empty", "r3": "too_short", "r4": "wrong_language",
        "r5": "value_contradiction:price", "r6": "unparseable_extraction",
    }
    assert reasons == {"duplicate": 1, "empty": 1, "too_short": 1, "wrong_language": 1, "value_contradiction": 1,
                       "unparseable_extraction": 1}
    assert all("facts_present" in f and "lang_ok" in f for f in failures)
    counts = exposures(kept, {"d1": DOC})
    assert counts == {"d1/name": 2, "d1/price": 1, "d1/release": 1, "d1/weight": 1}


def test_text_hash_is_stable_and_normalised():
    assert text_hash("1,200円") == text_hash("１２００ 円")
    assert text_hash("a") == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
