"""Benchmark: a 5% draw from pools of 100,000 and 1,000,000 employers, and its verification.

Run: ``python -m tests.benchmarks.bench_draw [--sizes 100000,1000000] [--url URL]``.
Each size runs in a fresh child process on a fresh database (a temporary SQLite file, or
``--url``, which is emptied first). Reported per phase: seconds, and the process's peak memory
(max RSS) once the phase is done:

- load: streaming the active employers from the database into strata;
- draw: the selection, the officer order and the teams (pure);
- record: building the canonical commitment and run documents;
- verify: ``first_difference`` recomputing the whole record;
- verify file: the same from the exported JSON file, reading included (``suiji draw verify``);
- standalone: the outsider's verifier (templates/draw/verify.py) on the same record;
- commit+run: the same through ``suiji``'s own commit and run, database writes included.

Prints figures and asserts nothing; the default test command never runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import random
import resource
import runpy
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table

from bot.base.texts import TEMPLATES_DIR
from bot.draw.engine import Stratum, run_draw
from bot.draw.record import (
    chained,
    commitment_document,
    commitment_sha256,
    draw_key,
    first_difference,
    result_json,
    with_private,
)
from bot.draw.strata import STRATUM_ORDER, stratum_of
from bot.workflows import campaigns
from bot.workflows.campaign_spec import parse_campaign
from storage import migrate
from storage.campaigns import active_employers
from storage.engine import make_engine, make_session_factory, unit_of_work
from storage.models import Entity
from tests.conftest import drop_everything
from tests.helpers import EXAMPLE, load_sample, make_uscc

RATIO = Decimal(5)
ENTROPY = {"监督人刘艳丽": [7, 42, 88], "福彩3D": [3, 9, 1]}
SECRET = "314159265358979323846264338327950288419716939937510"


def clock() -> dt.datetime:
    return dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def populate(url: str, size: int) -> Any:
    engine = make_engine(url)
    await drop_everything(engine)
    await migrate.upgrade(engine)
    factory = make_session_factory(engine)
    await load_sample(factory, clock)  # units, officers, leaders; its 500 employers too
    rng = random.Random(size)
    batch: list[dict[str, Any]] = []
    for n in range(size - 500):
        complaints = 1 if rng.random() < 0.05 else 0
        batch.append({
            "uscc": make_uscc(10_000_000 + n), "name": f"企业{n}", "address": "睢县",
            "district": "城关镇", "grid": "1", "industry": "制造业", "employee_count": 10,
            "credit_grade": rng.choice(["A", "A", "A", "B", "C", None]),
            "complaints_12m": complaints, "serious_violation": False, "status": "active",
            "last_inspected": None,
        })  # fmt: skip
        if len(batch) == 20_000:
            async with unit_of_work(factory) as session:
                await session.execute(cast(Table, Entity.__table__).insert(), batch)
            batch = []
    if batch:
        async with unit_of_work(factory) as session:
            await session.execute(cast(Table, Entity.__table__).insert(), batch)
    return engine


def _spec() -> Any:
    text = EXAMPLE
    text = (
        text.split("[strata]")[0]
        + "[strata]\n"
        + "".join(f'{label} = {{ ratio = "{RATIO}%" }}\n' for label in STRATUM_ORDER)
        + "[[entropy]]"
        + text.split("[[entropy]]", 1)[1]
    )
    return parse_campaign(text)


async def measure(url: str, size: int) -> list[tuple[str, float, float]]:
    engine = await populate(url, size)
    factory = make_session_factory(engine)
    figures = []
    started = time.perf_counter()
    members: dict[str, list[str]] = {label: [] for label in STRATUM_ORDER}
    async with factory() as session:
        async for row in active_employers(session):
            members[stratum_of(row.complaints_12m, row.serious_violation, row.credit_grade)].append(
                row.uscc
            )
    strata = [Stratum(label, RATIO, 0, tuple(sorted(members[label]))) for label in STRATUM_ORDER]
    figures.append(("load", time.perf_counter() - started, peak_mib()))

    officers = [f"豫{n:011d}" for n in range(40)]
    leaders = ["L1", "L2", "L3"]
    sources = [{"name": name, "kind": "witness", "description": ""} for name in ENTROPY]
    key = draw_key(sources, ENTROPY, SECRET)
    started = time.perf_counter()
    result = run_draw("rfc3797-sha256", key, strata, officers, leaders, 3, 2, frozenset())
    figures.append(("draw", time.perf_counter() - started, peak_mib()))

    started = time.perf_counter()
    record = commitment_document(
        campaign={"id": 1, "name": "bench", "teams": 3, "officers_per_team": 2},
        algorithm="rfc3797-sha256", strata=strata, officers=officers, leaders=leaders,
        recusals=[], sources=sources, secret_sha256=__import__("hashlib").sha256(
            SECRET.encode()).hexdigest(), committed_at="",
        private={"salt": "0", "committed_by": "bench"},
    )  # fmt: skip
    secret_sha256 = __import__("hashlib").sha256(SECRET.encode()).hexdigest()
    record["draws"] = [chained(with_private(
        {"seq": 1, "run_at": "", "entropy_values": ENTROPY, "secret": SECRET,
         "secret_sha256": secret_sha256, "key": key, **result_json(result, 2)},
        {"salt": "0", "run_by": "bench", "reason": None, "names": {}},
    ), commitment_sha256(record))]  # fmt: skip
    figures.append(("record", time.perf_counter() - started, peak_mib()))

    started = time.perf_counter()
    assert first_difference(record) is None
    figures.append(("verify", time.perf_counter() - started, peak_mib()))

    # What `suiji draw verify FILE` does: read the exported record, then recompute it.
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as file:
        json.dump(record, file, ensure_ascii=False)
        file.flush()
        started = time.perf_counter()
        with open(file.name, encoding="utf-8") as again:
            assert first_difference(json.load(again)) is None
        figures.append(("verify file", time.perf_counter() - started, peak_mib()))

    standalone = runpy.run_path(str(TEMPLATES_DIR / "draw" / "verify.py"))
    started = time.perf_counter()
    standalone["verify"](record)
    figures.append(("standalone", time.perf_counter() - started, peak_mib()))
    del record, result, strata, members

    campaign_id = (await campaigns.create_campaign(factory, _spec(), "bench", clock)).id
    started = time.perf_counter()
    await campaigns.commit_draw(factory, campaign_id, "bench", clock, make_secret=lambda: SECRET)
    await campaigns.run_draw(factory, campaign_id, ENTROPY, None, "bench", clock)
    figures.append(("commit+run", time.perf_counter() - started, peak_mib()))
    await engine.dispose()
    return figures


def _child(url: str, size: int, out: Any) -> None:
    out.put(asyncio.run(measure(url, size)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--url", default=None, help="database URL (default: temporary SQLite)")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'employers':>10} {'phase':<12} {'seconds':>8} {'peak MiB':>9}")
        totals: dict[int, dict[str, float]] = {}
        for size in (int(s) for s in args.sizes.split(",")):
            url = args.url or f"sqlite:///{Path(tmp) / f'draw-{size}.db'}"
            queue = context.Queue()
            process = context.Process(target=_child, args=(url, size, queue))
            process.start()
            figures = queue.get()
            process.join()
            totals[size] = {}
            for phase, seconds, peak in figures:
                totals[size][phase] = seconds
                print(f"{size:>10} {phase:<12} {seconds:>8.2f} {peak:>9.0f}", flush=True)
        sizes = sorted(totals)
        if len(sizes) > 1:
            small, large = totals[sizes[0]], totals[sizes[-1]]
            for phase in ("draw", "verify", "standalone"):
                print(f"growth {phase}: {large[phase] / small[phase]:.1f}x "
                      f"for {sizes[-1] / sizes[0]:.0f}x the employers")  # fmt: skip


if __name__ == "__main__":
    main()
