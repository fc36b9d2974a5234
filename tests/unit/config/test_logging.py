"""Logging: numbers masked, secrets dropped, call context on every line, JSON when asked."""

from __future__ import annotations

import json

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import Leniency, PhoneNumberMatcher

from zentrale.config import phones
from zentrale.config.logging import bind_call, configure_logging, mask_number, mask_text


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+905551112233", "+90555*****33"),
        ("+4915112345678", "+49151******78"),
        ("12345678", "********"),
        ("", ""),
    ],
)
def test_mask_number_keeps_prefix_and_last_two(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_mask_text_masks_numbers_inside_sentences_but_not_ids() -> None:
    text = "call from +90 555 111 22 33 on channel 1795969372.1 to +4930123456"
    masked = mask_text(text)
    assert "555 111" not in masked
    assert "+90555*****33" in masked
    assert "+49301***56" in masked
    assert "1795969372.1" in masked


def test_mask_text_masks_email_addresses_but_not_uris_with_a_user() -> None:
    masked = mask_text("for Anna.Weber@example.com, +4930123456 via sip:1001@127.0.0.1:5060")
    assert masked == "for A***@***.com, +49301***56 via sip:1001@127.0.0.1:5060"
    assert mask_text("q=müller@bücher.de") == "q=m***@***.de"
    url = "postgresql+asyncpg://zentrale:***@db.internal/zentrale sip:agent@pbx.example.com"
    assert mask_text(url) == url


def test_json_lines_carry_call_context_and_mask(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "info")
    log = structlog.get_logger("t")
    with bind_call("call-1", "chan-9"):
        log.info("call.arrived", caller="+905551112233", password="pw", note="cb +905329876543")
    log.info("after")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert (first["call_id"], first["channel_id"]) == ("call-1", "chan-9")
    assert first["caller"] == "+90555*****33"
    assert first["password"] == "***"
    assert first["note"] == "cb +90532*****43"
    assert "call_id" not in second  # unbound after the block


def test_level_filters_and_masking_can_be_turned_off(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "warning", mask_numbers=False)
    log = structlog.get_logger("t")
    log.info("hidden")
    log.warning("shown", caller="+905551112233")
    (line,) = capsys.readouterr().err.splitlines()
    assert json.loads(line)["caller"] == "+905551112233"


def test_console_format_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("console", "info")
    structlog.get_logger("t").info("hello", caller="+905551112233")
    err = capsys.readouterr().err
    assert "hello" in err
    assert "+90555*****33" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_show_no_locals_and_mask_numbers(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt, "info")  # type: ignore[arg-type]
    log = structlog.get_logger("t")
    card_number = "4111111111111111"  # a local the old renderers printed
    try:
        raise ValueError(f"caller +905551112233 refused ({len(card_number)} digits)")
    except ValueError:
        log.exception("call.failed")
    err = capsys.readouterr().err
    assert "ValueError" in err
    assert "Traceback" in err
    assert "+90555*****33" in err
    assert "+905551112233" not in err
    assert card_number not in err


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call back 0049301234567 or 905551112233", "call back +49301****67 or +90555*****33"),
        ("q=905551112233", "q=+90555*****33"),
        ("ring 0555 111 22 33 please", "ring +90555*****33 please"),
        ("ring 0555-111-22-33", "ring +90555*****33"),
        ("00 90 555 111 22 33", "+90555*****33"),
        ("(0212) 555 12 34", "+90212*****34"),
    ],
)
def test_mask_text_finds_numbers_in_every_common_form(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "recording:2791900e-6db5-412f-a518-5d4386868aac",
        "token:3b27456fd4fcd4526c1df61ad8197568",
        "bytes=0-65535",
        "2026-03-01T00:00:00+00:00",
        "channel 1795969372.1",
    ],
)
def test_mask_text_leaves_ids_times_and_ranges_alone(text: str) -> None:
    assert mask_text(text) == text


# What log lines are made of: digits, the punctuation numbers are written with, letters (x is
# both an extension mark and a keypad digit to libphonenumber), ids' and times' characters.
_WRITTEN = st.text(
    alphabet=st.sampled_from([*"0123456789" * 4, *"+ -.()/:_#xXabcZé", "\u00a0", "\uff10"]),
    max_size=28,
)


@pytest.mark.parametrize("region", ["TR", "DE", "US", "IN"])
@settings(max_examples=400, deadline=None)
@given(text=_WRITTEN)
def test_the_quick_look_never_skips_a_text_the_matcher_finds_a_number_in(
    region: str, text: str
) -> None:
    phones.configure_region(region)
    try:
        found = list(PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE))
        assert not found or phones.may_hold_number(text)
    finally:
        phones.configure_region(phones.DEFAULT_REGION)


def test_the_quick_look_spares_ids_and_times_but_not_short_numbers() -> None:
    assert not phones.may_hold_number("recording 5835b6f9-edaf-48dd-bbf2-a3405e17f835")
    assert not phones.may_hold_number("agent-42 in step 3 of 9")
    assert phones.may_hold_number("call 0555 111")  # national TR numbers have 7 digits or more
    assert phones.may_hold_number("+43 123")  # Austria: a local-only number with its code
    assert mask_text("+90 555 111 22 33, again +90 555 111 22 33") == (
        f"{mask_number('+905551112233')}, again {mask_number('+905551112233')}"
    )
