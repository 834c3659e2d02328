"""fact: fact parsing, subset planning (even coverage), the compose prompt and the composer's fact texts."""

from collections import Counter

import pytest

from kinject.pipelines import composer
from kinject.pipelines.checks import facts_present
from kinject.pipelines.fact import ComposeFacts, ComposeFromFacts, ExtractFacts, Fact, _parse_facts, plan, plan_subsets
from kinject.recipes.schema import CorpusConfig, FactConfig
from tests.pipelines.scripted_llm import ScriptedLLM
from tests.pipelines.test_composer import EN, JA


@pytest.mark.parametrize("raw, facts", [
    ('{"facts": [{"key": "価格", "value": "980円"}]}', [("価格", "980円")]),
    ('```json\n[{"key": "capacity", "value": 120}]\n```', [("capacity", "120")]),
    ('Here: {"facts": [{"key": " a ", "value": " b "}, {"key": "", "value": "x"}]}', [("a", "b")]),
    ('{"facts": [{"key": "a"}]}', None),
    ('{"facts": {"a": "b"}}', None),
    ('{"facts": []}', None),
    ("{broken json", None),
    (None, None),
])
def test_parse_facts(raw, facts):
    parsed = _parse_facts(raw)
    assert (None if parsed is None else [(f.key, f.value) for f in parsed]) == facts
    if parsed:
        assert all(isinstance(f, Fact) for f in parsed)


def test_subsets_cover_every_fact_evenly():
    keys = [f"k{i}" for i in range(8)]
    subsets = plan_subsets(keys, 1000, FactConfig(min_facts=2, max_facts=4), composer.rng_for(0, "d", "p", 0))
    assert all(2 <= len(s) <= 4 and len(set(s)) == len(s) for s in subsets)
    counts = Counter(k for s in subsets for k in s)
    assert set(counts) == set(keys)
    assert max(counts.values()) - min(counts.values()) <= 3  # dealt from a deck: even up to the last pass
    assert len({tuple(s) for s in subsets}) > 500  # new orders and combinations, not a handful repeated
    assert plan_subsets(keys, 3, FactConfig(min_facts=9, max_facts=9), composer.rng_for(0, "d", "p", 0)) == [
        s for s in plan_subsets(keys, 3, FactConfig(min_facts=9, max_facts=9), composer.rng_for(0, "d", "p", 0))]
    assert all(len(s) == 8 for s in plan_subsets(keys, 3, FactConfig(min_facts=9, max_facts=9),
                                                 composer.rng_for(0, "d", "p", 0)))


def test_plan_rows():
    rows = plan(JA, 30, CorpusConfig())
    assert rows == plan(JA, 30, CorpusConfig())
    for row in rows:
        assert row["variant"] == "|".join(f["key"] for f in row["subset"])
        assert all(f in JA["facts"] for f in row["subset"])
        assert row["context"]


def test_compose_prompt_lists_the_subset_in_order():
    task = ComposeFromFacts(name="compose", llm=ScriptedLLM())
    task.load()
    chat = task.format_input({"lang": "en", "subject": "Kelvo", "context": "lecture notes",
                              "subset": [{"key": "capacity", "value": "120 passengers"},
                                         {"key": "operator", "value": "Tarn Lines"}]})
    assert chat[0]["content"] == (
        "Using only the following facts, write a natural English text as lecture notes. State the facts in this "
        "order, copy every value (numbers, names, dates) exactly and add no other facts. Output only the text."
        "\n\nSubject: Kelvo\nFacts:\n- capacity: 120 passengers\n- operator: Tarn Lines\n")
    assert task.format_output(None) == {"generation": ""}


def test_extract_facts_format_output():
    task = ExtractFacts(name="extract", llm=ScriptedLLM())
    task.load()
    assert task.format_output('{"facts": [{"key": "a", "value": "1"}]}') == {"extracted": [{"key": "a", "value": "1"}]}
    assert task.format_output("sorry") == {"extracted": None}


@pytest.mark.parametrize("doc", [JA, EN], ids=["ja", "en"])
def test_compose_facts_step_states_exactly_its_subset_first(doc):
    rows = [{**r, "doc_id": doc["doc_id"], "lang": doc["lang"], "document": doc["text"], "facts": doc["facts"],
             "seed": 0} for r in plan(doc, 20, CorpusConfig())]
    step = ComposeFacts(name="compose")
    step.load()
    for row in next(step.process(rows)):
        wanted = [f["key"] for f in row["subset"]]
        assert set(wanted) <= set(facts_present(row["generation"], doc["facts"])), row
