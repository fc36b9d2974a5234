"""zentrale: telephony integration and call recording for call centres, over Asterisk ARI."""

__version__ = "0.1.0"
