"""Seed documents: the paper's 50 fictional documents with their fact tables and 400 questions, rebuilt.

Built documents (``build_seeds``) follow the paper's §3.1 and App. A: five categories (terms, product, procedure,
glossary, company), ``per_category`` documents each, ~125 tokens (≈180–260 characters in Japanese, ≈80–110 words
in English), each with a ``name`` fact, eight attribute facts and eight questions whose gold answers are attribute
values exactly as the text states them. Everything is fictional and invented from parts (``names.py``), so a model
can only know the answers from training on the documents. The same ``seed`` gives byte-identical output.

**Subject rule** (the study report must state it; it changes how badly "no augmentation" does): the subject's full
name appears only in the first sentence; later sentences refer to it with an anaphor (「同製品」「同社」「本サービス」
「本手順」「この用語」 / "the product", "the company", "the service", ...). Questions always name the subject, so a
model must link the name to facts stated sentences away from it.

A user's own file (``read_seed_file``, jsonl or parquet) in the same schema replaces the built set; it is validated
with errors naming the file, the line/row and the field. ``text`` alone is allowed (an LLM backend extracts facts
later; the offline composer needs them given). A question whose answer is absent from the text is a warning.

Columns: ``doc_id, category, lang, text, facts: [{key, value}], questions: [{question, answer, key}]``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from kinject.errors import KinjectUserError
from kinject.pipelines.checks import normalize
from kinject.pipelines.names import NameBook
from kinject.pipelines.seed_templates import (
    ANAPHORS, CLOSINGS, FACT_KEYS, MIN_LENGTH, TEMPLATES, question_template, template_texts, text_length,
)
from kinject.pipelines.seed_values import ValueSampler, pool_values
from kinject.recipes.schema import CATEGORIES, SeedsConfig

__all__ = ["SeedsConfig", "build_seeds", "read_seed_file", "write_seeds", "run_seed", "seed_features", "SEED_FIELDS"]

SEED_FIELDS = ("doc_id", "category", "lang", "text", "facts", "questions")
FACT_FIELDS = ("key", "value")
QUESTION_FIELDS = ("question", "answer", "key")
SUFFIXES = (".jsonl", ".parquet")
LANGS = ("ja", "en")


def seed_features():
    """The ``datasets.Features`` of a seed row (the ``seeds`` config of a corpus repo)."""
    from datasets import Features, List, Value

    string = Value("string")
    return Features({
        "doc_id": string, "category": string, "lang": string, "text": string,
        "facts": List({"key": string, "value": string}),
        "questions": List({"question": string, "answer": string, "key": string}),
    })


# ---------------------------------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------------------------------

_NAME_KIND = {"product": "product", "company": "company", "terms": "service", "procedure": "procedure",
              "glossary": "term"}


def _distinct(values: list[str]) -> bool:
    """No value equals or contains another: a ``match`` judge must not accept one fact's value for another's."""
    return not any(a in b for i, a in enumerate(values) for j, b in enumerate(values) if i != j)


def _build_doc(category: str, index: int, cfg: SeedsConfig, rng: random.Random, names: NameBook,
               values: ValueSampler) -> dict:
    name = getattr(names, _NAME_KIND[category])()
    for _ in range(100):  # resample until this document's values are pairwise distinct (rarely more than twice)
        facts = values.by_category[category]()
        if _distinct([name, *facts.values()]):
            break
    else:
        raise RuntimeError(f"{category}: no pairwise-distinct fact values in 100 draws")
    lang = cfg.lang
    ana = rng.choice(ANAPHORS[lang][category])
    template = rng.choice(TEMPLATES[lang][category])
    closings = rng.sample(CLOSINGS[lang][category], len(CLOSINGS[lang][category]))
    chosen: list[str] = []
    while True:
        text = template.format(name=name, ana=ana, Ana=ana[:1].upper() + ana[1:],
                               closing=("" if lang == "ja" else " ").join(chosen), **facts).strip()
        if text_length(text, lang) >= MIN_LENGTH[lang] or len(chosen) == len(closings):
            break
        chosen.append(closings[len(chosen)])
    keys = list(FACT_KEYS[category])
    if cfg.questions_per_doc < len(keys):
        chosen = set(rng.sample(keys, cfg.questions_per_doc))
        keys = [k for k in keys if k in chosen]
    return {
        "doc_id": f"{category}-{index + 1:03d}",
        "category": category,
        "lang": lang,
        "text": text,
        "facts": [{"key": "name", "value": name}] + [{"key": k, "value": v} for k, v in facts.items()],
        "questions": [
            {"question": question_template(lang, category, k).format(name=name), "answer": facts[k], "key": k}
            for k in keys
        ],
    }


def build_seeds(cfg: SeedsConfig, reserved: Sequence[str] = ()) -> list[dict]:
    """Build ``per_category`` fictional documents per category, deterministically from ``cfg.seed``.

    No invented name equals, contains or hides in a string of ``reserved`` (the teaching world passes the target
    set's texts and values, so the two never share a name).
    """
    rng = random.Random(cfg.seed)  # never the global RNG: the set must not depend on what ran before
    names = NameBook(rng, cfg.lang)
    # No invented name may contain or hide in a pool value or the templates' own words (a name inside 「アカウント」
    # would show up in texts and questions of documents that are not about it).
    for text in (*pool_values(cfg.lang), *template_texts(cfg.lang), *reserved):
        names.reserve(text)
    values = ValueSampler(rng, names, cfg.lang)
    docs = [_build_doc(c, i, cfg, rng, names, values) for c in cfg.categories for i in range(cfg.per_category)]
    _check_answers_private(docs)
    return docs


def _check_answers_private(docs: list[dict]) -> None:
    """Each gold answer is in its own text and in no other document's question (a bug otherwise)."""
    questions = [(d["doc_id"], q["question"]) for d in docs for q in d["questions"]]
    for doc in docs:
        for q in doc["questions"]:
            if q["answer"] not in doc["text"]:
                raise RuntimeError(f"{doc['doc_id']}: answer {q['answer']!r} is not in the text")
            leak = next((i for i, other in questions if i != doc["doc_id"] and q["answer"] in other), None)
            if leak:
                raise RuntimeError(f"{doc['doc_id']}: answer {q['answer']!r} appears in a question of {leak}")


# ---------------------------------------------------------------------------------------------------------------
# reading and validating a user's file
# ---------------------------------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_record(record: Any, fields: tuple[str, ...], where: str, path: str) -> dict:
    if not isinstance(record, dict):
        raise KinjectUserError(f"{where}: {path}: expected an object with {', '.join(fields)}, got {_type_name(record)}")
    unknown = sorted(set(record) - set(fields))
    if unknown:
        raise KinjectUserError(f"{where}: {path}: unknown field {unknown[0]!r} (allowed: {', '.join(fields)})")
    for field in fields:
        label = f"{path}.{field}" if path else field
        if record.get(field) is None:
            raise KinjectUserError(f"{where}: missing field {label!r}")
        if not isinstance(record[field], str):
            raise KinjectUserError(f"{where}: {label}: expected a string, got {_type_name(record[field])}")
        if not record[field].strip():
            raise KinjectUserError(f"{where}: {label}: must not be empty")
    return {field: record[field] for field in fields}


def _check_list(row: dict, field: str, where: str) -> list:
    items = row.get(field)
    if items is None:
        return []
    if not isinstance(items, (list, tuple)):
        raise KinjectUserError(f"{where}: {field}: expected a list, got {_type_name(items)}")
    return list(items)


def _validate_row(row: Any, where: str) -> dict:
    """One row → its canonical form, or a ``KinjectUserError`` naming the file, row and field."""
    if not isinstance(row, dict):
        raise KinjectUserError(f"{where}: expected an object with fields {', '.join(SEED_FIELDS)}, got {_type_name(row)}")
    unknown = sorted(set(row) - set(SEED_FIELDS))
    if unknown:
        raise KinjectUserError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(SEED_FIELDS)})")
    head = _check_record({k: row.get(k) for k in SEED_FIELDS[:4]}, SEED_FIELDS[:4], where, "")
    where = f"{where} (doc_id {head['doc_id']!r})"
    if head["category"] not in CATEGORIES:
        raise KinjectUserError(f"{where}: category: unknown category {head['category']!r} (one of: {', '.join(CATEGORIES)})")
    if head["lang"] not in LANGS:
        raise KinjectUserError(f"{where}: lang: unknown language {head['lang']!r} (one of: {', '.join(LANGS)})")
    facts = [_check_record(f, FACT_FIELDS, where, f"facts[{i}]") for i, f in enumerate(_check_list(row, "facts", where))]
    fact_values: dict[str, str] = {}
    text = normalize(head["text"])
    for i, fact in enumerate(facts):
        if fact["key"] in fact_values:
            raise KinjectUserError(f"{where}: facts[{i}].key: duplicate fact key {fact['key']!r}")
        if normalize(fact["value"]) not in text:
            # The composer states a fact's value as given: a value the document never says would be taught as fact.
            raise KinjectUserError(f"{where}: facts[{i}].value: {fact['value']!r} (fact {fact['key']!r}) does not "
                                   "appear in text; give the value as the document writes it, or drop the fact")
        fact_values[fact["key"]] = fact["value"]
    questions = [_check_record(q, QUESTION_FIELDS, where, f"questions[{i}]")
                 for i, q in enumerate(_check_list(row, "questions", where))]
    for i, q in enumerate(questions):
        if fact_values and q["key"] not in fact_values:
            raise KinjectUserError(f"{where}: questions[{i}].key: {q['key']!r} is not a fact key "
                                   f"(facts: {', '.join(fact_values)})")
        if fact_values and q["answer"] != fact_values[q["key"]]:
            raise KinjectUserError(f"{where}: questions[{i}].answer: {q['answer']!r} differs from the value of fact "
                                   f"{q['key']!r} ({fact_values[q['key']]!r}); a gold answer is a fact value")
        if q["answer"] not in head["text"]:
            warnings.warn(f"{where}: questions[{i}]: answer {q['answer']!r} to {q['question']!r} does not appear in "
                          "the text; a model trained on this document cannot learn it", UserWarning, stacklevel=3)
    return {**head, "facts": facts, "questions": questions}


def _read_rows(path: Path) -> list[tuple[str, Any]]:
    """(location, raw row) pairs; the location is ``line N`` (jsonl) or ``row N`` (parquet), 1-based."""
    if path.suffix == ".jsonl":
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append((f"line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise KinjectUserError(f"{path}: line {n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        return rows
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged or non-parquet file
        raise KinjectUserError(f"{path}: not a readable parquet file ({exc})") from None
    return [(f"row {n}", row) for n, row in enumerate(table.to_pylist(), start=1)]


def read_seed_file(path: str | Path) -> list[dict]:
    """Read and validate a user's seed file (.jsonl or .parquet); rows come back in canonical field order."""
    path = Path(path)
    _check_suffix(path)
    if not path.is_file():
        raise KinjectUserError(f"{path}: seed file not found")
    docs, seen = [], {}
    for where, row in _read_rows(path):
        doc = _validate_row(row, f"{path}: {where}")
        if doc["doc_id"] in seen:
            raise KinjectUserError(f"{path}: {where}: doc_id: duplicate doc_id {doc['doc_id']!r} (first at {seen[doc['doc_id']]})")
        seen[doc["doc_id"]] = where
        docs.append(doc)
    if not docs:
        raise KinjectUserError(f"{path}: no documents (expected one JSON object per line or one row per document)")
    return docs


# ---------------------------------------------------------------------------------------------------------------
# writing and the stage entry point
# ---------------------------------------------------------------------------------------------------------------


def _check_suffix(path: Path) -> None:
    if path.suffix not in SUFFIXES:
        raise KinjectUserError(f"{path}: unsupported file type {path.suffix or '(none)'!r} (use .jsonl or .parquet)")


def write_seeds(docs: list[dict], path: str | Path) -> Path:
    """Write ``docs`` as .jsonl (UTF-8, one row per line, fixed field order) or .parquet, atomically.

    The file is written next to its target and renamed into place, so a failure leaves nothing at ``path``.
    """
    path = Path(path)
    _check_suffix(path)
    rows = [{field: doc.get(field, []) for field in SEED_FIELDS} for doc in docs]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if path.suffix == ".jsonl":
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        else:
            os.close(fd)
            import pyarrow as pa
            import pyarrow.parquet as pq

            # pyarrow directly rather than Dataset.to_parquet: no cache directory and no seconds-long datasets
            # import; the fixed schema holds even for empty lists, and load_dataset infers seed_features() from it.
            string = pa.string()
            schema = pa.schema([
                ("doc_id", string), ("category", string), ("lang", string), ("text", string),
                ("facts", pa.list_(pa.struct([("key", string), ("value", string)]))),
                ("questions", pa.list_(pa.struct([("question", string), ("answer", string), ("key", string)]))),
            ])
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def run_seed(recipe, out: str | Path | None = None, from_file: str | Path | None = None) -> Path:
    """Build the seed documents (or validate ``from_file`` / ``seeds.path``), write them, return the path."""
    cfg: SeedsConfig = recipe.seeds
    target = Path(out) if out is not None else Path(cfg.out)
    _check_suffix(target)  # fail before building anything
    source = from_file if from_file is not None else cfg.path
    docs = read_seed_file(source) if source is not None else build_seeds(cfg)
    write_seeds(docs, target)
    per_category = Counter(d["category"] for d in docs)
    text_only = sum(1 for d in docs if not d["facts"])
    summary = (f"seeds: {len(docs)} documents, {sum(len(d['questions']) for d in docs)} questions ("
               + ", ".join(f"{c} {per_category[c]}" for c in CATEGORIES if per_category[c]) + ")")
    if text_only:
        summary += f"; {text_only} with text only (facts to be extracted by an LLM backend)"
    print(f"{summary} -> {target}", file=sys.stderr)
    return target
