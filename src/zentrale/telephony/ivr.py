"""Menus on a channel: prompts the caller can interrupt with a key, then digit collection.

A key pressed during a prompt stops it (barge-in) and counts as the first digit; keys typed
ahead, even before the first prompt, are kept in the call's DTMF buffer. Collection ends at the
terminator, at the maximum length, or when the caller stops typing.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TypeVar

from zentrale.telephony.ari import Call, ChannelGoneError
from zentrale.telephony.ari.events import ChannelDtmfReceived

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """What the caller typed and why collection ended ('timeout' with no digits)."""

    digits: str
    ended_by: str


async def play_interruptible(call: Call, media: str, max_wait: float = 120.0) -> str | None:
    """Play MEDIA until it ends or a key is pressed; return that key, or None."""
    if call.dtmf.pending():
        return await _digit(call)
    playing = asyncio.create_task(call.play(media, max_wait=max_wait))
    pressed = asyncio.create_task(_digit(call))
    try:
        done, _ = await asyncio.wait({playing, pressed}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # The flow is cancelled (daemon stopping): neither task may outlive it.
        await _cancel(playing)
        await _cancel(pressed)
        raise
    if pressed in done:
        await _cancel(playing)
        return pressed.result()
    late = await _cancel(pressed)  # a key that came in just as the prompt ended still counts
    playing.result()  # a vanished channel raises ChannelGoneError here
    return late


async def prompt_and_collect(
    call: Call,
    prompts: tuple[str, ...],
    *,
    max_digits: int,
    terminator: str | None,
    first_wait: float,
    inter_digit: float = 4.0,
) -> Entry:
    """Play PROMPTS (interruptible), then collect up to MAX_DIGITS keys."""
    first: str | None = None
    for media in prompts:
        first = await play_interruptible(call, media)
        if first is not None:
            break
    digits = ""
    key = first
    wait = first_wait
    while True:
        if key is None:
            try:
                key = await asyncio.wait_for(_digit(call), wait)
            except TimeoutError:
                return Entry(digits, "timeout" if not digits else "inter_digit_timeout")
        if terminator is not None and key == terminator:
            return Entry(digits, "terminator")
        digits += key
        if len(digits) >= max_digits:
            return Entry(digits, "max_digits")
        key, wait = None, inter_digit


async def _digit(call: Call) -> str:
    event = await call.dtmf.get()
    assert isinstance(event, ChannelDtmfReceived)
    return event.digit


async def _cancel(task: asyncio.Task[T]) -> T | None:
    """Cancel TASK; return its result if it finished first."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, ChannelGoneError, TimeoutError):
        return await task
    return None
