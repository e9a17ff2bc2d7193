"""``suiji publish``: what the bureau makes public (issue 17). So far ``publish scan``, which
proves files hold no personal data before anyone publishes them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

from bot.base.texts import text
from bot.cli.support import run_with_db
from bot.registry.personal import Kind
from bot.registry.scan import Hit, Report, scan_paths
from bot.workflows.publish import people_to_look_for


@click.group("publish")
def publish_group() -> None:
    """Publication: results, penalty decisions and the public site, never personal data."""


def _hit_line(hit: Hit) -> str:
    return text(
        "publish.hit",
        file=hit.file,
        place=text("publish.place", p=hit.place),
        kind=text("publish.kind", value=hit.kind.value),
        masked=hit.masked,
    )


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
            click.echo(_hit_line(hit))
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


COMMANDS = (publish_group,)
