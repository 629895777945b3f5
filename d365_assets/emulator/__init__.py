"""Embedded Dynamics 365 F&O emulator: Entra-like authority, DMF package API and blob storage.

It plays F&O for tests and demos and imports nothing from the rest of ``d365_assets``::

    with Emulator(state_dir) as emu:
        emu.environment_url, emu.authority_host, emu.blob_host, emu.ca_bundle
"""

from .config import DataProject, EmulatorConfig
from .emulator import Emulator
from .requestlog import RequestRecord

__all__ = ["DataProject", "Emulator", "EmulatorConfig", "RequestRecord"]
