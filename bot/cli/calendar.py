"""``suiji calendar``: the year's holiday notice imported (admins only, audited), shown, and
started as a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot.base.texts import table, text
from bot.cli.actors import ADMIN, actor_option, run_as
from bot.cli.support import Factory, Refused, emit, explained, run_with_db, utc_now, zone_of
from bot.registry.holidays import (
    FIRST_YEAR,
    LAST_YEAR,
    HolidayFileError,
    YearFile,
    example_toml,
    read_year_file,
    write_example,
)
from bot.registry.sheets import SheetError
from bot.workflows import calendar as flow

YEAR = click.IntRange(FIRST_YEAR, LAST_YEAR)


@click.group("calendar")
def calendar_group() -> None:
    """Working days: the State Council's holidays and 调休 of each year."""


def _read(file: Path) -> YearFile:
    """The checked file, its warnings said; every problem said and refused otherwise."""
    try:
        parsed = read_year_file(file)
    except HolidayFileError as error:
        for problem in error.problems:
            click.echo(problem.line(), err=True)
        raise Refused(text("calendar.refused", count=len(error.problems))) from error
    for warning in parsed.warnings:
        click.echo(text("calendar.warning", line=warning.line()), err=True)
    return parsed


@calendar_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@actor_option
@click.pass_context
def calendar_import(ctx: click.Context, file: Path, actor: str | None) -> None:
    """Import one year's holidays and 调休 working days from FILE (.toml, .xlsx or .csv);
    a year imported before is replaced whole."""

    async def work(factory: Factory, name: str) -> tuple[YearFile, dict[str, Any] | None]:
        parsed = _read(file)
        before, _ = await flow.import_year(factory, parsed, name, utc_now)
        return parsed, before

    parsed, before = run_as(ctx, actor, (ADMIN,), work)
    counts = None
    if before is not None:
        counts = {"holidays": before["holiday_count"], "workdays": before["workday_count"]}
    click.echo(
        text(
            "calendar.imported",
            year=parsed.year,
            holidays=len(parsed.holidays),
            workdays=len(parsed.workdays),
            before=counts,
        )
    )


@calendar_group.command("show")
@click.argument("year", type=YEAR)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def calendar_show(ctx: click.Context, year: int, fmt: str) -> None:
    """YEAR's holidays and 调休 working days, where they come from, and whether it is covered."""
    view = run_with_db(ctx, lambda factory: flow.year_view(factory, year))
    words = table("calendar/words.toml")
    emit(fmt, view, "cli/calendar_show.txt.j2", view=view, words=words, tz=zone_of(ctx), nl=False)


@calendar_group.command("example")
@click.argument("year", type=YEAR)
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@explained(SheetError)
def calendar_example(year: int, file: Path | None) -> None:
    """Print (or write to FILE: .toml, .xlsx, .csv) YEAR's file to import: exact for a year
    chinesecalendar covers, else its festivals with the dates to fill in from the notice."""
    if file is None:
        click.echo(example_toml(year), nl=False)
        return
    try:
        write_example(year, file)
    except HolidayFileError as error:
        raise Refused(error.problems[0].reason) from error
    click.echo(text("calendar.example_written", year=year, path=str(file)))


COMMANDS = (calendar_group,)
