"""Embedded Dynamics 365 F&O emulator: Entra-like authority, DMF package API and blob storage.

It plays F&O for tests and demos and imports nothing from the rest of ``d365_assets``::

    with Emulator(state_dir, EmulatorConfig(faults=(Fault("throttle", count=2),))) as emu:
        emu.environment_url, emu.authority_host, emu.blob_host, emu.ca_bundle
        emu.set_faults(Fault("blob_corrupt"))

This is its whole public surface: the emulator, its configuration (data projects included), the
faults it can inject (with F&O's documented throttling messages), its recurring export jobs
(:class:`RecurringJob`, with their queues), the requests it records, and :func:`ensure_tls`: its
test CA and a localhost leaf, for another local service a test puts beside it (Azurite, say).
"""

from .config import DataProject, EmulatorConfig, RecurringJob
from .emulator import Emulator
from .faults import THROTTLE_MESSAGES, Fault
from .requestlog import RequestRecord
from .tls import TlsFiles, ensure_tls

__all__ = [
    "THROTTLE_MESSAGES",
    "DataProject",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "RecurringJob",
    "RequestRecord",
    "TlsFiles",
    "ensure_tls",
]
