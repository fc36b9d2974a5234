"""An API replica's call centre has no telephony: an empty board (every agent is another
node's), and an ARI client that refuses every request with 409 `no-telephony`; the replica
joins the live bus only on PostgreSQL with the routing rules at hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from zentrale.api.errors import status_of
from zentrale.api.workspace import NoTelephonyError
from zentrale.config.settings import Settings
from zentrale.daemon.replica import is_replica, replica_center, replica_node
from zentrale.db.session import Database

POSTGRES = "postgresql+asyncpg://zentrale@127.0.0.1/zentrale"


def _settings(url: str, rules: Path) -> Settings:
    settings = Settings()
    database = settings.database.model_copy(update={"url": SecretStr(url)})
    routing = settings.routing.model_copy(update={"file": rules})
    return settings.model_copy(update={"database": database, "routing": routing})


@pytest.mark.asyncio
async def test_the_replicas_call_centre_never_reaches_an_asterisk(tmp_path: Path) -> None:
    settings = _settings(f"sqlite+aiosqlite:///{tmp_path / 'z.db'}", tmp_path / "rules.yaml")
    async with Database.open(settings.database.url.get_secret_value()) as db:

        def no_rules() -> object:
            raise AssertionError("not asked")

        center = replica_center(settings, db, no_rules)  # type: ignore[arg-type]
        assert center.services.queues.board.snapshot() == []
        assert center.active == {}
        with pytest.raises(NoTelephonyError, match="API replica and runs no calls") as refused:
            await center.services.ari.rest.request("POST", "/channels", body={})
        assert (status_of(refused.value), refused.value.code) == (409, "no-telephony")


def test_the_replica_joins_the_bus_on_postgresql_with_the_rules_at_hand(tmp_path: Path) -> None:
    rules = tmp_path / "routing.yaml"
    assert not is_replica(_settings(POSTGRES, rules))  # no rules file: the QA service alone
    rules.write_text("version: 1\n")
    assert is_replica(_settings(POSTGRES, rules))
    assert not is_replica(_settings(f"sqlite+aiosqlite:///{tmp_path / 'z.db'}", rules))


def test_replicas_sharing_the_daemons_settings_get_names_of_their_own() -> None:
    names = {replica_node("node1", 8801), replica_node("node1", 8802), "node1"}
    assert names == {"node1/api-8801", "node1/api-8802", "node1"}
