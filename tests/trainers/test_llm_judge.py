"""The llm judge against loopback servers: the scripted fault server (malformed JSON, 429, 500, timeouts, cache,
concurrency, key hygiene) and, slow, a real ``transformers serve`` of SmolLM2."""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3

import pytest

import tests.fault_server as fault_server_module
from kinject.errors import KinjectUserError
from kinject.recipes.schema import JudgeConfig
from kinject.trainers.judges import judge_file, make_judge
from kinject.trainers.llm_judge import PROMPT_SHA, UNPARSEABLE, LLMJudge, cache_key, format_messages, parse_verdict

KEY_ENV = "KINJECT_TEST_JUDGE_KEY"
CANARY = "sk-canary-7f3e9b1d2c4a"
_FIELD = re.compile(r"^(GOLD|ANSWER) / [^:]+: (.*)$", re.M)
_MARKERS = re.compile(r"\[\[fault:[^\]]*\]\]")


def grade(messages: list[dict]) -> str:
    """The scripted judge model: correct when the gold string occurs in the answer."""
    fields = dict(_FIELD.findall(messages[-1]["content"]))
    answer = _MARKERS.sub("", fields["ANSWER"]).strip()
    verdict = fields["GOLD"].strip() in answer
    return f'Sure! ```json\n{{"verdict": {str(verdict).lower()}, "reason": "gold {"in" if verdict else "not in"} answer"}}\n```'


@pytest.fixture
def server(fault_server):
    fault_server.responder = grade
    fault_server.retry_after_s = 0.01  # the client honours Retry-After: keep the 429 tests fast
    return fault_server


@pytest.fixture
def cfg_for(server, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, CANARY)

    def make(**overrides) -> JudgeConfig:
        values = dict(
            kind="llm", model="judge-model", base_url=server.base_url, api_key_env=KEY_ENV, max_retries=2,
            max_concurrency=4, timeout_s=60.0, cache_dir=tmp_path / "cache",
        )
        return JudgeConfig(**{**values, **overrides})

    return make


def rows(*answers: str, gold: str = "2019年") -> list[dict]:
    return [{"question": "同製品の発売年は？", "gold": gold, "answer": a, "doc_id": f"d{i}"} for i, a in enumerate(answers)]


# -- pure parts ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"verdict": true, "reason": "same year"}', (True, "same year")),
        ('```json\n{"verdict": false, "reason": "2020 is not 2019"}\n```', (False, "2020 is not 2019")),
        ('The answer is wrong. {"verdict": "incorrect", "reason": "different"} done', (False, "different")),
        ('{"verdict": true}', (True, "no reason given")),
        ('{"score": 1} {"verdict": "yes", "reason": "ok"}', (True, "ok")),
        ('{"verdict": "maybe", "reason": "?"}', None),
        ('{"verdict": true, "reason": "cut', None),
        ("正解です", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_verdict(text, expected):
    assert parse_verdict(text) == expected


def test_prompt_carries_question_gold_answer():
    (system, user) = format_messages("同製品の重さは？", "1.2kg", "  1.2キログラムです ")
    assert system["role"] == "system" and "JSON" in system["content"]
    assert "QUESTION / 質問: 同製品の重さは？\nGOLD / 正解: 1.2kg\nANSWER / 回答: 1.2キログラムです\n" in user["content"]
    assert "ANSWER / 回答: (empty / 空)" in format_messages("q", "g", None)[1]["content"]


def test_cache_key_changes_with_every_part():
    base = cache_key("q", "g", "a", "m")
    others = [cache_key("q2", "g", "a", "m"), cache_key("q", "g2", "a", "m"), cache_key("q", "g", "a2", "m"),
              cache_key("q", "g", "a", "m2"), cache_key("q", "g", "a", "m", prompt_sha="0" * 64)]
    assert len({base, *others}) == 6 and base == cache_key("q", "g", "a", "m")


def test_missing_key_names_the_field(monkeypatch, tmp_path):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(KinjectUserError, match=rf"judge\.api_key_env: environment variable '{KEY_ENV}' is not set"):
        make_judge(JudgeConfig(kind="llm", model="m", api_key_env=KEY_ENV, cache_dir=tmp_path))


# -- against the fault server -------------------------------------------------------------------------------------


def test_verdicts_reasons_and_columns(server, cfg_for):
    out = make_judge(cfg_for()).judge(rows("2019年です", "2020年です"))
    assert [(r["verdict"], r["reason"]) for r in out] == [(True, "gold in answer"), (False, "gold not in answer")]
    assert {r["judge"] for r in out} == {"llm:judge-model"} and {r["judge_prompt_sha"] for r in out} == {PROMPT_SHA}
    assert [r["doc_id"] for r in out] == ["d0", "d1"]
    assert server.count() == 2


def test_malformed_json_is_asked_again_then_given_up(server, cfg_for):
    judge = make_judge(cfg_for(max_retries=2))
    recovered, hopeless = judge.judge(rows("2019年 [[fault:malformed_json*1]]", "2019年 [[fault:malformed_json]]"))
    assert (recovered["verdict"], recovered["reason"]) == (True, "gold in answer")
    assert (hopeless["verdict"], hopeless["reason"]) == (False, UNPARSEABLE)
    assert server.count(contains="malformed_json*1") == 2  # one bad reply, one good
    assert server.count(contains="malformed_json]]") == 3  # 1 + max_retries, then judge_unparseable


def test_empty_reply_counts_as_unparseable(server, cfg_for):
    (row,) = make_judge(cfg_for(max_retries=1)).judge(rows("2019年 [[fault:empty]]"))
    assert (row["verdict"], row["reason"]) == (False, UNPARSEABLE)
    assert server.count(mode="empty") == 2


def test_429_and_500_are_retried_by_the_client(server, cfg_for):
    out = make_judge(cfg_for(max_retries=2)).judge(rows("2019年 [[fault:429*2]]", "2019年 [[fault:500*1]]"))
    assert [r["verdict"] for r in out] == [True, True]
    assert server.count(mode="429") == 2 and server.count(contains="429*2") == 3
    assert server.count(mode="500") == 1 and server.count(contains="500*1") == 2


def test_timeout_is_retried(server, cfg_for):
    server.timeout_sleep_s = 10.0
    (row,) = make_judge(cfg_for(timeout_s=3.0, max_retries=2)).judge(rows("2019年 [[fault:timeout*1]]"))
    assert row["verdict"] is True
    assert server.count(mode="timeout") == 1 and server.count(mode="ok") >= 1


def test_exhausted_retries_fail_loudly_and_keep_what_succeeded(server, cfg_for, tmp_path):
    cfg = cfg_for(max_retries=1)
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows("2019年", "2019年 [[fault:429]]")))
    out = tmp_path / "judged.jsonl"
    with pytest.raises(KinjectUserError, match=r"1 of 2 judge requests failed after 1 retries \(first: RateLimitError"):
        judge_file(cfg, answers, out)
    assert not out.exists()  # no accuracy with transport failures counted as wrong
    assert server.count(mode="429") == 2  # 1 + max_retries
    server.reset()
    make_judge(cfg).judge(rows("2019年"))
    assert server.count() == 0  # the row that succeeded was cached


def test_cache_hits_cost_nothing(server, cfg_for):
    batch = rows("2019年です", "2020年", "2019年です")  # the duplicate is asked once
    first = make_judge(cfg_for()).judge(batch)
    assert server.count() == 2
    second = make_judge(cfg_for()).judge(batch)
    assert server.count() == 2 and second == first
    make_judge(cfg_for(model="another-judge")).judge(batch)  # the judge model is part of the key
    assert server.count() == 4


def test_requests_run_concurrently(server, cfg_for):
    server.latency_s = 1.5
    make_judge(cfg_for(max_concurrency=4)).judge(rows(*[f"{2015 + i}年" for i in range(4)]))
    # Sequential requests are never in flight together; the server counts how many it was answering at once
    # (arrival times are no proof on a loaded machine, where starting a thread can take longer than the latency).
    assert len(server.requests) == 4 and 2 <= server.max_in_flight <= 4


def test_response_format_refused_falls_back_to_prompt_only(monkeypatch, cfg_for, tmp_path):
    class RefusesJsonMode(fault_server_module._Handler):
        seen: list[bool] = []

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            wants_json_mode = "response_format" in json.loads(body)
            RefusesJsonMode.seen.append(wants_json_mode)
            if wants_json_mode:
                self._send(400, {"error": {"message": "response_format is not supported"}})
                return
            self.rfile = io.BytesIO(body)
            super().do_POST()

    monkeypatch.setattr(fault_server_module, "_Handler", RefusesJsonMode)
    with fault_server_module.FaultServer(responder=grade) as refusing:
        out = make_judge(cfg_for(base_url=refusing.base_url)).judge(rows("2019年", "2020年", "2019年だ"))
    assert [r["verdict"] for r in out] == [True, False, True]
    assert RefusesJsonMode.seen.count(True) <= 3 and RefusesJsonMode.seen.count(False) == 3
    with fault_server_module.FaultServer(responder=grade) as refusing, pytest.raises(KinjectUserError, match="400"):
        make_judge(cfg_for(base_url=refusing.base_url, json_mode="on", cache_dir=tmp_path / "c2")).judge(rows("x"))


def test_the_key_is_never_written(server, cfg_for, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows("2019年", "x [[fault:malformed_json]]")))
    cfg = cfg_for(max_retries=1)
    out = tmp_path / "judged.jsonl"
    judge_file(cfg, answers, out)
    captured = capsys.readouterr()
    written = [out.read_bytes(), *(p.read_bytes() for p in cfg.cache_dir.rglob("*") if p.is_file())]
    assert written and all(CANARY.encode() not in blob for blob in written)
    assert CANARY not in caplog.text + captured.out + captured.err
    with sqlite3.connect(cfg.cache_dir / "llm-judge.sqlite") as db:
        assert db.execute("SELECT count(*) FROM verdicts").fetchone() == (2,)


def test_refusals_become_user_errors_without_the_key(cfg_for, monkeypatch):
    # A server that rejects every request with 401 and echoes the key, as some do.
    class Rejects(fault_server_module._Handler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._send(401, {"error": {"message": f"bad key {self.headers.get('Authorization')}"}})

    monkeypatch.setattr(fault_server_module, "_Handler", Rejects)
    with fault_server_module.FaultServer() as rejecting, pytest.raises(KinjectUserError) as info:
        make_judge(cfg_for(base_url=rejecting.base_url)).judge(rows("2019年"))
    assert "AuthenticationError" in str(info.value) and KEY_ENV in str(info.value)
    assert CANARY not in str(info.value)


# -- against a real model -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_server_smollm2(openai_server, tmp_path, monkeypatch):
    """SmolLM2-135M judges badly; what matters is that the real path runs and always yields a boolean verdict."""
    monkeypatch.setenv(KEY_ENV, "not-needed-locally")
    cfg = JudgeConfig(
        kind="llm", model=openai_server.model, base_url=openai_server.base_url, api_key_env=KEY_ENV,
        max_retries=1, max_concurrency=2, max_new_tokens=48, timeout_s=120, cache_dir=tmp_path / "cache",
    )
    judge = make_judge(cfg)
    assert isinstance(judge, LLMJudge)
    batch = rows("2019年です。", "2020年です。") + rows("It weighs 1.2 kg.", gold="1.2kg")
    out = judge.judge(batch)
    assert [type(r["verdict"]) for r in out] == [bool, bool, bool]
    assert all(isinstance(r["reason"], str) and r["reason"] for r in out)
    assert 3 <= judge.requests <= 3 * (1 + cfg.max_retries)
    again = make_judge(cfg)
    assert again.judge(batch) == out and again.requests == 0  # cached
