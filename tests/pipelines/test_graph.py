"""graph: entity parsing, pair/triple planning, the relate prompt and the composer's relation texts."""

import itertools
from collections import Counter

import pytest

from kinject.pipelines import composer
from kinject.pipelines.checks import facts_present
from kinject.pipelines.graph import (
    ComposeRelations, Entity, ExtractEntities, RelateEntities, _parse_entities, plan, plan_groups,
)
from kinject.recipes.schema import CorpusConfig, GraphConfig
from tests.pipelines.scripted_llm import ScriptedLLM
from tests.pipelines.test_composer import EN, JA


@pytest.mark.parametrize("raw, names", [
    ('{"entities": [{"name": "ミドリ茶房", "type": "店"}, {"name": "980円"}]}', ["ミドリ茶房", "980円"]),
    ('```json\n["Kelvo", "Tarn Lines", "Kelvo"]\n```', ["Kelvo", "Tarn Lines"]),
    ('Sure! {"entities": [{"name": " A "}, {"name": "B", "type": null}]} Hope this helps.', ["A", "B"]),
    ('{"entities": [{"name": "only one"}]}', None),
    ('{"entities": [{"type": "no name"}]}', None),
    ('{"entities": "A, B"}', None),
    ("not json at all", None),
    ("", None),
    (None, None),
])
def test_parse_entities(raw, names):
    parsed = _parse_entities(raw)
    assert (None if parsed is None else [e.name for e in parsed]) == names
    if parsed:
        assert all(isinstance(e, Entity) for e in parsed)


def test_plan_groups_share_and_coverage():
    names = [f"e{i}" for i in range(6)]
    groups = plan_groups(names, 300, 0.5, composer.rng_for(0, "d", "graph-plan", 0))
    sizes = Counter(len(g) for g in groups)
    assert sizes == {2: 150, 3: 150}
    assert all(len(set(g)) == len(g) for g in groups)
    pairs = Counter(tuple(sorted(g)) for g in groups if len(g) == 2)
    assert set(pairs) == set(itertools.combinations(names, 2))  # all 15 pairs, each 10 times
    assert set(pairs.values()) == {10}
    per_entity = Counter(e for g in groups for e in g)
    assert max(per_entity.values()) - min(per_entity.values()) <= 0.1 * max(per_entity.values())
    assert plan_groups(names, 10, 0.0, composer.rng_for(0, "d", "x", 0)) == plan_groups(
        names, 10, 0.0, composer.rng_for(0, "d", "x", 0))
    assert all(len(g) == 2 for g in plan_groups(names, 10, 0.0, composer.rng_for(0, "d", "x", 0)))


def test_plan_is_deterministic_and_uses_the_composer_nodes():
    corpus = CorpusConfig(graph=GraphConfig(triple_share=0.25))
    rows = plan(JA, 40, corpus)
    assert rows == plan(JA, 40, corpus)
    assert [r["sample"] for r in rows] == list(range(40))
    assert Counter(r["variant"].split(":")[0] for r in rows) == {"pair": 30, "triple": 10}
    names = {n.name for n in composer.nodes(JA, 12)}
    assert all(set(r["entities"]) <= names for r in rows)
    assert rows[0]["variant"] == f"{'triple' if len(rows[0]['entities']) == 3 else 'pair'}:" + "|".join(
        rows[0]["entities"])
    assert plan(JA, 40, CorpusConfig(seed=1)) != plan(JA, 40, CorpusConfig(seed=0))


def test_relate_prompt_and_output():
    task = RelateEntities(name="relate", llm=ScriptedLLM())
    task.load()
    chat = task.format_input({"document": "D。", "lang": "ja", "entities": ["A", "B"]})
    assert chat == [{"role": "user", "content":
                     "次の文書に基づいて、「A」、「B」の間の関係について説明する文章を日本語で書いてください。"
                     "文書に書かれていることだけを使い、数値や名前は一字一句変えないでください。文章だけを出力してください。"
                     "\n\n文書:\nD。"}]
    assert task.format_output("  text  ") == {"generation": "text"}
    assert task.format_output(None) == {"generation": ""}


def test_extract_entities_output_on_noise():
    task = ExtractEntities(name="extract", llm=ScriptedLLM(), max_entities=5)
    task.load()
    assert "最大5個" in task.format_input({"document": "D", "lang": "ja"})[0]["content"]
    assert task.format_output('{"entities": ["A", "B"]}') == {"extracted": ["A", "B"]}
    assert task.format_output("I cannot do that.") == {"extracted": None}
    assert task.format_output(None) == {"extracted": None}


@pytest.mark.parametrize("doc", [JA, EN], ids=["ja", "en"])
def test_compose_relations_step(doc):
    rows = [{**r, "doc_id": doc["doc_id"], "lang": doc["lang"], "document": doc["text"], "facts": doc["facts"],
             "seed": 0} for r in plan(doc, 12, CorpusConfig())]
    step = ComposeRelations(name="compose")
    step.load()
    out = next(step.process(rows))
    keys_of = {n.name: n.key for n in composer.nodes(doc, 12)}
    for row in out:
        assert row["model_name"] == "composer"
        wanted = {keys_of[e] for e in row["entities"] if keys_of[e]}
        assert wanted <= set(facts_present(row["generation"], doc["facts"]))
        names = [e for e in row["entities"]]
        assert all(name in row["generation"] for name in names), row
