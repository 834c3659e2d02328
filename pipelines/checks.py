"""Per-row checks of a synthetic corpus: which facts a text states, its language, its length, duplicates and
contradicted values.

Every check is a pure function of the text and the seed document, so the same corpus gives the same verdicts
whichever generator wrote it. ``check_rows`` applies them in a fixed order and sends each rejected row to the
``failures`` split with one short snake_case reason (``empty``, ``too_short``, ``too_long``, ``wrong_language``,
``value_contradiction``, ``duplicate``; extraction failures come from the method modules as
``unparseable_extraction``, ``extracted_value_not_in_document``, ``too_few_entities``; requests that got no answer
as ``generator_*``) — nothing is dropped silently.

Values are matched in ``kinject.text.normalize``'s form and numbers read by ``kinject.text.find_quantities``, the
same reading the match judge gives an answer.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from typing import Iterable

from kinject.text import find_quantities, fold, lang_ok, normalize

__all__ = ["REASONS", "normalize", "facts_present", "lang_ok", "length_reason", "value_contradictions", "text_hash",
           "check_rows", "exposures"]

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

def facts_present(text: str, facts: Iterable[dict]) -> list[str]:
    """Keys of the facts whose value the text states (normalised substring match), in fact-table order."""
    norm = normalize(text)
    return [fact["key"] for fact in facts if (value := normalize(str(fact["value"]))) and value in norm]


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


def _values_by_dim(text: str) -> dict[str, set]:
    out: dict[str, set] = {}
    for q in find_quantities(fold(text)):
        if q.dim is not None:
            out.setdefault(q.dim, set()).add(q.value)
    return out


@functools.lru_cache(maxsize=1024)
def _document_quantities(source: str, values: tuple[str, ...]) -> tuple[tuple[tuple[str, ...], ...], dict]:
    """Per fact value, the kinds of quantity it states; and the values of each kind the document or its table
    allow. The same for every row of a document, so computed once per document."""
    dims = tuple(tuple(sorted({q.dim for q in find_quantities(fold(value)) if q.dim is not None})) for value in values)
    return dims, _values_by_dim(source + "\n" + "\n".join(values))


def value_contradictions(text: str, facts: Iterable[dict], source: str) -> list[str]:
    """Keys of the facts whose value the text contradicts: it states a quantity of the kind of a fact's value
    (``1500円`` where the table says ``1200円``) that neither the fact table nor the source document contains.

    A number is only compared when it carries a unit of a fact value's kind: bare numbers have no context to tell
    which fact they would contradict. Values compare after unit conversion (``3500g`` states ``3.5kg``).
    """
    facts = list(facts)
    dims, allowed = _document_quantities(source, tuple(str(fact["value"]) for fact in facts))
    if not any(dims):
        return []
    stated = _values_by_dim(text)
    return [fact["key"] for fact, kinds in zip(facts, dims)
            if any(stated.get(dim, set()) - allowed.get(dim, set()) for dim in kinds)]


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
