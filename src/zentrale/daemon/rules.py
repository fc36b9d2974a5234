"""The routing rules a node runs on, loaded and watched (the daemon and an API replica)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from zentrale.config.settings import Settings
from zentrale.knowledge.history import KnowledgeHistory
from zentrale.knowledge.reload import KnowledgeReloader
from zentrale.ops.live import LiveNodes
from zentrale.routing.history import History
from zentrale.routing.reload import ReloadOutcome, RulesReloader
from zentrale.routing.rules import Rules
from zentrale.stats.wallboard import Wallboard
from zentrale.telephony.callcenter import CallCenter


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


async def knowledge_watched(
    settings: Settings, rules: RulesReloader, stack: contextlib.AsyncExitStack
) -> KnowledgeReloader:
    """Load the scripts and articles (checked against the live RULES' departments) and watch
    their directory until STACK closes; new rules check them again."""

    def departments() -> frozenset[str]:
        return frozenset(rules.current.document.departments)

    history = KnowledgeHistory(settings.knowledge.history_dir)
    reloader = KnowledgeReloader(settings.knowledge.dir, departments, history)
    await reloader.load_initial()

    def check_again(outcome: ReloadOutcome) -> None:
        if outcome.applied:  # new rules may have dropped a department the files name
            task = asyncio.ensure_future(reloader.reload())
            task.add_done_callback(lambda done: done.exception())

    rules.subscribe(check_again)
    watch_until_closed(stack, reloader.watch, "knowledge-watch")
    return reloader


def live_rules(rules: RulesReloader) -> Callable[[], Rules]:
    """Return the live rules as a callable (campaign routes check surveys against them)."""
    return lambda: rules.current


def wallboard_of(center: CallCenter, rules: RulesReloader, live: LiveNodes | None) -> Wallboard:
    """Return the wallboard of CENTER's queues, with the live rules' departments, and with LIVE
    (several nodes, an API replica) the other nodes' agents and waiting callers."""
    return Wallboard(center.services.queues, departments_of(rules), others=live)
