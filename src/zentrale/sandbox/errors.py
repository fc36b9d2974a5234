"""Errors of the sandbox Asterisk, each saying what is wrong and how to get past it."""


class SandboxError(Exception):
    """The sandbox Asterisk could not be started, reached or stopped."""


class SandboxUnavailableError(SandboxError):
    """This machine cannot run the sandbox (not root, no debootstrap, no mirror)."""
