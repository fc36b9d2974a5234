"""`Outage`: how a loop that retries a dependency logs its absence.

One warning when the dependency goes away (with the error's type and message, no traceback),
one when it answers again (how long it was away, how many failures), and a counter in between;
the retries themselves log at debug level only. A database or store outage of an hour then
leaves two lines in the log, not thousands of tracebacks.
"""

from __future__ import annotations

import time
from typing import Any

import structlog


class Outage:
    """The state of one dependency as seen by one retrying loop."""

    def __init__(self, event: str, logger: Any = None) -> None:
        self.event = event
        self.failures = 0
        """Failures in the current outage (0 while the dependency answers)."""
        self.total = 0
        """Failures since start, for metrics."""
        self._since: float | None = None
        self._log = logger or structlog.get_logger(__name__)

    @property
    def away(self) -> bool:
        """Tell whether the dependency failed last time."""
        return self._since is not None

    def failed(self, exc: BaseException, **context: Any) -> None:
        """Note one failure: the first of an outage is a warning, the rest are debug."""
        self.failures += 1
        self.total += 1
        error = f"{type(exc).__name__}: {exc}"[:300]
        if self._since is None:
            self._since = time.monotonic()
            self._log.warning(f"{self.event}.unavailable", error=error, **context)
        else:
            self._log.debug(f"{self.event}.still_unavailable", failures=self.failures)

    def ok(self) -> None:
        """Note a success: if the dependency was away, say once that it is back."""
        if self._since is not None:
            seconds = round(time.monotonic() - self._since, 1)
            self._log.warning(f"{self.event}.returned", seconds=seconds, failures=self.failures)
            self._since, self.failures = None, 0
