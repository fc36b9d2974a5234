"""REST transport and resource helpers against the fake ARI server: errors, retries, streams."""

from __future__ import annotations

import io

import pytest
from pydantic import SecretStr

from zentrale.telephony.ari import (
    AriAuthError,
    AriClient,
    AriConflictError,
    AriCredentials,
    AriNotFoundError,
    AriServerError,
    AriTransportError,
    AriUnprocessableError,
)
from zentrale.telephony.ari.config import AriOptions, events_url
from zentrale.testing.fake_ari import FakeAri

from .conftest import FAST


@pytest.mark.asyncio
async def test_get_is_retried_on_5xx_until_it_succeeds(fake: FakeAri, rest_only: AriClient) -> None:
    fake.fail("GET", r"^/channels$", 503, times=2)
    fake.add_channel("c1")
    channels = await rest_only.channels.list()
    assert [c.id for c in channels] == ["c1"]
    assert rest_only.rest.stats.retries == 2
    assert [r.path for r in fake.requests].count("/channels") == 3


@pytest.mark.asyncio
async def test_5xx_surfaces_after_bounded_retries(fake: FakeAri, rest_only: AriClient) -> None:
    fake.fail("GET", r"^/channels/c1$", 500, times=None)
    with pytest.raises(AriServerError) as info:
        await rest_only.channels.get("c1")
    assert info.value.status == 500
    assert len(fake.requests) == FAST.retry_attempts


@pytest.mark.asyncio
async def test_non_idempotent_post_is_not_repeated_on_5xx(
    fake: FakeAri, rest_only: AriClient
) -> None:
    fake.add_channel("c1")
    fake.fail("POST", r"/dtmf$", 500)
    with pytest.raises(AriServerError):
        await rest_only.channels.send_dtmf("c1", "1")
    assert len(fake.requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "error"),
    [(404, AriNotFoundError), (409, AriConflictError), (422, AriUnprocessableError)],
)
async def test_statuses_map_to_exceptions(
    fake: FakeAri, rest_only: AriClient, status: int, error: type[Exception]
) -> None:
    fake.add_channel("c1")
    fake.fail("POST", r"/answer$", status)
    with pytest.raises(error):
        await rest_only.channels.answer("c1")


@pytest.mark.asyncio
async def test_hung_up_channel_is_not_found(fake: FakeAri, rest_only: AriClient) -> None:
    with pytest.raises(AriNotFoundError) as info:
        await rest_only.channels.answer("gone")
    assert info.value.message == "Channel not found"


@pytest.mark.asyncio
async def test_wrong_password_is_an_auth_error(fake: FakeAri) -> None:
    creds = fake.credentials.model_copy(update={"password": SecretStr("wrong")})
    ari = AriClient(creds, FAST)
    with pytest.raises(AriAuthError):
        await ari.asterisk.info()
    await ari.close()


@pytest.mark.asyncio
async def test_connection_refused_is_retried_then_surfaced(task_guard: None) -> None:
    creds = AriCredentials(
        base_url="http://127.0.0.1:9/ari", username="u", password=SecretStr("p"), app="a"
    )
    ari = AriClient(creds, FAST)
    with pytest.raises(AriTransportError):
        await ari.channels.send_dtmf("c1", "1")
    assert ari.rest.stats.retries == FAST.retry_attempts - 1
    await ari.close()


@pytest.mark.asyncio
async def test_originate_sends_our_id_params_and_variables(
    fake: FakeAri, rest_only: AriClient
) -> None:
    channel = await rest_only.channels.originate(
        "Local/100@zentrale-inbound/n",
        channel_id="out-1",
        app="zentrale-test",
        caller_id="zentrale <100>",
        ring_timeout=20,
        variables={"SIM_DIGITS": "12"},
    )
    assert channel.id == "out-1"
    request = fake.requests[-1]
    assert request.path == "/channels/out-1"
    assert request.params["timeout"] == "20"
    assert request.params["variables"] == {"SIM_DIGITS": "12"}


@pytest.mark.asyncio
async def test_retried_originate_with_our_id_reports_conflict(
    fake: FakeAri, rest_only: AriClient
) -> None:
    fake.add_channel("out-1", in_app=False)
    with pytest.raises(AriConflictError):
        await rest_only.channels.originate("Local/1@x", channel_id="out-1", app="a")


@pytest.mark.asyncio
async def test_variables_and_bridges_round_trip(fake: FakeAri, rest_only: AriClient) -> None:
    fake.add_channel("c1")
    await rest_only.channels.set_variable("c1", "QUEUE", "sales")
    assert await rest_only.channels.get_variable("c1", "QUEUE") == "sales"
    bridge = await rest_only.bridges.create("b1", kind="mixing")
    await rest_only.bridges.add_channel("b1", "c1")
    assert [b.channels for b in await rest_only.bridges.list()] == [["c1"]]
    await rest_only.bridges.destroy("b1")
    assert bridge.bridge_type == "mixing"
    create = next(r for r in fake.requests if r.path == "/bridges/b1")
    assert create.params["type"] == "mixing,dtmf_events"


@pytest.mark.asyncio
async def test_stored_recording_is_streamed_as_bytes(fake: FakeAri, rest_only: AriClient) -> None:
    audio = b"RIFF" + bytes(range(256)) * 400  # not JSON, not UTF-8
    fake.stored_files["call-1"] = audio
    sink = io.BytesIO()
    written = await rest_only.recordings.download_stored_file("call-1", sink)
    with pytest.raises(AriNotFoundError):
        await rest_only.recordings.download_stored_file("missing", io.BytesIO())
    assert written == len(audio)
    assert sink.getvalue() == audio


def test_password_never_shows_in_repr_or_events_url() -> None:
    creds = AriCredentials(
        base_url="http://127.0.0.1:8088/ari", username="u", password=SecretStr("s3cret"), app="a"
    )
    assert "s3cret" not in repr(creds)
    assert "s3cret" not in repr(AriClient(creds, AriOptions()))
    url = events_url(creds.base_url, creds.app)
    assert url == "ws://127.0.0.1:8088/ari/events?app=a&subscribeAll=false"
