"""rephrase: style planning, the rewrite prompt in both languages, the composer's whole-document rewrites."""

import pytest

from kinject.pipelines.checks import facts_present
from kinject.pipelines.rephrase import ComposeRephrase, RephraseDocument, plan
from kinject.recipes.schema import CorpusConfig, RephraseConfig
from tests.pipelines.scripted_llm import ScriptedLLM
from tests.pipelines.test_composer import EN, JA


def test_styles_cycle_evenly():
    rows = plan(JA, 10, CorpusConfig())
    assert [r["style"] for r in rows] == ["easy", "medium", "hard", "qa"] * 2 + ["easy", "medium"]
    assert [r["variant"] for r in rows] == [r["style"] for r in rows]
    only = plan(JA, 3, CorpusConfig(rephrase=RephraseConfig(styles=["qa"])))
    assert {r["style"] for r in only} == {"qa"}


@pytest.mark.parametrize("lang, expected", [
    ("ja", "次の文書を書き直してください。内容をすべて網羅する「質問と回答」の組の形式に書き直してください。\n"
           "名前・数値・日付などの事実はすべて正確に残し、新しい事実は加えないでください。日本語で、書き直した文章だけを"
           "出力してください。\n\n文書:\nD"),
    ("en", "Rewrite the following document. Rewrite it in simple words and short sentences that a small child "
           "could understand.\nKeep every fact (names, numbers, dates) exactly and add no new facts. Write in "
           "English and output only the rewritten text.\n\nDocument:\nD"),
])
def test_format_input(lang, expected):
    task = RephraseDocument(name="rephrase", llm=ScriptedLLM())
    task.load()
    style = "qa" if lang == "ja" else "easy"
    assert task.format_input({"document": "D", "lang": lang, "style": style}) == [{"role": "user",
                                                                                  "content": expected}]


@pytest.mark.parametrize("output, text", [("  rewritten\n", "rewritten"), ("", ""), (None, "")])
def test_format_output(output, text):
    task = RephraseDocument(name="rephrase", llm=ScriptedLLM())
    assert task.format_output(output) == {"generation": text}


@pytest.mark.parametrize("doc", [JA, EN], ids=["ja", "en"])
def test_compose_rephrase_step_writes_every_fact_in_each_style(doc):
    rows = [{**r, "doc_id": doc["doc_id"], "lang": doc["lang"], "document": doc["text"], "facts": doc["facts"],
             "seed": 0} for r in plan(doc, 8, CorpusConfig())]
    step = ComposeRephrase(name="compose")
    step.load()
    out = next(step.process(rows))
    for row in out:
        assert facts_present(row["generation"], doc["facts"]) == [f["key"] for f in doc["facts"]]
    qa = [r["generation"] for r in out if r["style"] == "qa"]
    assert all(t.startswith("Q") for t in qa)
    assert len({r["generation"] for r in out}) == 8
