"""`zentrale run`: the daemon as a service, with the signals operators expect.

SIGTERM (or Ctrl-C) drains: no new calls are taken (the dialplan fallback answers them), calls
in progress finish for up to `drain_seconds`, the journal and the pipeline reach a safe point,
then the process exits 0. A second SIGTERM stops at once. SIGHUP reloads the settings file (the
logging section applies at once; other changed keys are logged as needing a restart) and the
routing rules.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable
from typing import Any

import click
import structlog

from zentrale.config.settings import Settings, SettingsError
from zentrale.daemon import Daemon

log = structlog.get_logger(__name__)


Loader = Callable[[], Settings]
LIVE_SECTIONS = ("logging",)
"""Settings sections a SIGHUP applies at once; the rest wait for a restart."""


async def serve(settings: Settings, drain_seconds: float, load: Loader | None = None) -> None:
    """Run the daemon until a stop signal; drain and return.

    LOAD reads the settings again on SIGHUP (default: the `zentrale` command's own loader,
    which also applies the logging settings).
    """
    load = load or _command_loader()
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
            _reload(running[0], load)
        else:
            log.info("service.reload_during_startup", what="rules load at start anyway")

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_stop, signum)
    loop.add_signal_handler(signal.SIGHUP, on_reload)
    try:
        async with Daemon.running(
            settings, drain_seconds=drain_seconds, drain_recordings=True
        ) as daemon:
            running.append(daemon)
            settle_heap()
            log.info("service.ready", http=daemon.http_url)
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)


def settle_heap() -> None:
    """Collect once after start-up, then freeze what is left (`gc.freeze`).

    What start-up made (modules, the web app, the rules, the ARI client) lives as long as the
    process; frozen, a full collection no longer walks it. bench/agent_push.py measured full
    collections of 170-206 ms in the daemon's process without this, each one a stall of every
    call and screen pop that falls in it. Done by `zentrale run` only: a process that starts many
    daemons (the tests) would keep each one's leftovers frozen.
    """
    gc.collect()
    gc.freeze()


def _reload(daemon: Daemon, load: Loader | None) -> None:
    if load is not None:
        _reload_settings(daemon, load)
    daemon.ari.reload_credentials()  # the ARI password file may hold a new password
    log.info("service.reload", what="routing rules")
    task = asyncio.ensure_future(daemon.rules.reload())
    task.add_done_callback(lambda done: done.exception())
    if daemon.knowledge is not None:  # scripts and articles: checked and kept like the rules
        again = asyncio.ensure_future(daemon.knowledge.reload())
        again.add_done_callback(lambda done: done.exception())


def _reload_settings(daemon: Daemon, load: Loader) -> None:
    try:
        fresh = load()
    except (SettingsError, click.ClickException) as exc:
        log.error("service.settings_refused", error=str(exc), kept="the running settings")
        return
    changed = changed_keys(daemon.settings.model_dump(), fresh.model_dump())
    live = [key for key in changed if key.split(".", 1)[0] in LIVE_SECTIONS]
    later = [key for key in changed if key not in live]
    log.info("service.settings_reloaded", applied=live, needs_restart=later)
    if later:
        log.warning("service.restart_needed", keys=later)


def changed_keys(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Return the dotted keys whose values differ between two settings dumps."""
    found = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            found += changed_keys(before, after, f"{prefix}{key}.")
        elif before != after:
            found.append(f"{prefix}{key}")
    return found


def _command_loader() -> Loader | None:
    # `zentrale run` runs inside its click context, whose object loads the settings file
    # named by --config the same way start-up did (and sets up logging from it).
    context = click.get_current_context(silent=True)
    loader = getattr(context.find_root().obj, "settings", None) if context else None
    return loader if callable(loader) else None
