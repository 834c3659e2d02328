"""Serve the local registry to stock Hub clients with olah (``kinject hub serve``).

olah's ``mirrors-path`` serves git repositories laid out as ``<path>/<repo_type>/<org>/<name>`` straight from their
commits (no working copy needed), which is exactly the registry root. Offline mode keeps it from ever calling
huggingface.co, so ``HF_ENDPOINT=http://host:port`` makes ``huggingface_hub`` and ``datasets`` read the local
repos by sha, tag or branch.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

from kinject.errors import KinjectUserError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def olah_config(root: Path, state_dir: Path, host: str, port: int, public_netloc: str | None = None) -> str:
    """olah's TOML config: offline, mirrors-path = the registry root, its own cache under ``state_dir``."""
    netloc = public_netloc or f"{'localhost' if host in ('0.0.0.0', '::') else host}:{port}"
    lines = [
        "[basic]",
        f'host = "{host}"',
        f"port = {port}",
        f'repos-path = "{state_dir / "repos"}"',
        f'mirrors-path = ["{root}"]',
        'mirror-scheme = "http"',
        f'mirror-netloc = "{netloc}"',
        f'mirror-lfs-netloc = "{netloc}"',
        "",
        "[accessibility]",
        "offline = true",
        "",
    ]
    return "\n".join(lines)


def start_olah(
    root: str | Path, host: str = "127.0.0.1", port: int | None = None, state_dir: str | Path | None = None,
    public_netloc: str | None = None, log_file: Path | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start olah over ``root`` (a local registry root) and return (process, endpoint URL) once it answers."""
    root = Path(root).expanduser().resolve()
    if not (root / "datasets").is_dir():
        raise KinjectUserError(f"{root}: not a local registry (no datasets/ folder); publish something first")
    port = port or free_port(host if host not in ("0.0.0.0", "::") else "127.0.0.1")
    state = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="kinject-olah-"))
    state.mkdir(parents=True, exist_ok=True)
    config = state / "olah.toml"
    config.write_text(olah_config(root, state, host, port, public_netloc))
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "olah.server", "--config", str(config), "--log-path", str(state / "logs")],
        stdout=out, stderr=subprocess.STDOUT if log_file else subprocess.DEVNULL, cwd=state,
    )
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        _wait_ready(proc, url)
    except BaseException:
        stop_olah(proc)
        raise
    return proc, url


def _wait_ready(proc: subprocess.Popen, url: str, timeout: float = 600.0) -> None:
    # Generous: olah imports fastapi and huggingface_hub, which takes minutes on a loaded 2-core machine.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"olah exited with code {proc.returncode} before answering on {url}")
        try:
            urllib.request.urlopen(f"{url}/api/datasets/kinject/__ready__", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (a 404 here) means the server is up
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise RuntimeError(f"olah did not answer on {url} within {timeout:.0f}s")


def stop_olah(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def serve_registry(root: str | Path, **kwargs) -> Iterator[str]:
    """``with serve_registry(root) as endpoint:`` — olah over the registry for the block; yields ``HF_ENDPOINT``."""
    proc, url = start_olah(root, **kwargs)
    try:
        yield url
    finally:
        stop_olah(proc)
