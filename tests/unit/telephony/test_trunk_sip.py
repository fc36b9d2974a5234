"""Trunks' SIP side in the settings: validation naming file and line, the PJSIP objects,
and the push that deletes only what an earlier push made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zentrale.config.settings import Settings, SettingsError, TrunkSettings, load_settings
from zentrale.telephony.ari import AriNotFoundError
from zentrale.telephony.trunk_sip import FILE_NAME, push_trunks, stale_objects, trunk_objects

TRUNKS = """\
telephony:
  region: TR
trunks:
  de:
    country: DE
    sip:
      host: sip.carrier.example
      match: [217.0.0.0/13, "192.0.2.10:5060", "2001:db8::/32"]
      codecs: [alaw, g722]
      dtmf_mode: auto_info
      registration:
        username: "+4930123456"
        password_env: DE_PASSWORD
"""


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "zentrale.yaml"
    path.write_text(text)
    return load_settings(path, environ={"DE_PASSWORD": "pw"} if environ is None else environ)


def problems_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, text, environ)
    path = str(tmp_path / "zentrale.yaml")
    return [problem.replace(path, "FILE") for problem in caught.value.problems]


def objects_of(trunk: TrunkSettings, password: str | None = "pw") -> dict[str, Any]:
    found = trunk_objects("de", trunk, password)
    assert {object_id for _, object_id, _ in found} == {trunk.endpoint or "de"}
    return {object_type: fields for object_type, _, fields in found}


def test_a_registering_trunk_becomes_auth_aor_endpoint_identify_and_registration(
    tmp_path: Path,
) -> None:
    trunk = load(tmp_path, TRUNKS).trunks["de"]
    found = trunk_objects("de", trunk, "pw")
    assert [kind for kind, _, _ in found] == ["auth", "aor", "endpoint", "identify", "registration"]
    objects = objects_of(trunk)
    assert objects["auth"] == {"auth_type": "userpass", "username": "+4930123456", "password": "pw"}
    assert objects["aor"]["contact"] == "sip:sip.carrier.example"
    endpoint = objects["endpoint"]
    assert (endpoint["allow"], endpoint["dtmf_mode"]) == ("alaw,g722", "auto_info")
    assert (endpoint["aors"], endpoint["outbound_auth"]) == ("de", "de")
    defaults = ("direct_media", "rtp_symmetric", "send_connected_line", "force_rport")
    assert [endpoint[key] for key in defaults] == ["no", "yes", "no", "yes"]
    assert objects["identify"] == {
        "endpoint": "de",
        "match": "217.0.0.0/13,192.0.2.10:5060,2001:db8::/32",
    }
    registration = objects["registration"]
    assert registration["server_uri"] == "sip:sip.carrier.example"  # default: the host
    assert registration["client_uri"] == "sip:+4930123456@sip.carrier.example"
    assert (registration["outbound_auth"], registration["endpoint"]) == ("de", "de")
    assert (registration["line"], registration["expiration"]) == ("yes", "3600")


def test_a_static_ip_trunk_has_no_auth_nor_registration_and_its_own_endpoint_name() -> None:
    trunk = TrunkSettings.model_validate(
        {"endpoint": "tr-1", "sip": {"host": "198.51.100.10:5060", "match": ["198.51.100.10"]}}
    )
    found = trunk_objects("tr", trunk, None)
    assert [(kind, object_id) for kind, object_id, _ in found] == [
        ("aor", "tr-1"),
        ("endpoint", "tr-1"),
        ("identify", "tr-1"),
    ]
    endpoint = found[1][2]
    assert "outbound_auth" not in endpoint
    assert endpoint["allow"] == "alaw,ulaw"
    assert trunk_objects("plain", TrunkSettings(), None) == []  # written in pjsip.conf


def test_a_registering_trunk_without_its_password_makes_nothing(tmp_path: Path) -> None:
    trunk = load(tmp_path, TRUNKS).trunks["de"]
    with pytest.raises(ValueError, match="password"):
        trunk_objects("de", trunk, None)


def test_the_password_comes_from_a_file_and_is_not_in_the_settings(tmp_path: Path) -> None:
    secret = tmp_path / "de.secret"
    secret.write_text("from the file\n")
    text = TRUNKS.replace("password_env: DE_PASSWORD", f"password_file: {secret}")
    registration = load(tmp_path, text, {}).trunks["de"].sip
    assert registration is not None
    assert registration.registration is not None
    assert registration.registration.secret({}).get_secret_value() == "from the file"
    assert "from the file" not in repr(registration)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            ("password_env: DE_PASSWORD", "password: pw"),
            "FILE:13:9: trunks.de.sip.registration.password: unknown setting",
        ),
        (
            ("217.0.0.0/13", "carrier.example"),
            "FILE:8:7: trunks.de.sip.match: 'carrier.example' is not an address or network",
        ),
        (("192.0.2.10:5060", "192.0.2.10:70000"), "FILE:8:7: trunks.de.sip.match: '192.0"),
        (("[alaw, g722]", "[alaw, mp3]"), "FILE:9:7: trunks.de.sip.codecs: unknown codec mp3"),
        (("dtmf_mode: auto_info", "dtmf_mode: auto"), "FILE:10:7: trunks.de.sip.dtmf_mode: "),
        (("host: sip.carrier.example", "host: sip carrier"), "FILE:7:7: trunks.de.sip.host: "),
    ],
)
def test_bad_sip_values_name_file_and_line(
    tmp_path: Path, change: tuple[str, str], says: str
) -> None:
    (problem,) = problems_of(tmp_path, TRUNKS.replace(*change))
    assert problem.startswith(says), problem


def test_a_registration_needs_one_place_for_its_password(tmp_path: Path) -> None:
    text = TRUNKS.replace("        password_env: DE_PASSWORD\n", "")
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("FILE:11:7: trunks.de.sip.registration: set one of password_env")


def test_a_password_variable_not_set_stops_start_with_its_line(tmp_path: Path) -> None:
    assert problems_of(tmp_path, TRUNKS, {}) == [
        "FILE:13:9: trunks.de.sip.registration.password_env:"
        " environment variable DE_PASSWORD is not set"
    ]


def test_a_trunk_must_say_how_its_calls_are_known(tmp_path: Path) -> None:
    text = "trunks:\n  x:\n    sip:\n      host: 192.0.2.1\n"
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("FILE:3:5: trunks.x.sip: say how its calls are known")


def test_the_operator_guides_sip_examples_load_and_build(tmp_path: Path) -> None:
    guide = (Path(__file__).parents[3] / "docs" / "operator.md").read_text()
    blocks = [b.split("```")[0] for b in guide.split("```yaml\n")[1:]]
    examples = [b for b in blocks if b.startswith("trunks:") and "\n    sip:" in b]
    assert len(examples) == 2
    kinds = []
    for example in examples:
        settings = load(tmp_path, example, {"TRUNK_DE_PASSWORD": "pw"})
        ((name, trunk),) = settings.trunks.items()
        kinds.append([kind for kind, _, _ in trunk_objects(name, trunk, "pw")])
    assert kinds == [
        ["auth", "aor", "endpoint", "registration"],
        ["aor", "endpoint", "identify"],
    ]


def test_stale_objects_are_what_was_pushed_and_is_no_longer_wanted() -> None:
    pushed = {"old": ["aor", "endpoint"], "de": ["auth", "aor", "endpoint", "registration"]}
    wanted = {"de": ["aor", "endpoint"], "new": ["aor", "endpoint"]}
    assert stale_objects(pushed, wanted) == [
        ("registration", "de"),  # what names the auth first
        ("auth", "de"),
        ("endpoint", "old"),
        ("aor", "old"),
    ]


class FakeAsterisk:
    """ARI's dynamic configuration, recording puts and deletes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, str]] = {}
        self.deleted: list[tuple[str, str]] = []

    async def put_object(
        self, config_class: str, object_type: str, object_id: str, fields: dict[str, str]
    ) -> None:
        assert config_class == "res_pjsip"
        self.objects[(object_type, object_id)] = dict(fields)

    async def delete_object(self, config_class: str, object_type: str, object_id: str) -> None:
        if (object_type, object_id) not in self.objects:
            raise AriNotFoundError(404, "DELETE", object_id, "not found")
        del self.objects[(object_type, object_id)]
        self.deleted.append((object_type, object_id))


@pytest.mark.asyncio
async def test_push_creates_then_deletes_only_what_it_made(tmp_path: Path) -> None:
    asterisk = FakeAsterisk()
    asterisk.objects[("endpoint", "carrier")] = {}  # pjsip.conf's: never zentrale's to delete
    trunks = load(tmp_path, TRUNKS).trunks
    pushed = await push_trunks(asterisk, trunks, tmp_path, {"DE_PASSWORD": "pw"})  # type: ignore[arg-type]
    assert pushed == 1
    assert asterisk.objects[("auth", "de")]["password"] == "pw"
    record = (tmp_path / FILE_NAME).read_text()
    assert "pw" not in record.replace("pushed", "")
    assert json.loads(record)["pushed"]["de"] == [
        "auth",
        "aor",
        "endpoint",
        "identify",
        "registration",
    ]
    assert await push_trunks(asterisk, {}, tmp_path, {}) == 0  # type: ignore[arg-type]
    assert asterisk.objects == {("endpoint", "carrier"): {}}
    assert json.loads((tmp_path / FILE_NAME).read_text()) == {"pushed": {}}


@pytest.mark.asyncio
async def test_push_leaves_a_trunk_whose_password_is_missing_as_it_was(tmp_path: Path) -> None:
    asterisk = FakeAsterisk()
    trunks = load(tmp_path, TRUNKS).trunks
    await push_trunks(asterisk, trunks, tmp_path, {"DE_PASSWORD": "pw"})  # type: ignore[arg-type]
    assert await push_trunks(asterisk, trunks, tmp_path, {}) == 0  # type: ignore[arg-type]
    assert asterisk.deleted == []  # not deleted for want of its password
    assert json.loads((tmp_path / FILE_NAME).read_text())["pushed"]["de"][0] == "auth"
