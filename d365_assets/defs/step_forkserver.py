"""Imported only by the step executor's forkserver: every process it forks dies when it exits.

On import this registers a fork hook: right after each fork, the new step process asks Linux for
SIGKILL when its parent, the forkserver, ends (``PR_SET_PDEATHSIG``), and exits at once should the
forkserver already be gone. Elsewhere than on Linux, or where the request is refused, steps simply
outlive their run process, as Dagster's own steps do. Not imported by the code location itself: a
fork elsewhere (from a thread that may end first) must not be tied to its forking thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__: list[str] = []

_PR_SET_PDEATHSIG = 1
_forking_pid: int | None = None


def _remember_parent() -> None:
    global _forking_pid
    _forking_pid = os.getpid()


def _end_with_parent() -> None:
    """In a freshly forked process: be killed when the parent ends; exit if it already has."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if os.getppid() != _forking_pid:
        os._exit(1)  # the forkserver ended between the fork and the request: no signal will come


os.register_at_fork(before=_remember_parent, after_in_child=_end_with_parent)
