"""make_judge, judge_file and the ``kinject judge`` command: validation (file, line, field), kept fields, accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kinject.cli import app
from kinject.errors import KinjectUserError
from kinject.recipes.schema import JudgeConfig
from kinject.trainers.judges import judge_file, make_judge, read_answers
from kinject.trainers.match_judge import MatchJudge

CPU_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "cpu.yaml"

ROWS = [
    {"question": "同製品の重さは？", "gold": "12kg", "answer": "12kgです。", "doc_id": "d0", "step": 25},
    {"question": "同製品の重さは？", "gold": "12kg", "answer": "112kg", "doc_id": "d1", "step": 25},
    {"question": "When was it released?", "gold": "2019", "answer": "It was released in 2019.", "doc_id": "d2"},
    {"question": "発売年は？", "gold": 2019, "answer": None, "doc_id": "d3"},
]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def jsonl(rows: list[dict]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in rows]


def test_make_judge_follows_the_recipe():
    assert isinstance(make_judge(JudgeConfig()), MatchJudge)


def test_judge_file_keeps_fields_and_returns_accuracy(tmp_path):
    answers = write(tmp_path / "answers.jsonl", jsonl(ROWS))
    out = tmp_path / "out" / "judged.jsonl"
    assert judge_file(JudgeConfig(), answers, out) == pytest.approx(0.5)
    judged = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["verdict"], r["reason"]) for r in judged] == [
        (True, "number_match"), (False, "wrong_number"), (True, "number_match"), (False, "empty")
    ]
    assert [r["doc_id"] for r in judged] == ["d0", "d1", "d2", "d3"] and judged[0]["step"] == 25
    assert {r["judge"] for r in judged} == {"match-v2"}
    assert sorted(p.name for p in out.parent.iterdir()) == ["judged.jsonl"]  # no temporary file left


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([jsonl(ROWS)[0], '{"question": "q", "gold": "g"'], r"answers\.jsonl:2: not valid JSON"),
        ([jsonl(ROWS)[0], '{"question": "q", "answer": "a"}'], r"answers\.jsonl:2: missing field 'gold'"),
        (['{"gold": "g", "answer": "a"}'], r"answers\.jsonl:1: missing field 'question'"),
        (['{"question": "q", "gold": "g"}'], r"answers\.jsonl:1: missing field 'answer'"),
        (['["q", "g", "a"]'], r"answers\.jsonl:1: expected a JSON object, got list"),
        (['{"question": "q", "gold": "  ", "answer": "a"}'], r"answers\.jsonl:1: field 'gold' must be a non-empty"),
        (['{"question": "q", "gold": "g", "answer": 3}'], r"answers\.jsonl:1: field 'answer' must be a string or null"),
        ([], r"answers\.jsonl: no answers"),
    ],
)
def test_bad_input_names_file_line_and_field_and_writes_nothing(tmp_path, lines, message):
    answers = write(tmp_path / "answers.jsonl", lines)
    out = tmp_path / "judged.jsonl"
    with pytest.raises(KinjectUserError, match=message):
        judge_file(JudgeConfig(), answers, out)
    assert not out.exists()


def test_missing_file(tmp_path):
    with pytest.raises(KinjectUserError, match=r"nope\.jsonl: answers file not found"):
        read_answers(tmp_path / "nope.jsonl")


def test_cli_prints_accuracy_last(tmp_path):
    answers = write(tmp_path / "answers.jsonl", jsonl(ROWS))
    out = tmp_path / "judged.jsonl"
    result = CliRunner().invoke(
        app, ["judge", "--recipe", str(CPU_RECIPE), "--answers", str(answers), "--out", str(out), "--judge", "match"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "accuracy: 0.500 (2/4)"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4


def test_cli_default_out_is_beside_the_answers(tmp_path):
    answers = write(tmp_path / "answers.jsonl", jsonl(ROWS[:1]))
    result = CliRunner().invoke(app, ["judge", "--recipe", str(CPU_RECIPE), "--answers", str(answers)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "answers.judged.jsonl").is_file()
    assert result.stdout.strip().splitlines()[-1] == "accuracy: 1.000 (1/1)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--answers", "{bad}"], "answers.jsonl:2: missing field 'answer'"),
        (["--answers", "{good}", "--judge", "gpt"], "--judge: expected match or llm, got 'gpt'"),
        (["--answers", "{good}", "--judge", "llm"], "judge.model is required when kind is 'llm'"),
    ],
)
def test_cli_bad_input_exits_2_with_a_clear_message(tmp_path, args, message):
    good = write(tmp_path / "good.jsonl", jsonl(ROWS[:1]))
    bad = write(tmp_path / "answers.jsonl", [jsonl(ROWS)[0], '{"question": "q", "gold": "g"}'])
    args = [a.format(bad=bad, good=good) for a in args]
    result = CliRunner().invoke(app, ["judge", "--recipe", str(CPU_RECIPE), *args])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.startswith("error: ")
    assert not (tmp_path / "answers.judged.jsonl").exists()
