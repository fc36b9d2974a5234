"""`zentrale report` on SQLite and PostgreSQL: the table, the CSV and its errors."""

from __future__ import annotations

import asyncio
import csv
import io

from click.testing import CliRunner

from zentrale.cli import main
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.stats.history import insert_rows, rows_of

from .test_stats import HISTORY

ARGS = ["report", "--from", "2026-03-02", "--to", "2026-03-03", "--tz", "Europe/Istanbul"]


def _load(url: str) -> dict[str, str]:
    async def fill() -> None:
        async with Database.open(url) as db:
            await upgrade_engine(db.engine)
            await insert_rows(db, rows_of(HISTORY))

    asyncio.run(fill())
    return {"ZENTRALE_DATABASE__URL": url}


def test_report_table_and_csv(database_url: str) -> None:
    env, runner = _load(database_url), CliRunner()
    table = runner.invoke(main, ARGS, env=env)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0] == "2026-03-02 .. 2026-03-03 (Europe/Istanbul)"
    sales = next(line.split() for line in lines if line.startswith("sales ") and "03-02" in line)
    assert sales[:6] == ["sales", "2026-03-02", "8", "4", "4", "3"]
    by_agent = runner.invoke(
        main, [*ARGS, "--by", "agent", "--csv", "--service-level", "support=30"], env=env
    )
    assert by_agent.exit_code == 0, by_agent.output
    rows = {
        (r["key"], r["period_start"][:10]): r for r in csv.DictReader(io.StringIO(by_agent.stdout))
    }
    assert rows["PJSIP/ben", "2026-03-02"]["p90_wait"] == "29.0"
    assert rows["PJSIP/cem", "2026-03-02"]["service_level"] == "1.0"


def test_report_of_agent_figures(database_url: str) -> None:
    env, runner = _load(database_url), CliRunner()
    table = runner.invoke(main, [*ARGS, "--agents"], env=env)
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[1].split()[:3] == ["agent", "period", "signed_in"]
    figures = runner.invoke(main, [*ARGS, "--agents", "--csv"], env=env)
    rows = {
        (r["agent"], r["period_start"][:10]): r for r in csv.DictReader(io.StringIO(figures.stdout))
    }
    ben = rows["PJSIP/ben", "2026-03-02"]
    assert int(ben["calls"]) >= 1
    assert float(ben["talk"]) > 0
    assert ben["signed_in"] == "0.0"  # no state log in this history: no occupancy
    assert ben["occupancy"] == ""


def test_report_names_bad_options(database_url: str) -> None:
    env, runner = _load(database_url), CliRunner()
    bad_day = runner.invoke(main, ["report", "--from", "2026-3-2", "--to", "2026-03-03"], env=env)
    assert bad_day.exit_code == 2
    assert "--from: '2026-3-2' is not a day" in bad_day.output
    backwards = runner.invoke(
        main, ["report", "--from", "2026-03-03", "--to", "2026-03-02"], env=env
    )
    assert "is before from" in backwards.output
    zone = runner.invoke(main, [*ARGS, "--tz", "Nowhere/Land"], env=env)
    assert "unknown time zone 'Nowhere/Land'" in zone.output
