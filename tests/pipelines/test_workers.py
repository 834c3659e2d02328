"""Workers forked while a pipeline runs exit once their parent is gone (SIGKILL leaves no orphans)."""

import os
import signal
import subprocess
import sys
import time

# The parent forks a child through multiprocessing (as distilabel's pool does), prints its pid and kills itself.
SCRIPT = """
import multiprocessing, os, signal, sys, time
from kinject.pipelines.workers import exit_with_parent
if sys.argv[1] == "watch":
    exit_with_parent()
child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
child.start()
print(child.pid, flush=True)
time.sleep(0.5)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _orphan_lives(mode: str) -> bool:
    # the child inherits stdout: read its pid line, not until EOF
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, mode], stdout=subprocess.PIPE, text=True)
    pid = int(proc.stdout.readline())
    proc.wait(timeout=60)
    proc.stdout.close()
    try:
        time.sleep(3)
        return _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_forked_worker_exits_when_its_parent_is_killed():
    assert not _orphan_lives("watch")


def test_without_the_watchdog_the_worker_outlives_its_parent():
    # the control: what distilabel's workers did before (alive with parent 1)
    assert _orphan_lives("plain")
