"""Generation workers exit when the process that started them dies.

distilabel runs every step in a worker of a non-daemonic ``multiprocessing`` pool (``_NoDaemonPool``). When the
``kinject corpus`` process is killed hard (SIGKILL, the OOM killer, a job runner's timeout), nothing tells those
workers: they were seen alive with parent 1 minutes later, holding memory and open connections. Neither
multiprocessing nor distilabel offers a hook for this, so every process forked while a pipeline runs starts a
small watchdog thread that polls its parent pid and exits when the parent has gone. Polling rather than Linux's
``PR_SET_PDEATHSIG``: that signal fires when the forking *thread* exits, and the pool forks replacement workers from
its handler thread; polling also works on macOS.
"""

from __future__ import annotations

import os
import threading
import time

# How often a worker checks that its parent is alive: an orphan lives at most this long plus its current syscall.
POLL_S = 0.5
_registered = False


def exit_with_parent() -> None:
    """From now on, every process this one forks exits once this process has died (idempotent)."""
    global _registered
    if not _registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_watch_parent)
        _registered = True


def _watch_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(POLL_S)
            if os.getppid() != parent:  # reparented: the process that forked us is gone
                os._exit(1)  # no cleanup to run: the parent owned the pipeline's state

    threading.Thread(target=watch, name="kinject-exit-with-parent", daemon=True).start()
