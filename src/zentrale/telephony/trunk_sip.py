"""Trunks' SIP side made by zentrale: PJSIP objects from `trunks.<name>.sip`, pushed to Asterisk.

`trunk_objects` is pure: a trunk's settings (and its registration password) in, the auth, aor,
endpoint, identify and registration Asterisk gets out, with the defaults of a carrier trunk
(media through Asterisk, symmetric RTP, no connected-line updates to the carrier).
`push_trunks` creates them through ARI's dynamic configuration at every connect, beside the
agents' phones (`telephony.pjsip`), and deletes what an earlier push made for a trunk the
settings no longer have (or a part it no longer has, a registration taken out): what was
pushed is kept in `<state_dir>/trunks-pushed.json`, so objects written in pjsip.conf or made
by anyone else are never touched. Passwords are read at the push, never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import structlog

from zentrale.config.settings import SettingsError, TrunkSettings, TrunkSipSettings
from zentrale.telephony.ari import AriError
from zentrale.telephony.ari.resources.asterisk import AsteriskApi
from zentrale.telephony.pjsip import PjsipObject, delete_objects, put_objects, safe_error

log = structlog.get_logger(__name__)

FILE_NAME = "trunks-pushed.json"
ORDER = ("auth", "aor", "endpoint", "identify", "registration")
"""Creation order: an object before those that name it (deletion goes the other way)."""
RETRY_SECONDS = "60"
"""Seconds between registration attempts after a failure (and after 401/403, x5)."""


def endpoint_of(name: str, trunk: TrunkSettings) -> str:
    """Return the PJSIP endpoint (and id of every object) of trunk NAME."""
    return trunk.endpoint or name


def _sip_uri(text: str) -> str:
    return text if text.startswith(("sip:", "sips:")) else f"sip:{text}"


def _host_of(uri: str) -> str:
    return uri.split(":", 1)[1] if uri.startswith(("sip:", "sips:")) else uri


def trunk_objects(
    name: str, trunk: TrunkSettings, password: str | None = None
) -> list[PjsipObject]:
    """Return the PJSIP objects (type, id, fields) of trunk NAME, in creation order.

    PASSWORD is the registration's (required when the trunk registers, ignored otherwise).
    A trunk without `sip:` has none: its SIP side is written in pjsip.conf.
    """
    sip = trunk.sip
    if sip is None:
        return []
    endpoint_id = endpoint_of(name, trunk)
    objects: list[PjsipObject] = []
    registration = sip.registration
    if registration is not None:
        if not password:
            raise ValueError(f"trunk '{name}' registers: its password is needed")
        auth = {
            "auth_type": "userpass",
            "username": registration.auth_username or registration.username,
            "password": password,
        }
        objects.append(("auth", endpoint_id, auth))
    aor = {"contact": _sip_uri(sip.host), "qualify_frequency": "0"}
    objects.append(("aor", endpoint_id, aor))
    objects.append(("endpoint", endpoint_id, _endpoint(endpoint_id, sip)))
    if sip.match:
        identify = {"endpoint": endpoint_id, "match": ",".join(sip.match)}
        objects.append(("identify", endpoint_id, identify))
    if registration is not None:
        server = _sip_uri(registration.server or sip.host)
        fields = {
            "server_uri": server,
            "client_uri": f"sip:{registration.username}@{_host_of(server)}",
            "contact_user": registration.username,
            "transport": sip.transport,
            "outbound_auth": endpoint_id,
            "expiration": str(registration.expiration),
            "retry_interval": RETRY_SECONDS,
            "forbidden_retry_interval": str(int(RETRY_SECONDS) * 5),
            "auth_rejection_permanent": "no",
            "max_retries": "100000",
            # Calls to the registered contact (its `line` parameter) are this endpoint's:
            # the trunk is known by its registration when no source address is given.
            "line": "yes",
            "endpoint": endpoint_id,
        }
        objects.append(("registration", endpoint_id, fields))
    return objects


def _endpoint(endpoint_id: str, sip: TrunkSipSettings) -> dict[str, str]:
    fields = {
        "transport": sip.transport,
        "context": sip.context,
        "aors": endpoint_id,
        "disallow": "all",
        "allow": ",".join(sip.codecs),
        "dtmf_mode": sip.dtmf_mode,
        # Media always through Asterisk (it records it), RTP back to where it came from, SIP
        # answered where it came from: what works behind NAT and on most carriers.
        "direct_media": "no",
        "rtp_symmetric": "yes",
        "force_rport": "yes",
        "rewrite_contact": "yes",
        # The caller ID as P-Asserted-Identity too; the carrier's own believed.
        "send_pai": "yes",
        "trust_id_inbound": "yes",
        # No re-INVITE or UPDATE to the carrier each time the caller's agent changes: many
        # carriers refuse them, and the caller's number is all they need to see.
        "send_connected_line": "no",
    }
    if sip.registration is not None:
        fields["outbound_auth"] = endpoint_id  # carriers that challenge INVITEs too
    return fields


def stale_objects(
    pushed: Mapping[str, list[str]], wanted: Mapping[str, list[str]]
) -> list[tuple[str, str]]:
    """Return the (type, id) pushed before and not wanted now, in deletion order."""
    stale = []
    for object_id in sorted(pushed):
        keep = set(wanted.get(object_id, ()))
        for object_type in reversed(ORDER):
            if object_type in pushed[object_id] and object_type not in keep:
                stale.append((object_type, object_id))
    return stale


async def push_trunks(
    asterisk: AsteriskApi,
    trunks: Mapping[str, TrunkSettings],
    state_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Create the SIP side of every trunk with `sip:` in Asterisk and delete what earlier
    pushes made that the settings no longer want; return how many trunks went (failures are
    logged, without their fields)."""
    env = os.environ if environ is None else environ
    record = state_dir / FILE_NAME
    pushed = await asyncio.to_thread(_read, record)
    wanted: dict[str, list[str]] = {}
    done: dict[str, list[str]] = {}
    count = 0
    for name, trunk in sorted(trunks.items()):
        if trunk.sip is None:
            continue
        endpoint_id = endpoint_of(name, trunk)
        password = None
        if trunk.sip.registration is not None:
            try:
                password = trunk.sip.registration.secret(env).get_secret_value()
            except SettingsError as exc:
                log.warning("trunks.push_failed", trunk=name, error="; ".join(exc.problems))
                wanted[endpoint_id] = pushed.get(endpoint_id, [])  # leave it as it is
                continue
        objects = trunk_objects(name, trunk, password)
        wanted[endpoint_id] = [object_type for object_type, _, _ in objects]
        try:
            await put_objects(asterisk, objects)
        except AriError as exc:
            log.warning("trunks.push_failed", trunk=name, error=safe_error(exc))
            done[endpoint_id] = sorted(set(wanted[endpoint_id]) | set(pushed.get(endpoint_id, [])))
            continue
        done[endpoint_id] = wanted[endpoint_id]
        count += 1
    for object_type, object_id in stale_objects(pushed, wanted):
        try:
            await delete_objects(asterisk, [(object_type, object_id)])
        except AriError as exc:
            log.warning("trunks.delete_failed", endpoint=object_id, error=safe_error(exc))
            done.setdefault(object_id, []).append(object_type)
            continue
        log.info("trunks.deleted", endpoint=object_id, type=object_type)
    for object_id, kinds in wanted.items():  # trunks whose password could not be read
        done.setdefault(object_id, kinds)
    await asyncio.to_thread(_write, record, {k: v for k, v in done.items() if v})
    if count:
        log.info("trunks.pushed", count=count)
    return count


def _read(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("trunks.record_unreadable", path=str(path), error=str(exc))
        return {}
    found = data.get("pushed", {}) if isinstance(data, dict) else {}
    return {str(k): [str(t) for t in v] for k, v in found.items() if isinstance(v, list)}


def _write(path: Path, pushed: Mapping[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    temporary.write_text(json.dumps({"pushed": dict(pushed)}, indent=2, sort_keys=True))
    temporary.replace(path)
