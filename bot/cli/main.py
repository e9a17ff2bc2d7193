"""The ``suiji`` command line: init, database, registries and the audit log.

Owns argument parsing, wiring settings to the engine, and turning results and errors into the
Chinese output (from templates/) and exit codes: 0 done, 1 refused or failed, 2 usage.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.base.config import ConfigError, Settings, load_settings
from bot.base.texts import render, table, text
from bot.base.times import local_time, utc_iso
from bot.cli.actors import ADMIN, actor_option, given_actor, importer_of
from bot.cli.calendar import COMMANDS as CALENDAR_COMMANDS
from bot.cli.campaigns import COMMANDS
from bot.cli.chinese import describe
from bot.cli.deadlines import COMMANDS as DEADLINE_COMMANDS
from bot.cli.findings import COMMANDS as FINDINGS_COMMANDS
from bot.cli.penalties import COMMANDS as PENALTY_COMMANDS
from bot.cli.publish import COMMANDS as PUBLISH_COMMANDS
from bot.cli.reports import COMMANDS as REPORT_COMMANDS
from bot.cli.serve import COMMANDS as SERVE_COMMANDS
from bot.cli.support import (
    Refused,
    explained,
    progress,
    run_with_db,
    settings_of,
    utc_now,
    with_engine,
    zone_of,
)
from bot.cli.tables import format_table
from bot.registry.export import export_sheet, list_records, write_template
from bot.registry.fields import cell_text
from bot.registry.importer import ImportReport, import_sample, import_sheet
from bot.registry.kinds import KINDS
from bot.registry.records import jsonable
from bot.registry.sheets import SheetError
from storage import audit, migrate
from storage.engine import make_session_factory
from storage.models import AuditEntry

KIND_CHOICE = click.Choice(list(KINDS))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
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
@click.option("--sample", is_flag=True)
def init(directory: Path, sample: bool) -> None:
    """Create DIRECTORY with a commented suiji.toml and a migrated SQLite database."""
    config = directory / "suiji.toml"
    if config.exists():
        raise Refused(text("cli.init_exists", path=str(config)))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        made_up = (
            {
                "operator": text("cli.sample_operator"),
                "bureau_name": text("cli.sample_bureau"),
                "bureau_uscc": text("cli.sample_bureau_uscc"),
            }
            if sample
            else {"operator": ""}
        )
        body = render("config/suiji.toml.j2", database_url="sqlite:///suiji.db", **made_up)
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
    after = {"config": str(config), "directory": str(directory), "operator": made_up["operator"]}
    click.echo(text("cli.init_next", **after))


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
@click.option("--skip-invalid", is_flag=True)
@click.option("--confirm-identity-changes", is_flag=True)
@actor_option
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
    ref = given_actor(ctx, actor, (ADMIN,))

    async def work(factory: async_sessionmaker[AsyncSession]) -> ImportReport:
        async with factory() as session:
            name, check = await importer_of(session, ref, kind)
        return await import_sheet(
            factory,
            kind,
            file,
            actor=name,
            clock=utc_now,
            skip_invalid=skip_invalid,
            confirm_identity_changes=confirm_identity_changes,
            progress=progress,
            before_commit=check,
        )

    report = run_with_db(ctx, work)
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
@click.option("--anchor", default=None)
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


CHANGE_WIDTH = 60  # a table row stays one line; --format json has the whole change


def parse_since(value: str, zone: str) -> dt.datetime:
    """``2026-12-03`` or ``2026-12-03 15:00`` on the bureau's clock, as a UTC moment."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise Refused(text("cli.bad_since", value=value)) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(dt.UTC)


def _loaded(stored: str | None) -> Any:
    return None if stored is None else json.loads(stored)


def _change(entry: AuditEntry) -> str:
    parts = [entry.before, entry.after] if entry.before and entry.after else [entry.after or ""]
    whole = " → ".join(parts)
    return whole if len(whole) <= CHANGE_WIDTH else whole[: CHANGE_WIDTH - 1] + "…"


@audit_group.command("list")
@click.option("--since", default=None)
@click.option("--actor", default=None)
@click.option("--kind", default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def audit_list(
    ctx: click.Context,
    since: str | None,
    actor: str | None,
    kind: str | None,
    limit: int,
    fmt: str,
) -> None:
    """The newest audit entries (oldest first), by time, person or kind of change."""
    zone = zone_of(ctx)
    start = parse_since(since, zone) if since is not None else None

    async def work(factory: async_sessionmaker[AsyncSession]) -> tuple[list[AuditEntry], int]:
        async with factory() as session:
            return await audit.entries(session, since=start, actor=actor, kind=kind, limit=limit)

    found, total = run_with_db(ctx, work)
    if fmt == "json":
        rows = [
            {
                "seq": e.seq,
                "at": utc_iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "subject_kind": e.subject_kind,
                "subject_key": e.subject_key,
                "before": _loaded(e.before),
                "after": _loaded(e.after),
                "hash": e.hash,
            }
            for e in found
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo(text("cli.audit_none"))
        return
    words = table("cli/audit.toml")
    cells = [
        [
            str(e.seq),
            local_time(e.at, zone),
            e.actor,
            words["actions"].get(e.action, e.action),
            f"{words['subjects'].get(e.subject_kind, e.subject_kind)} {e.subject_key}",
            _change(e),
        ]
        for e in found
    ]
    click.echo(format_table(list(words["headers"].values()), cells))
    if total > len(found):
        click.echo(text("cli.audit_more", count=total - len(found)))


for _command in (
    *COMMANDS,
    *SERVE_COMMANDS,
    *FINDINGS_COMMANDS,
    *REPORT_COMMANDS,
    *CALENDAR_COMMANDS,
    *PUBLISH_COMMANDS,
    *PENALTY_COMMANDS,
    *DEADLINE_COMMANDS,
):
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


describe(cli)  # every command's help, in Chinese, once all are added


def main() -> None:
    cli(prog_name="suiji")
