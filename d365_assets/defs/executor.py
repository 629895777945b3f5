"""The executor of every run: entity steps in parallel, each in a process that ends with its run.

Steps run in processes forked by the multiprocess executor's forkserver. The forkserver imports
Dagster and the code location once (``preload_modules``), so a step starts in a fraction of a second
instead of importing everything again. It first imports :mod:`d365_assets.defs.step_forkserver`, which
ties the forkserver to the run process and every step to the forkserver: when a run process dies
(``d365-assets demo`` killed, a run worker killed for lack of memory), its steps die with it instead of
exporting and loading on for a run that is then marked failed.
"""

from __future__ import annotations

import dagster as dg

__all__ = ["STEP_PRELOAD", "step_executor"]

STEP_PRELOAD = ("d365_assets.defs.step_forkserver", "d365_assets.definitions")
"""Modules the forkserver imports once, in this order: the tie to the forkserver, the code location."""


def step_executor(*, max_concurrent: int) -> dg.ExecutorDefinition:
    """The multiprocess executor: ``max_concurrent`` steps at once (a run's config may lower or raise
    it: ``execution: {config: {max_concurrent: N}}``), forked by a preloaded forkserver."""

    def with_forkserver(config: dict) -> dict:
        return {
            "max_concurrent": config["max_concurrent"],
            "start_method": {"forkserver": {"preload_modules": list(STEP_PRELOAD)}},
        }

    return dg.multiprocess_executor.configured(
        with_forkserver,
        config_schema={"max_concurrent": dg.Field(int, default_value=max_concurrent, is_required=False)},
    )
