"""Serving prompt files to Asterisk's HTTP media cache: `GET|HEAD /prompts/<token>/<file>`.

Asterisk's `res_http_media_cache` cannot send credentials, so the URL carries a random
capability token; a wrong token is answered 404 like a missing file, so nothing tells a
prober that the route exists. The cache revalidates each time it plays a file (a HEAD request
with `If-None-Match`), so every answer carries an ETag (a hash of the content), answers 304
when it matches, and says `no-cache`: a supervisor's new file is played on the next call.
"""

from __future__ import annotations

import hashlib
import secrets
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from zentrale.prompts.catalog import PromptCatalog
from zentrale.prompts.formats import format_of

log = structlog.get_logger(__name__)

ROUTE_PREFIX = "/prompts"
CACHE_CONTROL = "no-cache"


def prompts_base_url(server_url: str, token: str) -> str:
    """The base URL to give `PromptCatalog.resolve` for a daemon reachable at SERVER_URL."""
    return f"{server_url.rstrip('/')}{ROUTE_PREFIX}/{token}"


def prompts_router(catalog: PromptCatalog, token: str) -> APIRouter:
    """Return a router serving CATALOG's files under `/prompts/{token}/`."""
    if len(token) < 16:
        raise ValueError("the prompts token must be at least 16 characters")
    router = APIRouter()

    @router.api_route(
        ROUTE_PREFIX + "/{given}/{relative:path}", methods=["GET", "HEAD"], include_in_schema=False
    )
    async def serve_prompt(given: str, relative: str, request: Request) -> Response:
        # Bytes: compare_digest refuses str with non-ASCII characters (a 500 for a prober).
        authorised = secrets.compare_digest(given.encode(), token.encode())
        path = catalog.file(relative) if authorised else None
        if path is None:
            _log_not_found(authorised, relative)
            return Response(status_code=404)
        return _file_response(path, request)

    return router


def _log_not_found(authorised: bool, relative: str) -> None:
    if authorised:
        log.warning("prompts.http.not_found", file=relative)
    else:
        log.debug("prompts.http.bad_token")


def _file_response(path: Path, request: Request) -> Response:
    stat = path.stat()
    etag = _etag(path, stat.st_mtime_ns, stat.st_size)
    headers = {
        "ETag": etag,
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
        "Cache-Control": CACHE_CONTROL,
    }
    if _not_modified(request, etag, int(stat.st_mtime)):
        return Response(status_code=304, headers=headers)
    fmt = format_of(path)
    media_type = fmt.content_type if fmt is not None else "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)


def _not_modified(request: Request, etag: str, mtime: int) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        return match.strip() == "*" or etag in (tag.strip() for tag in match.split(","))
    since = request.headers.get("if-modified-since")
    return since is not None and since == formatdate(mtime, usegmt=True)


@lru_cache(maxsize=1024)
def _etag(path: Path, mtime_ns: int, size: int) -> str:
    # Keyed by mtime and size, so a replaced file is hashed again; the hash of the content
    # keeps the tag stable when a file is rewritten with the same audio (re-synthesis).
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    return f'"{digest}"'
