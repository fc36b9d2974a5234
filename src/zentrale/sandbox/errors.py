"""Errors of the sandbox Asterisk, each saying what is wrong and how to get past it."""

from zentrale.base.errors import ZentraleError


class SandboxError(ZentraleError):
    """The sandbox Asterisk could not be started, reached or stopped."""

    code = "sandbox"


class SandboxUnavailableError(SandboxError):
    """This machine cannot run the sandbox (not root, no debootstrap, no mirror)."""

    code = "sandbox-unavailable"
