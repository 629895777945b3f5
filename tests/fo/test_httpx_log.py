"""httpx's log lines pass one redacting filter that knows only the secrets of the clients open now."""

from __future__ import annotations

import gc
import logging

import pytest

from d365_assets.fo import ClientSecretCredential
from d365_assets.fo.redact import RedactingFilter
from d365_assets.fo.transport import open_transport_secrets

from .fakes import AUTHORITY, BLOB, CLIENT_ID, SIG, TENANT, FakeClock, FakeFinOps

HTTPX = logging.getLogger("httpx")


def _open_client(secret: str, clock: FakeClock):  # type: ignore[no-untyped-def]
    """A client of a fake whose secret is ``secret``, holding a token already (F&O was called)."""
    fake = FakeFinOps(secret=secret)
    client = fake.client(
        clock, credential=ClientSecretCredential(TENANT, CLIENT_ID, secret, authority_host=AUTHORITY)
    )
    client.get_exported_package_url("X")
    return fake, client


def _our_filters() -> list[logging.Filter]:
    return [f for f in HTTPX.filters if isinstance(f, RedactingFilter)]


def test_httpx_lines_lose_the_secret_and_tokens_of_an_open_client(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake, client = _open_client("Open-Client-Secret-1", FakeClock())
    with client:
        (token,) = fake.tokens_issued
        HTTPX.info("echo %s and %s at %s", "Open-Client-Secret-1", token, f"{BLOB}/p?sig={SIG}")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "httpx" and "echo" in r.getMessage()]
    assert line == "echo *** and *** at https://blob.test/p?sig=***"


def test_closing_a_client_forgets_its_secrets_and_keeps_the_others() -> None:
    clock = FakeClock()
    closed_fake, closed = _open_client("Closed-Client-Secret", clock)
    open_fake, still_open = _open_client("Still-Open-Secret", clock)
    assert {"Closed-Client-Secret", *closed_fake.tokens_issued} <= set(open_transport_secrets())
    closed.close()
    with still_open:
        now = set(open_transport_secrets())
        assert "Closed-Client-Secret" not in now  # (both fakes issue the same token strings)
        assert {"Still-Open-Secret", *open_fake.tokens_issued} <= now
    assert "Still-Open-Secret" not in open_transport_secrets()


def test_many_clients_leave_one_filter_and_no_secret_behind() -> None:
    clock = FakeClock()
    secrets = [f"Many-Clients-Secret-{i:02}" for i in range(12)]
    for secret in secrets:
        with _open_client(secret, clock)[1]:
            pass
    assert len(_our_filters()) == 1
    assert not set(open_transport_secrets()) & set(secrets)


def test_a_client_dropped_unclosed_is_forgotten_too() -> None:
    fake, client = _open_client("Never-Closed-Secret", FakeClock())
    assert "Never-Closed-Secret" in open_transport_secrets()
    del client
    gc.collect()
    assert "Never-Closed-Secret" not in open_transport_secrets()
    assert not set(open_transport_secrets()) & set(fake.tokens_issued)
