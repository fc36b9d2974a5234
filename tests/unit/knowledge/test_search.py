"""Searching articles: every word in title, tags or text; the user's departments only."""

from __future__ import annotations

from zentrale.knowledge.load import parse_knowledge
from zentrale.knowledge.search import search

FILES = {
    "articles/prices.md": "---\ntitle: Plans and prices\ndepartments: [sales]\n"
    "tags: [tariff]\n---\n"
    "Basic costs 19.90 a month; business costs 39.90.\n",
    "articles/payment.md": "---\ntitle: Payment procedures\ndepartments: [sales, billing]\n"
    "tags: [invoice, card]\n---\nDirect debit on the first of the month. Prices include VAT.\n",
    "articles/outage.md": "---\ntitle: Known outages\ndepartments: [support]\n---\nNone.\n",
}
KNOWLEDGE = parse_knowledge(FILES, "kb", None)


def ids(query: str, departments: tuple[str, ...] | None) -> list[str]:
    return [hit.article.id for hit in search(KNOWLEDGE, query, departments)]


def test_title_matches_rank_before_text_matches() -> None:
    assert ids("prices", ("sales",)) == ["prices", "payment"]
    assert ids("PRICES month", ("sales",)) == ["prices", "payment"]


def test_tags_are_searched_and_every_word_must_match() -> None:
    assert ids("invoice", ("billing",)) == ["payment"]
    assert ids("invoice business", ("sales",)) == []


def test_only_articles_of_the_users_departments() -> None:
    assert ids("", ("support",)) == ["outage"]
    assert ids("prices", ("support",)) == []
    assert ids("", None) == ["outage", "payment", "prices"]


def test_a_hit_has_a_snippet_around_the_match() -> None:
    (hit,) = search(KNOWLEDGE, "debit", ("billing",))
    assert "Direct debit" in hit.snippet
