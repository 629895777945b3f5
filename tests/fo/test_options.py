"""The client's options: grouped (HttpOptions, PollOptions) or flat, the same client either way."""

from __future__ import annotations

import random

import httpx
import pytest

from d365_assets.fo import ClientSecretCredential, D365Client, ExecutionStatus, HttpOptions, PollOptions
from d365_assets.fo.auth import MsalHttpClient

from .fakes import AUTHORITY, CLIENT_ID, ENV, SECRET, TENANT, FakeClock, FakeFinOps

SLOW_START = ["NotRun"] * 8 + ["Succeeded"]


def _grouped_client(fake: FakeFinOps, clock: FakeClock, polling: PollOptions) -> D365Client:
    http = HttpOptions(
        transport=httpx.MockTransport(fake.fo),
        blob_transport=httpx.MockTransport(fake.blob),
        msal_http_client=MsalHttpClient(httpx.Client(transport=httpx.MockTransport(fake.authority))),
    )
    credential = ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority_host=AUTHORITY)
    return D365Client(
        environment_url=ENV, credential=credential, http=http, polling=polling, sleep=clock.sleep, clock=clock
    )


def _sleeps_until_succeeded(client: D365Client, clock: FakeClock) -> list[float]:
    random.seed(8)  # the same jitter for both spellings
    with client:
        assert client.wait_for_execution("X") is ExecutionStatus.SUCCEEDED
    return clock.sleeps


def test_grouped_and_flat_options_poll_alike() -> None:
    grouped_clock, flat_clock = FakeClock(), FakeClock()
    polling = PollOptions(interval=2.0, max_interval=10.0, timeout=600.0, not_found_grace=60.0)
    grouped = _grouped_client(FakeFinOps(statuses=list(SLOW_START)), grouped_clock, polling)
    flat = FakeFinOps(statuses=list(SLOW_START)).client(
        flat_clock, poll_interval=2.0, max_poll_interval=10.0, poll_timeout=600.0, not_found_grace=60.0
    )
    assert flat.polling == PollOptions(
        interval=2.0, max_interval=10.0, timeout=600.0, not_found_grace=60.0, url_timeout=120.0
    )
    sleeps = _sleeps_until_succeeded(grouped, grouped_clock)
    assert sleeps == _sleeps_until_succeeded(flat, flat_clock)
    assert len(sleeps) == 8
    assert max(sleeps) <= 10.0 * 1.2


def test_a_flat_option_overrides_its_field_of_the_group() -> None:
    polling = PollOptions(max_interval=7.0, timeout=600.0)
    with FakeFinOps().client(FakeClock(), polling=polling, poll_timeout=5.0) as client:
        assert client.polling.timeout == 5.0
        assert client.polling.max_interval == 7.0


def test_an_interval_above_the_cap_raises_the_cap() -> None:
    clock = FakeClock()
    fake = FakeFinOps(statuses=["NotRun", "NotRun", "NotRun", "Succeeded"])
    client = _grouped_client(fake, clock, PollOptions(interval=30.0, max_interval=1.0))
    assert min(_sleeps_until_succeeded(client, clock)) >= 30.0 * 0.8


@pytest.mark.parametrize("name", ["download_chunk_size", "poll_intervall"])
def test_an_unknown_option_is_refused(name: str) -> None:
    with pytest.raises(TypeError, match=name):
        FakeFinOps().client(FakeClock(), **{name: 1})
