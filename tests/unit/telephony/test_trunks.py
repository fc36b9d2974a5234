"""Trunks: number formats, caller-ID choice, DID matching, channel limits, and their settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from zentrale.config.settings import Settings, SettingsError, load_settings
from zentrale.routing.engine import start
from zentrale.routing.steps import Dial, PlayAndHangup
from zentrale.telephony.trunks import (
    LEGACY,
    Lines,
    NotANumberError,
    TrunkFullError,
    TrunkPlan,
    caller_id,
    format_number,
)

from ..routing.support import BASE, facts, load

TRUNKS = """\
telephony:
  region: TR
trunks:
  de:
    endpoint: carrier-de
    country: DE
    inbound:
      dids:
        "+49 30 1234567": [sales-line, sales-night]
        "030 1234568": ~
        "(030) 1234569": hotline
    outbound:
      format: national
      prefix: "0"
      caller_id: "+49301234560"
      department_caller_id: {sales: "+49301234561"}
      campaign_caller_id: {summer: "+49301234562"}
      max_channels: 2
  tr:
    endpoint: carrier-tr
    inbound:
      dids: {"0242 000 01 00": ~}
      unknown_dids: refuse
"""


def settings_of(tmp_path: Path, text: str = TRUNKS) -> Settings:
    path = tmp_path / "zentrale.yaml"
    path.write_text(text)
    return load_settings(path, environ={})


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "zentrale.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    return [problem.replace(str(path), "FILE") for problem in caught.value.problems]


@pytest.fixture
def plan(tmp_path: Path) -> TrunkPlan:
    return TrunkPlan.of(settings_of(tmp_path))


# -- number formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "berlin", "istanbul"),
    [
        ("e164", "+4930123456", "+902121234567"),
        ("national", "030123456", "00902121234567"),  # abroad: the only way from a national plan
        ("international", "004930123456", "00902121234567"),
        ("digits", "4930123456", "902121234567"),
    ],
)
def test_numbers_are_written_as_the_carrier_wants(fmt: str, berlin: str, istanbul: str) -> None:
    assert format_number("+4930123456", fmt, "DE") == berlin  # type: ignore[arg-type]
    assert format_number("+902121234567", fmt, "DE") == istanbul  # type: ignore[arg-type]


def test_international_uses_the_countrys_exit_code_and_prefix_comes_first() -> None:
    assert format_number("+4930123456", "international", "US") == "0114930123456"
    assert format_number("+4930123456", "national", "DE", prefix="0") == "0030123456"
    assert format_number("+4930123456", "e164", "DE", prefix="*31#") == "*31#+4930123456"


# -- outbound: endpoint, number, caller ID ------------------------------------------------------


def test_outbound_dials_the_first_outbound_trunk_in_its_format(plan: TrunkPlan) -> None:
    route = plan.outbound("+49 30 666 777")
    assert (route.trunk, route.endpoint) == ("de", "PJSIP/0030666777@carrier-de")
    assert route.caller_id == "+49301234560"
    # A national number is read in the trunk's country, not the call centre's.
    assert plan.outbound("030 666777").endpoint == "PJSIP/0030666777@carrier-de"


def test_caller_id_campaign_then_department_then_trunk(plan: TrunkPlan) -> None:
    assert plan.outbound("+4930666777", campaign="summer", department="sales").caller_id == (
        "+49301234562"
    )
    assert plan.outbound("+4930666777", campaign="other", department="sales").caller_id == (
        "+49301234561"
    )
    assert plan.outbound("+4930666777", department="support").caller_id == "+49301234560"


def test_caller_id_of_a_trunk_without_outbound_is_none(tmp_path: Path) -> None:
    trunk = settings_of(tmp_path).trunks["tr"]
    assert caller_id(trunk, "summer", "sales") is None


def test_a_trunk_refuses_what_is_no_number_and_masks_it(plan: TrunkPlan) -> None:
    with pytest.raises(NotANumberError) as caught:
        plan.outbound("call me maybe 12")
    assert "12" in caught.value.message
    assert caught.value.code == "not-a-number"


def test_without_outbound_trunk_the_old_setting_is_used_as_before() -> None:
    plan = TrunkPlan.of(Settings())
    route = plan.outbound("200")
    assert (route.trunk, route.endpoint, route.caller_id) == (
        LEGACY,
        "Local/200@sim-number/n",
        None,
    )
    assert plan.limit(LEGACY) is None


# -- inbound: which trunk, which DID, which rules ------------------------------------------------


def test_inbound_did_is_read_in_the_trunks_country_as_e164(plan: TrunkPlan) -> None:
    line = plan.inbound("PJSIP/carrier-de-0000001a", "0301234567")
    assert (line.trunk, line.did, line.entries) == (
        "de",
        "+49301234567",
        ("sales-line", "sales-night"),
    )
    assert plan.inbound("PJSIP/carrier-de-0000001b", "4930 1234569").entries == ("hotline",)
    assert plan.inbound("PJSIP/carrier-de-0000001c", "+49301234568").entries == ()


def test_inbound_unknown_did_routed_or_refused_by_the_trunk(plan: TrunkPlan) -> None:
    routed = plan.inbound("PJSIP/carrier-de-00000002", "030999999")
    assert (routed.did, routed.entries, routed.refused) == ("+4930999999", (), False)
    refused = plan.inbound("PJSIP/carrier-tr-00000003", "02420000101")
    assert (refused.trunk, refused.refused) == ("tr", True)
    assert not plan.inbound("PJSIP/carrier-tr-00000004", "02420000100").refused


def test_calls_not_from_a_trunk_keep_their_extension(plan: TrunkPlan) -> None:
    assert plan.inbound("Local/100@sim-caller-00000005;2", "100").did == "100"
    assert plan.inbound("PJSIP/8001-00000006", "100").trunk is None


def test_a_did_given_to_named_rules_tries_only_those() -> None:
    rules = load(
        BASE.replace(
            "  - name: everyone\n",
            "  - name: vip\n    match: {did: ['+49301234567']}\n    action: {dial: '+4989123'}\n"
            "  - name: hotline\n    action: {play_and_hangup: bye}\n"
            "  - name: everyone\n",
        )
    )
    assert isinstance(start(rules, facts(dialled="+49301234567")), Dial)
    # The trunk sends the DID to `hotline`: `vip` (which names the DID) is not tried.
    step = start(rules, facts(dialled="+49301234567", entries=("hotline",)))
    assert isinstance(step, PlayAndHangup)
    assert "'hotline'" in step.reason[0]


# -- channel limits ------------------------------------------------------------------------------


def test_channels_over_the_limit_are_refused_until_one_is_given_back(plan: TrunkPlan) -> None:
    lines = Lines(plan)
    first, second = lines.take("de"), lines.take("de")
    assert lines.free("de") == 0
    with pytest.raises(TrunkFullError) as caught:
        lines.take("de")
    assert caught.value.code == "trunk-full"
    assert "all its 2 outbound channels" in caught.value.message
    first.release()
    first.release()  # twice gives back one
    assert lines.free("de") == 1
    lines.take("de")
    second.release()
    assert lines.busy == {"de": 1}
    assert lines.free(LEGACY) is None


# -- settings -------------------------------------------------------------------------------


def test_a_did_that_is_no_number_names_file_and_line(tmp_path: Path) -> None:
    text = TRUNKS.replace('"030 1234568": ~', '"030 1234568": ~\n        "12": ~')
    assert problems_of(tmp_path, text) == [
        "FILE:11:9: trunks.de.inbound.dids.12: '12' is not a phone number (read in DE)"
    ]


def test_bad_trunk_values_name_file_and_line(tmp_path: Path) -> None:
    text = TRUNKS.replace("format: national", "format: local").replace(
        "max_channels: 2", "max_channels: 0"
    )
    problems = problems_of(tmp_path, text)
    assert problems[0].startswith("FILE:13:7: trunks.de.outbound.format: Input should be 'e164'")
    assert problems[1].startswith("FILE:18:7: trunks.de.outbound.max_channels: ")
    assert len(problems) == 2


def test_a_caller_id_must_be_a_number(tmp_path: Path) -> None:
    text = TRUNKS.replace('caller_id: "+49301234560"', "caller_id: Zentrale")
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("FILE:15:7: trunks.de.outbound.caller_id: String should match")


def test_the_old_outbound_setting_beside_an_outbound_trunk_is_refused(tmp_path: Path) -> None:
    text = TRUNKS.replace("  region: TR\n", "  region: TR\n  outbound_endpoint: PJSIP/{number}@x\n")
    assert problems_of(tmp_path, text) == [
        "FILE:3:3: telephony.outbound_endpoint: the trunks' outbound settings replace it: move it"
        " to trunks.<name>.outbound (dial, caller_id) and remove it here"
    ]


def test_the_old_outbound_setting_alone_still_works(tmp_path: Path) -> None:
    settings = settings_of(
        tmp_path,
        "telephony:\n  outbound_endpoint: PJSIP/{number}@old\n  outbound_caller_id: '42'\n",
    )
    route = TrunkPlan.of(settings).outbound("+4930666")
    assert (route.endpoint, route.caller_id) == ("PJSIP/+4930666@old", "42")


def test_the_operator_guides_trunk_examples_load(tmp_path: Path) -> None:
    guide = (Path(__file__).parents[3] / "docs" / "operator.md").read_text()
    blocks = [b.split("```")[0] for b in guide.split("```yaml\n")[1:]]
    examples = [b for b in blocks if b.startswith("trunks:") and "\n    sip:" not in b]
    assert len(examples) == 2
    for example in examples:
        settings = settings_of(tmp_path, example)
        (name,) = settings.trunks
        assert TrunkPlan.of(settings).outbound_trunk() == name


def test_dids_sent_to_entry_rules_the_rules_lack_are_named(plan: TrunkPlan) -> None:
    assert plan.unknown_entries({"sales-line", "hotline"}) == ["de +49301234567 -> sales-night"]
    assert plan.unknown_entries({"sales-line", "sales-night", "hotline"}) == []
