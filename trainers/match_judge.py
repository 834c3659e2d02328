"""The ``match`` judge: offline, conservative answer matching against the gold fact value.

Answers come from tiny models continuing ``質問: … 答え:`` and from instruct models answering in a sentence, so a
correct value embedded in a short sentence counts (「2019年です。」, "It was released in 2019."). A false
"correct" is worse than a false "wrong": every rule below errs towards ``False``.

Rules, in the order applied (each verdict carries its ``reason``):

1. **Cut.** A leading ``答え:``/``Answer:`` is dropped and the answer ends at the first newline or at the next
   ``質問:``/``Question:``/``答え:`` marker (tiny models keep generating QA pairs).
2. **Normalise.** NFKC (full-width digits and letters, ``㎏``, ``℃``), casefold, thousands separators removed
   (``1,200`` = ``1200``). ``empty``: nothing but spaces and punctuation is left.
3. ``exact``: the normalised answer equals the normalised gold (spaces and separators inside names ignored).
4. ``too_long``: more than ``MAX_ANSWER_CHARS`` characters (a model listing everything is not answering).
5. ``uncertain``: the answer says it does not know (「わかりません」, 「不明」, "not sure", "I don't know").
6. ``negated``: a negation outside the gold text (「ではない」, 「ではなく」, 「ません」, 「以外」, "not", "isn't", "never").
7. ``multiple_candidates``: a disjunction (「または」, 「もしくは」, 「あるいは」, "or", "either", 「AかB」 next to the
   gold), or — for numeric golds — a second value of the same kind (「2019年か2020年」, 「1.2～1.5kg」).
8. **Numeric golds** (the gold is only quantities, e.g. ``1.2kg``, ``2019年4月``, ``3,500円``, ``約120人``): numbers
   with units are parsed from both sides — Arabic and kanji numerals (``二〇一九``, ``三千五百``, ``1万2000``,
   ``1.2億``), ``thousand/million/billion``, units written out (``kg``/``キログラム``/``kilograms``, ``W``/``ワット``/
   ``watts``, ``円``/``yen``/``¥``, ``%``/``パーセント``/``percent``, ``年``/``years``, ``人``/``名``/``employees``,
   ``倍``/``times`` …; unknown Japanese counters compare literally) and converted within a dimension where that is
   exact (``1200g`` = ``1.2kg``, ``0.5kW`` = ``500W``). Values compare exactly (``Decimal``). ``number_match``: every
   gold quantity appears and no other value of a compared kind does; a number without a unit matches any unit
   (the question asked for it). ``wrong_number``: a different value (``112kg`` or ``1.2kg`` for ``12kg``);
   ``missing``: no number at all. Numbers glued to letters (``X200``, ``v1.2``) are identifiers, not values.
9. **Other golds** (names, places, features, codes): the gold must occur in the answer as a whole token —
   spaces, ``-``, ``・`` inside it may differ, but it may not be extended by a neighbouring letter or digit, or by
   a katakana/kanji when its own edge is one (「東京」 in 「東京都」, "Sora" in "Soraya", ``X-200`` in ``X-2000`` are
   ``partial_token``). ``string_match`` or ``missing``.

Not handled (judged wrong): numbers written as English words, month names, paraphrases and synonyms — use the
``llm`` judge for those.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

NAME = "match-v1"  # recorded in every verdict's `judge` column; bump when a rule changes
MAX_ANSWER_CHARS = 200

# ---------------------------------------------------------------------------------------------------------------
# units: surface form (casefolded, after NFKC) -> (dimension, factor to the dimension's base unit)
# ---------------------------------------------------------------------------------------------------------------

_UNIT_GROUPS: dict[str, dict[Decimal, tuple[str, ...]]] = {
    "mass": {
        Decimal(1): ("g", "グラム", "gram", "grams", "gramme", "grammes"),
        Decimal("0.001"): ("mg", "ミリグラム", "milligram", "milligrams"),
        Decimal(1000): ("kg", "キログラム", "キロ", "kilogram", "kilograms", "kilo", "kilos", "kgs"),
        Decimal(1_000_000): ("トン", "tonne", "tonnes", "ton", "tons"),
    },
    "length": {
        Decimal(1): ("mm", "ミリメートル", "ミリ", "millimeter", "millimeters", "millimetre", "millimetres"),
        Decimal(10): ("cm", "センチメートル", "センチ", "centimeter", "centimeters", "centimetre", "centimetres"),
        Decimal(1000): ("m", "メートル", "meter", "meters", "metre", "metres"),
        Decimal(1_000_000): ("km", "キロメートル", "kilometer", "kilometers", "kilometre", "kilometres"),
    },
    "power": {
        Decimal(1): ("w", "ワット", "watt", "watts"),
        Decimal(1000): ("kw", "キロワット", "kilowatt", "kilowatts"),
    },
    "energy": {
        Decimal(1): ("wh", "ワット時", "watt-hour", "watt-hours"),
        Decimal(1000): ("kwh", "キロワット時", "kilowatt-hour", "kilowatt-hours"),
    },
    "volume": {
        Decimal(1): ("ml", "ミリリットル", "cc", "milliliter", "milliliters", "millilitre", "millilitres"),
        Decimal(1000): ("l", "ℓ", "リットル", "liter", "liters", "litre", "litres"),
    },
    "time": {
        Decimal(1): ("秒", "sec", "secs", "second", "seconds"),  # not "s": "the 1990s"
        Decimal(60): ("分", "min", "mins", "minute", "minutes"),
        Decimal(3600): ("時間", "h", "hr", "hrs", "hour", "hours"),
    },
    "frequency": {
        Decimal(1): ("hz", "ヘルツ", "hertz"),
        Decimal(1000): ("khz",),
        Decimal(1_000_000): ("mhz",),
        Decimal(1_000_000_000): ("ghz",),
    },
}
# Dimensions with a single unit (no conversion); several spellings each.
_UNIT_NAMES: dict[str, tuple[str, ...]] = {
    "year": ("年", "year", "years", "yr", "yrs"),
    "age": ("歳", "才", "years old", "year old"),
    "months": ("か月", "ヶ月", "カ月", "ケ月", "ヵ月", "箇月", "month", "months"),
    "month_of_year": ("月",),  # 「4月」 is April, 「4か月」 four months: never equal
    "day": ("日", "日間", "day", "days"),
    "week": ("週間", "週", "week", "weeks"),
    "yen": ("円", "yen", "jpy"),
    "usd": ("ドル", "dollar", "dollars", "usd"),
    "eur": ("ユーロ", "euro", "euros", "eur"),
    "percent": ("%", "パーセント", "percent", "per cent", "pct"),
    "people": ("人", "名", "people", "persons", "person", "employees", "employee", "staff", "members", "workers"),
    "times": ("倍", "times", "fold", "x"),
    "occurrences": ("回",),
    "celsius": ("°c", "度", "degrees", "degree", "degrees celsius"),
    "pieces": ("個", "pieces", "piece", "items", "item"),
    "units": ("台", "units", "unit"),
    "stores": ("店舗", "店", "stores", "store", "shops", "shop", "outlets", "branches"),
    "companies": ("社", "companies", "company", "firms"),
    "floors": ("階", "floors", "floor", "stories", "storeys"),
    "kinds": ("種類", "種", "kinds", "types", "varieties"),
    "things": ("つ",),
    "inch": ("インチ", "inch", "inches"),
    "volt": ("v", "ボルト", "volt", "volts"),
    "mah": ("mah",),
    "gb": ("gb", "ギガバイト", "gigabyte", "gigabytes"),
    "mb": ("mb", "メガバイト", "megabyte", "megabytes"),
    "tb": ("tb", "テラバイト", "terabyte", "terabytes"),
    "pages": ("ページ", "pages", "page"),
    "steps": ("ステップ", "steps", "step"),
}
_PREFIX_UNITS = {"¥": "yen", "$": "usd", "us$": "usd", "€": "eur"}

_UNITS: dict[str, tuple[str, Decimal]] = {}
for _dim, _by_factor in _UNIT_GROUPS.items():
    for _factor, _surfaces in _by_factor.items():
        _UNITS.update({s: (_dim, _factor) for s in _surfaces})
for _dim, _surfaces in _UNIT_NAMES.items():
    _UNITS.update({s: (_dim, Decimal(1)) for s in _surfaces})
_UNIT_SURFACES = sorted(_UNITS, key=len, reverse=True)  # longest first: 「キロワット時」 before 「キロ」

_SCALE_WORDS = {"thousand": Decimal(1000), "million": Decimal(10**6), "billion": Decimal(10**9)}
_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
_KANJI_SMALL = {"十": 10, "百": 100, "千": 1000}
_KANJI_LARGE = {"万": 10**4, "億": 10**8, "兆": 10**12}
_KANJI_NUMERALS = "".join(_KANJI_DIGITS) + "".join(_KANJI_SMALL) + "".join(_KANJI_LARGE)

_ARABIC = r"(?:\d+)(?:\.\d+)?"
_NUMBER_RUN = re.compile(rf"(?:{_ARABIC}|[{_KANJI_NUMERALS}])+")
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")
_FILLER = re.compile(r"約|およそ|ほぼ|about|approximately|approx\.?|around|roughly")

# ---------------------------------------------------------------------------------------------------------------
# answer-level markers (searched with the gold text masked out)
# ---------------------------------------------------------------------------------------------------------------

_UNCERTAIN = re.compile(
    r"わかりません|分かりません|わからない|分からない|不明|知りません|知らない|定かでは|確かでは|自信がない|"
    r"\bdon'?t know\b|\bdo not know\b|\bnot sure\b|\bunsure\b|\bunknown\b|\bno idea\b|\buncertain\b|"
    r"\bnot certain\b|\bcannot (?:be )?determine|\bcan'?t (?:be )?determine"
)
_NEGATION = re.compile(
    r"ではな|じゃな|でな[いく]|ではありません|じゃありません|ません|ない|なかった|違い|違う|違います|ちがう|以外|"
    r"\bnot\b|n't\b|\bnever\b|\bno\b|\bnone\b|\bneither\b|\bnor\b|\bcannot\b|\bother than\b"
)
_DISJUNCTION = re.compile(r"または|もしくは|あるいは|\bor\b|\beither\b|\bwhether\b")
# 「AかB」: a か directly after or before the gold, with more text on the other side.
_KA_AFTER = re.compile(r"^\s*(?:です|でした)?\s*(?:か(?!ら)|/)\s*(?![\s。、？?!！]*$)")  # から: "since"
# A single value offered with a soft hedge stays an answer (「2019年かな」, 「2019年かもしれません」); blanked out
# before the other markers are searched.
_SOFT_HEDGE = re.compile(r"かもしれ(?:ない|ません)|かも(?:ね)?|かな|かと思(?:う|います)|でしょう")
_KA_BEFORE = re.compile(r"[^\s確]\s*(?:か|/)\s*$")  # 確か: "surely"

_CUT = re.compile(r"\n|質問\s*[:：]|question\s*:|\bq\s*:|答え\s*[:：]|answer\s*:")
_LEADING_PREFIX = re.compile(r"^\s*(?:答え|回答|answer|a)\s*[:：]\s*")
# Separators ignored inside names ("山田 太郎" = "山田太郎", "X-200" = "X200").
_SEP_CHARS = " \t\u3000-‐‑–—・·_'’"
_PUNCT_EDGES = "。、.,!?！？「」『』\"'()（）[]【】:：;；"


@dataclass(frozen=True)
class Quantity:
    """One number found in a text: as written (``raw``), in the dimension's base unit, the dimension (None: none)."""

    raw: Decimal
    value: Decimal
    dim: str | None
    start: int
    end: int


def normalize(text: str) -> str:
    """NFKC, casefold, thousands separators dropped; the form every rule reads."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)


def cut_answer(answer: str) -> str:
    """The part of a normalised continuation that answers the question (rule 1)."""
    text = _LEADING_PREFIX.sub("", answer.lstrip())
    match = _CUT.search(text)
    return text[: match.start()] if match else text


def _compact(text: str) -> str:
    return "".join(c for c in text if c not in _SEP_CHARS).strip(_PUNCT_EDGES + _SEP_CHARS)


def _script(char: str) -> str:
    if char.isascii():
        return "latin" if char.isalnum() else "other"
    name = unicodedata.name(char, "")
    if name.startswith("KATAKANA") or char == "ー":
        return "katakana"
    if name.startswith("CJK UNIFIED"):
        return "kanji"
    return "other"


# ---------------------------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------------------------


def _parse_numeral(run: str) -> Decimal | None:
    """Arabic and kanji numerals, mixed as written in Japanese (``1万2000``, ``三千五百``, ``二〇一九``)."""
    if not any(c in _KANJI_SMALL or c in _KANJI_LARGE for c in run):
        if all(c in _KANJI_DIGITS for c in run):  # digit by digit: 二〇一九
            return Decimal("".join(str(_KANJI_DIGITS[c]) for c in run))
        if any(c in _KANJI_DIGITS for c in run):
            return None  # 「1二」: not a numeral anyone writes
        try:
            return Decimal(run)
        except InvalidOperation:
            return None
    total, section, current = Decimal(0), Decimal(0), None
    for piece in re.findall(rf"{_ARABIC}|.", run):
        if piece in _KANJI_DIGITS:
            if current is not None:
                return None  # 「二三百」 is ambiguous
            current = Decimal(_KANJI_DIGITS[piece])
        elif piece in _KANJI_SMALL:
            section += (current if current is not None else 1) * _KANJI_SMALL[piece]
            current = None
        elif piece in _KANJI_LARGE:
            section += current if current is not None else 0
            if section == 0:
                return None
            total += section * _KANJI_LARGE[piece]
            section, current = Decimal(0), None
        else:
            if current is not None:
                return None
            current = Decimal(piece)
    return total + section + (current if current is not None else 0)


def _match_unit(text: str, pos: int) -> tuple[str, Decimal, int] | None:
    """The known unit starting at ``pos`` (spaces skipped): (dimension, factor, end)."""
    start = pos
    while start < len(text) and text[start] == " ":
        start += 1
    for surface in _UNIT_SURFACES:
        if text.startswith(surface, start):
            end = start + len(surface)
            # Latin units must end at a word boundary: "m" is not the start of "march".
            if surface[-1].isascii() and surface[-1].isalpha() and end < len(text) and text[end].isascii() \
                    and text[end].isalnum():
                continue
            if start > pos and not surface[0].isascii():
                continue  # 「2019 年」 is fine, but a Japanese unit after a space is rare; keep it strict
            dim, factor = _UNITS[surface]
            return dim, factor, end
    return None


def find_quantities(text: str) -> list[Quantity]:
    """Every number in a normalised text, with its unit when one follows (or a currency sign precedes)."""
    found: list[Quantity] = []
    for match in _NUMBER_RUN.finditer(text):
        run, start, end = match.group(0), match.start(), match.end()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        pure_kanji = not any(c.isdigit() and c.isascii() for c in run)
        if not pure_kanji:
            # Identifiers: digits glued to letters ("x200", "v1.2", "x-200", "200abc").
            if before.isascii() and before.isalpha():
                continue
            if before in "-." and start >= 2 and text[start - 2].isascii() and text[start - 2].isalpha():
                continue  # but 2019-2020 is a range of two values
        else:
            if run[0] in _KANJI_LARGE or _script(before) == "kanji":  # 万一, 統一, 唯一: part of a word
                continue
            if not any(c in _KANJI_DIGITS for c in run) and not _match_unit(text, end):
                continue  # 十, 百, 千 alone count only with a unit (十人), not in 千葉
        value = _parse_numeral(run)
        if value is None:
            continue
        pos = end
        scale = re.match(r" ?(thousand|million|billion)\b", text[pos:])
        if scale:
            value *= _SCALE_WORDS[scale.group(1)]
            pos += scale.end()
        raw = value
        unit = _match_unit(text, pos)
        dim: str | None = None
        if unit:
            dim, factor, pos = unit
            value *= factor
        elif pure_kanji and _script(after) in ("kanji", "katakana"):
            continue  # 一般, 十全: a word that starts with a numeral
        elif not pure_kanji and _script(after) in ("kanji", "katakana"):
            literal = re.match(r"[\u4e00-\u9fff\u30a0-\u30ffー]{1,4}", text[pos:])
            dim, pos = "lit:" + literal.group(0), pos + literal.end()
        elif after.isascii() and after.isalpha():
            continue  # "200abc": an identifier
        for sign, dim_of_sign in _PREFIX_UNITS.items():
            if text[:start].rstrip(" ").endswith(sign) and dim is None:
                dim = dim_of_sign
        negative = re.search(r"(?:^|[^\w])[-−]$|マイナス$", text[:start]) is not None
        sign = -1 if negative else 1
        found.append(Quantity(sign * raw, sign * value, dim, start, pos))
    return found


def _is_numeric_gold(gold: str, quantities: list[Quantity]) -> bool:
    if not quantities:
        return False
    residue, last = [], 0
    for q in quantities:
        residue.append(gold[last:q.start])
        last = q.end
    residue.append(gold[last:])
    rest = _FILLER.sub("", "".join(residue))
    rest = re.sub(r"[¥$€]|us\$", "", rest)
    return _compact(rest).strip(_PUNCT_EDGES + _SEP_CHARS + "~～-") == ""


def _same_value(a: Quantity, g: Quantity) -> bool:
    if a.dim is None or g.dim is None:
        return a.raw == g.raw  # a bare 1.2 answers "1.2kg" as written, not 1200 (grams)
    return a.dim == g.dim and a.value == g.value


def _compares_with(a: Quantity, g: Quantity) -> bool:
    """Whether a different value ``a`` in the answer contradicts gold quantity ``g``."""
    return a.dim is None or a.dim == g.dim


def _judge_numeric(gold_q: list[Quantity], answer: str) -> tuple[bool, str]:
    answer_q = find_quantities(answer)
    if not answer_q:
        return False, "missing"
    unmatched_gold = [g for g in gold_q if not any(_same_value(a, g) for a in answer_q)]
    others = [a for a in answer_q if not any(_same_value(a, g) for g in gold_q)]
    contradicting = [a for a in others if any(_compares_with(a, g) for g in gold_q)]
    if unmatched_gold:
        return False, "wrong_number"
    if contradicting:
        return False, "multiple_candidates"
    return True, "number_match"


# ---------------------------------------------------------------------------------------------------------------
# strings
# ---------------------------------------------------------------------------------------------------------------


def _gold_pattern(gold_compact: str) -> re.Pattern[str]:
    """The gold with optional separators between characters (never between two digits)."""
    sep = "[" + re.escape(_SEP_CHARS) + "]*"
    parts = []
    for i, char in enumerate(gold_compact):
        if i and not (char.isdigit() and gold_compact[i - 1].isdigit()):
            parts.append(sep)
        parts.append(re.escape(char))
    return re.compile("".join(parts))


def _extends(edge: str, neighbour: str) -> bool:
    """Whether ``neighbour`` continues the token whose edge character is ``edge`` (「東京」+「都」, "sora"+"ya")."""
    if not neighbour:
        return False
    kind = _script(edge)
    return kind in ("latin", "katakana", "kanji") and _script(neighbour) == kind and neighbour not in "氏様"


def _gold_spans(gold_compact: str, answer: str) -> tuple[list[tuple[int, int]], bool]:
    """Spans of whole-token occurrences of the gold, and whether a partial (extended) one was seen."""
    spans, partial = [], False
    for m in _gold_pattern(gold_compact).finditer(answer):
        before = answer[m.start() - 1] if m.start() else ""
        after = answer[m.end()] if m.end() < len(answer) else ""
        if _extends(gold_compact[0], before) or _extends(gold_compact[-1], after):
            partial = True
        else:
            spans.append((m.start(), m.end()))
    return spans, partial


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in reversed(spans):
        text = text[:start] + " " + text[end:]
    return text


# ---------------------------------------------------------------------------------------------------------------
# the judge
# ---------------------------------------------------------------------------------------------------------------


def judge_answer(gold: str, answer: str | None) -> tuple[bool, str]:
    """``(verdict, reason)`` for one answer; see the module docstring for the rules."""
    gold_n = normalize(str(gold)).strip()
    answer_n = cut_answer(normalize(answer or "")).strip()
    gold_c, answer_c = _compact(gold_n), _compact(answer_n)
    if not answer_c:
        return False, "empty"
    if not gold_c:
        raise ValueError("gold answer is empty")  # judge_file rejects this before judging
    if answer_c == gold_c:
        return True, "exact"
    if len(answer_n) > MAX_ANSWER_CHARS:
        return False, "too_long"
    spans, partial = _gold_spans(gold_c, answer_n)
    hedged = _SOFT_HEDGE.sub(lambda m: " " * len(m.group(0)), answer_n)  # same length: spans stay valid
    masked = _mask(hedged, spans)
    if _UNCERTAIN.search(masked):
        return False, "uncertain"
    if _NEGATION.search(masked):
        return False, "negated"
    if _DISJUNCTION.search(masked):
        return False, "multiple_candidates"
    for start, end in spans:
        if _KA_AFTER.match(hedged[end:]) or _KA_BEFORE.search(hedged[:start]):
            return False, "multiple_candidates"
    gold_q = find_quantities(gold_n)
    if _is_numeric_gold(gold_n, gold_q):
        return _judge_numeric(gold_q, answer_n)
    if spans:
        return True, "string_match"
    return False, "partial_token" if partial else "missing"


class MatchJudge:
    """Offline normalised matching (the recipe's ``judge.kind: match``).

    Input columns: ``gold``, ``answer``. Output columns: ``verdict`` (bool), ``reason`` (see module docstring),
    ``judge`` (``match-v1``).
    """

    name = NAME

    def judge(self, rows: list[dict]) -> list[dict]:
        out = []
        for row in rows:
            verdict, reason = judge_answer(row["gold"], row.get("answer"))
            out.append({**row, "verdict": verdict, "reason": reason, "judge": self.name})
        return out
