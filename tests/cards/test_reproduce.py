"""reproduce: a small published run reproduces within tolerance, altered numbers fail, a card without a recipe
exits 2 naming what is missing. One real training publishes the run; one real retrain is shared by the tests."""

import os

import pytest
from typer.testing import CliRunner

from kinject.cards.refs import DatasetRef
from kinject.cards.reproduce import compare, missing_fields, pick_run, reproduce
from kinject.errors import KinjectUserError
from kinject.recipes.schema import ReproduceConfig, load_recipe

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RECIPE = """
name: repro-tiny
seeds: {{per_category: 1, questions_per_doc: 4, seed: 0}}
registry: {{kind: local, root: {root}/registry, cache_dir: {root}/cache, repo: test/repro}}
train:
  model: tiny
  tiny: {{hidden_size: 32, num_layers: 1, num_heads: 2, intermediate_size: 64, max_position_embeddings: 512}}
  steps: 8
  learning_rate: 5.0e-3
  batch_size: 16
  seed: 3
  output_dir: {root}/runs
eval: {{every_steps: 4, protocol: mixed}}
judge: {{kind: match, cache_dir: {root}/judge-cache}}
reproduce: {{accuracy_tolerance: 0.05, category_tolerance: 0.1}}
"""


def _corpus_rows(seeds):
    """Fact-style rows by hand: each states two facts of its document (pipelines are tested elsewhere)."""
    rows = []
    for doc in seeds:
        facts = doc["facts"]
        for i in range(6):
            pair = [facts[i % len(facts)], facts[(i + 1) % len(facts)]]
            stated = "。".join(f"{f['key']}は{f['value']}" for f in pair)
            text = f"{facts[0]['value']}について。{stated}。"
            rows.append({"id": f"{doc['doc_id']}-{i}", "doc_id": doc["doc_id"], "method": "fact", "text": text,
                         "facts_present": [f["key"] for f in pair]})
    return rows


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(recipe, card ref, run name): a tiny run trained and published the ordinary way (run_train)."""
    from datasets import Dataset

    from kinject.cards.registry import open_registry
    from kinject.pipelines.seeds import build_seeds, seed_features
    from kinject.trainers.cpt import run_train

    root = tmp_path_factory.mktemp("repro")
    path = root / "recipe.yaml"
    path.write_text(RECIPE.format(root=root), encoding="utf-8")
    recipe = load_recipe(path)
    seeds = build_seeds(recipe.seeds)
    registry = open_registry(recipe.registry)
    data = registry.publish(
        recipe.registry.repo,
        {"seeds": {"train": Dataset.from_list(seeds, features=seed_features())},
         "fact": {"train": Dataset.from_list(_corpus_rows(seeds))}},
        message="seeds and a hand-made fact corpus",
    )
    run_dir, card = run_train(recipe, data, "fact")
    return recipe, card, run_dir.name


@pytest.fixture(scope="module")
def retrain_once():
    """The real retrain (kinject.study.retrain), run once; later calls get its numbers back."""
    from kinject.study import retrain

    cache = {}

    def once(recipe, data, config, output_dir):
        if "result" not in cache:
            cache["calls"] = (data, config, recipe.train.seed)
            cache["result"] = retrain(recipe, data, config, output_dir)
        return cache["result"]

    once.cache = cache
    return once


def _republish(recipe, card, run, name=None, drop=(), **changes):
    """Publish a copy of ``run``'s card entry with ``changes`` applied and ``drop`` removed, as ``name``."""
    from kinject.cards.registry import open_registry

    registry = open_registry(recipe.registry)
    entry = dict(registry.card_data(card)["kinject"]["results"][run], **changes)
    for key in drop:
        del entry[key]
    name = name or run
    return registry.publish(recipe.registry.repo, {}, results={name: entry}, message=f"edit {name}")


@pytest.mark.slow
def test_published_run_reproduces_within_tolerance(published, retrain_once, capsys):
    recipe, card, run = published
    code = reproduce(card, run, registry_cfg=recipe.registry, retrain=retrain_once)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "| final accuracy |" in out and "within tolerance" in out
    data, config, seed = retrain_once.cache["calls"]
    assert config == "fact" and seed == 3  # the card's seed, not the recipe default
    assert len(data.revision) == 40  # retrained on exactly the recorded data sha


@pytest.mark.slow
def test_altered_reported_numbers_fail(published, retrain_once, capsys):
    recipe, card, run = published
    from kinject.cards.registry import open_registry

    entry = open_registry(recipe.registry).card_data(card)["kinject"]["results"][run]
    reported = entry["final_accuracy"]
    altered = _republish(recipe, card, run, final_accuracy=reported + 0.3 if reported < 0.5 else reported - 0.3)
    code = reproduce(altered, run, registry_cfg=recipe.registry, retrain=retrain_once)
    out = capsys.readouterr().out
    assert code == 1
    assert "| final accuracy |" in out and "**no**" in out and "NOT reproduced: final accuracy" in out


@pytest.mark.slow
def test_card_without_recipe_exits_2_naming_it(published, tmp_path):
    recipe, card, run = published
    no_recipe = _republish(recipe, card, run, name="no-recipe", drop=["recipe"])
    config_file = tmp_path / "where.yaml"
    where = f"{{kind: local, root: {recipe.registry.root}, cache_dir: {recipe.registry.cache_dir}}}"
    config_file.write_text(f"name: where\nregistry: {where}\n")
    from kinject.cli import app

    result = CliRunner().invoke(app, ["reproduce", str(no_recipe), "--run", "no-recipe", "--recipe", str(config_file)])
    assert result.exit_code == 2, result.output
    assert "kinject.results.no-recipe lacks recipe" in result.output


def test_missing_fields_and_run_choice_name_what_exists():
    with pytest.raises(KinjectUserError, match=r"no run 'b' \(has: a, c\)"):
        pick_run({"a": {}, "c": {}}, "b", "x/y@1")
    assert pick_run({"a": {}, "c": {}}, None, "x/y@1") == "c"
    with pytest.raises(KinjectUserError, match="no kinject.results"):
        pick_run({}, None, "x/y@1")
    assert missing_fields({"data": "a/b@c", "config": "fact", "seed": 0, "final_accuracy": 0.5,
                           "steps_to_85": None}) == ["recipe"]
    assert missing_fields({"recipe": {"name": "x"}}) == ["data", "config", "seed", "final_accuracy", "steps_to_85"]


def test_compare_tolerances_and_never_reached():
    tol = ReproduceConfig(accuracy_tolerance=0.05, category_tolerance=0.1)
    reported = {"steps_to_85": 200, "steps_to_90": None, "final_accuracy": 0.90, "per_category": {"product": 0.8}}
    close = {"steps_to_85": 225, "steps_to_90": None, "final_accuracy": 0.86, "per_category": {"product": 0.72}}
    assert all(r["ok"] for r in compare(reported, close, tol, every_steps=25))
    far = {"steps_to_85": 250, "steps_to_90": 300, "final_accuracy": 0.80, "per_category": {"product": 0.5}}
    failed = {r["metric"] for r in compare(reported, far, tol, every_steps=25) if not r["ok"]}
    assert failed == {"steps to 85 %", "steps to 90 %", "final accuracy", "accuracy: product"}
    explicit = ReproduceConfig(steps_tolerance=50)
    assert all(r["ok"] for r in compare(reported, dict(far, final_accuracy=0.9, steps_to_90=None,
                                                       per_category={"product": 0.8}), explicit, every_steps=25))
