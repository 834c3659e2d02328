"""Invented proper names for the fictional seed documents: products, companies, services, procedures, terms, people.

Names are built from parts, never drawn from a list of real names: a base word of three katakana syllables (each
with its romaji, so the Japanese and English sets read alike, ルミナ / Rumina) plus a suffix or model code, and
person names from kanji parts (ja) or syllables (en). A model that has never seen the name cannot answer from prior
knowledge, which is the point of the fictional set (paper §3.1 replaces real names after generation for the same
reason). ``NameBook`` hands out names that are unique across the whole set and never a substring of one another,
so a question naming one subject can never match another subject's text.
"""

from __future__ import annotations

import random

# (katakana, romaji): consonant-vowel syllables only, so romaji splits unambiguously and reads as a word.
SYLLABLES: tuple[tuple[str, str], ...] = (
    ("カ", "ka"), ("キ", "ki"), ("ク", "ku"), ("コ", "ko"), ("サ", "sa"), ("ス", "su"), ("セ", "se"), ("ソ", "so"),
    ("タ", "ta"), ("テ", "te"), ("ト", "to"), ("ナ", "na"), ("ニ", "ni"), ("ノ", "no"), ("ハ", "ha"), ("フ", "fu"),
    ("マ", "ma"), ("ミ", "mi"), ("ム", "mu"), ("メ", "me"), ("モ", "mo"), ("ラ", "ra"), ("リ", "ri"), ("ル", "ru"),
    ("レ", "re"), ("ロ", "ro"), ("バ", "ba"), ("ビ", "bi"), ("ベ", "be"), ("ダ", "da"), ("ド", "do"), ("ガ", "ga"),
    ("グ", "gu"), ("ザ", "za"), ("ゼ", "ze"), ("ヴェ", "ve"),
)
CODA = ("ン", "n")

# Real brands and words the syllable scheme can spell by chance. This is a blocklist that rejects a candidate,
# not a source of names; it keeps an invented name from pointing at a real company the model may know.
_REAL_WORDS = frozenset(
    "canon nikon kirin sega konami terumo kubota makita rakuten denon sanyo tokyo osaka kobe nara sakura kanagawa "
    "mazda honda toyota nissan suzuki subaru ricoh kao toto daikin casio sony panasonic hitachi toshiba fujitsu "
    "nintendo bandai namco seiko citizen ando kamera sanrio tamura kanebo mori ramen sushi tofu kimono karaoke "
    "samurai ninja manga anime kara sara mira nana rena mina rika "
    "tesla nokia lego ikea bosch siemens samsung sanofi roche novartis zara adidas puma".split()
)

# Japanese person names from kanji parts: surname = two parts, given name = two parts.
_SURNAME_HEAD = "森川高石松竹岡宮杉柳桐榊浅秋早芦楠椎樫藤"
_SURNAME_TAIL = "田本沢野原島谷崎村井坂瀬口尾塚"
_GIVEN_HEAD = "健雅智直和亮真浩悠颯結遥彩湊蒼"
_GIVEN_TAIL = "太也人子美樹介斗香奈翔菜"

# (ja suffix, en suffix) per kind of name; the base word comes first in both languages.
COMPANY_SUFFIXES = (
    ("テック", "Tech"), ("ワークス", "Works"), ("工業", "Industries"), ("精機", "Precision"),
    ("システムズ", "Systems"), ("製作所", "Manufacturing"), ("ラボ", "Labs"), ("技研", "Engineering"),
)
SERVICE_SUFFIXES = (
    ("クラウド", "Cloud"), ("ノート", "Note"), ("パス", "Pass"), ("ドライブ", "Drive"),
    ("メンバーズ", "Members"), ("ポータル", "Portal"), ("リンク", "Link"), ("プラス", "Plus"),
)
PROCEDURE_KINDS = (
    ("点検手順", "Inspection Procedure"), ("洗浄手順", "Cleaning Procedure"), ("交換手順", "Replacement Procedure"),
    ("校正手順", "Calibration Procedure"), ("保守手順", "Maintenance Procedure"), ("始業手順", "Start-up Procedure"),
)
_MODEL_LETTERS = "XRSVZLT"


def name_alphabet(lang: str) -> set[str]:
    """Every character an invented name of ``lang`` can hold (a base tokenizer keeps each as a token)."""
    pairs = (*SYLLABLES, CODA, *COMPANY_SUFFIXES, *SERVICE_SUFFIXES, *PROCEDURE_KINDS)
    chars = {c for pair in pairs for c in pair[0 if lang == "ja" else 1]}
    chars.update(_SURNAME_HEAD + _SURNAME_TAIL + _GIVEN_HEAD + _GIVEN_TAIL + _MODEL_LETTERS + "0123456789-")
    return chars


class NameBook:
    """Hands out invented names unique across one seed set; every draw comes from the given ``random.Random``.

    A candidate is rejected (and redrawn) when it equals, contains or is contained in a name already given out
    (case-insensitive), or when its base word is a known real word.
    """

    def __init__(self, rng: random.Random, lang: str) -> None:
        self.rng = rng
        self.lang = lang
        self._given: list[str] = []
        self._bases: list[str] = []

    # -- public kinds -------------------------------------------------------------------------------------------

    def product(self) -> str:
        return self._draw(lambda: self._join(self._base(), f"{self.rng.choice(_MODEL_LETTERS)}{self.rng.randint(2, 9)}"))

    def company(self) -> str:
        return self._draw(lambda: self._join(self._base(), self._suffix(COMPANY_SUFFIXES)))

    def service(self) -> str:
        return self._draw(lambda: self._join(self._base(), self._suffix(SERVICE_SUFFIXES)))

    def procedure(self) -> str:
        # 「ルミナ式点検手順」 / "Rumina Inspection Procedure"
        return self._draw(
            lambda: self._join(self._base(), self._suffix(PROCEDURE_KINDS), ja_glue="式")
        )

    def term(self) -> str:
        return self._draw(lambda: self._word(self._base()))

    def person(self) -> str:
        if self.lang == "ja":
            r = self.rng
            return self._draw(
                lambda: r.choice(_SURNAME_HEAD) + r.choice(_SURNAME_TAIL) + r.choice(_GIVEN_HEAD) + r.choice(_GIVEN_TAIL)
            )
        return self._draw(lambda: f"{self._word(self._base(2))} {self._word(self._base(3))}")

    def code(self) -> str:
        """A form or document code such as ``KF-204``; unique like the names, so it identifies one document."""
        letters = "ABCDEFGHJKMNPRSTW"
        return self._draw(lambda: f"{self.rng.choice(letters)}{self.rng.choice(letters)}-{self.rng.randint(101, 989)}")

    # -- parts ----------------------------------------------------------------------------------------------------

    def _base(self, syllables: int = 3) -> list[tuple[str, str]]:
        parts = [self.rng.choice(SYLLABLES) for _ in range(syllables)]
        # A coda ン after the first or last syllable now and then: カンテソ, ルミナン — more varied, still pronounceable.
        if self.rng.random() < 0.3:
            parts.insert(self.rng.choice([1, len(parts)]), CODA)
        return parts

    def _word(self, parts: list[tuple[str, str]]) -> str:
        self._bases.append("".join(romaji for _, romaji in parts))
        if self.lang == "ja":
            return "".join(kana for kana, _ in parts)
        return "".join(romaji for _, romaji in parts).capitalize()

    def _suffix(self, pairs: tuple[tuple[str, str], ...]) -> str:
        ja, en = self.rng.choice(pairs)
        return ja if self.lang == "ja" else en

    def _join(self, base: list[tuple[str, str]], suffix: str, ja_glue: str = "") -> str:
        word = self._word(base)
        return f"{word}{ja_glue}{suffix}" if self.lang == "ja" else f"{word} {suffix}"

    def _draw(self, make) -> str:
        for _ in range(1000):
            self._bases = []
            name = make()
            if self._acceptable(name):
                self._given.append(name)
                return name
        raise RuntimeError("could not invent a unique name in 1000 draws; the name space is too small for this set")

    def _acceptable(self, name: str) -> bool:
        low = name.lower()
        # The romaji of every base word is checked too, so ja names are screened against the same list.
        words = set(low.split()) | set(self._bases)
        if words & _REAL_WORDS:
            return False
        return not any(low in other.lower() or other.lower() in low for other in self._given)

    def reserve(self, text: str) -> None:
        """Treat ``text`` (e.g. a value drawn from a pool) as given out, so no invented name overlaps it."""
        self._given.append(text)
