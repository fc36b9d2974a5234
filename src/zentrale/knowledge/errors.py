"""Errors of the knowledge files: a refused set, and what the agent's panel may not open."""

from __future__ import annotations

from zentrale.base.errors import NotFoundError, ZentraleError
from zentrale.routing.errors import Issue


class InvalidKnowledgeError(ZentraleError):
    """A set of scripts and articles that must not replace the one in use."""

    code = "invalid-knowledge"

    def __init__(self, issues: tuple[Issue, ...]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class ArticleNotFoundError(NotFoundError):
    """No article has this id (or none of the user's departments)."""

    code = "article-not-found"

    def __init__(self, article_id: str) -> None:
        super().__init__(f"no article {article_id!r}")


class NoScriptError(NotFoundError):
    """The department of the call has no script."""

    code = "no-script"

    def __init__(self, department: str) -> None:
        super().__init__(f"department {department!r} has no call script")


__all__ = ["ArticleNotFoundError", "InvalidKnowledgeError", "Issue", "NoScriptError"]
