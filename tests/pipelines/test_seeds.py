"""Seed documents: counts, gold answers in the text, invented unique names, determinism, plausibility, IO, CLI."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

from kinject.errors import KinjectUserError
from kinject.pipelines.seeds import build_seeds, read_seed_file, run_seed, write_seeds
from kinject.recipes.schema import CATEGORIES, SeedsConfig, load_recipe

REPO = Path(__file__).resolve().parents[2]
CPU_RECIPE = REPO / "recipes" / "cpu.yaml"

# Real companies and brands an LLM knows; an invented name must neither be nor contain one of these.
REAL_NAMES = [
    "Sony", "Canon", "Nikon", "Toyota", "Honda", "Hitachi", "Toshiba", "Panasonic", "Fujitsu", "Kirin", "Sega",
    "Konami", "Makita", "Kubota", "Terumo", "Rakuten", "Denon", "Casio", "Ricoh", "Seiko", "Nintendo", "Daikin",
    "Apple", "Google", "Tesla", "Nokia", "Samsung", "Siemens", "Bosch", "Lego", "Ikea",
    "ソニー", "キヤノン", "ニコン", "トヨタ", "ホンダ", "キリン", "セガ", "コナミ", "マキタ", "クボタ", "テルモ", "カシオ",
    "リコー", "セイコー", "ダイキン", "パナソニック",
]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
NUMBER = re.compile(r"[\d,]+(?:\.\d+)?")


@pytest.fixture(scope="module")
def ja_docs() -> list[dict]:
    return build_seeds(SeedsConfig())


@pytest.fixture(scope="module")
def en_docs() -> list[dict]:
    return build_seeds(SeedsConfig(lang="en"))


def _facts(doc: dict) -> dict[str, str]:
    return {f["key"]: f["value"] for f in doc["facts"]}


def _num(value: str) -> float:
    return float(NUMBER.search(value.replace("one ", "1 ")).group().replace(",", ""))


# ---------------------------------------------------------------------------------------------------------------
# built documents
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_counts_fifty_documents_four_hundred_questions(lang, ja_docs, en_docs):
    docs = ja_docs if lang == "ja" else en_docs
    assert len(docs) == 50
    assert sum(len(d["questions"]) for d in docs) == 400
    assert {c: sum(d["category"] == c for d in docs) for c in CATEGORIES} == {c: 10 for c in CATEGORIES}
    assert len({d["doc_id"] for d in docs}) == 50
    for doc in docs:
        assert doc["lang"] == lang and list(doc) == ["doc_id", "category", "lang", "text", "facts", "questions"]
        keys = [f["key"] for f in doc["facts"]]
        assert keys[0] == "name" and len(keys) >= 9 and len(set(keys)) == len(keys)
        assert len(doc["questions"]) == 8
        assert "name" not in {q["key"] for q in doc["questions"]}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_gold_answers_are_fact_values_verbatim_in_text(lang, ja_docs, en_docs):
    for doc in ja_docs if lang == "ja" else en_docs:
        facts = _facts(doc)
        for q in doc["questions"]:
            assert q["answer"] == facts[q["key"]]
            assert q["answer"] in doc["text"], (doc["doc_id"], q)
            assert facts["name"] in q["question"], "each question must name its subject"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_subject_named_once_in_first_sentence_then_anaphor(lang, ja_docs, en_docs):
    first_end = re.compile(r"。" if lang == "ja" else r"(?<!Inc)\. ")
    anaphors = ["同製品", "本製品", "同社", "本サービス", "同サービス", "本手順", "この手順", "この用語", "同用語"] if lang == "ja" \
        else ["the product", "this product", "the company", "the service", "the procedure", "the term"]
    for doc in ja_docs if lang == "ja" else en_docs:
        name, text = _facts(doc)["name"], doc["text"]
        assert text.count(name) == 1, doc["doc_id"]
        assert text.index(name) < first_end.search(text).start(), doc["doc_id"]
        assert any(a in text.lower() or a in text for a in anaphors), doc["doc_id"]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_answers_distinct_within_and_private_across_documents(lang, ja_docs, en_docs):
    docs = ja_docs if lang == "ja" else en_docs
    for doc in docs:
        values = [f["value"] for f in doc["facts"]]
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                assert i == j or a not in b, (doc["doc_id"], a, b)
    for doc in docs:
        others = [q["question"] for d in docs if d is not doc for q in d["questions"]]
        for q in doc["questions"]:
            assert not any(q["answer"] in other for other in others), (doc["doc_id"], q["answer"])


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_names_unique_invented_and_not_real(lang, ja_docs, en_docs):
    docs = ja_docs if lang == "ja" else en_docs
    invented = [_facts(d)[k] for d in docs for k in ("name", "previous_product", "provider", "related_term", "ceo")
                if k in _facts(d)]
    lowered = [n.lower() for n in invented]
    assert len(set(lowered)) == len(lowered)
    for i, a in enumerate(lowered):
        assert not any(i != j and a in b for j, b in enumerate(lowered)), a
        assert not any(real.lower() in a for real in REAL_NAMES), a
    # Built from syllables: every English base word splits into consonant-vowel syllables (plus an optional n).
    if lang == "en":
        for doc in docs:
            base = _facts(doc)["name"].split()[0].lower()
            assert re.fullmatch(r"(?:[bdfghkmnrstvz][aeiou]n?)+", base), base


def test_same_seed_byte_identical_other_seed_different(tmp_path):
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    write_seeds(build_seeds(SeedsConfig(seed=7)), a)
    write_seeds(build_seeds(SeedsConfig(seed=7)), b)
    other = build_seeds(SeedsConfig(seed=8))
    write_seeds(other, c)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    names_a = {_facts(d)["name"] for d in read_seed_file(a)}
    assert len(names_a & {_facts(d)["name"] for d in other}) <= 2  # a different set, not a reshuffle


def test_english_variant_is_english_and_japanese_is_japanese(ja_docs, en_docs):
    for doc in en_docs:
        assert not JAPANESE.search(doc["text"]) and not any(JAPANESE.search(q["question"]) for q in doc["questions"])
    for doc in ja_docs:
        assert len(JAPANESE.findall(doc["text"])) > 0.6 * len(doc["text"])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_numeric_values_plausible_for_their_unit(lang, seed):
    ranges = {  # key: (unit suffix the value must carry, low, high)
        "release_year": ("年" if lang == "ja" else "", 1950, 2024), "founded_year": ("年" if lang == "ja" else "", 1950, 2024),
        "introduced_year": ("年" if lang == "ja" else "", 1950, 2024),
        "weight": ("kg", 0.1, 50), "power": ("W", 5, 2000), "speed_ratio": ("倍" if lang == "ja" else "times", 1.1, 5),
        "employees": ("名" if lang == "ja" else "employees", 10, 50_000), "offices": ("か所" if lang == "ja" else "offices", 2, 60),
        "minimum_age": ("歳" if lang == "ja" else "years", 12, 20), "max_devices": ("台" if lang == "ja" else "devices", 1, 10),
        "monthly_fee": ("円", 100, 10_000) if lang == "ja" else ("", 1, 50),
        "duration": ("分" if lang == "ja" else "minutes", 5, 240), "workers": ("名" if lang == "ja" else "worker", 1, 6),
        "temperature": ("℃" if lang == "ja" else "°C", 20, 95), "participants": ("名" if lang == "ja" else "people", 3, 50),
        "cancellation_notice": ("日前" if lang == "ja" else "days", 1, 90), "refund_period": ("日以内" if lang == "ja" else "days", 1, 30),
        "data_retention": ("日間" if lang == "ja" else "days", 30, 730),
    }
    for doc in build_seeds(SeedsConfig(lang=lang, seed=seed)):
        facts = _facts(doc)
        for key, (unit, low, high) in ranges.items():
            if key in facts:
                assert facts[key].endswith(unit) or unit in facts[key], (key, facts[key])
                assert low <= _num(facts[key]) <= high, (doc["doc_id"], key, facts[key])
        if doc["category"] == "company":
            unit = "億円" if lang == "ja" else " million"
            revenue, profit = _num(facts["revenue"]), _num(facts["ordinary_profit"])
            assert facts["revenue"].endswith(unit) and facts["ordinary_profit"].endswith(unit)
            assert 0 < profit < revenue <= 50_000
            # Revenue per employee stays in a believable band (億円 or million USD per person).
            assert 0.05 <= revenue / _num(facts["employees"]) <= 1.0, facts
        if doc["category"] == "terms" and lang == "ja":
            assert re.fullmatch(r"20(1[5-9]|2[0-4])年([1-9]|1[0-2])月([1-9]|[12]\d)日", facts["effective_date"])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_length_about_125_tokens(lang, seed):
    # ~125 tokens: 180-260 characters of Japanese, 80-110 English words.
    low, high = (180, 260) if lang == "ja" else (80, 110)
    for doc in build_seeds(SeedsConfig(lang=lang, seed=seed)):
        size = len(doc["text"]) if lang == "ja" else len(doc["text"].split())
        assert low <= size <= high, (doc["doc_id"], size)


def _first_sentence_shapes(docs: list[dict], category: str) -> set[str]:
    shapes = set()
    for doc in (d for d in docs if d["category"] == category):
        text = doc["text"]
        for fact in sorted(doc["facts"], key=lambda f: -len(f["value"])):
            text = text.replace(fact["value"], "{" + fact["key"] + "}")
        shapes.add(re.split(r"。|(?<!Inc)\. ", text)[0])
    return shapes


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_several_surface_forms_per_category(lang, ja_docs, en_docs):
    wide = build_seeds(SeedsConfig(lang=lang, per_category=30))
    for category in CATEGORIES:
        assert len(_first_sentence_shapes(ja_docs if lang == "ja" else en_docs, category)) >= 2, category
        assert len(_first_sentence_shapes(wide, category)) >= 3, category


def test_fewer_questions_and_categories_from_config():
    docs = build_seeds(SeedsConfig(per_category=3, categories=["company", "glossary"], questions_per_doc=3, seed=4))
    assert [d["doc_id"] for d in docs] == [f"{c}-00{i}" for c in ("company", "glossary") for i in (1, 2, 3)]
    assert all(len(d["questions"]) == 3 and len(d["facts"]) == 9 for d in docs)


# ---------------------------------------------------------------------------------------------------------------
# files: writing, reading, validating
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_write_read_round_trip(tmp_path, suffix, ja_docs):
    path = write_seeds(ja_docs, tmp_path / "deep" / f"seeds{suffix}")
    assert read_seed_file(path) == ja_docs
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_jsonl_is_utf8_one_row_per_line(tmp_path, ja_docs):
    path = write_seeds(ja_docs, tmp_path / "s.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 50 and "製品" in path.read_text(encoding="utf-8")  # ensure_ascii=False
    assert json.loads(lines[0])["doc_id"] == ja_docs[0]["doc_id"]


def test_unsupported_suffix_is_a_user_error_and_writes_nothing(tmp_path, ja_docs):
    with pytest.raises(KinjectUserError, match=r"seeds\.csv.*\.jsonl or \.parquet"):
        write_seeds(ja_docs, tmp_path / "seeds.csv")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path, ja_docs):
    broken = [dict(ja_docs[0], text=12345)]  # not a string: pyarrow refuses it mid-write
    with pytest.raises(Exception):
        write_seeds(broken, tmp_path / "seeds.parquet")
    assert list(tmp_path.iterdir()) == []


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


GOOD = {"doc_id": "d1", "category": "product", "lang": "ja", "text": "ルミナX7は2019年に発売された。",
        "facts": [{"key": "name", "value": "ルミナX7"}, {"key": "release_year", "value": "2019年"}],
        "questions": [{"question": "ルミナX7は何年に発売されましたか？", "answer": "2019年", "key": "release_year"}]}


@pytest.mark.parametrize(
    "second_row, expected",
    [
        ({k: v for k, v in GOOD.items() if k != "text"} | {"doc_id": "d2"}, r"line 2: missing field 'text'"),
        (GOOD, r"line 2: doc_id: duplicate doc_id 'd1' \(first at line 1\)"),
        (GOOD | {"doc_id": "d2", "text": 5}, r"line 2: text: expected a string, got int"),
        (GOOD | {"doc_id": "d2", "category": "recipes"}, r"line 2 \(doc_id 'd2'\): category: unknown category 'recipes'"),
        (GOOD | {"doc_id": "d2", "lang": "fr"}, r"line 2 \(doc_id 'd2'\): lang: unknown language 'fr'"),
        (GOOD | {"doc_id": "d2", "txt": "x"}, r"line 2: unknown field 'txt'"),
        (GOOD | {"doc_id": "d2", "facts": {"name": "x"}}, r"line 2 \(doc_id 'd2'\): facts: expected a list, got dict"),
        (GOOD | {"doc_id": "d2", "facts": [{"key": "name"}]}, r"missing field 'facts\[0\]\.value'"),
        (GOOD | {"doc_id": "d2", "facts": GOOD["facts"] * 2}, r"facts\[2\]\.key: duplicate fact key 'name'"),
        (GOOD | {"doc_id": "d2", "questions": [GOOD["questions"][0] | {"key": "weight"}]},
         r"questions\[0\]\.key: 'weight' is not a fact key"),
        (GOOD | {"doc_id": "d2", "questions": [GOOD["questions"][0] | {"answer": "2019"}]},
         r"questions\[0\]\.answer: '2019' differs from the value of fact 'release_year'"),
        ('{"doc_id": "d2", ', r"line 2: not valid JSON"),
        ([1, 2], r"line 2: expected an object"),
    ],
    ids=["missing-text", "duplicate-id", "wrong-type", "category", "lang", "unknown-field", "facts-type",
         "fact-field", "duplicate-fact", "question-key", "answer-not-fact", "bad-json", "not-object"],
)
def test_bad_seed_file_names_file_row_and_field(tmp_path, second_row, expected):
    path = _write_jsonl(tmp_path / "seeds.jsonl", [GOOD, second_row])
    with pytest.raises(KinjectUserError, match=re.escape(str(path)) + ": " + expected if expected.startswith("line")
                       else expected) as info:
        read_seed_file(path)
    assert str(path) in str(info.value)


def test_missing_empty_and_bad_parquet_files(tmp_path):
    with pytest.raises(KinjectUserError, match="seed file not found"):
        read_seed_file(tmp_path / "nope.jsonl")
    with pytest.raises(KinjectUserError, match="no documents"):
        read_seed_file(_write_jsonl(tmp_path / "empty.jsonl", []))
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(KinjectUserError, match=r"junk\.parquet: not a readable parquet file"):
        read_seed_file(tmp_path / "junk.parquet")


def test_text_only_documents_are_accepted(tmp_path, capsys):
    path = _write_jsonl(tmp_path / "user.jsonl", [{"doc_id": "u1", "category": "terms", "lang": "en", "text": "Terms."}])
    assert read_seed_file(path) == [{"doc_id": "u1", "category": "terms", "lang": "en", "text": "Terms.",
                                     "facts": [], "questions": []}]
    out = run_seed(load_recipe(CPU_RECIPE), out=tmp_path / "o.parquet", from_file=path)
    assert read_seed_file(out)[0]["facts"] == []
    assert "1 with text only" in capsys.readouterr().err


def test_fact_value_absent_from_text_is_refused_with_file_line_and_field(tmp_path):
    # The composer would state "2019年" as a fact of this document, which never says it.
    row = GOOD | {"doc_id": "d2", "text": "ルミナX7は新しい製品です。", "questions": []}
    path = _write_jsonl(tmp_path / "seeds.jsonl", [GOOD, row])
    with pytest.raises(KinjectUserError, match=r"seeds\.jsonl: line 2 \(doc_id 'd2'\): facts\[1\]\.value: '2019年' "
                                               r"\(fact 'release_year'\) does not appear in text"):
        read_seed_file(path)
    # the same value written with full-width digits is the same value
    assert read_seed_file(_write_jsonl(tmp_path / "wide.jsonl", [GOOD | {"text": "ルミナX7は２０１９年に発売。"}]))


def test_answer_absent_from_text_is_a_warning_naming_doc_and_question(tmp_path):
    # Only a text-only document (no fact table) can have a gold answer its text does not state.
    row = GOOD | {"questions": [GOOD["questions"][0]], "text": "ルミナX7は新しい製品です。", "facts": []}
    path = _write_jsonl(tmp_path / "seeds.jsonl", [row])
    with pytest.warns(UserWarning, match=r"doc_id 'd1'.*questions\[0\].*'2019年'.*does not appear in the text"):
        docs = read_seed_file(path)
    assert len(docs) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_seed_file(_write_jsonl(tmp_path / "ok.jsonl", [GOOD]))  # present answer: no warning


# ---------------------------------------------------------------------------------------------------------------
# stage entry point and CLI
# ---------------------------------------------------------------------------------------------------------------


def test_run_seed_writes_recipe_default_and_prints_summary(tmp_path, capsys):
    recipe = load_recipe(CPU_RECIPE)
    recipe = recipe.model_copy(update={"seeds": recipe.seeds.model_copy(update={"out": tmp_path / "x" / "s.jsonl"})})
    path = run_seed(recipe)
    assert path == tmp_path / "x" / "s.jsonl" and len(read_seed_file(path)) == 50
    err = capsys.readouterr().err
    assert "50 documents, 400 questions (terms 10, product 10, procedure 10, glossary 10, company 10)" in err


def test_cli_seed_parquet_round_trip(tmp_path):
    from typer.testing import CliRunner

    from kinject.cli import app

    out = tmp_path / "x.parquet"
    result = CliRunner().invoke(app, ["seed", "--recipe", str(CPU_RECIPE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(out)
    docs = read_seed_file(out)
    assert len(docs) == 50 and sum(len(d["questions"]) for d in docs) == 400
    assert docs == build_seeds(load_recipe(CPU_RECIPE).seeds)


def test_cli_bad_from_file_exits_2_names_file_and_field_writes_nothing(tmp_path):
    from typer.testing import CliRunner

    from kinject.cli import app

    bad = _write_jsonl(tmp_path / "user.jsonl", [GOOD, {k: v for k, v in GOOD.items() if k != "text"} | {"doc_id": "d2"}])
    out = tmp_path / "out" / "seeds.jsonl"
    result = CliRunner().invoke(app, ["seed", "--recipe", str(CPU_RECIPE), "--from", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert f"error: {bad}: line 2: missing field 'text'" in result.stderr
    assert not out.exists() and not out.parent.exists()
    result = CliRunner().invoke(app, ["seed", "--recipe", str(CPU_RECIPE), "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2 and "s.csv" in result.stderr and not (tmp_path / "s.csv").exists()
