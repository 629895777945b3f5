"""No secret reaches a log record or an exception text, whatever the flow.

Runs success, a 401 token renewal, a 403 SAS renewal, Failed, PartiallySucceeded, a wrong secret, an
http package URL, a corrupted download, an unsafe execution id and a timeout against the emulator,
capturing every log record at DEBUG from every logger (httpx, httpcore, msal, urllib3, d365_assets.*,
the emulator's own) and every exception text, and searches them for the client secret, each bearer
token actually sent and each SAS signature (``sig=`` shows only as ``sig=***``).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from d365_assets.emulator import Emulator, EmulatorConfig, Fault
from d365_assets.fo import D365Error
from d365_assets.fo.tls import ssl_context
from tests.support.environment import QUICK_LIFECYCLE, as_real_environment, client_for, credential_for

PROJECT, FAILED, PARTIAL = "D365A-CustomersV3", "D365A-VendorsV2", "D365A-ReleasedProductsV2"


class _Recorder(httpx.BaseTransport):
    """Passes requests on, remembering every bearer token and SAS signature sent."""

    def __init__(self, inner: httpx.BaseTransport, seen: set[str]) -> None:
        self._inner, self._seen = inner, seen

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            self._seen.add(token)
        if sig := request.url.params.get("sig"):
            self._seen.add(sig)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(logging.Formatter("%(name)s %(message)s").format(record))


@pytest.fixture
def everything() -> Iterator[_Everything]:
    handler = _Everything()
    root = logging.getLogger()
    names = ("httpx", "httpcore", "msal", "urllib3", "d365_assets", "uvicorn", "uvicorn.error")
    levels = {name: logging.getLogger(name).level for name in (*names, "")}
    root.addHandler(handler)
    for name in (*names, ""):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_no_secret_in_logs_or_errors(tmp_path: Path, everything: _Everything) -> None:
    config = EmulatorConfig(
        rows={"CustomersV3": 40, "VendorsV2": 20, "ReleasedProductsV2": 20},
        outcomes={FAILED: "Failed", PARTIAL: "PartiallySucceeded"},
        **QUICK_LIFECYCLE,  # type: ignore[arg-type]
    )
    seen: set[str] = set()
    errors: list[str] = []
    with Emulator(tmp_path / "emu", config) as emu:
        tls = ssl_context(emu.ca_bundle)

        def client(**options: object):  # type: ignore[no-untyped-def]
            return client_for(
                emu,
                transport=_Recorder(httpx.HTTPTransport(verify=tls), seen),
                blob_transport=_Recorder(httpx.HTTPTransport(verify=tls), seen),
                **options,
            )

        def run(project: str, *, before: object = None, **options: object) -> None:
            try:
                with client(**options) as c:
                    execution_id = c.export_to_package(data_project=project, legal_entity="USMF")
                    if callable(before):
                        before()
                    c.wait_for_execution(execution_id)
                    c.download_package(
                        execution_id=execution_id, destination=tmp_path / f"{execution_id}.zip"
                    )
            except D365Error as exc:
                errors.extend([str(exc), repr(exc), "".join(traceback.format_exception(exc))])

        run(PROJECT)  # success
        run(PROJECT, before=emu.revoke_tokens)  # 401, token renewed
        run(PROJECT, before=lambda: emu.set_faults(Fault("sas_expiry", seconds=-60)))  # 403, fresh URL
        run(FAILED)
        run(PARTIAL)
        run(PROJECT, credential=credential_for(emu, secret="wrong-" + emu.client_secret[:10]))
        emu.set_faults(Fault("http_package_url"))
        run(PROJECT)  # refused before the download: the URL is shown without its query
        emu.set_faults(Fault("blob_corrupt", count=-1))
        run(PROJECT)  # never matches the blob's MD5
        emu.set_faults(Fault("foreign_execution_id", execution_id="../../../../x"))
        run(PROJECT)  # an execution id that cannot name a file
        emu.set_faults(Fault("never_finish"))
        run(PROJECT, poll_timeout=0.5)
        secret = emu.client_secret
    assert len(errors) == 6 * 3  # Failed, wrong secret, http URL, corrupt, unsafe id, timeout
    assert len(seen) >= 5  # tokens (three clients + a renewal) and signatures
    texts = everything.texts + errors
    assert any("HTTP Request" in t for t in texts)  # httpx did log, with its URLs
    for text in texts:
        assert secret not in text
        for value in seen:
            assert value not in text, f"a token or SAS signature in: {text[:200]}"
        assert "sig=" not in text.replace("sig=***", ""), f"a SAS signature in: {text[:200]}"


def test_no_secret_in_dagster_events_or_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Materializations (one succeeding, one whose export ends Failed): no secret in any event."""
    import dagster as dg

    from d365_assets.definitions import build_definitions

    config = EmulatorConfig(outcomes={FAILED: "Failed"}, outcome_errors={FAILED: ("Vendor 0042 is on hold",)})
    with Emulator(state_dir=tmp_path / "emulator", config=config) as emulator:
        defs = build_definitions(as_real_environment(emulator, tmp_path, monkeypatch))
        texts = []
        with dg.instance_for_test() as instance:
            for table, succeeds in (("customers_v3", True), ("vendors_v2", False)):
                result = dg.materialize(
                    [defs.get_assets_def(dg.AssetKey(["d365", table]))],
                    resources=defs.resources,
                    instance=instance,
                    partition_key="USMF",
                    raise_on_error=False,
                )
                assert result.success is succeeds
                texts.extend(repr(event) for event in result.all_events)
            records = instance.get_event_records(
                dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_FAILURE)
            )
            assert records, "the failed export is in the event log"
            texts.extend(repr(record.event_log_entry) for record in records)
        secrets = [emulator.client_secret]
    everything = "\n".join(texts)
    assert "Vendor 0042 is on hold" in everything, "F&O's error messages do reach the failure"
    for secret in secrets:
        assert secret not in everything
    assert "sig=" not in everything
    assert "Bearer " not in everything
