"""The match judge on a table of tricky answers: each case checks the verdict and the reason."""

from decimal import Decimal

import pytest

from kinject.trainers.match_judge import (
    MAX_ANSWER_CHARS, MatchJudge, cut_answer, find_quantities, judge_answer, normalize,
)

# (gold, answer, verdict, reason)
CASES = [
    # -- correct values inside short sentences, ja and en
    ("2019年", "2019年です。", True, "number_match"),
    ("2019年", "It was released in 2019.", True, "number_match"),
    ("1.2kg", "同製品の重さは1.2kgです", True, "number_match"),
    ("2019年", "2019年4月に発売されました。", True, "number_match"),
    ("2019年", "2019年から販売されています", True, "number_match"),
    ("2019年", "たぶん2019年かな", True, "number_match"),
    ("2019年", "2019年かもしれません", True, "number_match"),
    ("120人", "同社の従業員数は2024年時点で120人です。", True, "number_match"),
    # -- normalisation: NFKC, full-width, separators, kanji numerals, units written out
    ("1.2kg", "１．２ｋｇ", True, "exact"),
    ("1,200円", "1200円", True, "exact"),
    ("1200円", "¥1,200", True, "number_match"),
    ("3,500円", "3500 yen", True, "number_match"),
    ("1.2kg", "1.2キログラム", True, "number_match"),
    ("1.2kg", "It weighs 1.2 kilograms.", True, "number_match"),
    ("1.2kg", "1200g", True, "number_match"),
    ("1.2kg", "1.2", True, "number_match"),
    ("500W", "500ワット", True, "number_match"),
    ("500W", "The rated power is 500 watts.", True, "number_match"),
    ("500W", "0.5kW", True, "number_match"),
    ("50%", "50パーセント", True, "number_match"),
    ("50%", "50 percent", True, "number_match"),
    ("120人", "従業員は120名です。", True, "number_match"),
    ("120人", "120 employees", True, "number_match"),
    ("2019年", "二〇一九年です", True, "number_match"),
    ("3500円", "三千五百円", True, "number_match"),
    ("12000円", "1万2000円", True, "number_match"),
    ("1億2000万円", "120 million yen", True, "number_match"),
    ("3倍", "3 times", True, "number_match"),
    ("約120人", "120人", True, "number_match"),
    ("2019年4月1日", "2019年4月1日に設立", True, "number_match"),
    # -- wrong numbers that contain the gold's digits
    ("12kg", "112kg", False, "wrong_number"),
    ("12kg", "1.2kg", False, "wrong_number"),
    ("12kg", "120kg", False, "wrong_number"),
    ("50%", "150%", False, "wrong_number"),
    ("120人", "1,120人", False, "wrong_number"),
    ("1200円", "1万2000円", False, "wrong_number"),
    ("1.2kg", "1200", False, "wrong_number"),  # a bare number is compared as written
    ("1.2kg", "1.2g", False, "wrong_number"),
    ("4月", "4か月", False, "wrong_number"),  # April is not four months
    ("2019年4月1日", "2019年4月2日", False, "wrong_number"),
    ("2019年", "The product was released in the spring.", False, "missing"),
    # -- several candidates and hedges
    ("2019年", "2019年か2020年", False, "multiple_candidates"),
    ("2019", "either 2019 or 2020", False, "multiple_candidates"),
    ("2019", "2019 or 2020", False, "multiple_candidates"),
    ("2019年", "2019年または2020年です", False, "multiple_candidates"),
    ("2019年", "2019-2020", False, "multiple_candidates"),
    ("1.2kg", "1.2～1.5kg", False, "multiple_candidates"),
    ("2019年", "2019年かもしれないし2020年かもしれない", False, "multiple_candidates"),
    ("東京", "東京か大阪", False, "multiple_candidates"),
    ("Tokyo", "Tokyo or Osaka", False, "multiple_candidates"),
    ("2019年", "2019年だと思いますが、よくわかりません", False, "uncertain"),
    ("2019", "I'm not sure, maybe 2019", False, "uncertain"),
    # -- negations
    ("2019年", "2019年ではない", False, "negated"),
    ("2019年", "2019年ではなく2020年です", False, "negated"),
    ("2019", "not 2019", False, "negated"),
    ("2019", "It isn't 2019.", False, "negated"),
    ("防水機能", "防水機能はありません", False, "negated"),
    ("Tokyo", "The headquarters is not in Tokyo.", False, "negated"),
    # -- names, places, features: whole tokens, spaces inside names
    ("山田太郎", "山田 太郎です", True, "string_match"),
    ("山田 太郎", "社長は山田太郎氏です。", True, "string_match"),
    ("Blue Ocean", "The company is called BlueOcean.", True, "string_match"),
    ("X-200", "The model is the X200.", True, "string_match"),
    ("ABC", "abc", True, "exact"),
    ("東京", "東京都です", False, "partial_token"),
    ("Sora", "Soraya", False, "partial_token"),
    ("X-200", "X-2000", False, "partial_token"),
    ("クラウド", "クラウドサービス", False, "partial_token"),
    ("大阪", "本社は京都です。", False, "missing"),
    # -- kanji numerals inside a longer answer to a gold that is not only a quantity
    ("30日前", "三十日前までです", True, "string_match"),
    ("三十日前", "30日前に申請します", True, "string_match"),
    ("30日前", "二十日前までです", False, "missing"),
    ("30日前", "三十日後です", False, "missing"),
    ("30日前", "三十日前ではありません", False, "negated"),
    ("30日前", "三十日前か四十日前", False, "multiple_candidates"),
    ("一般", "一般的です", False, "partial_token"),  # a word with a numeral in it stays a word
    # -- currencies written as words, signs or abbreviations next to a currency
    ("$18 million", "18 million dollars", True, "number_match"),
    ("$18 million", "It cost $18M.", True, "number_match"),
    ("$18 million", "an 18-million-dollar budget", True, "number_match"),
    ("$18 million", "1800万米ドル", True, "number_match"),
    ("1800万ドル", "$18m", True, "number_match"),
    ("$1.2 billion", "$1.2bn", True, "number_match"),
    ("€5 million", "5m euros", True, "number_match"),
    ("$18 million", "$18 billion", False, "wrong_number"),
    ("$18 million", "18 million yen", False, "wrong_number"),
    ("$18 million", "$18M or $20M", False, "multiple_candidates"),
    ("18m", "18 million", False, "wrong_number"),  # without a currency, m is metres
    # -- empty and degenerate answers
    ("2019年", "", False, "empty"),
    ("2019年", None, False, "empty"),
    ("2019年", "。、 ", False, "empty"),
    ("2019年", "2019年 " + "そして" * MAX_ANSWER_CHARS, False, "too_long"),
    # -- tiny-model continuations: the answer ends where the next QA pair starts
    ("2019年", "2019年です。\n質問: 同製品の重さは？ 答え: 2020年", True, "number_match"),
    ("2019年", " 2020年 質問: 同製品の発売年は？ 答え: 2019年", False, "wrong_number"),
    ("2019年", "答え: 2019年", True, "exact"),
]


@pytest.mark.parametrize(("gold", "answer", "verdict", "reason"), CASES, ids=[f"{c[0]}|{c[1]}" for c in CASES])
def test_judge_answer(gold, answer, verdict, reason):
    assert judge_answer(gold, answer) == (verdict, reason)


def test_table_is_large_and_balanced():
    assert len(CASES) >= 30
    assert sum(c[2] for c in CASES) >= 20 and sum(not c[2] for c in CASES) >= 20


def test_quantities_carry_units_and_skip_identifiers():
    found = find_quantities(normalize("2019年4月、重さ1.2kg、価格¥1,200、十人、マイナス5℃、型番X200、一般的"))
    assert [(q.raw, q.dim) for q in found] == [
        (Decimal(2019), "year"),
        (Decimal(4), "month_of_year"),
        (Decimal("1.2"), "mass"),
        (Decimal(1200), "yen"),
        (Decimal(10), "people"),
        (Decimal(-5), "celsius"),
    ]
    assert found[2].value == Decimal(1200)  # grams


def test_cut_answer_stops_at_the_next_question():
    assert cut_answer(normalize("答え: 1.2kg 質問: 重さは？")).strip() == "1.2kg"
    assert cut_answer(normalize("Answer: 2019\nQuestion: when?")).strip() == "2019"


def test_match_judge_keeps_fields_and_names_itself():
    rows = [{"question": "発売年は？", "gold": "2019年", "answer": "2019年です", "doc_id": "d1", "step": 25}]
    (out,) = MatchJudge().judge(rows)
    assert out == {**rows[0], "verdict": True, "reason": "number_match", "judge": "match-v2"}
    assert "verdict" not in rows[0]  # the input rows are not modified
