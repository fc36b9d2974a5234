"""Finding articles: every word of the query in the title, tags or text, best matches first.

Pure: the live `Knowledge` and the user's departments in, hits out. Title matches weigh most,
then tags, then the text; an empty query lists the user's articles by title.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from zentrale.knowledge.documents import Document
from zentrale.knowledge.load import Knowledge

SNIPPET = 160
_MARKUP = re.compile(r"[#*_>`|\[\]()~-]+")


@dataclass(frozen=True, slots=True)
class Hit:
    """An article found, with a short piece of its text."""

    article: Document
    score: int
    snippet: str


def visible(article: Document, departments: Collection[str] | None) -> bool:
    """Tell whether a user of DEPARTMENTS (None: every department) may open ARTICLE."""
    return departments is None or any(d in departments for d in article.departments)


def search(
    knowledge: Knowledge, query: str, departments: Collection[str] | None, limit: int = 20
) -> list[Hit]:
    """Return the articles of DEPARTMENTS matching every word of QUERY, best first."""
    words = [word.casefold() for word in query.split()]
    hits = []
    for article in knowledge.articles:
        if not visible(article, departments):
            continue
        title, tags = article.title.casefold(), " ".join(article.tags).casefold()
        text = plain(article.body)
        body = text.casefold()
        if not all(word in title or word in tags or word in body for word in words):
            continue
        score = sum(3 * (w in title) + 2 * (w in tags) + (w in body) for w in words)
        hits.append(Hit(article, score, _snippet(text, body, words)))
    hits.sort(key=lambda hit: (-hit.score, hit.article.title.casefold(), hit.article.id))
    return hits[:limit]


def plain(markdown: str) -> str:
    """Return MARKDOWN as one line of text (markup characters dropped)."""
    return " ".join(_MARKUP.sub(" ", markdown).split())


def _snippet(text: str, folded: str, words: list[str]) -> str:
    starts = [folded.find(word) for word in words if folded.find(word) >= 0]
    start = max(0, min(starts) - SNIPPET // 3) if starts else 0
    piece = text[start : start + SNIPPET]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET < len(text) else "")
