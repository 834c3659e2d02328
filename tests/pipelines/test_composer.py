"""The offline composer on seed documents written here (arbitrary keys, ja and en), not on the built seeds."""

import itertools
import json
from pathlib import Path

import pytest

from kinject.pipelines import composer
from kinject.pipelines.checks import facts_present, lang_ok, normalize, value_contradictions

JA = {
    "doc_id": "cafe", "lang": "ja", "category": "company",
    "text": "ミドリ茶房は、1998年に創業した喫茶店である。同店の看板メニューは抹茶パフェで、価格は980円だ。"
            "席数は24席。同店の定休日は水曜日である。",
    "facts": [{"key": "創業年", "value": "1998年"}, {"key": "看板メニュー", "value": "抹茶パフェ"},
              {"key": "価格", "value": "980円"}, {"key": "席数", "value": "24席"},
              {"key": "定休日", "value": "水曜日"}],
}
EN = {
    "doc_id": "ferry", "lang": "en", "category": "product",
    "text": "Kelvo is a river ferry operated by Tarn Lines. It carries 120 passengers and crosses in 14 minutes. "
            "The ferry started service in 2011.",
    "facts": [{"key": "operator", "value": "Tarn Lines"}, {"key": "capacity", "value": "120 passengers"},
              {"key": "crossing_time", "value": "14 minutes"}, {"key": "start_year", "value": "2011"}],
}


@pytest.fixture(scope="module", params=["ja", "en"])
def doc(request, tmp_path_factory):
    """Each document goes through a real seed file (jsonl) the test writes, as a user's would."""
    path = tmp_path_factory.mktemp("seeds") / f"{request.param}.jsonl"
    source = JA if request.param == "ja" else EN
    path.write_text(json.dumps({**source, "questions": []}, ensure_ascii=False) + "\n", encoding="utf-8")
    return json.loads(path.read_text(encoding="utf-8"))


def test_subject_and_anaphor():
    assert composer.subject(JA) == ("ミドリ茶房", "同店")
    assert composer.subject(EN) == ("Kelvo", "the ferry")
    assert composer.subject({**JA, "facts": [{"key": "name", "value": "茶房M"}] + JA["facts"]})[0] == "茶房M"


def test_name_fact_is_the_subject_not_an_attribute():
    doc = {**JA, "facts": [{"key": "name", "value": "ミドリ茶房"}] + JA["facts"]}
    assert "name" not in composer.attribute_keys(doc)
    assert [n.key for n in composer.nodes(doc, 12)] == [None, "創業年", "看板メニュー", "価格", "席数", "定休日"]


def _texts(doc, samples=40):
    keys = composer.attribute_keys(doc)
    nodes = composer.nodes(doc, 12)
    out = []
    for i in range(samples):
        for style in ("easy", "medium", "hard", "qa"):
            out.append(("rephrase", keys, composer.compose_rephrase(doc, style, composer.rng_for(0, "d", style, i))))
        subset = keys[i % len(keys):][:3] or keys[:2]
        out.append(("fact", subset, composer.compose_facts(doc, subset, composer.rng_for(0, "d", "fact", i))))
        group = list(itertools.combinations(nodes, 2 + i % 2))[i % 10]
        wanted = [n.key for n in group if n.key]
        out.append(("graph", wanted, composer.compose_relation(doc, list(group), composer.rng_for(0, "d", "g", i))))
    return out


def test_every_text_states_its_facts_unaltered_in_the_document_language(doc):
    for method, keys, text in _texts(doc):
        assert set(keys) <= set(facts_present(text, doc["facts"])), (method, keys, text)
        assert value_contradictions(text, doc["facts"], doc["text"]) == [], text
        assert lang_ok(text, doc["lang"]), text
        assert composer.SLOT not in text


def test_all_methods_draw_on_one_pool(doc):
    """Honesty rule: each stated fact is worded by a realization from the shared pool, whatever the method."""
    name, anaphor = composer.subject(doc)
    mentions = [m for m in (name, anaphor, "it") if m]
    pool = composer.realizations(doc)
    for method, keys, text in _texts(doc, samples=15):
        flat = normalize(text)
        for key in keys:
            wordings = {normalize(p.replace(composer.SLOT, m)) for p in pool[key] for m in mentions}
            # a connective may lower-case a sentence's first letter: compare case-folded (normalize does)
            assert any(w in flat for w in wordings), (method, key, text)


def test_rephrase_states_every_fact_and_styles_differ(doc):
    rng = lambda: composer.rng_for(3, doc["doc_id"], "rephrase", 7)  # noqa: E731
    texts = {style: composer.compose_rephrase(doc, style, rng()) for style in ("easy", "medium", "hard", "qa")}
    for style, text in texts.items():
        assert facts_present(text, doc["facts"]) == [f["key"] for f in doc["facts"]], (style, text)
    assert len(set(texts.values())) == 4
    assert texts["qa"].count("Q") == texts["qa"].count("A：" if doc["lang"] == "ja" else "A: ") >= 2


def test_deterministic_and_varied(doc):
    again = composer.compose_rephrase(doc, "medium", composer.rng_for(0, doc["doc_id"], "rephrase", 5))
    assert again == composer.compose_rephrase(doc, "medium", composer.rng_for(0, doc["doc_id"], "rephrase", 5))
    texts = {composer.compose_rephrase(doc, "medium", composer.rng_for(0, doc["doc_id"], "rephrase", i))
             for i in range(100)}
    assert len(texts) >= 50  # enough surface variety that 1,000 samples are not mostly exact duplicates


def test_every_embedded_document_varies_in_every_style():
    """Regression: documents whose sentences state several facts, with keys that give no Japanese label, once had
    a single realization per fact, so easy/hard rephrases of them came out the same every time."""
    from kinject.pipelines.seeds import build_seeds
    from kinject.recipes.schema import load_recipe

    docs = build_seeds(load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "cpu.yaml").seeds)
    variety = {}
    for doc in docs:
        for style in ("easy", "medium", "hard", "qa"):
            texts = {composer.compose_rephrase(doc, style, composer.rng_for(0, doc["doc_id"], style, i))
                     for i in range(10)}
            variety[(doc["doc_id"], style)] = len(texts)
    assert min(variety.values()) >= 6  # before the fix: 1 (a single text per style for some documents)


def test_rng_is_not_pythons_salted_hash():
    assert composer.rng_for(0, "d", "fact", 1).random() == pytest.approx(composer.rng_for(0, "d", "fact", 1).random())
    assert composer.rng_for(0, "d", "fact", 1).random() != composer.rng_for(0, "d", "fact", 2).random()
