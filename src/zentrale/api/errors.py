"""The QA service's errors, each with an HTTP status and a stable code for clients.

Routes and stores raise these; `zentrale.api.edge` turns them into the one JSON shape
`{"error": {"code": ..., "message": ...}}` in one place.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base of the errors a client may see; `code` never changes for a given meaning."""

    status = 400
    code = "bad-request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(ApiError):
    """No valid token or session came with the request."""

    status = 401
    code = "not-authenticated"


class LoginFailed(ApiError):
    """Wrong user name or password, or a disabled account (never says which)."""

    status = 401
    code = "login-failed"


class Forbidden(ApiError):
    """The user's role does not allow this."""

    status = 403
    code = "forbidden"


class CsrfFailed(ApiError):
    """A cookie-authenticated change came without the session's CSRF token."""

    status = 403
    code = "csrf-failed"


class NotFound(ApiError):
    """Nothing with this id (or nothing the user may see: same answer on purpose)."""

    status = 404
    code = "not-found"


class RecordingNotFound(NotFound):
    """No recording with this id in the user's departments."""

    code = "recording-not-found"


class RecordingUnavailable(ApiError):
    """The recording exists but its audio is not stored (yet), or cannot be decrypted."""

    status = 409
    code = "recording-unavailable"


class EvaluationNotFound(NotFound):
    """No evaluation with this id that the user may see."""

    code = "evaluation-not-found"


class TokenNotFound(NotFound):
    """No API token with this id belongs to the user."""

    code = "token-not-found"


class ScorecardNotFound(NotFound):
    """No scorecard for this department."""

    code = "scorecard-not-found"


class InvalidRequest(ApiError):
    """A parameter or body is malformed."""

    status = 422
    code = "invalid-request"


class InvalidAnswers(InvalidRequest):
    """The evaluation's answers do not fit the scorecard."""

    code = "invalid-answers"


class RangeNotSatisfiable(ApiError):
    """The requested byte range lies outside the recording."""

    status = 416
    code = "range-not-satisfiable"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class TooManyAttempts(ApiError):
    """Too many failed sign-ins for this account or address; wait a minute."""

    status = 429
    code = "too-many-attempts"


class ServiceUnavailable(ApiError):
    """Storage or the key service is unreachable; retry later."""

    status = 503
    code = "service-unavailable"
