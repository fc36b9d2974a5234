"""Prompts: the audio the IVR plays, per language, served to Asterisk over HTTP.

Supervisors' files live in one directory (`catalog`), are served to Asterisk's HTTP media cache
by a capability-token route (`http`), can be synthesized for demos from a manifest
(`manifest`, `synthesize`), and are checked against the routing rules and Asterisk's own
sounds before any call (`check`, `sounds`).
"""

from zentrale.prompts.catalog import PromptCatalog
from zentrale.prompts.check import MissingPrompt, assumed_builtins, missing_prompts
from zentrale.prompts.manifest import Manifest, ManifestError, load_manifest
from zentrale.prompts.sounds import fetch_asterisk_sounds, flatten_sounds
from zentrale.prompts.synthesize import SynthesisError, SynthesisReport, synthesize

__all__ = [
    "Manifest",
    "ManifestError",
    "MissingPrompt",
    "PromptCatalog",
    "SynthesisError",
    "SynthesisReport",
    "assumed_builtins",
    "fetch_asterisk_sounds",
    "flatten_sounds",
    "load_manifest",
    "missing_prompts",
    "synthesize",
]
