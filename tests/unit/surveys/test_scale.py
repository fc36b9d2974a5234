"""Answer scales: what supervisors may write and which keys count as which answer."""

from __future__ import annotations

import pytest

from zentrale.routing.scale import parse_scale


@pytest.mark.parametrize(
    ("text", "low", "high", "shown"),
    [
        ("1-5", 1, 5, "1-5"),
        ("0-9", 0, 9, "0-9"),
        ("0-10", 0, 10, "0-10"),
        ("1-10", 1, 10, "1-10"),
        ("yes/no", 1, 2, "yes/no"),
        ("Ja/Nein", 1, 2, "yes/no"),
        (" 1 - 3 ", 1, 3, "1-3"),
    ],
)
def test_scales_as_written(text: str, low: int, high: int, shown: str) -> None:
    scale = parse_scale(text)
    assert (scale.low, scale.high, scale.text) == (low, high, shown)


@pytest.mark.parametrize("text", ["5", "1-1", "2-5", "0-11", "5-1", "a-b", "yes", "1..5"])
def test_impossible_scales_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="scale"):
        parse_scale(text)


@pytest.mark.parametrize(
    ("scale", "digits", "answer"),
    [
        ("1-5", "1", 1),
        ("1-5", "5", 5),
        ("1-5", "0", None),
        ("1-5", "6", None),
        ("1-5", "", None),
        ("1-5", "*", None),
        ("yes/no", "1", 1),
        ("yes/no", "2", 2),
        ("yes/no", "3", None),
        ("0-9", "0", 0),
        ("0-10", "10", 10),
        ("0-10", "1", 1),
        ("0-10", "0", 0),
        ("0-10", "11", None),
        ("0-10", "12", None),
        ("1-5", "10", None),
    ],
)
def test_keys_map_onto_the_scale(scale: str, digits: str, answer: int | None) -> None:
    assert parse_scale(scale).answer(digits) == answer


def test_only_a_one_on_a_ten_point_scale_waits_for_a_second_key() -> None:
    nps = parse_scale("0-10")
    assert [nps.needs_more(d) for d in ("1", "2", "0", "10")] == [True, False, False, False]
    assert not parse_scale("1-9").needs_more("1")
