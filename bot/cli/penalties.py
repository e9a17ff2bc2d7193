"""``suiji penalty``: penalty decisions (行政处罚决定, issue 17 §1) recorded one at a time or from
a sheet, listed, and sent to the bureau's leaders to approve their publication in chat. Their
export for 信用中国 is ``suiji publish export penalties`` (bot.cli.publish)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bot.base.texts import text
from bot.cli.actors import ADMIN, LEADER, actor_option, run_as
from bot.cli.support import ID, Refused, explained, run_with_db, settings_of, utc_now
from bot.cli.tables import format_table
from bot.registry.export import write_template
from bot.registry.penalties import PENALTIES, RecordError, parse_record
from bot.registry.sheets import SheetError
from bot.workflows import penalties as flow
from bot.workflows.penalties import Organ, PenaltyError
from bot.workflows.publish import PublishError
from bot.workflows.step import policy_of

OFFICER = "officer"
RECORDERS = (ADMIN, LEADER, OFFICER)


@click.group("penalty")
def penalty_group() -> None:
    """Penalty decisions: recorded, listed, published after a leader's approval."""


def organ_options(func: Any) -> Any:
    func = click.option("--organ-uscc", "organ_uscc", default=None)(func)
    return click.option("--organ", default=None)(func)


def _organ(ctx: click.Context, name: str | None, uscc: str | None) -> Organ:
    """The deciding organ: the options, else the config's ``[bureau]``."""
    bureau = settings_of(ctx).bureau
    return Organ(name if name is not None else bureau.name, uscc or bureau.uscc)


@penalty_group.command("record")
@click.option("--number", required=True)
@click.option("--uscc", required=True)
@click.option("--violation", required=True)
@click.option("--facts", required=True)
@click.option("--basis", "legal_basis", required=True)
@click.option("--category", "categories", required=True)
@click.option("--content", required=True)
@click.option("--amount", default=None)
@click.option("--date", "decided_on", required=True)
@click.option("--finding", default=None)
@organ_options
@actor_option
@click.pass_context
@explained(PenaltyError)
def penalty_record(
    ctx: click.Context, organ: str | None, organ_uscc: str | None, actor: str | None, **raw: Any
) -> None:
    """Record one penalty decision; its publication is due 7 working days after the
    decision day."""
    try:
        decision = parse_record(raw)
    except RecordError as error:
        raise Refused(text("penalty.refused", lines=error.problems)) from error
    deciding = _organ(ctx, organ, organ_uscc)
    policy = policy_of(settings_of(ctx))
    done = run_as(
        ctx,
        actor,
        RECORDERS,
        lambda f, name: flow.record(f, decision, deciding, name, utc_now, policy),
    )
    click.echo(
        text(
            "penalty.recorded",
            id=done.penalty.id,
            number=done.penalty.number,
            employer=done.employer,
            due=done.deadline.due_on.isoformat(),
            estimated=done.deadline.estimated,
        )
    )


@penalty_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@organ_options
@actor_option
@click.pass_context
@explained(PenaltyError, SheetError)
def penalty_import(
    ctx: click.Context, file: Path, organ: str | None, organ_uscc: str | None, actor: str | None
) -> None:
    """Record every decision of FILE (.xlsx or .csv, the columns of ``penalty example``):
    all or nothing, every problem named by row and column."""
    deciding = _organ(ctx, organ, organ_uscc)
    policy = policy_of(settings_of(ctx))
    done = run_as(
        ctx,
        actor,
        RECORDERS,
        lambda f, name: flow.import_file(f, file, deciding, name, utc_now, policy),
    )
    for problem in done.problems:
        click.echo(problem.line(), err=True)
    if done.problems:
        raise Refused(text("penalty.import_refused", count=len(done.problems)))
    if not done.made:
        raise Refused(text("penalty.empty_file", file=file.name))
    first = min(d.due_on for _, d in done.made).isoformat()
    click.echo(text("penalty.imported", file=file.name, count=len(done.made), first_due=first))


@penalty_group.command("example")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@explained(SheetError)
def penalty_example(file: Path) -> None:
    """Write a sheet to fill in (.xlsx or .csv): the columns and one example row."""
    write_template(PENALTIES, file)
    click.echo(text("penalty.example_written", path=str(file)))


@penalty_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def penalty_list(ctx: click.Context, fmt: str) -> None:
    """Every decision, by decision date: its state, and the day its publication is due."""
    policy = policy_of(settings_of(ctx))
    found = run_with_db(ctx, lambda f: flow.listing(f, policy, utc_now))
    if fmt == "json":
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo(text("penalty.list_empty"))
        return
    rows = [
        [
            str(p["id"]),
            p["number"],
            p["employer"],
            p["violation"],
            p["amount"] or "",
            p["decided_on"],
            p["due_on"] or "",
            text("penalty.state", value=p["state"], late=p["late"] or p["overdue"]),
            str(p["finding"] or ""),
        ]
        for p in found
    ]
    click.echo(format_table(text("penalty.list_headers").split("|"), rows))


@penalty_group.command("prepare")
@click.argument("penalty_id", type=ID)
@actor_option
@click.pass_context
@explained(PublishError)
def penalty_prepare(ctx: click.Context, penalty_id: int, actor: str | None) -> None:
    """Check a decision's public row for personal data and ask the bureau's leaders to
    approve its publication in chat."""
    policy = policy_of(settings_of(ctx))
    made = run_as(
        ctx,
        actor,
        RECORDERS,
        lambda f, name: flow.prepare(f, penalty_id, name, utc_now, policy),
    )
    click.echo(text("penalty.prepared", id=made.id, number=made.number, approval=made.approval_id))


COMMANDS = (penalty_group,)
