"""Recipe loading: every shipped recipe validates, errors name the file and the dotted field, extends: works."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kinject.cli import app
from kinject.errors import KinjectUserError
from kinject.recipes.schema import Recipe, load_recipe, recipe_to_yaml

RECIPES = sorted((Path(__file__).parents[2] / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_validates(path):
    recipe = load_recipe(path)
    assert isinstance(recipe, Recipe)
    assert recipe.name


def test_paper_recipe_has_the_papers_settings():
    recipe = load_recipe(Path(__file__).parents[2] / "recipes" / "paper.yaml")
    assert recipe.train.model == "elyza/Llama-3-ELYZA-JP-8B"
    assert recipe.generator.model == "cyberagent/calm3-22b-chat"
    assert recipe.corpus.samples_per_doc == 1000
    assert recipe.train.batch_size == 4
    assert recipe.train.learning_rate == 1e-5
    assert recipe.train.schedule_horizon_steps == 100_000
    assert (recipe.judge.kind, recipe.judge.model, recipe.judge.temperature) == ("llm", "gpt-4o", 0.1)
    # inherited from cpu.yaml through extends:
    assert recipe.seeds.per_category == 10 and recipe.seeds.lang == "ja"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_names_file_and_dotted_field(tmp_path):
    path = _write(tmp_path, "bad.yaml", "name: x\ncorpus:\n  graph:\n    max_entitys: 3\n")
    with pytest.raises(KinjectUserError) as err:
        load_recipe(path)
    assert f"{path}: corpus.graph.max_entitys: unknown key" in str(err.value)


def test_wrong_value_names_field_and_value(tmp_path):
    path = _write(tmp_path, "bad.yaml", "name: x\ncorpus:\n  samples_per_doc: 0\n")
    with pytest.raises(KinjectUserError) as err:
        load_recipe(path)
    message = str(err.value)
    assert "corpus.samples_per_doc" in message and "got 0" in message and str(path) in message


def test_wrong_type(tmp_path):
    path = _write(tmp_path, "bad.yaml", "name: x\ntrain:\n  learning_rate: fast\n")
    with pytest.raises(KinjectUserError, match=r"train\.learning_rate"):
        load_recipe(path)


def test_cross_field_rule(tmp_path):
    path = _write(tmp_path, "bad.yaml", "name: x\ngenerator:\n  backend: openai\n")
    with pytest.raises(KinjectUserError, match="generator.model is required"):
        load_recipe(path)


def test_extends_deep_merges_and_child_wins(tmp_path):
    _write(tmp_path, "base.yaml", "name: base\ncorpus:\n  samples_per_doc: 10\n  seed: 3\n")
    child = _write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\ncorpus:\n  samples_per_doc: 20\n")
    recipe = load_recipe(child)
    assert (recipe.name, recipe.corpus.samples_per_doc, recipe.corpus.seed) == ("child", 20, 3)


def test_extends_missing_file_and_cycle(tmp_path):
    child = _write(tmp_path, "child.yaml", "extends: nowhere.yaml\nname: c\n")
    with pytest.raises(KinjectUserError, match=r"child.yaml: extends: .*nowhere.yaml: recipe file not found"):
        load_recipe(child)
    _write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    _write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\n")
    with pytest.raises(KinjectUserError, match="cycle"):
        load_recipe(tmp_path / "a.yaml")


def test_resolved_yaml_round_trips(tmp_path):
    recipe = load_recipe(Path(__file__).parents[2] / "recipes" / "cpu.yaml")
    again = _write(tmp_path, "again.yaml", recipe_to_yaml(recipe))
    assert load_recipe(again).model_dump(exclude={"source"}) == recipe.model_dump(exclude={"source"})


def test_cli_recipe_show_and_exit_code(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["recipe", "show", str(RECIPES[0].parent / "paper.yaml")])
    assert result.exit_code == 0, result.output
    assert "Llama-3-ELYZA-JP-8B" in result.stdout and "gpt-4o" in result.stdout
    bad = _write(tmp_path, "bad.yaml", "name: x\njudge:\n  kind: oracle\n")
    result = runner.invoke(app, ["recipe", "show", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: judge.kind" in result.stderr
    result = runner.invoke(app, ["recipe", "show", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "recipe file not found" in result.stderr


@pytest.mark.parametrize("field", ["samples_per_doc", "batch_size"])
def test_a_boolean_is_not_an_integer(tmp_path, field):
    # pydantic's lax mode read `samples_per_doc: true` as 1 sample
    path = _write(tmp_path, "bad.yaml", f"name: x\ncorpus:\n  {field}: true\n")
    with pytest.raises(KinjectUserError, match=rf"bad.yaml: corpus\.{field}: expected an integer, got a boolean"):
        load_recipe(path)


def test_error_in_a_parent_recipe_names_the_parent(tmp_path):
    parent = _write(tmp_path, "parent.yaml", "name: p\ncorpus:\n  smaples_per_doc: 3\n")
    child = _write(tmp_path, "child.yaml", "extends: parent.yaml\nname: c\ntrain:\n  stepz: 3\n")
    with pytest.raises(KinjectUserError) as err:
        load_recipe(child)
    lines = str(err.value).splitlines()
    assert f"{parent} (extended by {child}): corpus.smaples_per_doc: unknown key (typo?)" in lines
    assert f"{child}: train.stepz: unknown key (typo?)" in lines
