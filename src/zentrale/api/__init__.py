"""The HTTP edge: every API route, the web pages and the server, in one place.

Mount the QA service with `routers(deps)` and `install(app, deps)`, or run it alone with
`zentrale api serve` (`zentrale.daemon.qa`). `Deps` carries the database, storage, keys,
settings and clock.
"""

from zentrale.api.app import create_app, install, routers
from zentrale.api.deps import Deps

__all__ = ["Deps", "create_app", "install", "routers"]
