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
8. **Numeric golds** (the gold is only quantities, e.g. ``1.2kg``, ``2019年4月``, ``3,500円``, ``約120人``,
   ``$18 million``): numbers with units are parsed from both sides by ``kinject.text.find_quantities`` — Arabic
   and kanji numerals (``二〇一九``, ``三千五百``, ``1万2000``, ``1.2億``), ``thousand/million/billion`` (and
   ``k/m/bn`` next to a currency: ``$18M``), units written out (``kg``/``キログラム``/``kilograms``, ``W``/``ワット``/
   ``watts``, ``円``/``yen``/``¥``, ``ドル``/``米ドル``/``dollars``/``$``, ``%``/``パーセント``/``percent``,
   ``年``/``years``, ``人``/``名``/``employees``, ``倍``/``times`` …; unknown Japanese counters compare literally)
   and converted within a dimension where that is exact (``1200g`` = ``1.2kg``, ``0.5kW`` = ``500W``,
   ``18 million dollars`` = ``$18 million``). Values compare exactly (``Decimal``). ``number_match``: every
   gold quantity appears and no other value of a compared kind does; a number without a unit matches any unit
   (the question asked for it). ``wrong_number``: a different value (``112kg`` or ``1.2kg`` for ``12kg``);
   ``missing``: no number at all. Numbers glued to letters (``X200``, ``v1.2``) are identifiers, not values.
9. **Other golds** (names, places, features, codes): the gold must occur in the answer as a whole token —
   spaces, ``-``, ``・`` inside it may differ, but it may not be extended by a neighbouring letter or digit, or by
   a katakana/kanji when its own edge is one (「東京」 in 「東京都」, "Sora" in "Soraya", ``X-200`` in ``X-2000`` are
   ``partial_token``). When it does not occur as written, kanji numerals are read as digits on both sides and
   it is looked for again (「三十日前までです」 for ``30日前``). ``string_match`` or ``missing``.

Not handled (judged wrong): numbers written as English words, month names, paraphrases and synonyms — use the
``llm`` judge for those.
"""

from __future__ import annotations

import re

from kinject.text import Quantity, find_quantities, script, with_arabic_numerals
from kinject.text import fold as normalize  # rule 2: the form every rule reads

NAME = "match-v2"  # recorded in every verdict's `judge` column; bump when a rule changes
MAX_ANSWER_CHARS = 200

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


def cut_answer(answer: str) -> str:
    """The part of a normalised continuation that answers the question (rule 1)."""
    text = _LEADING_PREFIX.sub("", answer.lstrip())
    match = _CUT.search(text)
    return text[: match.start()] if match else text


def compact(text: str) -> str:
    return "".join(c for c in text if c not in _SEP_CHARS).strip(_PUNCT_EDGES + _SEP_CHARS)


# ---------------------------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------------------------


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
    return compact(rest).strip(_PUNCT_EDGES + _SEP_CHARS + "~～-") == ""


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
    kind = script(edge)
    return kind in ("latin", "katakana", "kanji") and script(neighbour) == kind and neighbour not in "氏様"


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
    gold_c, answer_c = compact(gold_n), compact(answer_n)
    if not answer_c:
        return False, "empty"
    if not gold_c:
        raise ValueError("gold answer is empty")  # judge_file rejects this before judging
    if answer_c == gold_c:
        return True, "exact"
    if len(answer_n) > MAX_ANSWER_CHARS:
        return False, "too_long"
    spans, partial = _gold_spans(gold_c, answer_n)
    arabic, arabic_gold = with_arabic_numerals(answer_n), compact(with_arabic_numerals(gold_n))
    if not spans and (arabic, arabic_gold) != (answer_n, gold_c):
        # 「三十日前までです」 answers 「30日前」: read kanji numerals as digits on both sides and look again
        if (found := _gold_spans(arabic_gold, arabic))[0]:
            answer_n, gold_c, (spans, partial) = arabic, arabic_gold, found
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
    ``judge`` (``match-v2``).
    """

    name = NAME

    def judge(self, rows: list[dict]) -> list[dict]:
        out = []
        for row in rows:
            verdict, reason = judge_answer(row["gold"], row.get("answer"))
            out.append({**row, "verdict": verdict, "reason": reason, "judge": self.name})
        return out
