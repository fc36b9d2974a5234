"""Which prompts of the routing rules Asterisk could not play: checked before any call.

Each `sound:` reference of each prompt and language must be a playable file in the prompts
directory or one of Asterisk's own sounds. Other media kinds (`digits:`, `recording:`, ...)
are not files and are not checked here.
"""

from __future__ import annotations

from dataclasses import dataclass

from zentrale.prompts.catalog import PromptCatalog, sound_name
from zentrale.prompts.formats import playability_problem
from zentrale.routing.rules import Rules


@dataclass(frozen=True, order=True)
class MissingPrompt:
    """A prompt in one language (`*` = all) whose sound cannot be played, and why."""

    prompt: str
    language: str
    sound: str
    reason: str

    def __str__(self) -> str:
        return f"prompts.{self.prompt}.{self.language}: {self.sound}: {self.reason}"


def sound_uses(rules: Rules) -> list[tuple[str, str, str]]:
    """List (prompt, language, sound name) for every `sound:` reference in the rules."""
    uses = []
    for prompt, sounds in rules.document.prompts.items():
        for language, reference in sounds.items():
            name = sound_name(reference)
            if name is not None:
                uses.append((prompt, language, name))
    return uses


def missing_prompts(
    rules: Rules, catalog: PromptCatalog, asterisk_sounds: set[str]
) -> list[MissingPrompt]:
    """Name each prompt/language whose sound is neither a playable file nor Asterisk's own."""
    missing = []
    for prompt, language, name in sound_uses(rules):
        reason = _problem(name, catalog, asterisk_sounds)
        if reason is not None:
            missing.append(
                MissingPrompt(
                    prompt=prompt, language=language, sound=f"sound:{name}", reason=reason
                )
            )
    return sorted(missing)


def assumed_builtins(rules: Rules, catalog: PromptCatalog) -> set[str]:
    """Without ARI: sounds not in the catalog named like Asterisk's own (no directory part)."""
    return {
        name for _, _, name in sound_uses(rules) if "/" not in name and catalog.find(name) is None
    }


def _problem(name: str, catalog: PromptCatalog, asterisk_sounds: set[str]) -> str | None:
    path = catalog.find(name)
    if path is not None:
        problem = playability_problem(path)
        return None if problem is None else f"{path.name} is not playable: {problem}"
    if name in asterisk_sounds:
        return None
    return "no file in the prompts directory and not one of Asterisk's sounds"
