"""Typed helpers for the ARI REST resources zentrale uses, one module per resource."""

from zentrale.telephony.ari.resources.applications import Applications
from zentrale.telephony.ari.resources.asterisk import AsteriskApi
from zentrale.telephony.ari.resources.bridges import Bridges
from zentrale.telephony.ari.resources.channels import Channels
from zentrale.telephony.ari.resources.endpoints import Endpoints
from zentrale.telephony.ari.resources.playbacks import Playbacks
from zentrale.telephony.ari.resources.recordings import Recordings

__all__ = [
    "Applications",
    "AsteriskApi",
    "Bridges",
    "Channels",
    "Endpoints",
    "Playbacks",
    "Recordings",
]
