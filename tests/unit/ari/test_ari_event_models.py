"""Our event and resource models checked against Asterisk 22's own API description (rest-api/*.json,
copied into ``data/``), plus forward compatibility with unknown events and fields."""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from zentrale.telephony.ari import models
from zentrale.telephony.ari.events import (
    EVENT_MODELS,
    AriEvent,
    ChannelDtmfReceived,
    Envelope,
    count_unknown_fields,
    dispatch_key,
    parse_event,
)
from zentrale.testing.fake_ari import bridge_json, channel_json

DATA = Path(__file__).parent / "data"
SPEC_FILES = (
    "events",
    "channels",
    "bridges",
    "playbacks",
    "recordings",
    "endpoints",
    "deviceStates",
)
SCALARS: dict[str, type] = {
    "string": str,
    "int": int,
    "long": int,
    "boolean": bool,
    "Date": datetime,
    "object": dict,
}
NESTED = [
    models.Channel,
    models.ReferTo,
    models.ReferredBy,
    models.RequiredDestination,
    models.CallerID,
    models.DialplanCEP,
    models.Bridge,
    models.Playback,
    models.LiveRecording,
    models.Endpoint,
    models.DeviceState,
]
BASE_FIELDS = {"type", "application", "timestamp", "asterisk_id"}


def spec_models() -> dict[str, Any]:
    """All models from the copied Asterisk API description files."""
    merged: dict[str, Any] = {}
    for name in SPEC_FILES:
        merged.update(json.loads((DATA / f"{name}.json").read_text())["models"])
    return merged


SPEC = spec_models()


def unwrap(annotation: Any) -> Any:
    """Strip ``X | None`` to ``X``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0]
    return annotation


def compatible(spec_type: str, annotation: Any) -> bool:
    """Whether our annotation can hold the spec's type."""
    ours = unwrap(annotation)
    if spec_type.startswith("List["):
        return typing.get_origin(ours) is list and compatible(
            spec_type[5:-1], typing.get_args(ours)[0]
        )
    if spec_type in SCALARS:
        return SCALARS[spec_type] is (typing.get_origin(ours) or ours)
    return isinstance(ours, type) and issubclass(ours, BaseModel) and ours.__name__ == spec_type


def spec_name(model: type[BaseModel]) -> str:
    return getattr(model, "event_type", "") or model.__name__


ALL_MODELS = [*EVENT_MODELS.values(), *NESTED]


@pytest.mark.parametrize("model", ALL_MODELS, ids=spec_name)
def test_model_fields_exist_in_asterisk_spec_with_compatible_types(model: type[BaseModel]) -> None:
    spec = SPEC[spec_name(model)]["properties"]
    for name, info in model.model_fields.items():
        if name in BASE_FIELDS:
            continue
        assert name in spec, f"{spec_name(model)}.{name} not in Asterisk's spec"
        assert compatible(spec[name]["type"], info.annotation), f"{name}: {spec[name]['type']}"
        if info.is_required():
            assert spec[name].get("required"), f"{name} required by us, optional in Asterisk"


def test_every_event_we_handle_is_an_asterisk_event() -> None:
    assert set(EVENT_MODELS) <= set(SPEC)
    base = SPEC["Event"]["properties"]
    assert base["application"]["required"]
    assert base["timestamp"]["type"] == "Date"
    assert SPEC["Message"]["properties"]["type"]["required"]


def test_dtmf_event_parses_asterisk_shaped_payload() -> None:
    raw = {
        "type": "ChannelDtmfReceived",
        "application": "zentrale",
        "timestamp": "2025-01-02T10:11:12.345+0000",
        "digit": "5",
        "duration_ms": 120,
        "channel": channel_json("1700000000.42"),
        "asterisk_id": "aa:bb",
    }
    event = parse_event(raw)
    assert isinstance(event, ChannelDtmfReceived)
    assert event.digit == "5"
    assert event.channel.caller.number == "015200000000"
    assert event.timestamp is not None
    assert event.timestamp.utcoffset() is not None


def test_unknown_event_type_and_fields_are_kept_and_counted() -> None:
    channel = {**channel_json("c1"), "future_field": {"x": 1}}
    raw = {"type": "ChannelFutureThing", "application": "a", "channel": channel, "new": 1}
    event = parse_event(raw)
    assert type(event) is AriEvent
    assert event.model_extra == {"channel": channel, "new": 1}
    known = parse_event({"type": "StasisEnd", "application": "a", "channel": channel})
    assert count_unknown_fields(known) == 1


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"type": "StasisStart", "channel": {"id": "c1"}}, "channel:c1"),
        ({"type": "PlaybackFinished", "playback": {"target_uri": "channel:c2"}}, "channel:c2"),
        ({"type": "RecordingFinished", "recording": {"target_uri": "bridge:b1"}}, "bridge:b1"),
        ({"type": "BridgeDestroyed", "bridge": bridge_json("b2")}, "bridge:b2"),
        ({"type": "Dial", "peer": {"id": "c3"}, "dialstatus": "RINGING"}, "channel:c3"),
        ({"type": "DeviceStateChanged", "device_state": {"name": "PJSIP/7"}}, "device:PJSIP/7"),
        (
            {"type": "EndpointStateChange", "endpoint": {"technology": "PJSIP", "resource": "7"}},
            "endpoint:PJSIP/7",
        ),
        ({"type": "ApplicationRegistered"}, "global"),
    ],
)
def test_dispatch_key_from_raw_event(raw: dict[str, Any], key: str) -> None:
    assert dispatch_key(raw) == key
    assert Envelope(raw).key == key


def test_a_phone_transfer_is_dispatched_to_the_channel_it_came_on() -> None:
    raw = {
        "type": "ChannelTransfer",
        "refer_to": {"requested_destination": {"destination": "backoffice"}},
        "referred_by": {"source_channel": channel_json("agent-1")},
    }
    assert dispatch_key(raw) == "channel:agent-1"
    event = parse_event(raw)
    assert getattr(event, "destination", None) == "backoffice"


def test_an_attended_phone_transfer_names_its_consultation() -> None:
    # As Asterisk 22 reports a REFER with Replaces on an ari-only channel: the Refer-To's user
    # part, the consultation's Call-ID and tags, and its channel when Asterisk holds the dialog.
    raw = {
        "type": "ChannelTransfer",
        "refer_to": {
            "requested_destination": {
                "destination": "backoffice",
                "protocol_id": "85669f43d157fb04",
                "additional_protocol_params": [
                    {"parameter_name": "from", "parameter_value": "a3b3"},
                    {"parameter_name": "to", "parameter_value": "04df"},
                ],
            },
            "destination_channel": channel_json("consult-1"),
        },
        "referred_by": {"source_channel": channel_json("agent-1")},
    }
    event = parse_event(raw)
    assert getattr(event, "attended", None) is True
    assert getattr(event, "destination", None) == "backoffice"
    consultation = event.refer_to.destination_channel
    assert consultation is not None
    assert consultation.id == "consult-1"
    blind = parse_event(
        {
            "type": "ChannelTransfer",
            "refer_to": {"requested_destination": {"destination": "backoffice"}},
            "referred_by": {"source_channel": channel_json("agent-1")},
        }
    )
    assert getattr(blind, "attended", None) is False
