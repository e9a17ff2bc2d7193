"""The ``suiji`` command line: init, database, registries and the audit log.

Owns argument parsing, wiring settings to the engine, and turning results and errors into the
Chinese output (from templates/) and exit codes: 0 done, 1 refused or failed, 2 usage.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.base.config import ConfigError, Settings, load_settings
from bot.base.texts import render, text
from bot.cli.campaigns import COMMANDS
from bot.cli.serve import COMMANDS as SERVE_COMMANDS
from bot.cli.support import (
    Refused,
    actor_name,
    explained,
    progress,
    run_with_db,
    settings_of,
    utc_now,
    with_engine,
)
from bot.cli.tables import format_table
from bot.registry.export import export_sheet, list_records, write_template
from bot.registry.fields import cell_text
from bot.registry.importer import import_sample, import_sheet
from bot.registry.kinds import KINDS
from bot.registry.records import jsonable
from bot.registry.sheets import SheetError
from storage import audit, migrate
from storage.engine import make_session_factory

KIND_CHOICE = click.Choice(list(KINDS))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $SUIJI_CONFIG, else ./suiji.toml).",
)
@click.pass_context
def cli(ctx: click.Context, config_file: str | None) -> None:
    """suiji — 双随机、一公开 spot checks in WeCom and DingTalk."""

    def settings() -> Settings:
        try:
            return load_settings(config_file)
        except ConfigError as exc:
            raise Refused(text("cli.config_error", message=str(exc))) from exc

    ctx.obj = {"settings": settings}


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--sample", is_flag=True, help="Also load the bundled sample registries.")
def init(directory: Path, sample: bool) -> None:
    """Create DIRECTORY with a commented suiji.toml and a migrated SQLite database."""
    config = directory / "suiji.toml"
    if config.exists():
        raise Refused(text("cli.init_exists", path=str(config)))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        body = render("config/suiji.toml.j2", database_url="sqlite:///suiji.db")
        config.write_text(body, "utf-8")
    except OSError as exc:
        detail = exc.strerror or str(exc)
        raise Refused(text("cli.cannot_create", path=str(directory), detail=detail)) from exc
    settings = load_settings(str(config), environ={})

    async def work(engine: AsyncEngine) -> list[tuple[str, int]]:
        await migrate.upgrade(engine)
        if not sample:
            return []
        return await import_sample(make_session_factory(engine), utc_now, progress)

    loaded = asyncio.run(with_engine(settings, work))
    click.echo(text("cli.init_done", directory=str(directory), config=str(config), loaded=loaded))
    click.echo(text("cli.init_next", config=str(config)))


@cli.group()
def db() -> None:
    """Database schema."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Migrate the database to the newest schema."""

    async def work(engine: AsyncEngine) -> str | None:
        await migrate.upgrade(engine)
        return await migrate.current_revision(engine)

    revision = asyncio.run(with_engine(settings_of(ctx), work))
    click.echo(text("cli.db_upgraded", revision=revision))


@cli.group()
def registry() -> None:
    """Registries: units, officers, entities, items, recusals (CSV / Excel)."""


@registry.command("import")
@click.argument("kind", type=KIND_CHOICE)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows; still list the bad.")
@click.option(
    "--confirm-identity-changes",
    is_flag=True,
    help="Allow rows that change a known officer's name or platform accounts.",
)
@click.option("--as", "actor", default=None, help="Who is importing (for the audit log).")
@click.pass_context
@explained(SheetError)
def import_(
    ctx: click.Context,
    kind: str,
    file: Path,
    skip_invalid: bool,
    confirm_identity_changes: bool,
    actor: str | None,
) -> None:
    """Upsert FILE into the KIND registry; all or nothing unless --skip-invalid."""
    report = run_with_db(
        ctx,
        lambda factory: import_sheet(
            factory,
            kind,
            file,
            actor=actor_name(actor),
            clock=utc_now,
            skip_invalid=skip_invalid,
            confirm_identity_changes=confirm_identity_changes,
            progress=progress,
        ),
    )
    for problem in report.problems:
        click.echo(problem.line(), err=True)
    if not report.written:
        header = any(p.row == 1 for p in report.problems)
        key = "cli.header_refused" if header else "cli.import_refused"
        raise Refused(text(key, count=len(report.problems)) if not header else text(key))
    click.echo(
        text(
            "cli.import_summary",
            kind=kind,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
        )
    )
    for change in report.identity_changes:
        click.echo(
            text("cli.identity_changed", row=change.row, key=change.key, changes=change.describe())
        )
    if report.problems:
        click.echo(text("cli.import_skipped", rows=len(report.bad_rows)), err=True)
        sys.exit(1)


@registry.command("export")
@click.argument("kind", type=KIND_CHOICE)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
@explained(SheetError)
def export(ctx: click.Context, kind: str, file: Path) -> None:
    """Write the KIND registry to FILE (.csv or .xlsx), ready to edit and import again."""
    count = run_with_db(ctx, lambda factory: export_sheet(factory, kind, file))
    click.echo(text("cli.exported", kind=kind, count=count, path=str(file)))


@registry.command("template")
@click.argument("kind", type=KIND_CHOICE)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@explained(SheetError)
def template(kind: str, file: Path) -> None:
    """Write an empty KIND sheet with Chinese headers and one valid example row."""
    write_template(kind, file)
    click.echo(text("cli.template_written", kind=kind, path=str(file)))


@registry.command("list")
@click.argument("kind", type=KIND_CHOICE)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def list_(ctx: click.Context, kind: str, fmt: str) -> None:
    """Show the KIND registry as a table, or as JSON with English field names."""
    records = run_with_db(ctx, lambda factory: list_records(factory, kind))
    if fmt == "json":
        click.echo(json.dumps([jsonable(r) for r in records], ensure_ascii=False, indent=2))
        return
    spec = KINDS[kind]
    rows = [[cell_text(f.format(record[f.name])) for f in spec.fields] for record in records]
    click.echo(format_table(list(spec.headers().values()), rows))
    click.echo(text("cli.list_count", kind=kind, count=len(records)))


@cli.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command()
@click.option("--anchor", default=None, help="SEQ:HASH published earlier by `suiji audit head`.")
@click.pass_context
def verify(ctx: click.Context, anchor: str | None) -> None:
    """Check every audit entry against the chain; names the first broken one."""
    expected: tuple[int, str] | None = None
    if anchor is not None:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise Refused(text("cli.bad_anchor", value=anchor))
        expected = (int(seq), digest.lower())

    async def work(factory: async_sessionmaker[AsyncSession]) -> audit.ChainReport:
        async with factory() as session:
            return await audit.verify(session, expected)

    report = run_with_db(ctx, work)
    if report.ok:
        click.echo(text("cli.audit_ok", count=report.count))
        return
    raise Refused(text("cli.audit_broken", seq=report.broken_seq, problem=report.problem))


for _command in (*COMMANDS, *SERVE_COMMANDS):
    cli.add_command(_command)


@audit_group.command("head")
@click.pass_context
def audit_head(ctx: click.Context) -> None:
    """Print SEQ:HASH of the newest entry, to publish as an anchor for `audit verify`."""

    async def work(factory: async_sessionmaker[AsyncSession]) -> tuple[int, str] | None:
        async with factory() as session:
            return await audit.head(session)

    current = run_with_db(ctx, work)
    if current is None:
        raise Refused(text("cli.audit_broken", seq=1, problem="head_missing"))
    click.echo(text("cli.audit_head", seq=current[0], hash=current[1]))


def main() -> None:
    cli(prog_name="suiji")
