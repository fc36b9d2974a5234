"""The sandbox Asterisk: a real Asterisk 22 in a cached Debian root, for demos and tests.

`ensure_root()` builds (once) and returns the root; `SandboxInstance` runs one Asterisk in it
with the repository's configuration; `simulate` places scripted calls through it.
"""

from zentrale.sandbox.errors import SandboxError, SandboxUnavailableError
from zentrale.sandbox.instance import SandboxInstance
from zentrale.sandbox.root import ensure_root
from zentrale.telephony.ari.config import AriCredentials

__all__ = [
    "AriCredentials",
    "SandboxError",
    "SandboxInstance",
    "SandboxUnavailableError",
    "ensure_root",
]
