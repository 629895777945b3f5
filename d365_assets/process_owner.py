"""Which process owns a piece of work, and whether that process still runs. No Dagster here.

A PID alone cannot tell: the system reuses PIDs, so a later process may carry a dead owner's PID.
The owner is therefore recorded as host, PID and the moment the process started (on Linux the boot
id and start tick from ``/proc``; elsewhere what ``ps`` reports), and it counts as running only
while a process with that PID and that start exists on this host.
"""

from __future__ import annotations

import enum
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Liveness", "ProcessOwner", "process_start"]

_PROC = Path("/proc")


class Liveness(enum.Enum):
    """Whether the owner of some work still runs."""

    RUNNING = "running"
    GONE = "gone"
    UNKNOWN = "unknown"
    """Another host's process, or a platform that does not tell when a process started."""


@dataclass(frozen=True)
class ProcessOwner:
    """The process that runs some work: host name, PID and when it started."""

    host: str
    pid: int
    started: str
    """An opaque token of the process start; empty when the platform could not tell it."""

    @classmethod
    def current(cls) -> ProcessOwner:
        """This process."""
        pid = os.getpid()
        return cls(host=socket.gethostname(), pid=pid, started=process_start(pid) or "")

    def liveness(self) -> Liveness:
        """RUNNING while this owner's process exists; GONE once it ended (even if its PID was reused)."""
        if self.host != socket.gethostname():
            return Liveness.UNKNOWN
        try:
            started = process_start(self.pid)
        except OSError:
            return Liveness.UNKNOWN
        if started is None:
            return Liveness.GONE
        if not self.started:
            return Liveness.UNKNOWN  # a process with the PID exists, and nothing tells it apart
        return Liveness.RUNNING if started == self.started else Liveness.GONE

    def describe(self) -> str:
        """For messages: ``pid 123 on host``."""
        return f"pid {self.pid} on {self.host}"


def process_start(pid: int) -> str | None:
    """A token of when process ``pid`` started, or None when no such process runs (zombies count as ended).

    Raises OSError when this platform offers no way to tell.
    """
    if pid <= 0:
        return None
    if _PROC.is_dir():
        return _linux_start(pid)
    return _ps_start(pid)


def _linux_start(pid: int) -> str | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    state, start_ticks = fields[0], fields[19]  # fields 3 and 22 of proc_pid_stat(5)
    if state in ("Z", "X"):
        return None
    return f"{_boot_id()}:{start_ticks}"


def _boot_id() -> str:
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _ps_start(pid: int) -> str | None:
    """Start time and state from ``ps`` (macOS, BSD); raises OSError when there is no ``ps``."""
    result = subprocess.run(
        ["ps", "-o", "stat=", "-o", "lstart=", "-p", str(pid)],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    state, _, started = result.stdout.strip().partition(" ")
    if result.returncode != 0 or not state or state.startswith("Z"):
        return None
    return " ".join(started.split())
