"""``suiji outbox list`` and ``suiji outbox retry`` as an operator uses them.

The command runs in a worker thread (it starts its own event loop) against the test database;
the rows are written and read back here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import render, text
from bot.platforms.messages import Outgoing
from bot.server.outbox import Sender
from storage.engine import unit_of_work
from storage.models import OutboxMessage, OutboxState
from tests.e2e.test_cli import run
from tests.e2e.test_outbox_faults import ROOMY, serving_fakes

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]

T0 = dt.datetime(2026, 3, 2, 1, 30, 5, 250000, tzinfo=dt.UTC)
ZONE = "Asia/Shanghai"  # app.timezone by default
DEAD_ERROR = "/cgi-bin/message/send 45009: api freq out of limit"


async def suiji(database_url: str, *args: str, zone: str | None = None) -> Result:
    env = {"SUIJI_DATABASE__URL": database_url}
    if zone is not None:
        env["SUIJI_APP__TIMEZONE"] = zone
    return await asyncio.to_thread(run, *args, env=env)


async def add(
    factory: Factory,
    recipient: str,
    state: OutboxState,
    *,
    platform: str = "wecom",
    attempts: int = 0,
    last_error: str | None = None,
    minutes: int = 0,
    kind: str = "text",
) -> OutboxMessage:
    """An outbox row as the sender would have left it."""
    at = T0 + dt.timedelta(minutes=minutes)
    body = Outgoing.plain(f"to {recipient}") if kind == "text" else Outgoing("markdown", recipient)
    row = OutboxMessage(
        platform=platform,
        recipient=recipient,
        body=body.to_json(),
        state=state,
        attempts=attempts,
        next_attempt_at=at,
        claimed_until=at + dt.timedelta(minutes=1) if state is OutboxState.SENDING else None,
        last_error=last_error,
        created_at=at,
        sent_at=at + dt.timedelta(seconds=1) if state is OutboxState.SENT else None,
    )
    async with unit_of_work(factory) as session:
        session.add(row)
    return row


async def reread(factory: Factory, message_id: int) -> OutboxMessage:
    async with factory() as session:
        found = await session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def listed(row: OutboxMessage) -> dict[str, Any]:
    """What ``outbox list --format json`` should say of a row."""
    return {
        "id": row.id,
        "platform": row.platform,
        "recipient": row.recipient,
        "state": row.state.value,
        "attempts": row.attempts,
        "created_at": row.created_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "last_error": row.last_error,
        "kind": row.body["kind"],
    }


def page(rows: list[OutboxMessage], counts: dict[str, int] | None = None) -> str:
    """What ``outbox list`` prints for these rows, with these many rows in each state."""
    listing = [listed(r) for r in rows]
    return render("cli/outbox.txt.j2", rows=listing, tz=ZONE, state=None, counts=counts or {})


EACH_ONCE = {"sent": 1, "pending": 1, "sending": 1, "dead": 1}


@pytest.fixture
async def rows(factory: Factory) -> dict[str, OutboxMessage]:
    """One row in each state, oldest first."""
    return {
        "sent": await add(factory, "zhangkai", OutboxState.SENT, attempts=1),
        "pending": await add(
            factory,
            "lisi",
            OutboxState.PENDING,
            attempts=2,
            last_error="http 502",
            minutes=1,
            platform="dingtalk",
            kind="markdown",
        ),
        "sending": await add(factory, "wangwu", OutboxState.SENDING, minutes=2),
        "dead": await add(
            factory, "zhaoliu", OutboxState.DEAD, attempts=20, last_error=DEAD_ERROR, minutes=3
        ),
    }


async def test_outbox_list_json_has_every_rows_fields_newest_first(
    database_url: str, rows: dict[str, OutboxMessage]
) -> None:
    result = await suiji(database_url, "outbox", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    newest_first = [rows[s] for s in ("dead", "sending", "pending", "sent")]
    assert json.loads(result.output) == [listed(r) for r in newest_first]


async def test_outbox_list_filters_by_state_and_limits(
    database_url: str, rows: dict[str, OutboxMessage]
) -> None:
    dead = await suiji(database_url, "outbox", "list", "--state", "dead", "--format", "json")
    assert dead.exit_code == 0, dead.output
    assert json.loads(dead.output) == [listed(rows["dead"])]
    two = await suiji(database_url, "outbox", "list", "--limit", "2", "--format", "json")
    assert [r["id"] for r in json.loads(two.output)] == [rows["dead"].id, rows["sending"].id]


async def test_outbox_list_table_shows_state_recipient_attempts_and_last_error(
    database_url: str, rows: dict[str, OutboxMessage]
) -> None:
    result = await suiji(database_url, "outbox", "list")
    assert result.exit_code == 0, result.output
    newest_first = [rows[s] for s in ("dead", "sending", "pending", "sent")]
    # Each row as the template words it, from the values written above, in order.
    expected = page(newest_first, counts=EACH_ONCE)
    assert result.output == expected
    lines = result.output.splitlines()
    for row in newest_first:
        [line] = [n for n, line in enumerate(lines) if line.startswith(f"#{row.id} ")]
        alone = page([row]).splitlines()
        assert lines[line] == alone[0]
        assert row.recipient in lines[line] and f" {row.attempts} " in lines[line]
    assert DEAD_ERROR in result.output and "http 502" in result.output
    # The four states are worded four ways.
    words = {r.state: page([r]) for r in newest_first}
    assert len({w.split("  ")[1] for w in words.values()}) == 4


async def test_outbox_list_reads_times_in_the_bureaus_zone_to_the_minute(
    database_url: str, rows: dict[str, OutboxMessage]
) -> None:
    shanghai = await suiji(database_url, "outbox", "list")
    assert shanghai.exit_code == 0, shanghai.output
    # T0 is 01:30:05.25 UTC: 09:30 in Shanghai, the default app.timezone.
    assert f"#{rows['sent'].id} " in shanghai.output
    assert "2026-03-02 09:30" in shanghai.output and "2026-03-02 09:33" in shanghai.output
    assert "T01:3" not in shanghai.output and "05.25" not in shanghai.output
    utc = await suiji(database_url, "outbox", "list", zone="UTC")
    assert "2026-03-02 01:30" in utc.output and "09:30" not in utc.output
    as_json = await suiji(database_url, "outbox", "list", "--format", "json")
    assert {r["created_at"] for r in json.loads(as_json.output)} >= {T0.isoformat()}


async def test_outbox_list_of_an_empty_outbox(database_url: str, factory: Factory) -> None:
    result = await suiji(database_url, "outbox", "list")
    assert result.exit_code == 0, result.output
    assert result.output == page([])
    assert result.output.strip()  # says so, rather than printing nothing
    as_json = await suiji(database_url, "outbox", "list", "--format", "json")
    assert json.loads(as_json.output) == []


async def test_an_empty_state_says_so_and_what_else_waits(
    database_url: str, factory: Factory
) -> None:
    for n in range(51):
        await add(factory, f"user{n}", OutboxState.PENDING, minutes=n)
    await add(factory, "zhangkai", OutboxState.SENT, attempts=1)
    dead = await suiji(database_url, "outbox", "list", "--state", "dead")
    assert dead.exit_code == 0, dead.output
    assert dead.output.strip() == "没有已放弃的消息（待发送 51 条、已发送 1 条）"
    assert "发件箱是空的" not in dead.output


async def test_a_list_cut_at_its_limit_says_how_many_more_there_are(
    database_url: str, rows: dict[str, OutboxMessage]
) -> None:
    two = await suiji(database_url, "outbox", "list", "--limit", "2")
    assert two.exit_code == 0, two.output
    assert "还有 2 条更早的没有列出" in two.output and "--limit" in two.output
    everything = await suiji(database_url, "outbox", "list", "--limit", "4")
    assert "没有列出" not in everything.output
    dead = await suiji(database_url, "outbox", "list", "--state", "dead", "--limit", "1")
    assert f"#{rows['dead'].id} " in dead.output and "没有列出" not in dead.output


async def test_retry_puts_a_dead_row_back_and_the_sender_delivers_it(
    database_url: str, factory: Factory
) -> None:
    dead = await add(factory, "zhaoliu", OutboxState.DEAD, attempts=20, last_error=DEAD_ERROR)
    sent = await add(factory, "zhangkai", OutboxState.SENT, attempts=1)
    before = dt.datetime.now(dt.UTC)
    result = await suiji(database_url, "outbox", "retry", str(dead.id))
    after = dt.datetime.now(dt.UTC)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == text("cli.outbox_retried", id=dead.id)
    row = await reread(factory, dead.id)
    assert (row.state, row.attempts, row.last_error) == (OutboxState.PENDING, 0, None)
    assert before <= row.next_attempt_at <= after  # due at once
    assert listed(await reread(factory, sent.id)) == listed(sent)

    async with serving_fakes() as fakes:
        clients: dict[str, Any] = {"wecom": fakes.wecom_client}
        sender = Sender(factory, clients, ROOMY, lambda: after)
        assert await asyncio.wait_for(sender.deliver_due(), 60) == 1
        assert [m.user for m in fakes.wecom.delivered] == ["zhaoliu"]
    row = await reread(factory, dead.id)
    assert (row.state, row.attempts, row.last_error) == (OutboxState.SENT, 1, None)


async def test_retry_refuses_an_unknown_id(
    database_url: str, rows: dict[str, OutboxMessage]
) -> None:
    missing = max(r.id for r in rows.values()) + 1000
    result = await suiji(database_url, "outbox", "retry", str(missing))
    assert result.exit_code != 0
    assert result.output.strip() == text("cli.outbox_not_dead", id=missing)


@pytest.mark.parametrize("state", ["pending", "sending", "sent"])
async def test_retry_refuses_a_row_that_is_not_dead_and_leaves_it_alone(
    database_url: str, factory: Factory, rows: dict[str, OutboxMessage], state: str
) -> None:
    row = rows[state]
    result = await suiji(database_url, "outbox", "retry", str(row.id))
    assert result.exit_code != 0
    assert result.output.strip() == text("cli.outbox_not_dead", id=row.id)
    after = await reread(factory, row.id)
    assert listed(after) == listed(row)
    assert (after.next_attempt_at, after.claimed_until) == (row.next_attempt_at, row.claimed_until)
