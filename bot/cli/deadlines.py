"""``suiji deadlines list`` and ``suiji reminders preview``: the clocks of the campaigns, and
a dry run of what the reminder tick would send at a given time (nothing is written)."""

from __future__ import annotations

from typing import Any

import click

from bot.cli.support import ID, emit, local_moment, run_with_db, settings_of, utc_now
from bot.workflows import deadlines as flow
from bot.workflows.step import policy_of

FORMAT = click.Choice(["table", "json"])


@click.group("deadlines")
def deadlines_group() -> None:
    """Deadlines: every clock of a campaign, who owns it, when it falls due."""


@deadlines_group.command("list")
@click.option("--campaign", "campaign_id", type=ID, default=None)
@click.option("--overdue", is_flag=True, default=False)
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def deadlines_list(ctx: click.Context, campaign_id: int | None, overdue: bool, fmt: str) -> None:
    """Open deadlines, soonest first: overdue and estimated ones marked, and an owner the bot
    cannot reach said (their reminders go to the next in the chain)."""
    policy = policy_of(settings_of(ctx))
    found = run_with_db(
        ctx,
        lambda factory: flow.listing(
            factory, policy, utc_now(), campaign_id=campaign_id, overdue=overdue
        ),
    )
    emit(fmt, found, "cli/deadlines_list.txt.j2", rows=found, nl=False)


@click.group("reminders")
def reminders_group() -> None:
    """Reminders of deadlines ([reminders] in suiji.toml)."""


@reminders_group.command("preview")
@click.option("--at", "at", required=True)
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def reminders_preview(ctx: click.Context, at: str, fmt: str) -> None:
    """What the reminder tick would send at AT (local time, "2026-12-10 09:00"), to whom and
    why; nothing is sent or recorded."""
    policy = policy_of(settings_of(ctx))
    moment = local_moment(at, policy.tz)
    found: list[dict[str, Any]] = run_with_db(
        ctx, lambda factory: flow.preview(factory, policy, moment)
    )
    emit(fmt, found, "cli/reminders_preview.txt.j2", people=found, at=at, nl=False)


COMMANDS = (deadlines_group, reminders_group)
