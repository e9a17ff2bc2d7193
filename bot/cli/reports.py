"""`suiji report export`: a team's inspection report as a Word document."""

from __future__ import annotations

from pathlib import Path

import click

from bot.base.texts import text
from bot.cli.support import ID, Refused, run_with_db, settings_of
from bot.workflows import reports
from handlers import report_document


@click.group("report")
def report_group() -> None:
    """Team inspection reports."""


@report_group.command("export")
@click.argument("campaign_id", type=ID)
@click.option("--team", "team", type=ID, required=True)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def report_export(ctx: click.Context, campaign_id: int, team: int, file: Path) -> None:
    """The team's report as .docx: approved, or the draft marked as one."""
    if file.suffix.lower() != ".docx":
        raise Refused(text("report.docx_only", path=str(file)))
    zone = settings_of(ctx).app.timezone
    try:
        filed = run_with_db(ctx, lambda f: reports.filed(f, campaign_id, team, zone))
    except reports.NoReport as missing:
        raise Refused(text(missing.key, **missing.values)) from missing
    signed = report_document.Signed(
        approved=filed.report.state.value == "approved",
        approver=filed.approver,
        approved_on=filed.approved_on,
        leader=filed.leader,
    )
    data = report_document.build(filed.report.content, filed.report.conclusion or "", signed)
    try:
        file.write_bytes(data)
    except OSError as exc:
        raise Refused(text("cli.cannot_create", path=str(file), detail=str(exc))) from exc
    click.echo(
        text("report.exported", path=str(file), state=filed.report.state.value, id=filed.report.id)
    )


COMMANDS = (report_group,)
