"""Imported only by the step executor's forkserver: it, and every step it forks, dies with the run process.

Python's forkserver outlives the process that started it as long as a child it forked runs, and so
do the children. On import (in the forkserver) this module asks Linux to SIGKILL the forkserver when
its parent, the run process, ends (``PR_SET_PDEATHSIG``), and registers a fork hook that asks the same
for every step process with respect to the forkserver. A killed run process thus takes the
forkserver, and the forkserver its steps. Elsewhere than on Linux, or where the request is refused,
steps outlive their run process as Dagster's own steps do. The code location does not import this
module: the signal follows the thread that forked, and a fork from a short-lived thread must not be
tied to it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__: list[str] = []

_PR_SET_PDEATHSIG = 1
_forking_pid: int | None = None


def _die_with_parent(parent: int | None) -> None:
    """Be SIGKILLed when the parent process ends; exit at once if ``parent`` already has."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # the parent ended before the request: no signal will come


def _remember_forking_process() -> None:
    global _forking_pid
    _forking_pid = os.getpid()


def _tie_step() -> None:
    _die_with_parent(_forking_pid)


_die_with_parent(os.getppid())  # this forkserver, with the run process that started it
os.register_at_fork(before=_remember_forking_process, after_in_child=_tie_step)
