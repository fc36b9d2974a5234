"""zentrale: telephony integration and call recording for call centres, driving Asterisk over ARI."""

__version__ = "0.1.0"
