"""Rendering: placeholders filled with escaped values or asks; raw HTML never reaches the page."""

from __future__ import annotations

from zentrale.knowledge.load import parse_knowledge
from zentrale.knowledge.render import render_article, render_script

FRONT = "---\ntitle: T\ndepartments: [sales]\n---\n"


def script(body: str):  # type: ignore[no-untyped-def]
    return parse_knowledge({"scripts/s.md": FRONT + body}, "kb", None).scripts[0]


def article(body: str):  # type: ignore[no-untyped-def]
    return parse_knowledge({"articles/a.md": FRONT + body}, "kb", None).articles[0]


def test_known_fields_are_filled_and_empty_ones_become_an_ask() -> None:
    html = render_script(
        script("Hello **{customer.name}**, number {customer.customer_number}.\n"),
        {"customer.name": "Zeynep Kaya", "customer.customer_number": ""},
    )
    assert html == (
        '<p>Hello <strong><span class="filled" data-field="name">Zeynep Kaya</span></strong>, '
        'number <mark class="ask" data-field="customer_number">Ask for: customer number</mark>.'
        "</p>\n"
    )
    german = render_script(script("{customer.language}\n"), {}, "de")
    assert (
        german == '<p><mark class="ask" data-field="language">Bitte erfragen: Sprache</mark></p>\n'
    )


def test_values_are_escaped_and_placeholders_stay_out_of_links_and_code() -> None:
    html = render_script(
        script("{customer.name} [site](https://x.example/{caller}) `{caller}`\n"),
        {"customer.name": "<img src=x onerror=alert(1)>", "caller": "+49301234567"},
    )
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="https://x.example/%7Bcaller%7D"' in html
    assert "<code>{caller}</code>" in html


def test_raw_html_and_script_links_in_a_file_do_not_run() -> None:
    html = render_article(
        article(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
            "[click](javascript:alert(3)) <b onclick=alert(4)>bold</b>\n"
        )
    )
    assert "<script" not in html
    assert "<img" not in html
    assert "<b " not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    assert "[click](javascript:alert(3))" in html


def test_tables_are_rendered() -> None:
    html = render_article(article("| Plan | Price |\n|---|---|\n| Basic | 19.90 |\n"))
    assert "<table>" in html
    assert "<td>19.90</td>" in html
