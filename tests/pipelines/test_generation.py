"""The shared generation plumbing: prompt files, the JSON reading of extractions, task and step names."""

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from kinject.pipelines import fact, graph, rephrase
from kinject.pipelines.generation import PROMPTS_DIR, _step_name, json_items, prompt_source, render

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"rephrase": rephrase, "fact": fact, "graph": graph}


def test_every_method_has_its_prompt_files_and_no_file_is_stray():
    expected = {f"{m}_{lang}.jinja2" for m in METHODS for lang in ("ja", "en")}
    expected |= {f"{m}_extract_{lang}.jinja2" for m in ("fact", "graph") for lang in ("ja", "en")}
    assert {p.name for p in PROMPTS_DIR.glob("*")} == expected


def test_prompt_files_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert config["package-dir"]["kinject.pipelines"] == "pipelines"
    patterns = config["package-data"]["kinject.pipelines"]
    for path in PROMPTS_DIR.glob("*"):
        assert any(fnmatch(str(path.relative_to(ROOT / "pipelines")), p) for p in patterns), path.name


@pytest.mark.parametrize("method", sorted(METHODS))
def test_card_prompts_are_the_files(method):
    sources = set(METHODS[method].prompts().values())
    for lang in ("ja", "en"):
        assert prompt_source(f"{method}_{lang}") in sources


def test_prompt_source_drops_only_the_final_newline():
    text = (PROMPTS_DIR / "rephrase_ja.jinja2").read_text(encoding="utf-8")
    assert text.endswith("\n") and prompt_source("rephrase_ja") == text[:-1]
    assert render("rephrase_en", instruction="Be brief.", document="D.").endswith("Document:\nD.")


@pytest.mark.parametrize("text, items", [
    ('{"facts": [{"key": "a", "value": "1"}]}', [{"key": "a", "value": "1"}]),
    ('```json\n{"facts": []}\n```', []),
    ('Here you go: [1, 2] done', [1, 2]),
    ('{"facts": "none"}', None),
    ('{"facts": [', None),
    ("no json at all", None),
    ("", None),
    (None, None),
])
def test_json_items(text, items):
    assert json_items(text, "facts") == items


@pytest.mark.parametrize("cls, name", [
    (rephrase.RephraseDocument, "rephrase_document"), (rephrase.ComposeRephrase, "compose_rephrase"),
    (fact.ComposeFromFacts, "compose_from_facts"), (fact.ExtractFacts, "extract_facts"),
    (graph.RelateEntities, "relate_entities"), (graph.ComposeRelations, "compose_relations"),
])
def test_step_names(cls, name):
    assert _step_name(cls) == name
