"""The prompts route in-process (httpx ASGI transport): files, HEAD, ETag, token, traversal."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from zentrale.api.routes_prompts import prompts_base_url, prompts_router
from zentrale.prompts.catalog import PromptCatalog

from .support import write_wav

TOKEN = "k7Qm2vXc9LpR4tZa8WnE"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "prompts"
    write_wav(directory / "de" / "willkommen.wav")
    write_wav(directory / "de" / "breit.wav16", rate=16000)
    (directory / "de" / "willkommen.wav.sha256").write_text("abc\n")
    write_wav(tmp_path / "secret.wav")
    (directory / "de" / "leak.wav").symlink_to(tmp_path / "secret.wav")
    return directory


@pytest_asyncio.fixture
async def client(root: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(prompts_router(PromptCatalog(root), TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://daemon") as http:
        yield http


def _url(relative: str, token: str = TOKEN) -> str:
    return f"/prompts/{token}/{relative}"


@pytest.mark.asyncio
async def test_get_serves_the_file_as_audio_wav(client: httpx.AsyncClient, root: Path) -> None:
    reply = await client.get(_url("de/willkommen.wav"))
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "audio/wav"
    assert reply.content == (root / "de" / "willkommen.wav").read_bytes()
    assert reply.headers["cache-control"] == "no-cache"
    assert reply.headers["etag"].startswith('"')
    assert reply.headers["last-modified"].endswith(" GMT")


@pytest.mark.asyncio
async def test_wav16_is_served_as_wav_too(client: httpx.AsyncClient) -> None:
    reply = await client.get(_url("de/breit.wav16"))
    assert (reply.status_code, reply.headers["content-type"]) == (200, "audio/wav")


@pytest.mark.asyncio
async def test_head_gives_headers_without_body(client: httpx.AsyncClient, root: Path) -> None:
    reply = await client.head(_url("de/willkommen.wav"))
    size = (root / "de" / "willkommen.wav").stat().st_size
    assert reply.status_code == 200
    assert reply.content == b""
    assert int(reply.headers["content-length"]) == size
    assert reply.headers["etag"] == (await client.get(_url("de/willkommen.wav"))).headers["etag"]


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_matching_etag_gives_304_as_asterisk_revalidates(
    client: httpx.AsyncClient, method: str
) -> None:
    etag = (await client.get(_url("de/willkommen.wav"))).headers["etag"]
    headers = {"If-None-Match": etag}
    reply = await client.request(method, _url("de/willkommen.wav"), headers=headers)
    assert reply.status_code == 304
    assert reply.content == b""
    assert reply.headers["etag"] == etag
    headers = {"If-None-Match": '"other"'}
    other = await client.request(method, _url("de/willkommen.wav"), headers=headers)
    assert other.status_code == 200


@pytest.mark.asyncio
async def test_if_modified_since(client: httpx.AsyncClient) -> None:
    stamp = (await client.get(_url("de/willkommen.wav"))).headers["last-modified"]
    reply = await client.get(_url("de/willkommen.wav"), headers={"If-Modified-Since": stamp})
    assert reply.status_code == 304


@pytest.mark.asyncio
async def test_replaced_file_gets_a_new_etag_same_content_keeps_it(
    client: httpx.AsyncClient, root: Path
) -> None:
    path = root / "de" / "willkommen.wav"
    first = (await client.head(_url("de/willkommen.wav"))).headers["etag"]
    data = path.read_bytes()
    path.write_bytes(data)
    os.utime(path, ns=(1, 10**18))
    assert (await client.head(_url("de/willkommen.wav"))).headers["etag"] == first
    write_wav(path, seconds=2)
    replaced = await client.get(_url("de/willkommen.wav"), headers={"If-None-Match": first})
    assert replaced.status_code == 200
    assert replaced.headers["etag"] != first


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "token", ["wrong-token-wrong-token", TOKEN[:-1], TOKEN + "x", "t\u00f6ken-mit-umlaut-x"]
)
async def test_wrong_token_is_404_not_401(client: httpx.AsyncClient, token: str) -> None:
    reply = await client.get(_url("de/willkommen.wav", token))
    assert reply.status_code == 404
    assert reply.content == b""


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "relative",
    [
        "%2e%2e/secret.wav",
        "de/%2e%2e/%2e%2e/secret.wav",
        "de%2f..%2f..%2fsecret.wav",
        "..%5csecret.wav",
        "%2Fetc%2Fpasswd.wav",
        "/etc/passwd.wav",
        "de/leak.wav",
        "de/willkommen.wav.sha256",
        "de/willkommen",
        "de",
        "de/",
        "",
        "de/absent.wav",
    ],
)
async def test_traversal_listing_and_other_files_are_404(
    client: httpx.AsyncClient, relative: str
) -> None:
    reply = await client.get(_url(relative))
    assert reply.status_code == 404
    assert b"RIFF" not in reply.content


@pytest.mark.asyncio
async def test_raw_dot_segments_never_escape(client: httpx.AsyncClient) -> None:
    request = client.build_request("GET", "http://daemon/")
    request.url = request.url.copy_with(raw_path=f"/prompts/{TOKEN}/../secret.wav".encode())
    reply = await client.send(request, follow_redirects=True)
    assert reply.status_code == 404
    assert b"RIFF" not in reply.content


@pytest.mark.asyncio
async def test_other_methods_are_refused(client: httpx.AsyncClient) -> None:
    reply = await client.post(_url("de/willkommen.wav"))
    assert reply.status_code == 405


def test_short_tokens_are_refused(root: Path) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        prompts_router(PromptCatalog(root), "short")


def test_base_url_for_resolve(root: Path) -> None:
    base = prompts_base_url("http://10.0.0.5:8080/", TOKEN)
    assert base == f"http://10.0.0.5:8080/prompts/{TOKEN}"
    resolved = PromptCatalog(root).resolve("sound:de/willkommen", base)
    assert resolved == f"sound:{base}/de/willkommen.wav"
