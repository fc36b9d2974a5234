"""The call record: every call from arrival to hangup and its timeline, as the flows write it."""
