"""A fault-injecting OpenAI-compatible server on loopback, for tests and the generation benchmark.

It answers ``POST /v1/chat/completions`` and ``GET /v1/models``. What each request gets is scripted, so a test
can check that the client retries a bounded number of times and that the run records the failure:

- a marker ``[[fault:MODE]]`` anywhere in the messages applies MODE to every attempt of that prompt;
- ``[[fault:MODE*N]]`` applies MODE to the first N attempts of that prompt, then answers ``ok`` (a retry that
  recovers);
- otherwise, when ``FaultServer.mix`` is set (mode -> share, e.g. ``{"429": 0.15, "500": 0.1}``), each attempt
  draws its mode from it, seeded by the prompt and the attempt number (the rest of the mass answers ``ok``);
- otherwise ``FaultServer.default_mode`` applies (``ok`` unless a test changes it).

Modes: ``ok`` (a valid answer in the prompt's language, derived from the prompt so content checks can pass),
``malformed_json``, ``empty``, ``wrong_language``, ``429`` (with ``Retry-After``), ``500``, ``timeout`` (sleeps
``timeout_sleep_s``, longer than the client's timeout). ``latency_s`` delays every answer (the benchmark's fixed
latency per request). ``api_key`` makes it check the bearer token (a test can prove the key was sent). ``port``
binds a given port, so a stopped server can come back at the same ``base_url``.

Standard-library ``ThreadingHTTPServer`` rather than FastAPI/uvicorn: one thread per connection is enough for 64
concurrent requests, it starts in milliseconds, and it stops cleanly from any thread (uvicorn's signal handling
wants the main thread).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

MODES = ("ok", "malformed_json", "empty", "wrong_language", "429", "500", "timeout")
_MARKER = re.compile(r"\[\[fault:([a-z_0-9]+)(?:\*(\d+))?\]\]")
_JA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@dataclass
class Request:
    """One request as the server saw it: the mode it got, the prompt (last user message) and when."""

    mode: str
    prompt: str
    model: str
    at: float


@dataclass
class FaultServer:
    """The server's state and script; ``start()`` binds a free port on 127.0.0.1."""

    default_mode: str = "ok"
    latency_s: float = 0.0
    timeout_sleep_s: float = 5.0
    retry_after_s: float = 0.0
    model: str = "fault-model"
    api_key: str | None = None  # when set, requests without "Authorization: Bearer <api_key>" get 401
    responder: Callable[[list[dict]], str] | None = None
    mix: dict[str, float] | None = None
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    max_in_flight: int = 0  # most chat requests being handled at once (concurrency the client achieved)
    _in_flight: int = 0
    _attempts: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> "FaultServer":
        self._stop.clear()  # a server stopped earlier can start again
        handler = type("Handler", (_Handler,), {"state": self})
        self._httpd = _Server(("127.0.0.1", self.port), handler)
        self.port = self._httpd.server_address[1]
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes sleeping "timeout" handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- what tests read --------------------------------------------------------------------------------------

    def count(self, mode: str | None = None, contains: str | None = None) -> int:
        """Requests received, optionally only those that got ``mode`` or whose prompt contains ``contains``."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (mode is None or r.mode == mode) and (contains is None or contains in r.prompt)
            )

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._attempts.clear()
            self.max_in_flight = 0

    # -- behaviour --------------------------------------------------------------------------------------------

    def _choose(self, prompt: str) -> str:
        match = _MARKER.search(prompt)
        with self._lock:
            self._attempts[prompt] += 1
            attempt = self._attempts[prompt]
        if match is None and self.mix:
            seed = hashlib.sha256(f"{prompt}\x1f{attempt}".encode()).digest()
            draw, mass = random.Random(seed).random(), 0.0
            for mode, share in self.mix.items():
                mass += share
                if draw < mass:
                    return mode
            return "ok"
        if match is None:
            return self.default_mode
        mode, times = match.group(1), match.group(2)
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r} (modes: {', '.join(MODES)})")
        return mode if times is None or attempt <= int(times) else "ok"

    def answer(self, messages: list[dict], mode: str) -> str:
        """The text of a 200 answer for ``mode``."""
        prompt = _MARKER.sub("", _last_user(messages)).strip()
        if mode == "empty":
            return ""
        if mode == "malformed_json":
            return '{"entities": ["' + prompt[:20].replace('"', "") + '", '  # cut off mid-array
        if mode == "wrong_language":
            if _JA.search(prompt):
                return "This answer is written in English although the document was Japanese."
            return "この回答は文書と違う言語、つまり日本語で書かれています。"
        if self.responder is not None:
            return self.responder(messages)
        return prompt


def _last_user(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default accept backlog is 5: a burst of 64 new connections then overflows it, and the kernel
    # drops the connections that do not fit (uvicorn listens with 2048).
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (its timeout) resets the connection: expected here, not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the openai client pools connections
    state: FaultServer

    def log_message(self, format, *args) -> None:  # quiet: pytest captures stderr otherwise
        pass

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout); nothing to do
            pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": self.state.model, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        state = self.state
        length = int(self.headers.get("Content-Length", 0))
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "request body is not JSON"}})
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        if state.api_key is not None and self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self._send(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
            return
        messages = body.get("messages") or []
        prompt = _last_user(messages)
        mode = state._choose(prompt)
        with state._lock:
            state.requests.append(Request(mode, prompt, str(body.get("model")), time.monotonic()))
            state._in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state._in_flight)
        try:
            self._complete(state, body, messages, prompt, mode)
        finally:
            with state._lock:
                state._in_flight -= 1

    def _complete(self, state: FaultServer, body: dict, messages: list[dict], prompt: str, mode: str) -> None:
        if state.latency_s:
            state._stop.wait(state.latency_s)
        if mode == "timeout":
            state._stop.wait(state.timeout_sleep_s)
            self._send(504, {"error": {"message": "slept past the client's timeout"}})
            return
        if mode == "429":
            self._send(
                429,
                {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                {"Retry-After": f"{state.retry_after_s:g}"},
            )
            return
        if mode == "500":
            self._send(500, {"error": {"message": "internal error", "type": "server_error"}})
            return
        text = state.answer(messages, mode)
        n = int(body.get("n") or 1)
        completion_tokens = len(text.split())
        self._send(
            200,
            {
                "id": f"chatcmpl-{len(state.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or state.model,
                "choices": [
                    {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    for i in range(n)
                ],
                "usage": {
                    "prompt_tokens": len(prompt.split()),
                    "completion_tokens": completion_tokens,
                    "total_tokens": len(prompt.split()) + completion_tokens,
                },
            },
        )
