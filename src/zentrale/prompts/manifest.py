"""The synthesis manifest (`config/prompts.yaml`): the text each demo prompt file speaks.

Each entry maps a sound name (what follows `sound:` in the routing rules) to its text per
language; an entry with several languages becomes one file spoken in each in turn (a
language menu). Errors name the file, line and column, like the routing rules' errors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from zentrale.base.errors import ZentraleError
from zentrale.base.yamlmarks import YamlSyntaxError, locate, parse_yaml
from zentrale.prompts.catalog import is_sound_name

MANIFEST_VERSION = 1


class ManifestError(ZentraleError):
    """The manifest cannot be used; `issues` holds one located message per problem."""

    code = "manifest"

    def __init__(self, issues: tuple[str, ...]) -> None:
        super().__init__("\n".join(issues))
        self.issues = issues


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("the text is empty")
    return " ".join(value.split())


def _name(value: str) -> str:
    if not is_sound_name(value):
        raise ValueError(f"'{value}' is not a sound name like de/willkommen")
    return value


Text = Annotated[str, AfterValidator(_text)]
SoundName = Annotated[str, AfterValidator(_name)]


class Manifest(BaseModel):
    """Voices per language, the speaking speed, and each sound's text per language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    voices: dict[str, str] = Field(min_length=1)
    speed: int = Field(default=150, ge=80, le=400)
    prompts: dict[SoundName, dict[str, Text]]

    @model_validator(mode="after")
    def _supported_version(self) -> Manifest:
        if self.version != MANIFEST_VERSION:
            raise ValueError(f"manifest version {self.version} is not supported; write 1")
        return self

    def fingerprint(self, name: str) -> str:
        """Hash of what makes sound NAME's file: its texts, their voices and the speed."""
        texts = self.prompts[name]
        parts = [[language, self.voices[language], text] for language, text in texts.items()]
        data = json.dumps({"speed": self.speed, "parts": parts}, ensure_ascii=False)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


def load_manifest(path: Path) -> Manifest:
    """Read and validate the manifest at PATH; raise ManifestError with located messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError((f"{path}: error: cannot read file: {error}",)) from None
    return parse_manifest(text, str(path))


def parse_manifest(text: str, source: str = "prompts.yaml") -> Manifest:
    """Validate manifest TEXT; raise ManifestError naming SOURCE, line and column."""
    try:
        tree = parse_yaml(text)
    except YamlSyntaxError as error:
        raise ManifestError((f"{source}:{error}",)) from None
    if not isinstance(tree, Mapping):
        raise ManifestError((f"{source}:1:1: error: the manifest must be a YAML mapping",))
    try:
        manifest = Manifest.model_validate(tree)
    except ValidationError as error:
        issues = tuple(_schema_issue(source, tree, detail) for detail in error.errors())
        raise ManifestError(issues) from None
    problems = tuple(_located(source, tree, path, text) for path, text in _languages(manifest))
    if problems:
        raise ManifestError(problems)
    return manifest


def _languages(manifest: Manifest) -> list[tuple[list[str], str]]:
    known = ", ".join(sorted(manifest.voices))
    found: list[tuple[list[str], str]] = []
    for name, texts in manifest.prompts.items():
        if not texts:
            found.append((["prompts", name], "no text in any language"))
        for language in texts:
            if language not in manifest.voices:
                message = f"unknown language '{language}' (voices are given for {known})"
                found.append((["prompts", name, language], message))
    return found


def _schema_issue(source: str, tree: Any, detail: Any) -> str:
    message = str(detail["msg"]).removeprefix("Value error, ")
    path = [str(part) for part in detail["loc"] if part != "[key]"]
    if detail["type"] == "extra_forbidden":
        message = f"unknown key '{path[-1]}'"
    elif detail["type"] == "missing":
        message, path = f"missing required key '{path[-1]}'", path[:-1]
    return _located(source, tree, path, message)


def _located(source: str, tree: Any, path: list[str], message: str) -> str:
    line, column = locate(tree, path)
    where = ".".join(path) or "manifest"
    return f"{source}:{line}:{column}: error: {where}: {message}"
