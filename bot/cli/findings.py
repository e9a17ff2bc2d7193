"""``suiji forms`` and ``suiji findings``: the findings forms, and what teams have found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot.base.texts import render, text
from bot.base.times import local_time
from bot.cli.support import ID, Refused, emit, run_with_db, settings_of
from bot.cli.tables import format_table
from bot.forms import catalog
from bot.forms.definition import Condition, Form, FormError, Problem
from bot.registry.sheets import SheetError, sheet_format, sheet_writer
from bot.workflows import findings


@click.group()
def forms() -> None:
    """Findings forms (检查结果表单): check definitions, show one as the officer sees it."""


def _problem_line(problem: Problem) -> str:
    message = text(f"forms.{problem.key}", **problem.values)
    return text("forms.problem_line", file=problem.file, line=problem.line, message=message)


@forms.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def forms_check(ctx: click.Context, directory: Path | None) -> None:
    """Check every definition in DIRECTORY (default: the shipped forms and the site's forms/)."""
    if directory is not None:
        folders = [directory]
    else:
        site = catalog.site_folder(settings_of(ctx).source)
        folders = [catalog.SHIPPED, *([site] if site is not None and site.is_dir() else [])]
    problems = []
    for folder in folders:
        if not folder.is_dir():
            raise Refused(text("forms.unreadable", reason=str(folder)))
        found = catalog.check(folder)
        problems.extend(found)
        if not found:
            count = len(catalog.definition_files(folder))
            click.echo(text("forms.check_ok", count=count, folder=str(folder)))
    for problem in problems:
        click.echo(_problem_line(problem), err=True)
    if problems:
        raise Refused(text("forms.check_failed", count=len(problems)))


@forms.command("show")
@click.argument("code")
@click.pass_context
def forms_show(ctx: click.Context, code: str) -> None:
    """Print the form for item CODE, question by question, as the officer will see it."""
    site = catalog.site_folder(settings_of(ctx).source)
    try:
        form = catalog.find(code, site)
    except FormError as error:
        for problem in error.problems:
            click.echo(_problem_line(problem), err=True)
        raise Refused(text("forms.check_failed", count=len(error.problems))) from error
    if form is None:
        raise Refused(text("forms.no_form", code=code))
    click.echo(render("cli/form_show.txt.j2", form=form, conditions=_conditions(form)), nl=False)


def _conditions(form: Form) -> dict[str, str]:
    """Each conditional question's condition, in words."""
    numbers = {q.id: n for n, q in enumerate(form.questions, 1)}
    said: dict[str, str] = {}
    for q in form.questions:
        if q.when is not None:
            said[q.id] = _words(q.when, numbers)
    return said


def _words(condition: Condition, numbers: dict[str, int]) -> str:
    if condition.parts:
        parts = [_words(p, numbers) for p in condition.parts]
        return text("forms.condition_joined", op=condition.op, parts=parts)
    value = condition.value
    shown = value if not isinstance(value, list) else list(map(str, value))
    return text(
        "forms.condition_words",
        number=numbers.get(condition.question, 0),
        op=condition.op,
        value=shown,
    )


@click.group("findings")
def findings_group() -> None:
    """What the teams found (检查结果): where each stands, and every answer as a sheet."""


@findings_group.command("list")
@click.argument("campaign_id", type=ID)
@click.option("--team", "team", type=ID, default=None, help="Only this team.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def findings_list(ctx: click.Context, campaign_id: int, team: int | None, fmt: str) -> None:
    """Each employer × item of CAMPAIGN_ID: 未填 / 填写中 / 已提交, who filled it, and when."""
    rows = _overview(ctx, campaign_id, team)
    if fmt == "json":
        emit(fmt, [{k: v for k, v in r.items() if k != "questions"} for r in rows], "")
        return
    zone = settings_of(ctx).app.timezone
    table = [
        [
            str(r["team"]),
            r["employer"],
            r["item_name"],
            text("filling.state_label", state=r["state"]),
            text("filling.joined", values=r["filled_by"]),
            r.get("submitted_by") or "",
            local_time(r.get("submitted_at"), zone),
            str(r["finding"] or ""),
        ]
        for r in rows
    ]
    headers = text("filling.list_headers").split("|")
    click.echo(format_table(headers, table))
    done = sum(r["state"] == "submitted" for r in rows)
    click.echo(text("filling.list_summary", done=done, total=len(rows)))


def _overview(ctx: click.Context, campaign_id: int, team: int | None) -> list[dict[str, Any]]:
    try:
        return run_with_db(ctx, lambda f: findings.overview(f, campaign_id, team))
    except LookupError as exc:
        raise Refused(text("campaign.no_campaign", id=campaign_id)) from exc


@findings_group.command("export")
@click.argument("campaign_id", type=ID)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def findings_export(ctx: click.Context, campaign_id: int, file: Path) -> None:
    """One row per employer × item with every answer in its own column (.xlsx or .csv)."""
    try:
        sheet_format(file)
    except SheetError as exc:
        raise Refused(exc.message()) from exc
    rows = _overview(ctx, campaign_id, None)
    zone = settings_of(ctx).app.timezone
    columns: dict[tuple[str, str], str] = {}  # (item, question id) → header, in form order
    for r in rows:
        for q in r["questions"]:
            columns.setdefault((r["item"], q["id"]), f"{r['item_name']}：{q['text']}")
    fixed = text("filling.export_headers").split("|")
    with sheet_writer(file, [*fixed, *columns.values()]) as append:
        for r in rows:
            kinds = {q["id"]: q["kind"] for q in r["questions"]}
            answers = r["answers"]
            cells: list[Any] = [
                r["team"],
                r["employer"],
                r["uscc"],
                r["item"],
                r["item_name"],
                text("filling.state_label", state=r["state"]),
                r["finding"] or "",
                text("filling.joined", values=r["filled_by"]),
                r.get("submitted_by") or "",
                local_time(r.get("submitted_at"), zone),
                r.get("answers_sha256") or "",
            ]
            for item, qid in columns:
                value = answers.get(qid) if item == r["item"] else None
                cells.append(_cell(value, kinds.get(qid, "")))
            append(cells)
    click.echo(text("filling.exported", count=len(rows), path=str(file)))


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return text("filling.yes" if value else "filling.no")
    if isinstance(value, list):
        return text("filling.joined", values=[str(v) for v in value])
    return value if kind == "number" and isinstance(value, int) else str(value)


COMMANDS = (forms, findings_group)
