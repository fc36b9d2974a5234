"""The QA service: find, hear and score recordings through an HTTP API and web pages.

Mount it with `routers(deps)` and `install(app, deps)`, or run it alone with
`zentrale api serve`. `Deps` carries the database, storage, keys, settings and clock.
"""

from zentrale.api.app import create_app, install, routers
from zentrale.api.deps import Deps, open_deps

__all__ = ["Deps", "create_app", "install", "open_deps", "routers"]
