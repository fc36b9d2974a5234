"""The zentrale image's HEALTHCHECK: exit 0 when the daemon on this host says it is ready.

GET http://127.0.0.1:PORT/readyz (PORT from ZENTRALE_HTTP__PORT, else 8800); with --live,
/healthz (the event loop runs) instead. Any error or a status other than 200 exits 1 with the
answer's first line, which `docker inspect` keeps in the health log.
"""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    """Probe the daemon once; return the exit code."""
    path = "/healthz" if "--live" in sys.argv[1:] else "/readyz"
    port = os.environ.get("ZENTRALE_HTTP__PORT", "8800")
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            print(reply.status, reply.read(300).decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as error:
        print(error.code, error.read(300).decode(errors="replace"))
    except OSError as error:
        print(type(error).__name__, error)
    return 1


if __name__ == "__main__":
    sys.exit(main())
