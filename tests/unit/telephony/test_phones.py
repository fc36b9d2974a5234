"""Agents' phones kept by zentrale: the PJSIP objects they become, and the sealed phone book."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from zentrale.telephony.phones import (
    InvalidPhoneError,
    Phone,
    PhoneBook,
    PhoneBookError,
    PhoneExistsError,
    PhoneNotFoundError,
    check_phone,
    pjsip_objects,
)


def test_a_phone_becomes_auth_aor_and_a_nat_friendly_endpoint() -> None:
    objects = dict(pjsip_objects(Phone("8101", ("g722", "alaw")), "pw"))
    assert list(objects) == ["auth", "aor", "endpoint"]  # the endpoint names the other two
    assert objects["auth"] == {"auth_type": "userpass", "username": "8101", "password": "pw"}
    assert objects["aor"]["max_contacts"] == "1"
    assert objects["aor"]["remove_existing"] == "yes"
    endpoint = objects["endpoint"]
    assert (endpoint["aors"], endpoint["auth"], endpoint["allow"]) == ("8101", "8101", "g722,alaw")
    assert endpoint["context"] == "zentrale-inbound"
    assert endpoint["dtmf_mode"] == "rfc4733"
    nat = {key: endpoint[key] for key in ("rtp_symmetric", "force_rport", "rewrite_contact")}
    assert nat == {"rtp_symmetric": "yes", "force_rport": "yes", "rewrite_contact": "yes"}
    assert endpoint["direct_media"] == "no"


@pytest.mark.parametrize(
    ("phone", "says"),
    [
        (Phone("81 01"), "phone name '81 01'"),
        (Phone("8101", ("ulaw", "mp3")), "codecs mp3: choose from"),
        (Phone("8101", ()), "codecs (none)"),
        (Phone("8101", transport="udp;evil"), "transport 'udp;evil'"),
    ],
)
def test_bad_phones_are_refused_naming_what(phone: Phone, says: str) -> None:
    with pytest.raises(InvalidPhoneError) as caught:
        check_phone(phone)
    assert says in caught.value.message


def test_the_book_keeps_phones_with_sealed_passwords(tmp_path: Path) -> None:
    book = PhoneBook(tmp_path)
    password = book.add(Phone("8101", ("alaw",)))
    assert len(password) >= 20
    text = book.path.read_text()
    assert password not in text  # sealed at rest
    assert stat.S_IMODE(book.path.stat().st_mode) == 0o600
    assert PhoneBook(tmp_path).password("8101") == password  # a new book, the same key
    assert book.phones() == [Phone("8101", ("alaw",))]
    with pytest.raises(PhoneExistsError):
        book.add(Phone("8101"))


def test_a_new_password_replaces_the_old_and_removing_forgets(tmp_path: Path) -> None:
    book = PhoneBook(tmp_path)
    first = book.add(Phone("8101"))
    book.add(Phone("8102"))
    second = book.renew("8101")
    assert second != first
    assert book.password("8101") == second
    assert book.remove("8101").name == "8101"
    assert [phone.name for phone in book.phones()] == ["8102"]
    with pytest.raises(PhoneNotFoundError):
        book.password("8101")
    with pytest.raises(PhoneNotFoundError):
        book.renew("8101")


def test_a_password_sealed_under_another_key_is_named_not_shown(tmp_path: Path) -> None:
    book = PhoneBook(tmp_path)
    password = book.add(Phone("8101"))
    (tmp_path / "secrets" / "phones-key").write_text("another key\n")
    with pytest.raises(PhoneBookError) as caught:
        book.password("8101")
    assert "phones-key" in caught.value.message
    assert "zentrale phones password 8101" in caught.value.message
    assert password not in caught.value.message


def test_a_damaged_book_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "phones.json").write_text('{"phones":\n  {oops}\n}')
    with pytest.raises(PhoneBookError) as caught:
        PhoneBook(tmp_path).phones()
    assert caught.value.message.startswith(f"{tmp_path / 'phones.json'}:2: not JSON")
