"""Disposition codes per department: read from the rules, repeated or bad codes refused."""

from __future__ import annotations

from .support import BASE, load
from .test_errors import changed, line_of, only_error

WITH_CODES = changed(
    '    agents: [{endpoint: "Local/1001@sim-agent", name: Ayşe}]',
    '    agents: [{endpoint: "Local/1001@sim-agent", name: Ayşe}]\n'
    "    dispositions:\n"
    "      - {code: sale, label: Sale closed}\n"
    "      - {code: no_interest, label: No interest}",
    BASE,
)


def test_a_department_lists_its_codes_in_order() -> None:
    sales = load(WITH_CODES).document.departments["sales"]
    assert [d.code for d in sales.dispositions] == ["sale", "no_interest"]
    found = sales.disposition("sale")
    assert found is not None
    assert found.label == "Sale closed"
    assert sales.disposition("unknown") is None


def test_without_dispositions_a_department_has_none() -> None:
    assert load(BASE).document.departments["sales"].dispositions == ()


def test_a_repeated_code_is_refused_with_its_line() -> None:
    text = changed("{code: no_interest,", "{code: sale,", WITH_CODES)
    issue = only_error(text)
    assert "disposition codes repeat: sale" in issue.message
    assert issue.line == line_of(text, "dispositions:")
    assert str(issue).startswith(f"routing.yaml:{issue.line}:")


def test_a_code_that_is_not_a_name_is_refused_at_the_code() -> None:
    text = changed("{code: sale,", '{code: "sale closed",', WITH_CODES)
    issue = only_error(text)
    assert "is not a name" in issue.message
    assert issue.line == line_of(text, "sale closed")
    assert "dispositions[0].code" in str(issue) or "dispositions.0.code" in str(issue)


def test_a_code_without_a_label_is_refused() -> None:
    text = changed("{code: sale, label: Sale closed}", "{code: sale}", WITH_CODES)
    issue = only_error(text)
    assert "label" in str(issue)
