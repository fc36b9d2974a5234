"""A directory of scripts and articles → `Knowledge`, or located errors saying what is wrong.

The layout: `scripts/*.md` (a department's call script, one per department and language) and
`articles/*.md` (products and services: prices, terms of sale, payment procedures). The whole
set is validated before it replaces the live one, and its version is a hash of every file, so
the history keeps each applied set as the routing rules' history keeps each routing file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from zentrale.knowledge.documents import Document, Kind, parse_document
from zentrale.knowledge.errors import ArticleNotFoundError, InvalidKnowledgeError
from zentrale.routing.errors import Issue

FOLDERS: dict[str, Kind] = {"scripts": "script", "articles": "article"}


@dataclass(frozen=True, slots=True)
class Knowledge:
    """One validated set of scripts and articles."""

    scripts: tuple[Document, ...] = ()
    articles: tuple[Document, ...] = ()
    version: str = "empty"
    files: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    def script_for(self, department: str, language: str | None) -> Document | None:
        """Return DEPARTMENT's script in LANGUAGE, else its script without a language, else any."""
        found = [script for script in self.scripts if department in script.departments]
        for wanted in (language, None):
            for script in found:
                if script.language == wanted:
                    return script
        return found[0] if found else None

    def article(self, article_id: str) -> Document:
        """Return the article ARTICLE_ID, or raise ArticleNotFoundError."""
        for article in self.articles:
            if article.id == article_id:
                return article
        raise ArticleNotFoundError(article_id)


EMPTY = Knowledge()


def load_knowledge(directory: Path | None, departments: frozenset[str] | None) -> Knowledge:
    """Read and validate DIRECTORY (blocking: run it off the event loop); None: no knowledge."""
    if directory is None:
        return EMPTY
    if not directory.is_dir():
        issue = Issue(str(directory), 1, 1, "", "no such directory of scripts and articles")
        raise InvalidKnowledgeError((issue,))
    files: dict[str, str] = {}
    issues: list[Issue] = []
    for path in sorted(directory.rglob("*.md")):
        relative = path.relative_to(directory).as_posix()
        try:
            files[relative] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            issues.append(Issue(str(path), 1, 1, "", f"cannot read file: {error}"))
    if issues:
        raise InvalidKnowledgeError(tuple(issues))
    return parse_knowledge(files, str(directory), departments)


def parse_knowledge(
    files: Mapping[str, str], source: str, departments: frozenset[str] | None
) -> Knowledge:
    """Validate FILES (relative path → text); raise InvalidKnowledgeError listing every issue."""
    scripts: list[Document] = []
    articles: list[Document] = []
    issues: list[Issue] = []
    for relative, text in sorted(files.items()):
        where = f"{source}/{relative}" if source else relative
        folder, _, rest = relative.partition("/")
        if folder not in FOLDERS or "/" in rest:
            issues.append(Issue(where, 1, 1, "", "put the file in scripts/ or articles/"))
            continue
        parsed = parse_document(text, where, FOLDERS[folder], departments)
        issues += parsed.issues
        if parsed.document is not None:
            (scripts if folder == "scripts" else articles).append(parsed.document)
    issues += _duplicate_scripts(scripts)
    if issues:
        raise InvalidKnowledgeError(tuple(sorted(issues, key=lambda i: (i.file, i.line))))
    return Knowledge(
        scripts=tuple(scripts),
        articles=tuple(articles),
        version=version_of(files),
        files=dict(files),
        source=source,
    )


def version_of(files: Mapping[str, str]) -> str:
    """Return the 12-hex-digit hash naming this set of files."""
    digest = hashlib.sha256()
    for relative, text in sorted(files.items()):
        digest.update(relative.encode() + b"\0" + text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:12]


def _duplicate_scripts(scripts: list[Document]) -> list[Issue]:
    seen: dict[tuple[str, str | None], Document] = {}
    issues = []
    for script in scripts:
        for department in script.departments:
            key = (department, script.language)
            if key in seen:
                language = script.language or "no language"
                issues.append(
                    Issue(
                        script.path,
                        *script.departments_at,
                        "departments",
                        f"department '{department}' already has a script ({language}) in "
                        f"{seen[key].path}; a department has one script per language",
                    )
                )
            else:
                seen[key] = script
    return issues
