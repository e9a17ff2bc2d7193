"""Benchmark: the reminder tick over many open deadlines.

Run: ``python -m tests.benchmarks.bench_reminders [--deadlines 10000] [--people 2000]
[--url URL ...] [--plain-heap]`` (default: a temporary SQLite file; a PostgreSQL or MariaDB
URL is emptied first, as the other benchmarks do). Makes ``--people`` people in 20 units (two
leaders each) and ``--deadlines`` open deadlines owned by them, due from ten working days ago
to five ahead, then times three ticks of ``remind_due``: the first at 10:00 on a working day
(most are due: digests are queued), a second five minutes later (nothing new: what every tick
costs most of the time) and one the next working day (the overdue ones step on). Prints, per
tick, the seconds it took (and the CPU seconds this process spent: on a machine shared with
other work the first grows with its load, the second much less), the digests queued and the
SQL statements it ran (counted by a SQLAlchemy event listener). The ticks run with the garbage
collector as ``suiji serve`` sets it, where the tick runs (bot.server.app.settled_heap: the
heap at startup frozen, young collections less often); ``--plain-heap`` keeps CPython's
defaults. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import random
import tempfile
import time
import zoneinfo
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert

from bot.server.app import settled_heap
from bot.workflows import deadlines
from bot.workflows.step import Policy
from storage import migrate
from storage.engine import make_engine, make_session_factory, unit_of_work
from storage.models import Deadline, DeadlineState, Person, Unit, UnitKind
from tests.conftest import drop_everything

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
UNITS = 20
KINDS = ("findings_due", "report_due", "approval", "rectification", "publication")
# Working days (2026-11-30 to 2026-12-15 are all plain weeks): the first tick, the next day.
FIRST = dt.datetime(2026, 12, 9, 10, 0, tzinfo=TZ)
NEXT = dt.datetime(2026, 12, 10, 10, 0, tzinfo=TZ)


async def fill(factory: Any, people: int, count: int) -> None:
    rng = random.Random(16)
    now = FIRST.astimezone(dt.UTC) - dt.timedelta(days=30)
    async with unit_of_work(factory) as session:
        await session.execute(
            insert(Unit), [{"id": u + 1, "name": f"unit {u + 1}", "kind": UnitKind.SECTION}
                           for u in range(UNITS)],
        )  # fmt: skip
        await session.execute(
            insert(Person),
            [
                {
                    "id": p + 1, "name": f"person {p + 1}", "unit_id": p % UNITS + 1,
                    "is_officer": True, "is_leader": p < 2 * UNITS, "specialties": [],
                    "wecom_userid": f"user{p + 1}",
                }
                for p in range(people)
            ],
        )  # fmt: skip
        days = [FIRST.date() + dt.timedelta(days=d) for d in range(-14, 8)]
        rows = [
            {
                "kind": rng.choice(KINDS), "subject_kind": "bench", "subject_id": n + 1,
                "owner_id": rng.randrange(people) + 1, "due_on": rng.choice(days),
                "rule": "bench", "estimated": False, "state": DeadlineState.OPEN,
                "created_at": now, "escalation": 0,
            }
            for n in range(count)
        ]  # fmt: skip
        for start in range(0, count, 2000):
            await session.execute(insert(Deadline), rows[start : start + 2000])


async def measure(
    url: str, people: int, count: int, settled: bool
) -> list[tuple[str, float, float, int, int]]:
    engine = make_engine(url)
    await drop_everything(engine)
    await migrate.upgrade(engine)
    factory = make_session_factory(engine)
    await fill(factory, people, count)
    statements = 0

    def counted(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", counted)
    policy = Policy(platforms=("wecom",))
    found = []
    with settled_heap() if settled else contextlib.nullcontext():
        for name, moment in (
            ("first", FIRST),
            ("again +5 min", FIRST + dt.timedelta(minutes=5)),
            ("next day", NEXT),
        ):
            statements = 0
            started, cpu = time.perf_counter(), time.process_time()
            sent = await deadlines.remind_due(
                factory, policy, lambda m=moment: m.astimezone(dt.UTC)
            )
            took = (time.perf_counter() - started, time.process_time() - cpu)
            found.append((name, *took, sent, statements))
    event.remove(engine.sync_engine, "before_cursor_execute", counted)
    await drop_everything(engine)
    await engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deadlines", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--url", action="append", default=[])
    parser.add_argument(
        "--plain-heap",
        action="store_true",
        help="CPython's default garbage collection, not suiji serve's (settled_heap)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for url in args.url or [f"sqlite:///{Path(tmp) / 'bench.db'}"]:
            figures = asyncio.run(measure(url, args.people, args.deadlines, not args.plain_heap))
            kind = url.split(":", 1)[0]
            print(f"{kind}: {args.deadlines} open deadlines, {args.people} people")
            for name, seconds, cpu, sent, statements in figures:
                print(
                    f"  tick {name}: {seconds:.2f} s (CPU {cpu:.2f} s), {sent} digests, "
                    f"{statements} statements"
                )


if __name__ == "__main__":
    main()
