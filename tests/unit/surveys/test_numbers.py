"""Campaign CSV files: numbers read, and every problem named by line and column."""

from __future__ import annotations

import pytest

from zentrale.surveys.numbers import Listed, NumbersError, read_numbers


def test_numbers_are_read_with_their_lines_and_cleaned() -> None:
    text = "name,number\nAnna,+49 30 123-456\n\nBen,(030) 555.66/77\n"
    assert read_numbers(text) == [Listed(2, "+4930123456"), Listed(4, "0305556677")]


def test_semicolons_and_a_german_header() -> None:
    assert read_numbers("Name;Telefon\nAnna;+4930111\n") == [Listed(2, "+4930111")]


def test_every_bad_row_is_named_by_line_and_column() -> None:
    text = "name,number\nAnna,+4930111\nBen,call me\nCem,+4930111\nDora\n"
    with pytest.raises(NumbersError) as caught:
        read_numbers(text, "kunden.csv")
    assert str(caught.value).splitlines() == [
        "kunden.csv line 3, column 2 (number): 'call me' is not a phone number like +4930123456",
        "kunden.csv line 4, column 2 (number): +4930111 is already on line 2",
        "kunden.csv line 5, column 2 (number): '' is not a phone number like +4930123456",
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "line 1: empty file"),
        ("name,phone_no\nA,+4930111\n", "line 1: no 'number' column"),
        ("number\n\n", "no numbers below the header row"),
    ],
)
def test_unusable_files(text: str, said: str) -> None:
    with pytest.raises(NumbersError, match=said):
        read_numbers(text)
