"""Shared text logic: language, the normalised forms, quantities and kanji numerals."""

from decimal import Decimal

import pytest

from kinject.text import find_quantities, fold, lang_of, normalize, parse_numeral, with_arabic_numerals


@pytest.mark.parametrize("row, lang", [
    ({"lang": "ja"}, "ja"), ({"lang": "en"}, "en"), ({"lang": "fr"}, "en"), ({}, "en"),
])
def test_lang_of(row, lang):
    assert lang_of(row) == lang


@pytest.mark.parametrize("raw, folded, normalized", [
    ("１，２００円", "1200円", "1200円"),
    ("Alpha  Beta 1,200", "alpha  beta 1200", "alphabeta1200"),
    ("12,3456", "12,3456", "12,3456"),      # not groups of three: not a thousands separator
    ("0.123,456", "0.123,456", "0.123,456"),  # after a decimal point: a list, not thousands
    ("12,345,678.5㎏", "12345678.5kg", "12345678.5kg"),
])
def test_fold_and_normalize(raw, folded, normalized):
    assert fold(raw) == folded
    assert normalize(raw) == normalized


@pytest.mark.parametrize("run, value", [
    ("二〇一九", Decimal(2019)), ("三千五百", Decimal(3500)), ("1万2000", Decimal(12000)),
    ("2.3億", Decimal(230_000_000)),  # exact: a float would give 229999999
    ("二三百", None), ("1二", None), ("万", None),
])
def test_parse_numeral(run, value):
    assert parse_numeral(run) == value


@pytest.mark.parametrize("text, found", [
    ("$18m", [(Decimal(18_000_000), "usd")]),
    ("5m euros", [(Decimal(5_000_000), "eur")]),
    ("18m", [(Decimal(18), "length")]),               # no currency: metres
    ("an 18-million-dollar budget", [(Decimal(18_000_000), "usd")]),
    ("1800万米ドル", [(Decimal(18_000_000), "usd")]),
    ("2019-2020", [(Decimal(2019), None), (Decimal(2020), None)]),
])
def test_find_quantities_currencies_and_scales(text, found):
    assert [(q.raw, q.dim) for q in find_quantities(fold(text))] == found


@pytest.mark.parametrize("text, arabic", [
    ("三十日前までです", "30日前までです"),
    ("二〇一九年に三千五百円", "2019年に3500円"),
    ("一般的な統一規格", "一般的な統一規格"),  # words that contain a numeral stay words
    ("マイナス五度", "マイナス5度"),
])
def test_with_arabic_numerals(text, arabic):
    assert with_arabic_numerals(fold(text)) == arabic
