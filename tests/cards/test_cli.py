"""kinject publish / pull / log / card: the CLI over the local registry, as a user types it."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from kinject.cli import app
from tests.cards.samples import seed_rows

REPO = "kinject/cli-ja"


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(
        f"name: cli\nregistry:\n  kind: local\n  root: {tmp_path / 'registry'}\n  cache_dir: {tmp_path / 'cache'}\n"
        f"  repo: {REPO}\n"
    )
    return path


def _seeds_file(tmp_path, tag="v1"):
    path = tmp_path / f"seeds-{tag}.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in seed_rows(tag=tag)))
    return path


def test_publish_pull_log_card(recipe, tmp_path):
    runner = CliRunner()
    done = runner.invoke(
        app, ["publish", "--recipe", str(recipe), "--file", str(_seeds_file(tmp_path)), "--config", "seeds",
              "--tag", "v1", "-m", "seed documents"],
    )
    assert done.exit_code == 0, done.output
    ref = done.stdout.strip().splitlines()[-1]  # REPO@SHA is the last stdout line
    repo, sha = ref.split("@")
    assert repo == REPO and len(sha) == 40
    runner.invoke(app, ["publish", "-r", str(recipe), "--file", str(_seeds_file(tmp_path, "v2")), "--config", "seeds"])

    out = tmp_path / "pulled.jsonl"
    for rev in ("v1", sha):
        done = runner.invoke(app, ["pull", f"{REPO}@{rev}", "--config", "seeds", "--out", str(out), "-r", str(recipe)])
        assert done.exit_code == 0, done.output
        assert [json.loads(line) for line in out.read_text().splitlines()] == seed_rows()
    done = runner.invoke(app, ["pull", f"{REPO}@main", "-r", str(recipe)])  # the only config, to stdout
    assert [json.loads(line) for line in done.stdout.splitlines()] == seed_rows(tag="v2")

    done = runner.invoke(app, ["log", REPO, "-r", str(recipe)])
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{sha[:12]} (v1)") and lines[1].endswith("[seeds]  seed documents")

    done = runner.invoke(app, ["card", f"{REPO}@v1", "-r", str(recipe)])
    assert done.exit_code == 0, done.output
    assert f'load_dataset("{REPO}", "seeds", revision="{sha}")' in done.stdout
    assert "| `seeds` | train: 3 |" in done.stdout
    assert "[`provenance/seeds/recipe.yaml`](provenance/seeds/recipe.yaml)" in done.stdout


def test_user_errors_exit_2_with_one_line(recipe, tmp_path):
    runner = CliRunner()
    runner.invoke(app, ["publish", "-r", str(recipe), "--file", str(_seeds_file(tmp_path)), "--config", "seeds"])
    done = runner.invoke(app, ["pull", f"{REPO}@main", "--config", "graph", "-r", str(recipe)])
    assert done.exit_code == 2
    assert "has no config 'graph' (has: seeds)" in done.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\nnot json\n')
    done = runner.invoke(app, ["publish", "-r", str(recipe), "--file", str(bad), "--config", "seeds"])
    assert done.exit_code == 2 and f"{bad}:2: not a JSON object" in done.stderr


@pytest.mark.parametrize("out, expected", [
    ("x.csv", r"--out .*x\.csv: expected one of \.jsonl, \.json, \.parquet, got \.csv"),
    ("missing/dir/x.jsonl", r"--out .*x\.jsonl: folder .*missing/dir does not exist"),
])
def test_pull_out_refuses_an_unknown_suffix_or_folder(recipe, tmp_path, out, expected):
    runner = CliRunner()
    done = runner.invoke(app, ["publish", "--recipe", str(recipe), "--file", str(_seeds_file(tmp_path)),
                               "--config", "seeds"])
    assert done.exit_code == 0, done.output
    target = tmp_path / out
    done = runner.invoke(app, ["pull", f"{REPO}@main", "--recipe", str(recipe), "--out", str(target)])
    assert done.exit_code == 2 and "Traceback" not in done.output
    assert re.search(expected, done.stderr), done.stderr
    assert not target.exists()


def test_help_shows_no_value_type_on_flags():
    done = CliRunner().invoke(app, ["corpus", "--help"], env={"COLUMNS": "160"})
    assert done.exit_code == 0
    assert "--dry-run" in done.stdout and "<bool>" not in done.stdout
    assert "<path>" in done.stdout  # options that take a value keep their type


def test_train_output_dir_overrides_the_recipe(recipe, tmp_path, monkeypatch):
    seen = {}

    def fake_run_train(loaded, ref, config):
        seen["output_dir"] = loaded.train.output_dir
        return tmp_path / "run", f"{REPO}@{'0' * 40}"

    monkeypatch.setattr("kinject.trainers.cpt.run_train", fake_run_train)
    done = CliRunner().invoke(app, ["train", "--recipe", str(recipe), "--output-dir", str(tmp_path / "runs")])
    assert done.exit_code == 0, done.output
    assert seen["output_dir"] == tmp_path / "runs"
