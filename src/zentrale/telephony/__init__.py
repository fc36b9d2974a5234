"""Telephony: the ARI client and the call flows that drive Asterisk."""
