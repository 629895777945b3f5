"""The embedded F&O emulator: three HTTPS origins (F&O, authority, blob) over shared on-disk state."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import TracebackType

from filelock import FileLock
from starlette.types import ASGIApp

from .authority import build_authority_app
from .blob_app import build_blob_app
from .client_cert import check_client_assertion, ensure_client_certificate
from .config import EmulatorConfig, config_from_dict, config_to_dict, data_identity
from .connector_app import connector_routes
from .credentials import Credentials, ensure_credentials
from .dataset import ActivityRates, Dataset
from .dmf import DmfService
from .entities import find_entity
from .fault_admin import fault_routes
from .fault_middleware import authority_faults, blob_faults, fo_faults
from .faults import Fault, FaultStore
from .fo_app import FoHooks, build_fo_app
from .queue import MessageQueue
from .recurring import RecurringService
from .render import typed_row
from .requestlog import RequestLog, RequestRecord
from .servers import ServerThread
from .store import Store
from .tls import TlsFiles, ensure_tls

__all__ = ["Emulator", "recorded_config"]


def recorded_config(state_dir: Path) -> EmulatorConfig | None:
    """The configuration recorded in ``state_dir`` by the first emulator there, or None."""
    path = Path(state_dir) / "environment.json"
    if not path.exists():
        return None
    return config_from_dict(json.loads(path.read_text(encoding="utf-8")))


def _environment_config(state_dir: Path, config: EmulatorConfig | None) -> EmulatorConfig:
    """The configuration of the environment in ``state_dir`` (call under the init lock).

    The first emulator on a state directory records its configuration there. Later ones given
    no configuration adopt it (so a process started without arguments sees the same data);
    one given a configuration must agree on the data-defining settings.
    """
    path = state_dir / "environment.json"
    if not path.exists():
        chosen = config or EmulatorConfig()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(config_to_dict(chosen), indent=2), encoding="utf-8")
        os.replace(tmp, path)
        return chosen
    stored = recorded_config(state_dir)
    assert stored is not None
    if config is None:
        return stored
    if data_identity(config) != data_identity(stored):
        raise ValueError(
            f"{state_dir} holds an environment created with other data settings (seed, companies, rows, "
            "activity rates); pass config=None to use it, or use a new state directory"
        )
    return config


class Emulator:
    """A local stand-in for a D365 F&O environment, its Entra authority and its blob storage.

    All state lives in ``state_dir`` (SQLite, package files, CA, credentials, configuration), so
    several processes can run an emulator on the same directory and restarts see the same
    environment. ``config=None`` adopts the configuration recorded in ``state_dir`` (or the defaults
    for a new directory); the listener host and ports are always per process.
    """

    def __init__(self, state_dir: Path, config: EmulatorConfig | None = None) -> None:
        self.state_dir = Path(state_dir)
        self._log = RequestLog()
        self._servers: dict[str, ServerThread] = {}
        self._started = False
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(self.state_dir / ".init.lock", timeout=60):
            self.config = _environment_config(self.state_dir, config)
            self._tls: TlsFiles = ensure_tls(self.state_dir)
            self._credentials: Credentials = ensure_credentials(self.state_dir)
            self._store = Store(self.state_dir / "state.sqlite")
            self._store.initialise()
            self._faults = FaultStore(self.state_dir / "state.sqlite")
            self._faults.initialise()
            if config is not None and config.faults:
                self._faults.add(config.faults, replace_all=True)
            self._client_certificate = ensure_client_certificate(self.state_dir)
            queue = MessageQueue(self.state_dir / "state.sqlite")
            queue.initialise()
        c = self.config
        self._dataset = Dataset(
            seed=c.seed,
            companies=c.companies,
            rows=c.rows,
            rates=ActivityRates(c.insert_rate, c.update_rate, c.delete_rate),
        )
        self._service = DmfService(
            config=c,
            store=self._store,
            dataset=self._dataset,
            projects=c.data_projects(),
            blobs_dir=self.state_dir / "blobs",
            sas_key=self._credentials.sas_key,
        )
        self._recurring = RecurringService(
            config=c, store=self._store, dmf=self._service, queue=queue, faults=self._faults
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and start the three HTTPS listeners; returns self."""
        if self._started:
            return self
        self._service.purge_expired()
        try:
            for name, (app, port) in self._apps().items():
                wrapped = self._log.middleware(app, origin=name)
                self._servers[name] = ServerThread(
                    wrapped, host=self.config.host, port=port, tls=self._tls, name=name
                )
            for server in self._servers.values():
                server.start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def _apps(self) -> dict[str, tuple[ASGIApp, int]]:
        """The three origins' apps (faults wrapped around each) and their configured ports."""
        c = self.config
        hooks = FoHooks(
            environment_url=lambda: self.environment_url,
            blob_host=lambda: self.blob_host,
            current_round=self.current_round,
            advance=self._advance,
            message_status=self._recurring.message_status,
        )
        fo = build_fo_app(
            service=self._service,
            dataset=self._dataset,
            store=self._store,
            hooks=hooks,
            admin_routes=[
                *fault_routes(self._faults),
                *connector_routes(self._recurring, environment_url=lambda: self.environment_url),
            ],
        )
        authority = build_authority_app(
            credentials=self._credentials,
            store=self._store,
            origin=lambda: self.authority_host,
            token_lifetime=c.token_lifetime_seconds,
            assertion_check=self._check_assertion,
        )
        blob = build_blob_app(
            service=self._service, sas_key=self._credentials.sas_key, retention_seconds=c.retention_seconds
        )
        return {
            "fo": (fo_faults(fo, faults=self._faults, sas_key=self._credentials.sas_key), c.fo_port),
            "authority": (authority_faults(authority, faults=self._faults), c.authority_port),
            "blob": (blob_faults(blob, faults=self._faults), c.blob_port),
        }

    def stop(self) -> None:
        """Stop the listeners and wait for package builds of this process to finish."""
        for server in self._servers.values():
            server.stop()
        self._servers.clear()
        self._service.wait_idle()
        self._started = False

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses and credentials -----------------------------------------------------------

    def _origin(self, name: str) -> str:
        server = self._servers.get(name)
        if server is None:
            raise RuntimeError("the emulator is not started")
        host = self.config.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - only used to build a loopback URL
            host = "127.0.0.1"
        return f"https://{host}:{server.port}"

    @property
    def environment_url(self) -> str:
        """The F&O environment origin, e.g. ``https://127.0.0.1:50123`` (no trailing slash)."""
        return self._origin("fo")

    @property
    def authority_host(self) -> str:
        """The Entra-like authority origin; the msal authority is ``f"{authority_host}/{tenant_id}"``."""
        return self._origin("authority")

    @property
    def blob_host(self) -> str:
        """The blob storage origin serving exported packages."""
        return self._origin("blob")

    @property
    def tenant_id(self) -> str:
        """The emulated Entra tenant id."""
        return self._credentials.tenant_id

    @property
    def client_id(self) -> str:
        """The registered application's client id."""
        return self._credentials.client_id

    @property
    def client_secret(self) -> str:
        """The registered application's client secret (generated once per state directory)."""
        return self._credentials.client_secret

    @property
    def client_certificate(self) -> Path:
        """PEM file (private key + certificate) of the app registration's certificate credential."""
        return self._client_certificate

    def _check_assertion(self, assertion: str, token_endpoint: str) -> str | None:
        return check_client_assertion(
            assertion,
            certificate=self._client_certificate,
            client_id=self._credentials.client_id,
            audiences={token_endpoint},
        )

    @property
    def ca_bundle(self) -> Path:
        """PEM file of the CA that signed the listeners' certificate; clients must trust it."""
        return self._tls.ca_cert

    @property
    def requests(self) -> list[RequestRecord]:
        """Requests received by this emulator instance: (origin, method, path, had_authorization)."""
        return self._log.snapshot()

    def clear_requests(self) -> None:
        """Forget the request log."""
        self._log.clear()

    # -- fault injection ---------------------------------------------------------------------

    @property
    def faults(self) -> list[Fault]:
        """The active faults (shared by every process on the state directory), with remaining counts."""
        return self._faults.active()

    def add_faults(self, *faults: Fault) -> None:
        """Activate faults in addition to the active ones."""
        self._faults.add(faults)

    def set_faults(self, *faults: Fault) -> None:
        """Replace the active faults."""
        self._faults.add(faults, replace_all=True)

    def clear_faults(self) -> None:
        """Deactivate every fault."""
        self._faults.clear()

    def revoke_tokens(self) -> int:
        """Expire every issued access token now (F&O answers 401 to them); returns how many."""
        return self._faults.revoke_tokens()

    # -- business activity and source data ---------------------------------------------------

    def current_round(self) -> int:
        """The current business-activity round (shared by all processes on this state directory)."""
        return self._store.current_round(interval=self.config.activity_interval_seconds)

    def _advance(self, rounds: int) -> int:
        return self._store.add_rounds(rounds, interval=self.config.activity_interval_seconds)

    def advance_activity(self, rounds: int = 1) -> None:
        """Simulate ``rounds`` rounds of business activity (inserts, updates, deletes in every entity)."""
        if rounds < 0:
            raise ValueError("rounds must be >= 0")
        self._advance(rounds)

    def source_rows(self, entity: str, company: str | None) -> list[dict[str, object]]:
        """Current rows of an entity in one company (``None`` for shared entities), as typed values.

        Keys are the upper-case column names of the entity's files (the configuration's
        ``extra_columns`` included, its ``dropped_columns`` left out); values are ``str``, ``int``,
        ``Decimal`` (6 places), ``bool`` (NoYes), naive UTC ``date``/``datetime``, or ``None`` for
        F&O's empty date.
        """
        definition = find_entity(entity)
        layout = self.config.layout(definition)
        names, kinds = layout.column_names, layout.column_types
        rows = layout.apply(self._dataset.raw_rows(definition, company, round_=self.current_round()))
        return [dict(zip(names, typed_row(kinds, raw), strict=True)) for raw in rows]

    def run_recurring_job(self, activity_id: str) -> str:
        """Run a recurring export job now (as its recurrence would); returns its message's id."""
        return self._recurring.run_job(activity_id)

    def recurring_waiting(self, activity_id: str) -> int:
        """Messages of a recurring job's queue not acknowledged yet (visible or hidden)."""
        return self._recurring.waiting(activity_id)

    def finished_at(self, execution_id: str) -> float | None:
        """When GetExecutionSummaryStatus first answers the execution's final status (``time.time()``):
        the later of its end and its package being built. None while it runs, or for an unknown id."""
        record = self._store.get_execution(execution_id)
        if record is None:
            return None
        finished = record.done_at
        if record.outcome in ("Succeeded", "PartiallySucceeded"):
            finished = max(finished, record.built_at if record.built_at is not None else float("inf"))
        return finished if finished <= time.time() else None

    def watermark(self, project: str, company: str | None) -> int | None:
        """The change-tracking watermark (activity round) of an incremental project, or None."""
        definition = self._service.projects[project].entity_def
        key = company.upper() if company and definition.company_specific else None
        return self._store.watermark(project, definition.name, key)
