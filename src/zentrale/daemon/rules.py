"""The routing rules a node runs on, loaded and watched (the daemon and an API replica)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from zentrale.config.settings import Settings
from zentrale.routing.history import History
from zentrale.routing.reload import RulesReloader


async def rules_watched(settings: Settings, stack: contextlib.AsyncExitStack) -> RulesReloader:
    """Load the settings' routing rules and watch the file until STACK closes."""
    reloader = RulesReloader(settings.routing.file, History(settings.routing.history_dir))
    await reloader.load_initial()
    watch_until_closed(stack, reloader.watch, "routing-watch")
    return reloader


def watch_until_closed(
    stack: contextlib.AsyncExitStack,
    watch: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    name: str,
) -> None:
    """Run WATCH (a reloader's file watch, told to stop by its event) until STACK closes."""
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(stop), name=name)

    async def stop_watching() -> None:
        stop.set()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)

    stack.push_async_callback(stop_watching)


def departments_of(rules: RulesReloader) -> Callable[[], dict[str, list[str]]]:
    """Return the live rules' departments, each with its agents' endpoints, as a callable."""

    def departments() -> dict[str, list[str]]:
        found = rules.current.document.departments.items()
        return {name: [agent.endpoint for agent in dept.agents] for name, dept in found}

    return departments
