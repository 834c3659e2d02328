"""Text logic every stage shares: the language of a row, the normalised forms text is matched in, and
quantities (numbers with their units) in Japanese and English text.

The composer and the corpus checks (``pipelines``) and the match judge (``trainers``) read text through this
module, so a value the checks count as stated is the value the judge accepts as answered.

- **Language.** ``lang_of`` (``ja`` or ``en``, the two languages with prompts and rules) and ``lang_ok`` (is a
  text written in a language: enough kana/kanji for ``ja``, mostly ASCII letters for ``en``).
- **Normalisation.** ``fold``: NFKC (full-width digits and letters, ``㎏``, ``℃``), casefold, thousands
  separators dropped (``1,200`` = ``1200``); ``normalize``: ``fold`` with all whitespace removed, the form the
  checks and the composer compare values in (the paper's generator and ours write ``1,200円`` / ``１２００円`` /
  ``1200 円`` for one value).
- **Quantities.** ``find_quantities`` finds every number in a folded text with its unit: Arabic and kanji
  numerals (``二〇一九``, ``三千五百``, ``1万2000``, ``1.2億``), ``thousand/million/billion`` and, next to a
  currency, ``k/m/mn/bn`` (``$18M``), units written out (``kg``/``キログラム``/``kilograms``, ``円``/``yen``/``¥``,
  ``ドル``/``米ドル``/``dollars``/``$`` …) converted within a dimension where that is exact (``1200g`` =
  ``1.2kg``). Unknown Japanese counters compare literally. ``with_arabic_numerals`` rewrites kanji numerals as
  digits (``三十日前`` -> ``30日前``).

Written here rather than taken from a library, each for a measured reason: pint has the unit conversions but not
the Japanese spellings and counters (人, 台, 店舗), and its current release needs Python 3.12; kanjize converts
kanji numerals through floats (``2.3億`` -> 229999999) and reads ambiguous runs (``二三百`` -> 2300), where the
judge needs exact ``Decimal`` values and must refuse what no one writes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# ---------------------------------------------------------------------------------------------------------------
# language
# ---------------------------------------------------------------------------------------------------------------

# A text in a Japanese document must be at least this share kana/kanji among its letters: the paper found
# English-only outputs among Japanese samples; a Japanese sentence that quotes an English product name stays
# far above it (names are a few letters among dozens of kana/kanji).
MIN_JA_SHARE = 0.3
# An English text may contain a few non-ASCII letters (names such as "Café"), but no more than this share.
MAX_EN_NON_ASCII_SHARE = 0.1

JAPANESE_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005]")


def lang_of(row: dict) -> str:
    """The language a row's prompts and rules are written for: ``ja``, else ``en``."""
    return "ja" if row.get("lang") == "ja" else "en"


def lang_ok(text: str, lang: str) -> bool:
    """Whether the text is written in ``lang`` (``ja``: enough kana/kanji; ``en``: mostly ASCII letters)."""
    letters = [ch for ch in unicodedata.normalize("NFKC", text or "") if ch.isalpha()]
    if not letters:
        return False
    if lang == "ja":
        return sum(1 for ch in letters if JAPANESE_CHAR.match(ch)) / len(letters) >= MIN_JA_SHARE
    if lang == "en":
        non_ascii = sum(1 for ch in letters if not ch.isascii())
        return non_ascii / len(letters) <= MAX_EN_NON_ASCII_SHARE
    return True  # a language we have no rule for: accept rather than reject everything


# ---------------------------------------------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------------------------------------------

# A comma between digit groups of three, the first group not itself preceded by a digit or a decimal point.
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?!\d)")
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """NFKC, casefold, thousands separators dropped; spaces kept."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)


def normalize(text: str) -> str:
    """``fold`` with all whitespace removed: the form values are compared in."""
    return _SPACE.sub("", fold(text))


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
    "usd": ("ドル", "米ドル", "米国ドル", "usドル", "dollar", "dollars", "usd", "us dollars", "u.s. dollars"),
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
CURRENCIES = frozenset({"yen", "usd", "eur"})

_UNITS: dict[str, tuple[str, Decimal]] = {}
for _dim, _by_factor in _UNIT_GROUPS.items():
    for _factor, _surfaces in _by_factor.items():
        _UNITS.update({s: (_dim, _factor) for s in _surfaces})
for _dim, _surfaces in _UNIT_NAMES.items():
    _UNITS.update({s: (_dim, Decimal(1)) for s in _surfaces})
# By first character, longest first (「キロワット時」 before 「キロ」): a lookup tries only the surfaces that can match.
_UNITS_BY_FIRST: dict[str, list[str]] = {}
for _surface in sorted(_UNITS, key=len, reverse=True):
    _UNITS_BY_FIRST.setdefault(_surface[0], []).append(_surface)

_SCALE_WORDS = {"thousand": Decimal(1000), "million": Decimal(10**6), "billion": Decimal(10**9)}
# Abbreviated scales read as such only next to a currency ("$18m", "5m euros"); elsewhere "18m" is 18 metres.
_SCALE_ABBREVIATIONS = {"k": Decimal(1000), "m": Decimal(10**6), "mn": Decimal(10**6), "mil": Decimal(10**6),
                        "b": Decimal(10**9), "bn": Decimal(10**9)}
_SCALE_WORD = re.compile(r"[ -]?(thousand|million|billion)\b")
_SCALE_ABBREVIATION = re.compile(r" ?(mil|mn|bn|k|m|b)(?![a-z])")
_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
_KANJI_SMALL = {"十": 10, "百": 100, "千": 1000}
_KANJI_LARGE = {"万": 10**4, "億": 10**8, "兆": 10**12}
_KANJI_NUMERALS = "".join(_KANJI_DIGITS) + "".join(_KANJI_SMALL) + "".join(_KANJI_LARGE)

_ARABIC = r"(?:\d+)(?:\.\d+)?"
_NUMBER_RUN = re.compile(rf"(?:{_ARABIC}|[{_KANJI_NUMERALS}])+")


@dataclass(frozen=True)
class Quantity:
    """One number found in a text: as written (``raw``), in the dimension's base unit (``value``), the dimension
    (None: no unit), the span of the whole quantity (``start``..``end``) and where its numeral ends."""

    raw: Decimal
    value: Decimal
    dim: str | None
    start: int
    end: int
    numeral_end: int = 0
    kanji: bool = False


def script(char: str) -> str:
    """``latin`` (ASCII letter or digit), ``katakana``, ``kanji`` or ``other``."""
    if char.isascii():
        return "latin" if char.isalnum() else "other"
    name = unicodedata.name(char, "")
    if name.startswith("KATAKANA") or char == "ー":
        return "katakana"
    if name.startswith("CJK UNIFIED"):
        return "kanji"
    return "other"


def parse_numeral(run: str) -> Decimal | None:
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


def match_unit(text: str, pos: int) -> tuple[str, Decimal, int] | None:
    """The known unit starting at ``pos`` (spaces skipped): (dimension, factor, end)."""
    start = pos
    while start < len(text) and text[start] == " ":
        start += 1
    for surface in _UNITS_BY_FIRST.get(text[start:start + 1], ()):
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


def _currency_sign_before(text: str, start: int) -> str | None:
    before = text[:start].rstrip(" ")
    for sign, dim in _PREFIX_UNITS.items():
        if before.endswith(sign):
            return dim
    return None


def _scale(text: str, pos: int, start: int) -> tuple[Decimal, int]:
    """The scale after a number at ``pos`` (``million``; ``m`` next to a currency) and where it ends."""
    if word := _SCALE_WORD.match(text, pos):
        unit = match_unit(text, word.end() + (text[word.end():word.end() + 1] == "-"))
        if word.group(0)[0] != "-" or unit:  # "18-million-dollar" but not "2019-million"
            end = word.end() + (1 if unit and text[word.end():word.end() + 1] == "-" else 0)
            return _SCALE_WORDS[word.group(1)], end
    if abbreviation := _SCALE_ABBREVIATION.match(text, pos):
        unit = match_unit(text, abbreviation.end())
        if _currency_sign_before(text, start) or (unit and unit[0] in CURRENCIES):
            return _SCALE_ABBREVIATIONS[abbreviation.group(1)], abbreviation.end()
    return Decimal(1), pos


def find_quantities(text: str) -> list[Quantity]:
    """Every number in a folded text, with its unit when one follows (or a currency sign precedes)."""
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
            if run[0] in _KANJI_LARGE or script(before) == "kanji":  # 万一, 統一, 唯一: part of a word
                continue
            if not any(c in _KANJI_DIGITS for c in run) and not match_unit(text, end):
                continue  # 十, 百, 千 alone count only with a unit (十人), not in 千葉
        value = parse_numeral(run)
        if value is None:
            continue
        scale, pos = _scale(text, end, start)
        value *= scale
        after = text[pos] if pos < len(text) else ""
        raw = value
        unit = match_unit(text, pos)
        dim: str | None = None
        if unit:
            dim, factor, pos = unit
            value *= factor
        elif pure_kanji and script(after) in ("kanji", "katakana"):
            continue  # 一般, 十全: a word that starts with a numeral
        elif not pure_kanji and script(after) in ("kanji", "katakana"):
            literal = re.match(r"[\u4e00-\u9fff\u30a0-\u30ffー]{1,4}", text[pos:])
            dim, pos = "lit:" + literal.group(0), pos + literal.end()
        elif after.isascii() and after.isalpha():
            continue  # "200abc": an identifier
        if dim is None:
            dim = _currency_sign_before(text, start)
        negative = re.search(r"(?:^|[^\w])[-−]$|マイナス$", text[:start]) is not None
        sign = -1 if negative else 1
        found.append(Quantity(sign * raw, sign * value, dim, start, pos, end, pure_kanji))
    return found


def with_arabic_numerals(text: str) -> str:
    """The folded text with every kanji numeral that ``find_quantities`` reads as a number written in digits
    (``三十日前`` -> ``30日前``); words that merely contain a numeral (``一般``, ``統一``) stay as they are."""
    out, last = [], 0
    for q in find_quantities(text):
        if q.kanji:
            out += [text[last:q.start], format(abs(q.raw).normalize(), "f")]
            last = q.numeral_end
    return "".join(out) + text[last:]
