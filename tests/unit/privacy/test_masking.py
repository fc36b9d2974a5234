"""Masking a subject's numbers inside stored values, and what audit entries keep."""

from __future__ import annotations

from zentrale.core.audit import _masked
from zentrale.privacy.masking import mask_field, mask_in, spellings

NUMBER = "+905551112233"


def test_every_spelling_of_the_number_is_masked_in_nested_values() -> None:
    pairs = spellings([NUMBER])
    detail = {
        "to": "number",
        "target": NUMBER,
        "dial": f"PJSIP/{NUMBER[1:]}@trunk",
        "legs": [{"number": NUMBER}, {"number": "+902120000000"}],
        "n": 3,
    }
    assert mask_in(detail, pairs) == {
        "to": "number",
        "target": "+90555*****33",
        "dial": "PJSIP/+90555*****33@trunk",  # found by libphonenumber, shown in one form
        "legs": [{"number": "+90555*****33"}, {"number": "+902120000000"}],
        "n": 3,
    }


def test_masked_numbers_stay_as_they_are() -> None:
    assert spellings(["+90555*****33", ""]) == []
    assert mask_field("+90555*****33") == "+90555*****33"
    assert mask_field(None) is None
    assert mask_field(NUMBER) == "+90555*****33"


def test_audit_entries_keep_numbers_masked_by_key_and_in_free_text() -> None:
    detail = {
        "filters": {"caller": "905551112233", "department": "sales"},
        "note": f"called back {NUMBER}",
        "hits": 2,
    }
    assert _masked(detail) == {
        "filters": {"caller": "+90555*****33", "department": "sales"},
        "note": "called back +90555*****33",
        "hits": 2,
    }
