"""Worker processes that never outlive the command, and a cap on how many to start."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

__all__ = ["cores", "cap_jobs", "die_with_parent", "worker_initializer", "terminate_cleanly", "pid_alive"]


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cap_jobs(jobs: int, warn: Callable[[str], None] | None = None) -> int:
    """*jobs* processes, at most one per core (asked for more, say so)."""
    n = cores()
    if jobs > n:
        if warn:
            warn(f"--jobs {jobs} is more than the {n} cores here; using {n}")
        return n
    return max(1, jobs)


def die_with_parent(parent: int) -> None:
    """Ask the kernel to end this process when its parent dies (Linux); a no-op elsewhere.

    A forked worker otherwise sleeps forever on its queue after ``kill -9`` of the command.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def worker_initializer() -> Callable[[], None]:
    """An initializer for a process pool: each worker dies with this process."""
    parent = os.getpid()

    def init() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        die_with_parent(parent)

    return init


def terminate_cleanly() -> None:
    """Turn SIGTERM into SystemExit(143) in the main process, so temp files are removed on the way out."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
