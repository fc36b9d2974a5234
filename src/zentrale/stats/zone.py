"""The reports' time zone: the routing rules' `timezone`, read from the rules file."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from zentrale.stats.spec import parse_zone


def rules_zone(rules_file: Path | None) -> ZoneInfo:
    """Return the time zone the routing rules name (UTC when there is no readable file)."""
    try:
        text = rules_file.read_text(encoding="utf-8") if rules_file else ""
        document = YAML(typ="safe").load(text) if text else None
    except (OSError, YAMLError):
        document = None
    name = document.get("timezone") if isinstance(document, dict) else None
    return parse_zone(str(name)) if name else ZoneInfo("UTC")
