"""Results into cards: run_train publishes a new card revision; judge_run re-judges; bad refs exit 2."""

from __future__ import annotations

import json

import datasets
import pytest
from typer.testing import CliRunner

from kinject.cards.refs import DatasetRef
from kinject.cards.registry import open_registry
from kinject.cli import app
from kinject.recipes.schema import recipe_to_yaml
from kinject.trainers.cpt import run_train
from kinject.trainers.results import judge_run

from .conftest import make_corpus_rows, make_recipe, make_seed_rows


@pytest.fixture
def published(tmp_path):
    recipe = make_recipe(tmp_path, steps=10, every=5)
    registry = open_registry(recipe.registry)
    ref = registry.publish(
        "t/tiny",
        {
            "seeds": {"train": datasets.Dataset.from_list(make_seed_rows())},
            "fact": {"train": datasets.Dataset.from_list(make_corpus_rows())},
        },
        message="data",
    )
    return recipe, registry, ref


def test_run_publishes_results_and_judge_run_rejudges(published):
    recipe, registry, data_ref = published
    run_dir, card_ref = run_train(recipe, DatasetRef(repo_id="t/tiny", revision="main"), "fact")
    sha = registry.resolve(data_ref)
    assert card_ref.repo_id == "t/tiny" and registry.resolve(card_ref) != sha
    results = registry.card_data(card_ref)["kinject"]["results"]["t-fact-s0"]
    assert results["data"] == f"t/tiny@{sha}" and results["config"] == "fact" and results["seed"] == 0
    assert results["model"] == "tiny" and results["recipe"]["train"]["steps"] == 10
    assert [p["step"] for p in results["curve"]] == [0, 5, 10]
    assert {"steps_to_85", "steps_to_90", "final_accuracy", "per_category"} <= set(results)
    assert "| t-fact-s0 | 10 |" in registry.read_file(card_ref, "results/t-fact-s0/results.md")
    assert set(registry.configs(card_ref)) >= {"seeds", "fact"}  # the data stays; results are added
    assert f"t/tiny@{sha}" in (run_dir / "model" / "README.md").read_text(encoding="utf-8")
    published_recall = json.loads(registry.read_file(card_ref, "results/t-fact-s0/recall.json"))
    assert results["recall"] == published_recall["summary"] and results["recall"]["n"] == 4

    # re-judge the last answers: make every answer the gold, the match judge must now accept all of them
    answers_path = run_dir / "answers.jsonl"
    rows = [json.loads(line) for line in answers_path.read_text(encoding="utf-8").splitlines()]
    answers_path.write_text("".join(json.dumps({**r, "answer": r["gold"]}, ensure_ascii=False) + "\n" for r in rows))
    rejudged_ref = judge_run(recipe)
    after = registry.card_data(rejudged_ref)["kinject"]["results"]["t-fact-s0"]
    assert after["final_accuracy"] == 1.0 and after["curve"][-1]["accuracy"] == 1.0
    assert after["curve"][:-1] == results["curve"][:-1]  # only the last evaluation's answers are re-judged
    assert after["recall"]["accuracy"] == 1.0 and after["recall"]["recall"] == results["recall"]["recall"]
    judged = [json.loads(line) for line in answers_path.read_text(encoding="utf-8").splitlines()]
    assert all(r["verdict"] and r["reason"] for r in judged)

    # a run trained before recall was measured: `kinject recall` measures it from the saved model
    measured = json.loads((run_dir / "recall.json").read_text(encoding="utf-8"))
    (run_dir / "recall.json").unlink()
    path = run_dir.parent / "recipe.yaml"
    path.write_text(recipe_to_yaml(recipe), encoding="utf-8")
    result = CliRunner().invoke(app, ["recall", str(run_dir), "--recipe", str(path)])
    assert result.exit_code == 0, result.output
    assert f"[recall] t-fact-s0: recall {measured['summary']['recall']:.3f}, accuracy 1.000" in result.output
    assert json.loads((run_dir / "recall.json").read_text(encoding="utf-8"))["questions"] == [
        {**q, "answered": True} for q in measured["questions"]]

    result = CliRunner().invoke(app, ["recall", str(run_dir.parent / "nothere"), "--recipe", str(path)])
    assert result.exit_code == 2 and "not a finished run" in result.output


@pytest.mark.parametrize(
    ("data", "config", "message"),
    [
        ("t/tiny@0123456789abcdef", "fact", "t/tiny"),
        ("t/nothere@main", "fact", "t/nothere"),
        ("t/tiny@main", "graph", "no config 'graph'"),
        ("not-a-ref", "fact", "expected <org>/<name>@<revision>"),
    ],
)
def test_bad_ref_or_config_exits_2_with_a_clear_message(published, tmp_path, data, config, message):
    recipe, _, _ = published
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe_to_yaml(recipe), encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "--recipe", str(path), "--data", data, "--config", config])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and message in result.output
    assert not (tmp_path / "runs").exists()  # nothing trained, nothing written
