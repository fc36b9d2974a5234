"""The web pages' bundled files (our script and style, vendored htmx and wavesurfer.js).

Only names in the fixed table can be fetched: a request never becomes a file-system path.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi.responses import Response

from zentrale.base.errors import NotFoundError

TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "htmx.min.js": "text/javascript; charset=utf-8",
    "wavesurfer.min.js": "text/javascript; charset=utf-8",
    "stats.css": "text/css; charset=utf-8",
    "wallboard.js": "text/javascript; charset=utf-8",
    "agent.js": "text/javascript; charset=utf-8",
    "agent_knowledge.js": "text/javascript; charset=utf-8",
    "agent_knowledge.css": "text/css; charset=utf-8",
    "wrapup.js": "text/javascript; charset=utf-8",
    "supervise.js": "text/javascript; charset=utf-8",
    "agent_transfer.js": "text/javascript; charset=utf-8",
    "agent_controls.js": "text/javascript; charset=utf-8",
    "jssip.min.js": "text/javascript; charset=utf-8",
}
_VENDOR = {"htmx.min.js", "wavesurfer.min.js", "jssip.min.js"}
BUILT = {"jssip.min.js": "the softphone bundle is built by scripts/setup.sh (web/, npm ci)"}
"""Files made at set-up rather than committed, and how to get them."""


@cache
def _content(name: str) -> bytes:
    folder = files("zentrale.api.web") / "static"
    path = folder / "vendor" / name if name in _VENDOR else folder / name
    if name in BUILT and not path.is_file():
        raise NotFoundError(f"no file {name!r}: {BUILT[name]}")
    return path.read_bytes()


def response(name: str) -> Response:
    """Return the bundled file NAME, or raise NotFoundError."""
    if name not in TYPES:
        raise NotFoundError(f"no file {name!r}")
    headers = {"Cache-Control": "public, max-age=3600"}
    return Response(_content(name), media_type=TYPES[name], headers=headers)
