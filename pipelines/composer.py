"""The offline composer: writes each method's synthetic texts from a seed document's structured facts, no network.

What it does, exactly:

1. **Subject.** The document's subject is the topic of its first sentence (the words before ``とは``/``は`` in
   Japanese, before ``is``/``was``/``are`` in English), else the ``doc_id``. Its anaphor is the document's own
   (``同製品``/``同社``/``この…`` at a sentence start, ``It``/``The product`` in English), if it has one.
2. **One pool of surface realizations per fact**, shared by every method: the document's sentence that states
   the value, with the subject mention (name or anaphor) made a slot, or — when the sentence leaves the subject
   implicit — one realization per way of naming it first (``{S}について、`` / ``{S}では、`` …); plus generic
   templates keyed on the fact's key label (``{S}の{K}は{V}である。`` …). Works for any fact keys; nothing is
   specific to our seed documents.
3. **Mentions.** In every text of every method the first subject mention is the full name and later ones use the
   document's anaphor (the full name again when the document has none) — how any coherent text refers back.
4. **Structure, the only thing the methods differ in:**
   - ``none``: the original document, verbatim.
   - ``rephrase`` (a whole document in one of four styles): all facts in document order; ``easy`` one short
     sentence per line under a plain intro, ``medium`` an encyclopedic paragraph joined with connectives, ``hard``
     a terse block under a heading, ``qa`` one question (from the key label) and answer (a realization) per fact.
   - ``fact`` (subsets of facts recombined): the variant's facts, in the variant's order, in a new context frame.
   - ``graph`` (relations between entities): entities are the subject and the fact values; a text names the pair
     or triple, gives the realization of each fact involved and states how the values relate through the subject.
5. **Randomness.** Which realization, connective and frame each text uses is drawn from ``random.Random`` seeded
   with a sha256 of (seed, doc_id, method, sample): the same inputs give byte-identical texts.

It never paraphrases words, invents values or drops a value it was asked to state, so every fact exposure in its
output is exact; it must not be tuned to make one method win (change the shared pool, never one method's share).
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from kinject.text import JAPANESE_CHAR, lang_of, normalize

SLOT = "\ue000"  # a private-use character marks where the subject goes (texts may contain any brace)

# Sentences and the topic are found by regex, not by a library. pysbd was measured on the seed documents: the same
# sentences for all 50 Japanese ones, but on 14 of 50 English ones it reads a unit before a full stop ("1730 W.")
# as an abbreviation and merges two sentences. The topic (the words before the first は/とは, or before is/was) is
# only a fallback after the fact table's ``name``; a morphological analyser (fugashi and a MeCab dictionary) would
# be a heavy dependency for that one phrase.
_SENTENCE = {"ja": re.compile(r"[^。！？\n]+[。！？]?"), "en": re.compile(r"[^\n]+?(?:[.!?](?=\s|$)|$)", re.M)}
_JA_TOPIC = re.compile(r"^[「『]?(.{2,40}?)[」』]?(?:とは|は)")
_EN_TOPIC = re.compile(r"^(.{2,60}?)\s+(?:is|was|are|were)\b")
_JA_ANAPHOR = re.compile(r"(?:^|、)((?:同|この|当|本)[\u4e00-\u9fff\u30a0-\u30ff]{1,5}?)(?=は|の|が|を|に|で|と|も)")
_EN_ANAPHOR = re.compile(r"(?:^|\b(?=[Tt]h(?:e|is) (?:product|company|term|procedure|service)\b))((?:[Tt]he|[Tt]his) [a-z]+)\b")

TEMPLATES = {
    "ja": [
        f"{SLOT}の{{K}}は{{V}}である。",
        f"{SLOT}の{{K}}は{{V}}です。",
        f"{SLOT}における{{K}}は{{V}}となっている。",
        f"{{V}}というのが、{SLOT}の{{K}}だ。",
    ],
    "en": [
        f"The {{K}} of {SLOT} is {{V}}.",
        f"For {SLOT}, the {{K}} is {{V}}.",
        f"{{V}} is the {{K}} of {SLOT}.",
        f"As for {SLOT}, its {{K}} is {{V}}.",
    ],
}
# Ways to name the subject before a sentence that leaves it implicit; each is a realization of its own.
IMPLICIT_SUBJECT = {
    "ja": [f"{SLOT}について、", f"{SLOT}では、", f"{SLOT}に関して言えば、"],
    "en": [f"Regarding {SLOT}, ", f"As for {SLOT}, ", f"In the case of {SLOT}, "],
}

# (intros, joiner) per style; the intro is drawn per text, a list joiner is a connective drawn per sentence.
REPHRASE_FRAMES = {
    "ja": {
        "easy": ([f"{SLOT}について、かんたんに説明します。", f"{SLOT}のことを、やさしく説明します。",
                  f"{SLOT}とはどんなものか、短くまとめます。"], "\n"),
        "medium": ([""], ["また、", "さらに、", "なお、", ""]),
        "hard": ([f"【{SLOT}】", f"【{SLOT}の概要】", f"［{SLOT}・要旨］"], ""),
        "qa": ([""], "\n"),
    },
    "en": {
        "easy": ([f"Here is a simple explanation of {SLOT}.", f"Let us explain {SLOT} in plain words.",
                  f"What is {SLOT}? A short, simple answer."], "\n"),
        "medium": ([""], ["Also, ", "In addition, ", "Moreover, ", ""]),
        "hard": ([f"{SLOT}: summary.", f"{SLOT}: overview.", f"{SLOT}: key facts."], " "),
        "qa": ([""], "\n"),
    },
}
QUESTIONS = {
    "ja": [f"Q：{SLOT}の{{K}}は何ですか？\nA：", f"Q：{SLOT}の{{K}}を教えてください。\nA："],
    "en": [f"Q: What is the {{K}} of {SLOT}?\nA: ", f"Q: Tell me the {{K}} of {SLOT}.\nA: "],
}
GENERIC_QUESTION = {"ja": f"Q：{SLOT}について教えてください。\nA：", "en": f"Q: What else is known about {SLOT}?\nA: "}
FACT_FRAMES = {
    "ja": [f"{SLOT}に関するメモ。", "社内報より。", "講義ノートから抜粋。", "よくある質問への回答として。", ""],
    "en": [f"Notes on {SLOT}.", "From a newsletter.", "An excerpt from lecture notes.", "In answer to a question.", ""],
}
GRAPH_INTROS = {
    "ja": ["{E}の関係について。", "{E}はどう結びついているか。"],
    "en": ["On the relation between {E}.", "How {E} are connected."],
}
GRAPH_LINKS = {
    "ja": [f"つまり、{{V}}はいずれも{SLOT}についての事実である。", f"{{V}}は、{SLOT}を通じて結びついている。"],
    "en": [f"So {{V}} are all facts about {SLOT}.", f"{{V}} are linked through {SLOT}."],
}
_AND = {"ja": "と", "en": " and "}


@dataclass(frozen=True)
class Node:
    """A graph entity for the composer: the subject (``key`` None) or a fact value with its key."""

    name: str
    key: str | None = None


def rng_for(seed: int, doc_id: str, method: str, sample: int) -> random.Random:
    """The composer's random stream for one text: a sha256 of its coordinates, never Python's salted hash()."""
    digest = hashlib.sha256(f"{seed}\x1f{doc_id}\x1f{method}\x1f{sample}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def doc_of(row: dict) -> dict:
    """The seed document a planned row carries (``document`` is the seed's ``text``)."""
    return {"doc_id": row["doc_id"], "lang": row["lang"], "text": row["document"], "facts": row.get("facts") or []}


def _memo(fn):
    """Cache per document content: a step composes hundreds of texts from one document."""
    cache: dict = {}

    def wrapper(doc: dict):
        key = (doc["doc_id"], doc.get("lang"), doc["text"],
               tuple((f["key"], str(f["value"])) for f in doc.get("facts") or []))
        if key not in cache:
            cache[key] = fn(doc)
        return cache[key]

    wrapper.__doc__ = fn.__doc__
    return wrapper


@_memo
def sentences(doc: dict) -> list[str]:
    return [s.strip() for s in _SENTENCE[lang_of(doc)].findall(doc["text"]) if s.strip()]


_NAME_KEYS = {"name", "名称", "名前", "正式名称"}


@_memo
def subject(doc: dict) -> tuple[str, str | None]:
    """(full name, the document's anaphor or None): the ``name`` fact if any, else the first sentence's topic."""
    sents = sentences(doc)
    lang = lang_of(doc)
    named = [str(f["value"]) for f in doc.get("facts") or [] if str(f["key"]).strip().casefold() in _NAME_KEYS]
    found = (_JA_TOPIC if lang == "ja" else _EN_TOPIC).match(sents[0]) if sents else None
    name = named[0] if named else found.group(1).strip() if found else doc["doc_id"]
    pattern = _JA_ANAPHOR if lang == "ja" else _EN_ANAPHOR
    text = doc["text"] if lang == "ja" else doc["text"].casefold()
    start = max(text.find(name if lang == "ja" else name.casefold()), 0)
    counts: dict[str, int] = {}
    for sent in sents[1:]:
        for hit in pattern.finditer(sent):
            mention = hit.group(1) if lang == "ja" else hit.group(1).lower()
            noun = mention[1:] if mention[0] in "同本当" else mention[2:] if lang == "ja" else mention.split()[-1]
            # An anaphor refers back: it cannot occur before the name (本規約 is another thing), and its noun names
            # the subject's kind after the name, outside the anaphor itself (… 製品です … 同製品; not 本体).
            if text.find(mention) >= start and noun in text[start:].replace(mention, ""):
                counts[mention] = counts.get(mention, 0) + 1
    rank = {"同": 0, "こ": 1, "本": 2, "当": 3}
    anaphor = min(counts, key=lambda m: (rank.get(m[0], 0), -counts[m])) if counts else None
    return name, anaphor


def attribute_keys(doc: dict) -> list[str]:
    """Keys of the facts other than the subject's name (the name is stated by every text's first mention)."""
    name = normalize(subject(doc)[0])
    return [f["key"] for f in doc.get("facts") or [] if normalize(str(f["value"])) != name]


def _values(doc: dict) -> dict[str, str]:
    return {f["key"]: normalize(str(f["value"])) for f in doc.get("facts") or []}


def _label(key: str, sents: list[str], value: str, mentions: list[str], lang: str) -> str | None:
    """A readable label for the key: English keys read as words; for Japanese, the words the document puts
    before the value (``消費電力は5W`` -> 消費電力), else the key itself if it is Japanese."""
    if lang == "en":
        return key.replace("_", " ")
    for sent in sents:
        # the label is the phrase right before ``は``/``が``/``を`` and the value (``作業中は設定温度を55℃に`` ->
        # 設定温度); the value must end its phrase (``…は15Wに``, not ``…はカタテンT7の後継``) for the label to name it
        if hit := re.search(r"(?:^|[、。]|は)([^、。はが]{1,15}?)(?:は|が|を)、?" + re.escape(value)
                            + r"(?=[、。（(]|です|である|で|に|と|を|まで|$)", sent):
            label = hit.group(1)
            for mention in mentions:
                label = re.sub("^" + re.escape(mention) + "(?:の|は|が)?", "", label)
            if 0 < len(label) <= 10 and JAPANESE_CHAR.search(label):
                return label
    return key if JAPANESE_CHAR.search(key) else None


@_memo
def labels(doc: dict) -> dict[str, str | None]:
    """Readable label per fact key (see ``_label``), None when the document offers none."""
    mentions = [m for m in subject(doc) if m]
    return {f["key"]: _label(f["key"], sentences(doc), str(f["value"]), mentions, lang_of(doc))
            for f in doc.get("facts") or []}


@_memo
def realizations(doc: dict) -> dict[str, list[str]]:
    """The shared pool: fact key -> sentences with the subject as ``SLOT``.

    The document's sentences that state the value (a sentence stating several values serves each of them), then
    the templates filled with the key's label; a fact with neither gets the templates with its raw key.
    """
    lang = lang_of(doc)
    name, anaphor = subject(doc)
    mentions = [m for m in (name, anaphor) if m]
    pool: dict[str, list[str]] = {}
    for fact in doc.get("facts") or []:
        value = str(fact["value"])
        own = [form for s in sentences(doc) if normalize(value) in normalize(s)
               for form in _slot_subject(s, mentions, lang)]
        label = labels(doc)[fact["key"]]
        if label is None and not own:
            label = fact["key"]
        generic = [] if label is None else [t.replace("{K}", label).replace("{V}", value) for t in TEMPLATES[lang]]
        generic = [g[0].upper() + g[1:] if lang == "en" else g for g in generic]  # "{V} is the …" may start low
        pool[fact["key"]] = own + generic
    return pool


def _slot_subject(sentence: str, mentions: list[str], lang: str) -> list[str]:
    """Make the sentence's reference to the subject a slot: its anaphor (the full name stays as written), or, when
    it leaves the subject implicit, one realization per way of naming the subject first."""
    name, anaphor = mentions[0], (mentions[1] if len(mentions) > 1 else None)
    slotted = sentence
    if anaphor:
        slotted = slotted.replace(anaphor, SLOT)
        if lang == "en":
            slotted = slotted.replace(anaphor[0].upper() + anaphor[1:], SLOT)
    if lang == "en":
        slotted = re.sub(r"^It\b", SLOT, slotted)
    if SLOT in slotted or name in slotted:
        return [slotted]
    if lang == "en":
        sentence = sentence[0].lower() + sentence[1:]
    return [form + sentence for form in IMPLICIT_SUBJECT[lang]]


def render(parts: list[str], doc: dict) -> str:
    """Join parts and fill subject slots: the full name first, the document's anaphor (or "it") after."""
    name, anaphor = subject(doc)
    lang = lang_of(doc)
    later = anaphor or ("it" if lang == "en" else name)
    pieces = "".join(parts).split(SLOT)
    out = pieces[0]
    for i, piece in enumerate(pieces[1:]):
        mention = name if i == 0 else later
        if lang == "en":
            before = out.rstrip(" ")
            at_start = not before or before[-1] in "\n.!?:"
            if re.match(r"(it|the|this)\b", mention, re.I):
                mention = (mention[0].upper() if at_start else mention[0].lower()) + mention[1:]
        out += mention + piece
    return out.strip()


def _state(doc: dict, keys: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """(key, realization) for each key in order, skipping a fact an earlier realization already stated."""
    pool, values = realizations(doc), _values(doc)
    out: list[tuple[str, str]] = []
    stated = ""
    for key in keys:
        if values[key] and values[key] in normalize(stated):
            continue
        sentence = rng.choice(pool[key])
        out.append((key, sentence))
        stated += sentence
    return out


def _fact_order(doc: dict) -> list[str]:
    norm = normalize(doc["text"])
    values = _values(doc)
    keys = attribute_keys(doc)
    return sorted(keys, key=lambda k: (norm.find(values[k]) < 0, norm.find(values[k]), keys.index(k)))


def _sep(lang: str) -> str:
    return "" if lang == "ja" else " "


def _lower_first(sentence: str) -> str:
    return sentence if sentence.startswith(SLOT) else sentence[0].lower() + sentence[1:]


def compose_rephrase(doc: dict, style: str, rng: random.Random) -> str:
    """The whole document (every fact, document order) in ``style``: easy, medium, hard or qa."""
    lang = lang_of(doc)
    names = labels(doc)
    intros, joiner = REPHRASE_FRAMES[lang][style]
    intro = rng.choice(intros)
    parts = []
    for i, (key, sentence) in enumerate(_state(doc, _fact_order(doc), rng)):
        if style == "qa":
            question = rng.choice(QUESTIONS[lang]) if names[key] else GENERIC_QUESTION[lang]
            sentence = question.replace("{K}", names[key] or "") + sentence
        if isinstance(joiner, list):  # medium: a connective before every sentence but the first
            connective = rng.choice(joiner) if i else ""
            if connective and lang == "en":
                sentence = _lower_first(sentence)
            parts.append((_sep(lang) if i else "") + connective + sentence)
        else:
            parts.append((joiner if i else "") + sentence)
    head = [intro, "\n" if style in ("easy", "hard") else _sep(lang)] if intro else []
    return render(head + parts, doc)


def compose_facts(doc: dict, keys: list[str], rng: random.Random) -> str:
    """The given facts, in the given order, in a new context frame."""
    lang = lang_of(doc)
    frame = rng.choice(FACT_FRAMES[lang])
    body = _sep(lang).join(sentence for _, sentence in _state(doc, keys, rng))
    return render([frame, "\n" if frame else "", body], doc)


def nodes(doc: dict, max_entities: int) -> list[Node]:
    """The composer's entities: the subject, then each distinct attribute value (capped at ``max_entities``)."""
    name, _ = subject(doc)
    values = {f["key"]: str(f["value"]) for f in doc.get("facts") or []}
    out, seen = [Node(name)], {normalize(name)}
    for key in attribute_keys(doc):
        if (norm := normalize(values[key])) not in seen:
            seen.add(norm)
            out.append(Node(values[key], key))
    return out[:max_entities]


def compose_relation(doc: dict, group: list[Node], rng: random.Random) -> str:
    """A text about how the entities of a pair or triple relate, through the facts that link them."""
    lang = lang_of(doc)
    names = [SLOT if node.key is None else node.name for node in group]
    intro = rng.choice(GRAPH_INTROS[lang]).replace("{E}", _join(names, lang))
    body = [sentence for _, sentence in _state(doc, [n.key for n in group if n.key is not None], rng)]
    values = [node.name for node in group if node.key is not None]
    link = [rng.choice(GRAPH_LINKS[lang]).replace("{V}", _join(values, lang))] if len(values) > 1 else []
    link = [sentence[0].upper() + sentence[1:] for sentence in link]  # a value may start lower-case
    return render([intro, "\n", _sep(lang).join(body + link)], doc)


def _join(names: list[str], lang: str) -> str:
    if lang == "en" and len(names) > 2:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return _AND[lang].join(names)
