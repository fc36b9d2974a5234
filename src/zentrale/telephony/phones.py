"""Agents' SIP phones created by zentrale: kept in the state directory, pushed to Asterisk.

A phone is a PJSIP endpoint, its auth (username = the phone's name, a generated password) and
its aor. `pjsip_objects` says what Asterisk gets (pure: codecs, RFC 4733 keys, NAT-friendly
defaults). `PhoneBook` keeps the phones in `<state_dir>/phones.json` (mode 0600), each password
sealed with AES-256-GCM (the cipher the recordings' envelope uses) under a key made once and
kept in `<state_dir>/secrets/phones-key`. `push` creates the objects through ARI's dynamic
configuration (`PUT /asterisk/config/dynamic/res_pjsip/...`), so no Asterisk restart or reload
is needed; Asterisk keeps them in memory (sorcery.conf), so the daemon pushes every phone again
whenever it connects. Passwords are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zentrale.base.errors import ConflictError, InvalidRequestError, NotFoundError, ZentraleError
from zentrale.base.secrets import kept_secret
from zentrale.config.settings import SIP_CODECS
from zentrale.telephony.ari import AriError
from zentrale.telephony.ari.resources.asterisk import AsteriskApi
from zentrale.telephony.pjsip import delete_objects, put_objects, safe_error

log = structlog.get_logger(__name__)

FILE_NAME = "phones.json"
KEY_NAME = "phones-key"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
CODECS = SIP_CODECS
DEFAULT_CODECS = ("alaw", "ulaw")
PASSWORD_BYTES = 18
"""24 characters of URL-safe text: 144 bits, beyond guessing over SIP digest."""


class InvalidPhoneError(InvalidRequestError):
    """A phone's name, codecs or transport are not acceptable."""

    code = "invalid-phone"


class PhoneExistsError(ConflictError):
    """A phone of that name exists already."""

    code = "phone-exists"


class PhoneNotFoundError(NotFoundError):
    """No phone of that name is kept by zentrale."""

    code = "phone-not-found"


class PhoneBookError(ZentraleError):
    """The phone book file cannot be read or a password cannot be opened."""

    code = "phone-book"


@dataclass(frozen=True)
class Phone:
    """An agent's phone: its name (endpoint and SIP username), codecs and transport."""

    name: str
    codecs: tuple[str, ...] = DEFAULT_CODECS
    transport: str = "transport-udp"
    context: str = "zentrale-inbound"

    @property
    def endpoint(self) -> str:
        """Return the endpoint as the rules name it (`PJSIP/8001`)."""
        return f"PJSIP/{self.name}"


def check_phone(phone: Phone) -> Phone:
    """Return PHONE if its name, codecs and transport are acceptable; else InvalidPhoneError."""
    if not NAME.match(phone.name):
        raise InvalidPhoneError(
            f"phone name '{phone.name}': letters, digits, - and _ only (at most 40), e.g. 8001"
        )
    unknown = [codec for codec in phone.codecs if codec not in CODECS]
    if unknown or not phone.codecs:
        raise InvalidPhoneError(
            f"codecs {', '.join(unknown) or '(none)'}: choose from {', '.join(CODECS)}"
        )
    if not NAME.match(phone.transport):
        raise InvalidPhoneError(f"transport '{phone.transport}' is not a PJSIP transport name")
    return phone


def pjsip_objects(phone: Phone, password: str) -> list[tuple[str, dict[str, str]]]:
    """Return the auth, aor and endpoint (type, fields) Asterisk gets for PHONE, in order."""
    auth = {"auth_type": "userpass", "username": phone.name, "password": password}
    aor = {"max_contacts": "1", "remove_existing": "yes", "qualify_frequency": "0"}
    endpoint = {
        "transport": phone.transport,
        "context": phone.context,
        "aors": phone.name,
        "auth": phone.name,
        "disallow": "all",
        "allow": ",".join(phone.codecs),
        "dtmf_mode": "rfc4733",
        # NAT-friendly: answer where requests came from, media always through Asterisk (which
        # records it anyway), the phone's contact rewritten to its public address.
        "direct_media": "no",
        "rtp_symmetric": "yes",
        "force_rport": "yes",
        "rewrite_contact": "yes",
    }
    return [("auth", auth), ("aor", aor), ("endpoint", endpoint)]


def new_password() -> str:
    """Return a fresh random SIP password."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


class PhoneBook:
    """The phones zentrale keeps, in STATE_DIR/phones.json with sealed passwords."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._state_dir = state_dir

    def phones(self) -> list[Phone]:
        """Return the kept phones, by name."""
        return [_phone(entry) for _, entry in sorted(self._read().items())]

    def add(self, phone: Phone) -> str:
        """Keep PHONE with a new password and return the password (shown once)."""
        check_phone(phone)
        entries = self._read()
        if phone.name in entries:
            raise PhoneExistsError(f"phone '{phone.name}' exists already")
        password = new_password()
        entries[phone.name] = self._entry(phone, password)
        self._write(entries)
        return password

    def renew(self, name: str) -> str:
        """Give phone NAME a new password and return it (shown once)."""
        entries = self._read()
        phone = _phone(self._entry_of(entries, name))
        password = new_password()
        entries[name] = self._entry(phone, password)
        self._write(entries)
        return password

    def remove(self, name: str) -> Phone:
        """Forget phone NAME; return it."""
        entries = self._read()
        phone = _phone(self._entry_of(entries, name))
        del entries[name]
        self._write(entries)
        return phone

    def password(self, name: str) -> str:
        """Return phone NAME's password (to push it to Asterisk)."""
        entry = self._entry_of(self._read(), name)
        sealed = base64.b64decode(entry["password"])
        try:
            return self._cipher().decrypt(sealed[:12], sealed[12:], name.encode()).decode()
        except (InvalidTag, ValueError):
            raise PhoneBookError(
                f"{self.path}: the password of phone '{name}' cannot be opened with"
                f" {self._state_dir / 'secrets' / KEY_NAME} (a different key?); set a new"
                f" one: zentrale phones password {name}"
            ) from None

    def _entry(self, phone: Phone, password: str) -> dict[str, Any]:
        nonce = os.urandom(12)
        sealed = nonce + self._cipher().encrypt(nonce, password.encode(), phone.name.encode())
        return {
            "name": phone.name,
            "codecs": list(phone.codecs),
            "transport": phone.transport,
            "context": phone.context,
            "password": base64.b64encode(sealed).decode(),
        }

    def _cipher(self) -> AESGCM:
        secret = kept_secret(self._state_dir, KEY_NAME).get_secret_value()
        return AESGCM(hashlib.sha256(secret.encode()).digest())

    def _entry_of(self, entries: dict[str, Any], name: str) -> dict[str, Any]:
        if name not in entries:
            raise PhoneNotFoundError(f"no phone '{name}' (see zentrale phones list)")
        entry: dict[str, Any] = entries[name]
        return entry

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise PhoneBookError(f"{self.path}: cannot read: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PhoneBookError(f"{self.path}:{exc.lineno}: not JSON: {exc.msg}") from None
        phones: dict[str, Any] = data.get("phones", {}) if isinstance(data, dict) else {}
        return phones

    def _write(self, entries: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"phones": entries}, handle, indent=2, sort_keys=True)
        temporary.replace(self.path)


def _phone(entry: dict[str, Any]) -> Phone:
    return Phone(
        name=entry["name"],
        codecs=tuple(entry["codecs"]),
        transport=entry["transport"],
        context=entry["context"],
    )


async def push_phone(asterisk: AsteriskApi, phone: Phone, password: str) -> None:
    """Create or replace PHONE's auth, aor and endpoint in Asterisk (no restart needed)."""
    objects = pjsip_objects(phone, password)
    await put_objects(asterisk, [(kind, phone.name, fields) for kind, fields in objects])


async def withdraw_phone(asterisk: AsteriskApi, name: str) -> None:
    """Delete phone NAME's endpoint, aor and auth from Asterisk (those that exist)."""
    await delete_objects(asterisk, [(kind, name) for kind in ("endpoint", "aor", "auth")])


async def push_all(asterisk: AsteriskApi, book: PhoneBook) -> int:
    """Push every kept phone to Asterisk; return how many went (failures are logged)."""
    pushed = 0
    try:
        kept = await asyncio.to_thread(_with_passwords, book)
    except PhoneBookError as exc:
        log.error("phones.unreadable", error=exc.message)
        return 0
    for phone, password in kept:
        if password is None:
            log.warning("phones.push_failed", phone=phone.name, error="password cannot be opened")
            continue
        try:
            await push_phone(asterisk, phone, password)
        except AriError as exc:
            log.warning("phones.push_failed", phone=phone.name, error=safe_error(exc))
            continue
        pushed += 1
    if pushed:
        log.info("phones.pushed", count=pushed)
    return pushed


def _with_passwords(book: PhoneBook) -> list[tuple[Phone, str | None]]:
    found: list[tuple[Phone, str | None]] = []
    for phone in book.phones():
        try:
            found.append((phone, book.password(phone.name)))
        except PhoneBookError:
            found.append((phone, None))
    return found
