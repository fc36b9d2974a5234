"""Logging with structlog: JSON lines in production, readable lines at a terminal.

Every line of a call carries its `call_id` and `channel_id` through context variables
(`bind_call`), and phone numbers are masked before anything is written: callers' numbers are
personal data under KVKK/GDPR, and logs are copied to places recordings never go.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from zentrale.config import phones

# Keys whose values are phone numbers of people (not of the call centre's own lines).
NUMBER_KEYS = frozenset(
    {
        "caller",
        "callee",
        "number",
        "phone",
        "caller_id",
        "customer_number",
        "to_number",
        "from_number",
        "msisdn",
    }
)
_SECRET_KEYS = ("password", "secret", "token", "api_key", "authorization")
# An e-mail address inside text (customers' addresses are personal data like their numbers):
# loose on purpose (`zentrale.customers.emails` checks addresses), but it starts after a space
# or a delimiter and its domain ends in a name, so URLs with a user (postgresql://u:pw@db.lan,
# sip:1001@pbx.example) and SIP URIs to an address (1001@127.0.0.1) stay readable.
_EMAIL = re.compile(
    r"(?<![^\s<>()\[\],;\"'=])[^\s@<>()\[\],;:/\"'=]+@[^\s@<>()\[\],;:/\"'=]+\.[^\W\d_]{2,}\b"
)


def mask_number(number: str) -> str:
    """Mask a phone number, keeping the first 6 and the last 2 characters: +90555*****33.

    A number in another form (`0555 111 22 33`, `00 90 ...`) is normalised first.
    """
    text = str(number)
    if len(text) <= 8:
        return "*" * len(text)
    text = phones.parse(text) or text
    return text[:6] + "*" * (len(text) - 8) + text[-2:]


def mask_email(address: str) -> str:
    """Mask an e-mail address, keeping the first character and the top-level domain: a***@***.de."""
    local, _, domain = address.rpartition("@")
    top = domain.rpartition(".")[2] if "." in domain else ""
    return f"{local[:1]}***@***" + (f".{top}" if top else "")


def mask_text(text: str) -> str:
    """Mask every e-mail address and phone number inside TEXT (numbers in any common form)."""
    if "@" in text:
        text = _EMAIL.sub(lambda found: mask_email(found.group()), text)
    if not any(char.isdigit() for char in text):
        return text
    parts, done = [], 0
    for start, end, number in phones.find(text):
        parts += [text[done:start], mask_number(number)]
        done = end
    return "".join([*parts, text[done:]])


def mask_event(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """Mask phone numbers and drop secrets in a log event (a structlog processor)."""
    for key, value in list(event.items()):
        event[key] = _masked(str(key), value)
    return event


def _masked(key: str, value: Any) -> Any:
    # Values nested in dicts and lists (an ARI event, a request body) are masked by the same
    # rules as top-level ones: the JSON renderer would print them as they are.
    lowered = key.lower()
    if any(part in lowered for part in _SECRET_KEYS):
        return "***"
    if lowered in NUMBER_KEYS and value and not isinstance(value, dict | list | tuple):
        return mask_number(str(value))
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _masked(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(key, item) for item in value]
    return value


def configure_logging(
    fmt: Literal["auto", "console", "json"] = "auto",
    level: str = "info",
    mask_numbers: bool = True,
    region: str = phones.DEFAULT_REGION,
) -> None:
    """Set up structlog (and the stdlib root logger) once at start-up; REGION reads national
    numbers (in logs and in the audit log)."""
    phones.configure_region(region)
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.StackInfoRenderer(),
        # Tracebacks as plain text, without local variables (they hold callers' numbers and
        # entered digits), and before masking so numbers in exception messages are masked too.
        structlog.processors.format_exc_info,
    ]
    if mask_numbers:
        processors.append(mask_event)
    # Stamped after masking: a time is no number, and reading one for numbers cost more than
    # the rest of a line's masking (docs/performance.md).
    processors.append(structlog.processors.TimeStamper(fmt="iso", utc=True))
    if json_lines:
        processors.append(structlog.processors.JSONRenderer(sort_keys=False))
    else:
        processors.append(
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)


@contextmanager
def bind_call(call_id: str, channel_id: str | None = None, **more: Any) -> Iterator[None]:
    """Carry CALL_ID (and CHANNEL_ID) on every log line inside the block, then unbind."""
    values: MutableMapping[str, Any] = {"call_id": call_id, **more}
    if channel_id is not None:
        values["channel_id"] = channel_id
    with structlog.contextvars.bound_contextvars(**values):
        yield
