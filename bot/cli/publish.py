"""``suiji publish``: what the bureau makes public (issue 17): ``publish scan``, which proves
files hold no personal data before anyone publishes them; ``publish prepare``, a reported
campaign's results publication sent to the bureau's leaders to approve in chat; and
``publish export results``, a published campaign's results for other systems, and ``publish
export penalties``, the published penalty decisions for 信用中国."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

from bot.base.texts import text
from bot.cli.actors import ADMIN, LEADER, actor_option, run_as
from bot.cli.support import ID, Refused, explained, run_with_db, settings_of, utc_now
from bot.registry.personal import Kind
from bot.registry.scan import Report, scan_paths
from bot.registry.sheets import SheetError, sheet_format, sheet_writer
from bot.workflows import campaigns, penalties, publish, site
from bot.workflows.publish import PublishError, hit_line, people_to_look_for
from bot.workflows.site.pages import SiteContext
from bot.workflows.step import policy_of


@click.group("publish")
def publish_group() -> None:
    """Publication: results, penalty decisions and the public site, never personal data."""


def _json(report: Report) -> dict[str, Any]:
    return {
        "clean": report.clean,
        "scanned": report.scanned,
        "skipped": report.skipped,
        "unreadable": [{"file": u.file, "reason": u.reason} for u in report.unreadable],
        "hits": [
            {
                "file": h.file,
                "place": {k: v for k, v in vars(h.place).items() if v},
                "where": text("publish.place", p=h.place),
                "kind": h.kind.value,
                "masked": h.masked,
            }
            for h in report.hits
        ],
    }


@publish_group.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def publish_scan(ctx: click.Context, paths: tuple[Path, ...], fmt: str) -> None:
    """Look for personal data in PATHS (files, or directories read recursively); exit 1 on
    any hit or any file that cannot be read."""
    people = run_with_db(ctx, people_to_look_for)
    report = scan_paths(paths, people)
    if fmt == "json":
        click.echo(json.dumps(_json(report), ensure_ascii=False, indent=2))
    else:
        for hit in report.hits:
            click.echo(hit_line(hit))
        for problem in report.unreadable:
            click.echo(
                text(
                    "publish.unreadable",
                    file=problem.file,
                    reason=problem.reason,
                    detail=problem.detail,
                )
            )
        if report.skipped:
            click.echo(text("publish.skipped", count=len(report.skipped), files=report.skipped))
        counts = Counter(h.kind for h in report.hits)
        kinds = [
            text("publish.kind_count", kind=text("publish.kind", value=k.value), count=counts[k])
            for k in Kind
            if counts[k]
        ]
        click.echo(
            text(
                "publish.summary",
                scanned=len(report.scanned),
                hits=len(report.hits),
                kinds=kinds,
                unreadable=len(report.unreadable),
            )
        )
    if not report.clean:
        ctx.exit(1)


@publish_group.command("prepare")
@click.argument("campaign_id", type=ID)
@actor_option
@click.pass_context
@explained(PublishError)
def publish_prepare(ctx: click.Context, campaign_id: int, actor: str | None) -> None:
    """Prepare a reported campaign's results publication, scan it for personal data and ask
    the bureau's leaders to approve it in chat."""
    policy = policy_of(settings_of(ctx))
    found = run_as(
        ctx,
        actor,
        (ADMIN, LEADER),
        lambda f, name: publish.prepare(f, campaign_id, name, utc_now, policy),
    )
    click.echo(
        text(
            "publish.prepared",
            id=found.id,
            name=found.rows[0]["campaign"] if found.rows else "",
            rows=len(found.rows),
            with_measure=found.with_measure,
            approval=found.approval_id,
        )
    )


@publish_group.command("export")
@click.argument("kind", type=click.Choice(["results", "penalties"]))
@click.argument("target", nargs=-1, required=True)
@click.pass_context
@explained(PublishError, SheetError)
def publish_export(ctx: click.Context, kind: str, target: tuple[str, ...]) -> None:
    """Export for other systems, as XLSX or CSV: ``results CAMPAIGN_ID FILE``, a published
    campaign's results (one row per employer) for the national enterprise credit publicity
    system; ``penalties FILE``, every published penalty decision in 信用中国's 行政处罚
    layout. Scanned first: nothing is written on a hit."""
    wanted = 2 if kind == "results" else 1
    if len(target) != wanted:
        raise Refused(text("publish.export_usage", kind=kind))
    file = Path(target[-1])
    sheet_format(file)  # a wrong extension is refused before anything is read
    if kind == "results":
        if not target[0].isdecimal():  # isdigit() would let "²" through to int()
            raise Refused(text("publish.export_usage", kind=kind))
        campaign_id = ID.convert(int(target[0]), None, ctx)
        export = run_with_db(ctx, lambda f: publish.results_export(f, campaign_id))
    else:
        export = run_with_db(ctx, penalties.export)
    with sheet_writer(file, export.headers) as add:
        for row in export.rows:
            add(list(row))
    click.echo(text("publish.exported", file=file, rows=len(export.rows)))


@publish_group.command("site")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
@explained(site.SiteError, campaigns.CampaignError)  # a draw record no longer as published
def publish_site(ctx: click.Context, directory: Path) -> None:
    """Build the public site (plain HTML and CSS, no external resources) into DIRECTORY for any
    web server or the county portal; scanned first, nothing written on a hit, and an old site
    in DIRECTORY stays whole until the new one replaces it."""
    policy = policy_of(settings_of(ctx))
    context = SiteContext(today=utc_now().astimezone(policy.tz).date(), zone=policy.timezone)
    files = run_with_db(ctx, lambda f: site.checked(f, context))
    try:
        # Outside the database's work: its OSErrors read as 「连不上数据库」.
        site.write(files, directory)
    except OSError as exc:
        detail = exc.strerror or str(exc)
        raise Refused(text("site.unwritable", directory=directory, detail=detail)) from exc
    click.echo(text("site.written", directory=directory, files=len(files)))


COMMANDS = (publish_group,)
