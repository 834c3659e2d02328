"""The ``llm`` judge: a rubric prompt sent to any OpenAI-compatible endpoint (the paper: GPT-4o at temperature 0.1).

The judge model returns a JSON verdict with a reason. Output that does not parse is asked for again, up to
``judge.max_retries`` times, then counts as wrong with reason ``judge_unparseable``; 429s, 5xx and timeouts are
retried with backoff by the ``openai`` client itself (``max_retries``). Requests run ``judge.max_concurrency`` at a
time. Verdicts are cached on disk (sqlite under ``judge.cache_dir``) keyed by the sha256 of (question, gold, answer,
judge model, prompt sha), so re-judging a file or a training run costs nothing. The API key is read from the
environment variable named by ``judge.api_key_env`` and goes nowhere but the client.

Input columns: ``question``, ``gold``, ``answer``. Output columns: ``verdict`` (bool), ``reason`` (the judge's
sentence, or ``judge_unparseable``), ``judge`` (``llm:<model>``), ``judge_prompt_sha``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import jinja2
from tqdm.auto import tqdm

from kinject.errors import KinjectUserError
from kinject.recipes.schema import JudgeConfig

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------------------
# the rubric (one bilingual prompt: the answers are Japanese or English, the rules are the same)
# ---------------------------------------------------------------------------------------------------------------

RUBRIC_SYSTEM = (
    "You are a strict grader of short answers about fictional documents. "
    "あなたは架空の文書に関する短い回答を厳密に採点する採点者です。 Reply with one JSON object only."
)

RUBRIC_TEMPLATE = """\
Decide whether the ANSWER states the same fact as the GOLD answer to the QUESTION.
回答（ANSWER）が質問（QUESTION）に対する正解（GOLD）と同じ事実を述べているか判定してください。

Correct / 正解とする:
- The answer states the gold fact, in a word or in a sentence, in Japanese or English.
- Numbers are equal; units and numerals may be written differently (1.2kg = 1.2キログラム = 1200 g, 二〇一九年 = 2019).
Wrong / 不正解とする:
- A different value, even one that contains the gold's digits (12kg vs 112kg or 1.2kg).
- Several candidate values (「2019年か2020年」, "2019 or 2020"), a negation of the gold (「2019年ではない」),
  "I don't know", an empty answer, or text unrelated to the question.

QUESTION / 質問: {{ question }}
GOLD / 正解: {{ gold }}
ANSWER / 回答: {{ answer }}

Reply with JSON only, no other text / JSONのみで答えてください:
{"verdict": true or false, "reason": "<one short sentence>"}
"""

PROMPT_SHA = hashlib.sha256((RUBRIC_SYSTEM + "\n" + RUBRIC_TEMPLATE).encode("utf-8")).hexdigest()
_TEMPLATE = jinja2.Environment(autoescape=False, keep_trailing_newline=True).from_string(RUBRIC_TEMPLATE)
UNPARSEABLE = "judge_unparseable"

_TRUE = {"true", "yes", "correct", "正解", "正しい"}
_FALSE = {"false", "no", "incorrect", "wrong", "不正解", "誤り"}


def format_messages(question: str, gold: str, answer: str | None) -> list[dict[str, str]]:
    """The chat messages for one answer."""
    user = _TEMPLATE.render(question=question, gold=gold, answer=(answer or "").strip() or "(empty / 空)")
    return [{"role": "system", "content": RUBRIC_SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str | None) -> tuple[bool, str] | None:
    """``(verdict, reason)`` from the judge's reply, or None when it holds no usable JSON verdict.

    Models wrap JSON in code fences or prose; the first JSON object with a ``verdict`` key wins.
    """
    if not text:
        return None
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or "verdict" not in obj:
            continue
        verdict = obj["verdict"]
        if isinstance(verdict, str):
            word = verdict.strip().casefold()
            verdict = True if word in _TRUE else False if word in _FALSE else None
        if not isinstance(verdict, bool):
            continue
        reason = obj.get("reason")
        reason = reason.strip() if isinstance(reason, str) and reason.strip() else "no reason given"
        return verdict, reason
    return None


def cache_key(question: str, gold: str, answer: str | None, model: str, prompt_sha: str = PROMPT_SHA) -> str:
    payload = json.dumps([question, gold, answer or "", model, prompt_sha], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class VerdictCache:
    """Verdicts on disk, one sqlite file; used from one thread (the one that dispatches requests)."""

    def __init__(self, cache_dir: Path):
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / "llm-judge.sqlite"
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict INTEGER NOT NULL, "
                "reason TEXT NOT NULL, model TEXT NOT NULL, prompt_sha TEXT NOT NULL, created TEXT NOT NULL)"
            )

    def get_many(self, keys: list[str]) -> dict[str, tuple[bool, str]]:
        found: dict[str, tuple[bool, str]] = {}
        with closing(sqlite3.connect(self.path)) as db:
            for start in range(0, len(keys), 500):  # sqlite's bound-parameter limit
                chunk = keys[start:start + 500]
                rows = db.execute(
                    f"SELECT key, verdict, reason FROM verdicts WHERE key IN ({','.join('?' * len(chunk))})", chunk
                )
                found.update({key: (bool(verdict), reason) for key, verdict, reason in rows})
        return found

    def put(self, key: str, verdict: bool, reason: str, model: str, prompt_sha: str) -> None:
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)",
                (key, int(verdict), reason, model, prompt_sha, datetime.now(timezone.utc).isoformat()),
            )


class LLMJudge:
    """An LLM grading answers with the bilingual rubric ``RUBRIC_TEMPLATE`` (the recipe's ``judge.kind: llm``).

    References: Kadoya & Kawagoshi 2025 (GPT-4o, temperature 0.1).
    Input columns: ``question``, ``gold``, ``answer``.
    Output columns: ``verdict``, ``reason``, ``judge``, ``judge_prompt_sha``.
    """

    def __init__(self, cfg: JudgeConfig):
        import openai  # deferred: the match judge and --help must not pay for it

        if not cfg.model:
            raise KinjectUserError("judge.model: required when judge.kind is 'llm'")
        key = os.environ.get(cfg.api_key_env)
        if not key:
            raise KinjectUserError(
                f"judge.api_key_env: environment variable {cfg.api_key_env!r} is not set; export the judge's API "
                "key there (any non-empty value for a local server that needs none)"
            )
        self.cfg = cfg
        self.name = f"llm:{cfg.model}"
        self._key = key
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=cfg.base_url, api_key=key, max_retries=cfg.max_retries, timeout=cfg.timeout_s
        )
        self._json_mode = cfg.json_mode != "off"
        self._lock = threading.Lock()
        self.requests = 0  # completions asked for by this judge (retries inside the client not counted)

    # -- one answer --------------------------------------------------------------------------------------------

    def _complete(self, messages: list[dict[str, str]]) -> str | None:
        kwargs = dict(
            model=self.cfg.model, messages=messages, temperature=self.cfg.temperature,
            max_tokens=self.cfg.max_new_tokens,
        )
        with self._lock:
            self.requests += 1
            json_mode = self._json_mode
        if json_mode:
            try:
                response = self._client.chat.completions.create(
                    **kwargs, response_format={"type": "json_object"}
                )
                return response.choices[0].message.content if response.choices else None
            except (self._openai.BadRequestError, self._openai.UnprocessableEntityError):  # 400 or 422
                if self.cfg.json_mode == "on":
                    raise
                # The server does not take response_format (many local servers): the prompt asks for JSON anyway.
                with self._lock:
                    self._json_mode = False
                logger.info("judge endpoint refused response_format; asking for JSON in the prompt only")
        response = self._client.chat.completions.create(**kwargs)
        return response.choices[0].message.content if response.choices else None

    def judge_one(self, question: str, gold: str, answer: str | None) -> tuple[bool, str]:
        """Ask until the reply parses (1 + ``max_retries`` times), else ``(False, "judge_unparseable")``."""
        messages = format_messages(question, gold, answer)
        for _ in range(self.cfg.max_retries + 1):
            parsed = parse_verdict(self._complete(messages))
            if parsed is not None:
                return parsed
        return False, UNPARSEABLE

    # -- many answers ------------------------------------------------------------------------------------------

    def _user_error(self, exc: Exception) -> KinjectUserError:
        message = str(exc).replace(self._key, "***")  # some servers echo the key back
        where = self.cfg.base_url or "api.openai.com"
        return KinjectUserError(
            f"judge: {where} refused model {self.cfg.model!r} ({type(exc).__name__}: {message}); check judge.model, "
            f"judge.base_url and the key in ${self.cfg.api_key_env} (judge.api_key_env)"
        )

    def judge(self, rows: list[dict]) -> list[dict]:
        cache = VerdictCache(self.cfg.cache_dir)
        keys = [cache_key(r["question"], r["gold"], r.get("answer"), self.cfg.model) for r in rows]
        known = cache.get_many(sorted(set(keys)))
        todo = {k: row for k, row in zip(keys, rows) if k not in known}  # identical answers asked once
        failures: list[str] = []
        fatal = (
            self._openai.AuthenticationError, self._openai.PermissionDeniedError, self._openai.NotFoundError,
            self._openai.BadRequestError, self._openai.UnprocessableEntityError,
        )
        if todo:
            workers = min(self.cfg.max_concurrency, len(todo))
            with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(
                total=len(todo), desc=f"judge {self.name}", unit="answer"
            ) as bar:
                futures = {
                    pool.submit(self.judge_one, row["question"], row["gold"], row.get("answer")): key
                    for key, row in todo.items()
                }
                for future in as_completed(futures):
                    key = futures[future]
                    bar.update()
                    try:
                        verdict, reason = future.result()
                    except fatal as exc:
                        for other in futures:
                            other.cancel()
                        raise self._user_error(exc) from None
                    except self._openai.APIError as exc:  # 429/5xx/timeouts after the client's retries
                        failures.append(f"{type(exc).__name__}: {str(exc).replace(self._key, '***')}")
                        continue
                    cache.put(key, verdict, reason, self.cfg.model, PROMPT_SHA)
                    known[key] = (verdict, reason)
        logger.info("judged %d answers: %d from cache, %d asked", len(rows), len(rows) - len(todo), len(todo))
        if failures:
            # Never report an accuracy with transport failures counted as wrong; what succeeded is cached.
            raise KinjectUserError(
                f"judge: {len(failures)} of {len(todo)} judge requests failed after {self.cfg.max_retries} retries "
                f"(first: {failures[0]}); the other verdicts are cached, rerun to retry only these"
            )
        out = []
        for key, row in zip(keys, rows):
            verdict, reason = known[key]
            out.append({**row, "verdict": verdict, "reason": reason, "judge": self.name,
                        "judge_prompt_sha": PROMPT_SHA})
        return out
