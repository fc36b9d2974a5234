"""Repeats: the same event delivered to our app twice, through two of its subscriptions.

Asterisk forwards a channel's events to an app once per subscription that covers the channel.
A channel in Stasis is subscribed through the app; when the app is also subscribed to the
channel's endpoint (``endpoint:PJSIP``, which zentrale does to follow agents' phones), every
event of a real SIP channel arrives twice, byte for byte the same: one key press would count
as two. Local channels have no endpoint subscription and never show it.

Asterisk sends the two copies one right after the other (checked on Asterisk 22 with a SIPp
caller: DTMF, state changes, variables, hangup requests all came as adjacent pairs). The filter
drops an event equal, timestamp included, to the event just before it on the same dispatch key.
Two real events are never equal: a second key press has its own timestamp (milliseconds) and
a channel that leaves and re-enters the app sends a StasisEnd in between.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from zentrale.telephony.ari.events import Envelope


class RepeatFilter:
    """Drops an event equal to the previous event of its key; remembers ``memory`` keys."""

    def __init__(self, memory: int = 4096) -> None:
        self._memory = memory
        self._last: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def repeated(self, envelope: Envelope) -> bool:
        """Tell whether ENVELOPE repeats the previous event of its key; remember it if not."""
        if not envelope.raw.get("timestamp"):
            return False
        key = envelope.key
        if self._last.get(key) == envelope.raw:
            return True
        self._last[key] = envelope.raw
        self._last.move_to_end(key)
        if len(self._last) > self._memory:
            self._last.popitem(last=False)
        return False
