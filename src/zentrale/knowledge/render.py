"""Markdown to HTML that is safe to put into the agent's page, with a script's fields filled in.

markdown-it-py renders CommonMark with raw HTML turned off: a `<script>` or `<img onerror>` in
a file comes out as text, and links to `javascript:` and the like are not made links. A
script's placeholders are filled in on the text tokens only (never in link targets or code),
with the values escaped: a known value shows as itself, an empty customer field as an ask for
it, so the agent sees what to complete while talking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

from zentrale.knowledge.documents import PLACEHOLDER, PLACEHOLDERS, Document

ASK = {"de": "Bitte erfragen:", "en": "Ask for:"}
LABELS = {
    "de": {
        "name": "Name",
        "customer_number": "Kundennummer",
        "language": "Sprache",
        "numbers": "Telefonnummer",
        "caller": "Rufnummer",
        "department": "Abteilung",
        "agent": "Ihr Name",
    },
    "en": {
        "name": "name",
        "customer_number": "customer number",
        "language": "language",
        "numbers": "phone number",
        "caller": "caller's number",
        "department": "department",
        "agent": "your name",
    },
}


def _text_rule(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Mapping[str, Any]
) -> str:
    content = tokens[idx].content
    values = env.get("values")
    if values is None:
        return str(escapeHtml(content))
    return fill(content, values, env.get("lang", "en"))


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.add_render_rule("text", _text_rule)
    return md


_MD = _markdown()


def render_article(article: Document) -> str:
    """Return ARTICLE's text as HTML (no raw HTML from the file)."""
    return str(_MD.render(article.body, {}))


def render_script(script: Document, values: Mapping[str, str | None], lang: str = "en") -> str:
    """Return SCRIPT as HTML with VALUES (placeholder → value; None or empty: ask) filled in."""
    return str(_MD.render(script.body, {"values": values, "lang": lang if lang in ASK else "en"}))


def fill(text: str, values: Mapping[str, str | None], lang: str) -> str:
    """Return TEXT escaped, its placeholders replaced by escaped values or asks."""
    out, last = [], 0
    for match in PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name not in PLACEHOLDERS:
            continue
        out.append(escapeHtml(text[last : match.start()]))
        field = PLACEHOLDERS[name]
        value = values.get(name)
        if value:
            out.append(f'<span class="filled" data-field="{field}">{escapeHtml(value)}</span>')
        else:
            label = LABELS[lang][field]
            out.append(f'<mark class="ask" data-field="{field}">{ASK[lang]} {label}</mark>')
        last = match.end()
    out.append(escapeHtml(text[last:]))
    return "".join(out)
