"""The daemon's prompt check: missing prompts are reported when rules load, not during a call.

After every connect to Asterisk and every applied rules version, each sound the live rules use
is looked up in the prompt folder and among Asterisk's own sounds (`GET /sounds`); what neither
has is logged once per version as `prompts.missing`, and kept for the status command.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from zentrale.prompts.catalog import PromptCatalog
from zentrale.prompts.check import MissingPrompt, missing_prompts
from zentrale.prompts.sounds import fetch_asterisk_sounds
from zentrale.routing.rules import Rules
from zentrale.telephony.ari import CredentialsLike

log = structlog.get_logger(__name__)


class PromptWatch:
    """Checks the live rules' prompts against the folder and Asterisk."""

    def __init__(
        self, catalog: PromptCatalog, credentials: CredentialsLike, rules: Callable[[], Rules]
    ) -> None:
        self.catalog = catalog
        self.credentials = credentials
        self._rules = rules
        self.missing: list[MissingPrompt] = []
        self.checked_version: str | None = None

    async def check(self) -> list[MissingPrompt]:
        """Look every sound of the live rules up; log and keep what is missing."""
        rules = self._rules()
        creds = self.credentials
        sounds = await fetch_asterisk_sounds(creds.base_url, creds.username, creds.password)
        self.missing = missing_prompts(rules, self.catalog, sounds)
        self.checked_version = rules.version
        for problem in self.missing:
            log.warning(
                "prompts.missing",
                rules=rules.version,
                prompt=problem.prompt,
                language=problem.language,
                sound=problem.sound,
                reason=problem.reason,
            )
        if not self.missing:
            log.info("prompts.complete", rules=rules.version)
        return self.missing
