"""Registries out: sheets for the staff, the blank template, listings for people and programs."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.registry.kinds import KINDS, Kind, Record
from bot.registry.sheets import sheet_format, sheet_writer
from storage.registries import STORES


async def export_sheet(
    factory: async_sessionmaker[AsyncSession], kind_name: str, path: Path
) -> int:
    """Write the registry to ``path`` (CSV or .xlsx) in the import layout; returns the rows."""
    kind, store = KINDS[kind_name], STORES[kind_name]
    sheet_format(path)  # refuse a bad extension before touching the database
    count = 0
    async with factory() as session:
        with sheet_writer(path, list(kind.headers().values())) as append:
            async for record in store.export(session):
                append([f.format(record[f.name]) for f in kind.fields])
                count += 1
    return count


def write_template(kind_name: str | Kind, path: Path) -> None:
    """An empty sheet with the Chinese headers and one valid example row."""
    kind = KINDS[kind_name] if isinstance(kind_name, str) else kind_name
    with sheet_writer(path, list(kind.headers().values())) as append:
        append(kind.example_row())


async def list_records(factory: async_sessionmaker[AsyncSession], kind_name: str) -> list[Record]:
    """The registry's records (English field names, canonical values), in export order."""
    async with factory() as session:
        return [record async for record in STORES[kind_name].export(session)]
