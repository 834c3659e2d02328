"""Per-row checks of a synthetic corpus: which facts a text states, its language, its length, duplicates and
contradicted values.

Every check is a pure function of the text and the seed document, so the same corpus gives the same verdicts
whichever generator wrote it. ``check_rows`` applies them in a fixed order and sends each rejected row to the
``failures`` split with one short snake_case reason (``empty``, ``too_short``, ``too_long``, ``wrong_language``,
``value_contradiction``, ``duplicate``; extraction failures come from the method modules as
``unparseable_extraction``, ``extracted_value_not_in_document``, ``too_few_entities``; requests that got no answer
as ``generator_*``) — nothing is dropped silently.

Matching is done on a normalised form (NFKC, so full-width digits and letters become ASCII; thousands separators
removed between digits; case folded; whitespace removed) because the paper's generator and our composer both write
``1,200円`` / ``１２００円`` / ``1200 円`` for the same value.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from typing import Iterable

# A text in a Japanese document must be at least this share kana/kanji among its letters: the paper found
# English-only outputs among Japanese samples; a Japanese sentence that quotes an English product name stays
# far above it (names are a few letters among dozens of kana/kanji).
MIN_JA_SHARE = 0.3
# An English text may contain a few non-ASCII letters (names such as "Café"), but no more than this share.
MAX_EN_NON_ASCII_SHARE = 0.1

REASONS: tuple[str, ...] = (
    "unparseable_extraction",
    "extracted_value_not_in_document",
    "too_few_entities",
    "empty",
    "too_short",
    "too_long",
    "wrong_language",
    "value_contradiction",
    "duplicate",
)

_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")
_SPACE = re.compile(r"\s+")
_JA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005]")
# A number (possibly decimal) and the unit or counter word after it in a fact value: 1200円, 3.5kg, 2019年, 24時間.
_VALUE_UNIT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?) ?([^\d\s.,、。・:：;；()（）「」\"'!?！？/]{1,4})")


def normalize(text: str) -> str:
    """NFKC, thousands separators removed between digits, case folded, all whitespace removed."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _THOUSANDS.sub("", text)
    return _SPACE.sub("", text.casefold())


def facts_present(text: str, facts: Iterable[dict]) -> list[str]:
    """Keys of the facts whose value the text states (normalised substring match), in fact-table order."""
    norm = normalize(text)
    return [fact["key"] for fact in facts if (value := normalize(str(fact["value"]))) and value in norm]


def lang_ok(text: str, lang: str) -> bool:
    """Whether the text is written in ``lang`` (``ja``: enough kana/kanji; ``en``: mostly ASCII letters)."""
    letters = [ch for ch in unicodedata.normalize("NFKC", text or "") if ch.isalpha()]
    if not letters:
        return False
    if lang == "ja":
        return sum(1 for ch in letters if _JA.match(ch)) / len(letters) >= MIN_JA_SHARE
    if lang == "en":
        non_ascii = sum(1 for ch in letters if not ch.isascii())
        return non_ascii / len(letters) <= MAX_EN_NON_ASCII_SHARE
    return True  # a language we have no rule for: accept rather than reject everything


def length_reason(text: str, min_chars: int, max_chars: int) -> str | None:
    """``empty`` / ``too_short`` / ``too_long``, or None when the length is within bounds."""
    n = len((text or "").strip())
    if n == 0:
        return "empty"
    if n < min_chars:
        return "too_short"
    if n > max_chars:
        return "too_long"
    return None


def _spaced(text: str) -> str:
    """Like ``normalize`` but whitespace kept as one space, so "2011.\n14 minutes" is not read as 2011.14."""
    text = _THOUSANDS.sub("", unicodedata.normalize("NFKC", text or ""))
    return _SPACE.sub(" ", text.casefold())


def _units(value: str) -> list[str]:
    return [unit for _, unit in _VALUE_UNIT.findall(_spaced(value))]


def _numbers_before(unit: str, text: str) -> set[str]:
    return set(re.findall(r"(?<![\d.])(\d+(?:\.\d+)?) ?" + re.escape(unit), text))


def value_contradictions(text: str, facts: Iterable[dict], source: str) -> list[str]:
    """Keys of the facts whose value the text contradicts: it states a number with the unit of a fact's value
    (``1500円`` where the table says ``1200円``) that neither the fact table nor the source document contains.

    A number is only compared when it carries the unit of a fact value: bare numbers have no context to tell
    which fact they would contradict.
    """
    facts = list(facts)
    norm_text, norm_source = _spaced(text), _spaced(source)
    table = _spaced(" ; ".join(str(fact["value"]) for fact in facts))
    keys = []
    for fact in facts:
        for unit in _units(str(fact["value"])):
            allowed = _numbers_before(unit, norm_source) | _numbers_before(unit, table)
            if _numbers_before(unit, norm_text) - allowed:
                keys.append(fact["key"])
                break
    return keys


def text_hash(text: str) -> str:
    """Exact-duplicate key: the sha256 of the normalised text."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


def check_rows(
    rows: Iterable[dict], docs: dict[str, dict], *, min_chars: int, max_chars: int, dedup: bool = True
) -> tuple[list[dict], list[dict], Counter]:
    """Check every row against its seed document; return ``(kept, failures, reasons)``.

    Fills ``facts_present`` and ``lang_ok`` on every row. A failure is the row plus ``reason`` (and, for
    ``value_contradiction``, the contradicted keys in the reason: ``value_contradiction:price``). The first
    occurrence of a text is kept; later exact duplicates (after normalisation) are failures ``duplicate``
    (``dedup=False`` for the ``none`` baseline, whose rows are the document repeated by definition).
    """
    kept: list[dict] = []
    failures: list[dict] = []
    reasons: Counter = Counter()
    seen: set[str] = set()
    for row in rows:
        doc = docs[row["doc_id"]]
        text = row.get("text") or ""
        row = {**row, "facts_present": facts_present(text, doc.get("facts") or []),
               "lang_ok": lang_ok(text, doc["lang"])}
        reason = row.pop("reason", None) or length_reason(text, min_chars, max_chars)
        if reason is None and not row["lang_ok"]:
            reason = "wrong_language"
        if reason is None and (bad := value_contradictions(text, doc.get("facts") or [], doc["text"])):
            reason = "value_contradiction:" + ",".join(bad)
        if reason is None and dedup:
            digest = text_hash(text)
            reason = "duplicate" if digest in seen else None
            seen.add(digest)
        if reason is None:
            kept.append(row)
        else:
            reasons[reason.split(":", 1)[0]] += 1
            failures.append({**row, "reason": reason})
    return kept, failures, reasons


def exposures(rows: Iterable[dict], docs: dict[str, dict]) -> dict[str, int]:
    """Exposure count per fact, ``"<doc_id>/<key>" -> rows stating it`` (every fact listed, zeros included)."""
    counts = {f"{doc_id}/{fact['key']}": 0 for doc_id, doc in docs.items() for fact in doc.get("facts") or []}
    for row in rows:
        for key in row["facts_present"]:
            counts[f"{row['doc_id']}/{key}"] += 1
    return counts
