"""`zentrale run`: the daemon as a service, with the signals operators expect.

SIGTERM (or Ctrl-C) drains: no new calls are taken (the dialplan fallback answers them), calls
in progress finish for up to `drain_seconds`, the journal and the pipeline reach a safe point,
then the process exits 0. A second SIGTERM stops at once. SIGHUP reloads the routing rules.
"""

from __future__ import annotations

import asyncio
import signal

import structlog

from zentrale.config.settings import Settings
from zentrale.daemon import Daemon

log = structlog.get_logger(__name__)


async def serve(settings: Settings, drain_seconds: float) -> None:
    """Run the daemon until a stop signal; drain and return."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()
    signals = 0

    def on_stop(signum: int) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.info(
                "service.draining", signal=signal.Signals(signum).name, drain_seconds=drain_seconds
            )
            stop.set()
        elif main is not None:
            log.warning("service.stopping_now", signal=signal.Signals(signum).name)
            main.cancel()

    running: list[Daemon] = []

    def on_reload() -> None:
        # Installed before start-up: SIGHUP's default action would kill the process. During
        # start-up the rules are being loaded anyway, so there is nothing to do yet.
        if running:
            _reload(running[0])
        else:
            log.info("service.reload_during_startup", what="rules load at start anyway")

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_stop, signum)
    loop.add_signal_handler(signal.SIGHUP, on_reload)
    try:
        async with Daemon.running(settings, drain_seconds=drain_seconds) as daemon:
            running.append(daemon)
            log.info("service.ready", http=daemon.http_url)
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)


def _reload(daemon: Daemon) -> None:
    log.info("service.reload", what="routing rules")
    task = asyncio.ensure_future(daemon.rules.reload())
    task.add_done_callback(lambda done: done.exception())
