"""Prompts on the real sandbox Asterisk: a synthesized German prompt served by our route is
fetched by `res_http_media_cache` and played to a simulated caller; Asterisk's own sounds come
from ARI's `GET /sounds`.

Measured here: the media URI form Asterisk 22 accepts is `sound:http://host:port/...wav`; the
cache revalidates a played file with a HEAD and `If-None-Match` (answered 304).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zentrale.api.routes_prompts import prompts_base_url, prompts_router
from zentrale.prompts.catalog import PromptCatalog
from zentrale.prompts.check import missing_prompts
from zentrale.prompts.manifest import load_manifest, parse_manifest
from zentrale.prompts.sounds import fetch_asterisk_sounds
from zentrale.prompts.synthesize import synthesize
from zentrale.routing.load import load_rules, parse_rules
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, place_call
from zentrale.telephony.ari import AriClient, Call
from zentrale.telephony.ari.events import PlaybackFinished, PlaybackStarted

REPO = Path(__file__).resolve().parents[2]
MANIFEST = """\
version: 1
voices: {de: de}
prompts:
  de/willkommen-test: {de: "Willkommen beim Kundenservice in Antalya."}
"""
RULES = """\
version: 1
timezone: Europe/Istanbul
languages: {available: [de, en], default: de}
prompts:
  goodbye: sound:vm-goodbye
  nope: {de: "sound:de/nope", en: "sound:vm-goodbye"}
departments:
  sales: {agents: [{endpoint: PJSIP/1001, name: A}], on_max_wait: {voicemail: sales}}
entry_rules:
  - {name: nope, match: {caller: ["+90850*"]}, action: {play_and_hangup: nope}}
  - {name: all, action: {play_and_hangup: goodbye}}
"""


@dataclass
class Served:
    """What the prompts server answered, without the token."""

    requests: list[tuple[str, str, str | None, int]] = field(default_factory=list)


class _Recorder:
    """ASGI middleware noting method, file, If-None-Match and status of each request."""

    def __init__(self, app: ASGIApp, served: Served, token: str) -> None:
        self.app, self.served, self.token = app, served, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", []))
        match = headers.get(b"if-none-match")

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                path = str(scope["path"]).replace(self.token, "TOKEN")
                etag = match.decode() if match else None
                self.served.requests.append((scope["method"], path, etag, message["status"]))
            await send(message)

        await self.app(scope, receive, noting)


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the test runner owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class PromptServer:
    """A running prompts route on loopback, and what it served."""

    catalog: PromptCatalog
    base_url: str
    token: str
    served: Served


@pytest_asyncio.fixture
async def prompt_server(tmp_path: Path) -> AsyncIterator[PromptServer]:
    synthesize(parse_manifest(MANIFEST), tmp_path)
    catalog, token, served = PromptCatalog(tmp_path), secrets.token_urlsafe(24), Served()
    app = FastAPI()
    app.include_router(prompts_router(catalog, token))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        _Recorder(app, served, token),
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="none",
        loop="asyncio",
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await _started(server)
    yield PromptServer(catalog, prompts_base_url(f"http://127.0.0.1:{port}", token), token, served)
    server.should_exit = True
    await task
    sock.close()


async def _started(server: uvicorn.Server) -> None:
    # uvicorn offers a flag, not an event, for "listening".
    for _ in range(500):
        if server.started:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("uvicorn did not start")


async def _play_to_caller(asterisk: SandboxInstance, media: list[str]) -> list[PlaybackFinished]:
    """Answer one simulated caller, play MEDIA in turn, hang up; return the finish events."""
    finished: asyncio.Queue[list[PlaybackFinished]] = asyncio.Queue()

    async def flow(call: Call) -> None:
        await call.answer()
        results = [await call.play(item, max_wait=20) for item in media]
        await call.hangup()
        await finished.put(results)

    async with AriClient(asterisk.ari) as ari:
        started: list[PlaybackStarted] = []

        async def note_started(event: PlaybackStarted) -> None:
            started.append(event)

        ari.on(PlaybackStarted, note_started)
        ari.on_new_channel(flow)
        await ari.wait_resynced(10)
        await place_call(asterisk.ari, script=CustomerScript(then="wait", hangup_after=60))
        results = await asyncio.wait_for(finished.get(), 60)
    assert [event.playback.media_uri for event in started] == media
    return results


@pytest.mark.asyncio
async def test_synthesized_prompt_is_fetched_over_http_and_played(
    asterisk: SandboxInstance, prompt_server: PromptServer
) -> None:
    url = prompt_server.catalog.resolve("sound:de/willkommen-test", prompt_server.base_url)
    assert url == f"sound:{prompt_server.base_url}/de/willkommen-test.wav"

    results = await _play_to_caller(asterisk, [url, url])

    assert [(r.playback.media_uri, r.playback.state) for r in results] == [(url, "done")] * 2
    requests = prompt_server.served.requests
    assert requests[0] == ("GET", "/prompts/TOKEN/de/willkommen-test.wav", None, 200)
    # The second play revalidates the cached copy instead of downloading it again.
    assert ("HEAD", "/prompts/TOKEN/de/willkommen-test.wav") in [r[:2] for r in requests[1:]]
    assert all(r[3] in (200, 304) for r in requests)
    assert any(r[0] == "HEAD" and r[2] is not None and r[3] == 304 for r in requests)


@pytest.mark.asyncio
async def test_missing_prompts_fail_to_play(
    asterisk: SandboxInstance, prompt_server: PromptServer
) -> None:
    absent = prompt_server.catalog.resolve("sound:de/nope", prompt_server.base_url)
    assert absent == "sound:de/nope"  # not in the catalog: left to Asterisk, which lacks it
    stranger = prompt_server.base_url.replace(prompt_server.token, "x" * 32)
    wrong_token = f"sound:{stranger}/de/willkommen-test.wav"

    results = await _play_to_caller(asterisk, [absent, wrong_token])

    assert [r.playback.state for r in results] == ["failed", "failed"]
    statuses = {status for *_, status in prompt_server.served.requests}
    assert statuses == {404}  # asked (with the wrong token) and refused


@pytest.mark.asyncio
async def test_sounds_from_ari_tell_builtin_from_missing(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    creds = asterisk.ari
    sounds = await fetch_asterisk_sounds(creds.base_url, creds.username, creds.password)
    assert {"vm-goodbye", "en/vm-goodbye", "ss-noservice"} <= sounds
    assert "de/nope" not in sounds
    rules = parse_rules(RULES)
    missing = missing_prompts(rules, PromptCatalog(tmp_path), sounds)
    assert [(m.prompt, m.language, m.sound) for m in missing] == [("nope", "de", "sound:de/nope")]


@pytest.mark.asyncio
async def test_example_rules_have_nothing_missing_against_real_asterisk(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    synthesize(load_manifest(REPO / "config" / "prompts.yaml"), tmp_path)
    rules = load_rules(REPO / "config" / "routing.yaml")
    creds = asterisk.ari
    sounds = await fetch_asterisk_sounds(creds.base_url, creds.username, creds.password)
    assert missing_prompts(rules, PromptCatalog(tmp_path), sounds) == []
    assert missing_prompts(rules, PromptCatalog(tmp_path / "empty"), sounds)
