"""Typed ARI events and the raw envelope the reader hands to the dispatcher.

The reader only decodes JSON and extracts the dispatch key (``channel:ID``, ``bridge:ID``, ...)
from the raw dict; pydantic validation happens lazily, in the channel's worker or when a waiter
needs it, so a burst of events never slows the socket read (Asterisk drops readers that lag
100 ms). Unknown event types parse as the generic ``AriEvent``; unknown fields are kept.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict

from zentrale.telephony.ari.models import (
    Bridge,
    Channel,
    DeviceState,
    Endpoint,
    LiveRecording,
    Playback,
    ReferredBy,
    ReferTo,
)


class AriEvent(BaseModel):
    """Any ARI event; unknown event types are parsed as this."""

    model_config = ConfigDict(extra="allow", frozen=True)
    event_type: ClassVar[str] = ""

    type: str
    application: str = ""
    timestamp: datetime | None = None
    asterisk_id: str | None = None


class StasisStart(AriEvent):
    """A channel entered our Stasis application."""

    event_type: ClassVar[str] = "StasisStart"
    args: list[str]
    channel: Channel
    replace_channel: Channel | None = None


class StasisEnd(AriEvent):
    """A channel left our Stasis application."""

    event_type: ClassVar[str] = "StasisEnd"
    channel: Channel


class ChannelStateChange(AriEvent):
    """Channel state changed (Ring, Up, ...)."""

    event_type: ClassVar[str] = "ChannelStateChange"
    channel: Channel


class ChannelDtmfReceived(AriEvent):
    """A DTMF digit ended on a channel."""

    event_type: ClassVar[str] = "ChannelDtmfReceived"
    digit: str
    duration_ms: int
    channel: Channel


class ChannelTransfer(AriEvent):
    """A phone asked to transfer its call (a SIP REFER on a channel whose transfers go to ARI:
    PJSIP_TRANSFER_HANDLING()=ari-only)."""

    event_type: ClassVar[str] = "ChannelTransfer"
    state: str | None = None
    refer_to: ReferTo
    referred_by: ReferredBy

    @property
    def destination(self) -> str:
        """The user part of the Refer-To (of an attended transfer too: the consultation's)."""
        return self.refer_to.requested_destination.destination or ""

    @property
    def attended(self) -> bool:
        """Whether the REFER is an attended transfer's (its Refer-To carries Replaces: Asterisk
        reports the consultation's Call-ID as `protocol_id`)."""
        return bool(self.refer_to.requested_destination.protocol_id)


class ChannelHangupRequest(AriEvent):
    """Someone asked the channel to hang up."""

    event_type: ClassVar[str] = "ChannelHangupRequest"
    channel: Channel
    cause: int | None = None
    tech_cause: int | None = None
    soft: bool | None = None


class ChannelDestroyed(AriEvent):
    """The channel is gone for good."""

    event_type: ClassVar[str] = "ChannelDestroyed"
    cause: int
    cause_txt: str
    channel: Channel
    tech_cause: int | None = None


class ChannelVarset(AriEvent):
    """A channel (or global, without channel) variable was set."""

    event_type: ClassVar[str] = "ChannelVarset"
    variable: str
    value: str
    channel: Channel | None = None


class ChannelEnteredBridge(AriEvent):
    """A channel joined a bridge."""

    event_type: ClassVar[str] = "ChannelEnteredBridge"
    bridge: Bridge
    channel: Channel | None = None


class ChannelLeftBridge(AriEvent):
    """A channel left a bridge."""

    event_type: ClassVar[str] = "ChannelLeftBridge"
    bridge: Bridge
    channel: Channel


class BridgeCreated(AriEvent):
    """A bridge was created."""

    event_type: ClassVar[str] = "BridgeCreated"
    bridge: Bridge


class BridgeDestroyed(AriEvent):
    """A bridge was destroyed."""

    event_type: ClassVar[str] = "BridgeDestroyed"
    bridge: Bridge


class PlaybackStarted(AriEvent):
    """A playback began."""

    event_type: ClassVar[str] = "PlaybackStarted"
    playback: Playback


class PlaybackFinished(AriEvent):
    """A playback ended (done, stopped or failed: see ``playback.state``)."""

    event_type: ClassVar[str] = "PlaybackFinished"
    playback: Playback


class RecordingStarted(AriEvent):
    """A live recording began."""

    event_type: ClassVar[str] = "RecordingStarted"
    recording: LiveRecording


class RecordingFinished(AriEvent):
    """A live recording ended and is stored."""

    event_type: ClassVar[str] = "RecordingFinished"
    recording: LiveRecording


class RecordingFailed(AriEvent):
    """A live recording failed (``recording.cause``)."""

    event_type: ClassVar[str] = "RecordingFailed"
    recording: LiveRecording


class Dial(AriEvent):
    """Progress of a dial (``dialstatus``: RINGING, ANSWER, BUSY, ...)."""

    event_type: ClassVar[str] = "Dial"
    peer: Channel
    dialstatus: str
    caller: Channel | None = None
    forward: str | None = None
    forwarded: Channel | None = None
    dialstring: str | None = None


class EndpointStateChange(AriEvent):
    """An endpoint's state changed."""

    event_type: ClassVar[str] = "EndpointStateChange"
    endpoint: Endpoint


class DeviceStateChanged(AriEvent):
    """A device's state changed."""

    event_type: ClassVar[str] = "DeviceStateChanged"
    device_state: DeviceState


class ApplicationReplaced(AriEvent):
    """Another WebSocket registered our application name."""

    event_type: ClassVar[str] = "ApplicationReplaced"


class ChannelHold(AriEvent):
    """A channel put its other party on hold (a SIP re-INVITE with sendonly or inactive)."""

    event_type: ClassVar[str] = "ChannelHold"
    channel: Channel
    musicclass: str | None = None


class ChannelUnhold(AriEvent):
    """A channel took its other party off hold."""

    event_type: ClassVar[str] = "ChannelUnhold"
    channel: Channel


class ChannelTalkingStarted(AriEvent):
    """Talk detection: the channel started talking."""

    event_type: ClassVar[str] = "ChannelTalkingStarted"
    channel: Channel


class ChannelTalkingFinished(AriEvent):
    """Talk detection: the channel stopped talking after ``duration`` ms."""

    event_type: ClassVar[str] = "ChannelTalkingFinished"
    channel: Channel
    duration: int


EVENT_MODELS: dict[str, type[AriEvent]] = {
    cls.event_type: cls
    for cls in (
        StasisStart,
        StasisEnd,
        ChannelStateChange,
        ChannelDtmfReceived,
        ChannelHangupRequest,
        ChannelTransfer,
        ChannelDestroyed,
        ChannelVarset,
        ChannelEnteredBridge,
        ChannelLeftBridge,
        BridgeCreated,
        BridgeDestroyed,
        PlaybackStarted,
        PlaybackFinished,
        RecordingStarted,
        RecordingFinished,
        RecordingFailed,
        Dial,
        EndpointStateChange,
        DeviceStateChanged,
        ApplicationReplaced,
        ChannelTalkingStarted,
        ChannelTalkingFinished,
        ChannelHold,
        ChannelUnhold,
    )
}

# Events after which a channel is no longer ours to drive.
CHANNEL_GONE_TYPES = frozenset({"StasisEnd", "ChannelHangupRequest", "ChannelDestroyed"})
# Events after which no further event for the key is expected.
FINAL_TYPES = frozenset({"ChannelDestroyed", "BridgeDestroyed"})
GLOBAL_KEY = "global"


def parse_event(raw: dict[str, Any]) -> AriEvent:
    """Validate a raw event dict into its typed model (``AriEvent`` for unknown types)."""
    model = EVENT_MODELS.get(raw.get("type", ""), AriEvent)
    return model.model_validate(raw)


def count_unknown_fields(model: BaseModel) -> int:
    """Count fields not in our models, recursively (forward-compatibility metric)."""
    # Runs for every typed event: only the fields that can hold a model are looked at, and
    # the extras are read from the slot (`model_extra` and `model_fields` cost more).
    total = len(model.__pydantic_extra__ or ())
    for name in _nested_fields(type(model)):
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            total += count_unknown_fields(value)
    return total


_NESTED: dict[type[BaseModel], tuple[str, ...]] = {}


def _nested_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    """Return the names of CLS's fields whose type mentions a model (cached per class)."""
    names = _NESTED.get(cls)
    if names is None:
        fields = cls.model_fields.items()
        names = _NESTED[cls] = tuple(n for n, f in fields if _mentions_model(f.annotation))
    return names


def _mentions_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_mentions_model(arg) for arg in get_args(annotation))


def dispatch_key(raw: dict[str, Any]) -> str:
    """Ordering key of a raw event: ``channel:ID``, ``bridge:ID``, ... or ``global``."""
    # ChannelTransfer (a phone's REFER) names the channel it came on under referred_by.
    channel = raw.get("channel") or (raw.get("referred_by") or {}).get("source_channel")
    if channel:
        return "channel:" + str(channel.get("id", ""))
    return _secondary_key(raw)


def _secondary_key(raw: dict[str, Any]) -> str:
    # Playbacks and recordings name their target as "channel:ID" or "bridge:ID" already.
    media = raw.get("playback") or raw.get("recording")
    if media:
        return str(media.get("target_uri", GLOBAL_KEY))
    bridge = raw.get("bridge")
    if bridge:
        return "bridge:" + str(bridge.get("id", ""))
    peer = raw.get("peer")
    if peer:
        return "channel:" + str(peer.get("id", ""))
    return _resource_key(raw)


def _resource_key(raw: dict[str, Any]) -> str:
    endpoint = raw.get("endpoint")
    if endpoint:
        return f"endpoint:{endpoint.get('technology')}/{endpoint.get('resource')}"
    device = raw.get("device_state")
    if device:
        return "device:" + str(device.get("name", ""))
    return GLOBAL_KEY


class Envelope:
    """A received event: raw dict, type, dispatch key, receive time, lazily typed model."""

    __slots__ = ("_event", "key", "raw", "received", "type")

    def __init__(self, raw: dict[str, Any], received: float | None = None) -> None:
        self.raw = raw
        self.type: str = str(raw.get("type", ""))
        self.key = dispatch_key(raw)
        self.received = time.perf_counter() if received is None else received
        self._event: AriEvent | None = None

    @property
    def event(self) -> AriEvent:
        """The typed event, validated on first access and cached."""
        if self._event is None:
            self._event = parse_event(self.raw)
        return self._event

    @property
    def channel_id(self) -> str | None:
        """Channel id when the dispatch key is a channel."""
        return self.key[8:] if self.key.startswith("channel:") else None
