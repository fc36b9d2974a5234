"""Typed ARI resources (Channel, Bridge, Playback, recordings, ...) returned by REST and events.

Field names follow Asterisk 22's ``rest-api/*.json``. Unknown fields are kept (``extra="allow"``)
so a newer Asterisk never breaks parsing; fields Asterisk added late are optional.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AriModel(BaseModel):
    """Base of ARI models: tolerant of unknown fields, immutable."""

    model_config = ConfigDict(extra="allow", frozen=True)


class CallerID(AriModel):
    """Caller identification (name, number) of a channel."""

    name: str = ""
    number: str = ""


class DialplanCEP(AriModel):
    """Dialplan location: context, extension, priority."""

    context: str
    exten: str
    priority: int
    app_name: str = ""
    app_data: str = ""


class Channel(AriModel):
    """A channel as ARI reports it."""

    id: str
    name: str
    state: str
    caller: CallerID = CallerID()
    connected: CallerID = CallerID()
    accountcode: str = ""
    dialplan: DialplanCEP | None = None
    creationtime: datetime | None = None
    language: str = ""
    protocol_id: str = ""
    channelvars: dict[str, Any] | None = None


class Bridge(AriModel):
    """A bridge (mixing or holding) and the channels in it."""

    id: str
    technology: str = ""
    bridge_type: str
    bridge_class: str = ""
    creator: str = ""
    name: str = ""
    channels: list[str] = []
    creationtime: datetime | None = None


class Playback(AriModel):
    """A playback of media on a channel or bridge."""

    id: str
    media_uri: str
    target_uri: str
    state: str
    language: str | None = None
    next_media_uri: str | None = None


class LiveRecording(AriModel):
    """A recording in progress (or just finished or failed)."""

    name: str
    format: str
    target_uri: str
    state: str
    duration: int | None = None
    talking_duration: int | None = None
    silence_duration: int | None = None
    cause: str | None = None


class StoredRecording(AriModel):
    """A finished recording on Asterisk's disk."""

    name: str
    format: str


class Endpoint(AriModel):
    """An endpoint (technology/resource) and its channels."""

    technology: str
    resource: str
    state: str | None = None
    channel_ids: list[str] = []


class DeviceState(AriModel):
    """State of a device (e.g. ``PJSIP/agent1``)."""

    name: str
    state: str


class Application(AriModel):
    """A Stasis application and the resources subscribed to it."""

    name: str
    channel_ids: list[str] = []
    bridge_ids: list[str] = []
    endpoint_ids: list[str] = []
    device_names: list[str] = []


class Variable(AriModel):
    """Value of a channel or global variable."""

    value: str


class SystemInfo(AriModel):
    """Asterisk version and entity id."""

    version: str
    entity_id: str


class AsteriskInfo(AriModel):
    """``GET /asterisk/info``: build, system, config and status sections."""

    build: dict[str, Any] | None = None
    system: SystemInfo | None = None
    config: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class RequiredDestination(AriModel):
    """Where a phone's REFER asks its call to go: a user part (blind) or a call id (attended)."""

    protocol_id: str | None = None
    destination: str | None = None


class ReferTo(AriModel):
    """The Refer-To of a ChannelTransfer."""

    requested_destination: RequiredDestination
    destination_channel: Channel | None = None
    """An attended transfer's consultation channel, when Asterisk holds its dialog."""


class ReferredBy(AriModel):
    """The channel a ChannelTransfer's REFER came on."""

    source_channel: Channel
