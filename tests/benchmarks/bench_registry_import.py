"""Benchmark: importing the entity registry from CSV and XLSX.

Run: ``python -m tests.benchmarks.bench_registry_import [--rows 10000,100000] [--url URL]``.
Each import runs in a fresh child process against a fresh database (a temporary SQLite file, or
``--url``, which is emptied first), so each peak-memory figure (the child's max RSS) is its own.
Prints rows per second and peak memory; asserts nothing, and the default test command never
runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

from bot.registry.importer import import_sheet
from bot.registry.kinds import KINDS
from bot.registry.sheets import sheet_writer
from storage import migrate
from storage.engine import make_engine, make_session_factory
from tests.conftest import drop_everything
from tests.helpers import entity_row


def write_entities(path: Path, rows: int) -> None:
    with sheet_writer(path, list(KINDS["entities"].headers().values())) as append:
        for n in range(rows):
            append(entity_row(n))


async def _import(url: str, path: Path) -> tuple[int, float]:
    engine = make_engine(url)
    await drop_everything(engine)
    await migrate.upgrade(engine)
    started = time.perf_counter()
    report = await import_sheet(
        make_session_factory(engine),
        "entities",
        path,
        actor="benchmark",
        clock=lambda: dt.datetime.now(dt.UTC),
    )
    elapsed = time.perf_counter() - started
    await engine.dispose()
    assert report.written and not report.problems
    return report.created, elapsed


def _child(url: str, path: str, out: multiprocessing.Queue[tuple[int, float, int]]) -> None:
    created, elapsed = asyncio.run(_import(url, Path(path)))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((created, elapsed, peak_kib))


def measure(url: str, path: Path) -> tuple[int, float, int]:
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[tuple[int, float, int]] = context.Queue()
    process = context.Process(target=_child, args=(url, str(path), queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="10000,100000")
    parser.add_argument("--url", default=None, help="database URL (default: temporary SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{'format':<6} {'rows':>8} {'seconds':>8} {'rows/s':>8} {'peak MiB':>9}  database")
        for rows in (int(r) for r in args.rows.split(",")):
            for suffix in (".csv", ".xlsx"):
                path = folder / f"entities-{rows}{suffix}"
                write_entities(path, rows)
                url = args.url or f"sqlite:///{folder / f'bench-{rows}{suffix}.db'}"
                created, seconds, peak_kib = measure(url, path)
                backend = url.split(":", 1)[0]
                print(
                    f"{suffix[1:]:<6} {created:>8} {seconds:>8.1f} {created / seconds:>8.0f} "
                    f"{peak_kib / 1024:>9.0f}  {backend}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
