"""What the bot says about assignments: the assignment itself, the team overview, one task in
full, the list of tasks, and what happens to a 「无法参加」. Pure: views in, messages out.

For a confidential campaign a message names the employers only when it goes to someone on the
team; an officer who left the team, an approver or a unit leader reads no target.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.base.texts import render, text
from bot.platforms.messages import Button, Outgoing


@dataclass(frozen=True)
class Employer:
    name: str
    address: str
    uscc: str
    # Each item's finding here: (item name, state: empty | draft | submitted).
    findings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Member:
    name: str
    state: str  # notified | confirmed | declined | replaced
    position: int
    substitute: bool


@dataclass(frozen=True)
class TeamView:
    campaign_id: int
    campaign: str
    start: str
    end: str
    items: tuple[str, ...]
    methods: tuple[str, ...]
    purpose: str
    confidential: bool
    number: int
    leader: str
    members: tuple[Member, ...]
    employers: tuple[Employer, ...]
    short_by: int


@dataclass(frozen=True)
class AssignmentView:
    id: int
    person: str
    role: str  # leader | member
    state: str
    position: int | None
    replaces: str  # the name of whoever this one took the place of, or ""
    team: TeamView

    @property
    def on_team(self) -> bool:
        return self.state in ("notified", "confirmed", "declined")


def subject(assignment_id: int) -> str:
    """What an assignment's cards ask: confirm or decline it."""
    return f"assignment:{assignment_id}"


def card_closed(state: str) -> str:
    """What an assignment's card reads once answered, by the assignment's state."""
    return text("assign.closed", state=state)


def _buttons(assignment_id: int) -> tuple[Button, ...]:
    return (
        Button(text("assign.key_confirm", id=assignment_id), text("assign.label_confirm")),
        Button(text("assign.key_decline", id=assignment_id), text("assign.label_decline")),
    )


def assignment_messages(view: AssignmentView) -> list[Outgoing]:
    """To a drawn officer (or a substitute): the task in full, then a card to answer it."""
    details = render("chat/assignment.md.j2", a=view, show_targets=True).strip()
    return [
        Outgoing("markdown", details, title=text("assign.title", campaign=view.team.campaign)),
        Outgoing.card(
            text("assign.card_title", id=view.id),
            text("assign.card_text", campaign=view.team.campaign, team=view.team.number),
            _buttons(view.id),
            subject(view.id),
        ),
    ]


def team_overview(view: AssignmentView) -> Outgoing:
    """To the team leader: the team, its employers and where each member stands."""
    body = render("chat/team.md.j2", a=view).strip()
    return Outgoing("markdown", body, title=text("assign.team_title", number=view.team.number))


def task_detail(view: AssignmentView) -> list[Outgoing]:
    """「任务 N」: one task in full (targets only while the asker is on the team), and the
    card to answer it while it is unanswered."""
    if view.role == "leader":
        return [team_overview(view), fill_card(view)]
    if view.state == "notified":
        return assignment_messages(view)
    body = render("chat/assignment.md.j2", a=view, show_targets=view.on_team).strip()
    title = text("assign.title", campaign=view.team.campaign)
    if view.state != "confirmed":
        return [Outgoing("markdown", body, title=title)]
    return [Outgoing("markdown", body, title=title), fill_card(view)]


def fill_card(view: AssignmentView) -> Outgoing:
    """The way into the findings forms: 「填写检查结果」 for this task; on a leader's, also
    「进度」."""
    done = sum(state == "submitted" for e in view.team.employers for _, state in e.findings)
    total = sum(len(e.findings) for e in view.team.employers)
    buttons = [Button(text("filling.key_fill", id=view.id), text("filling.label_fill"))]
    leader = view.role == "leader"
    if leader:  # the team's findings, employer by employer, and who holds each
        buttons.append(Button(text("progress.key_task", id=view.id), text("progress.label")))
    return Outgoing.card(
        text("assign.card_title", id=view.id),
        text("filling.fill_card", start=view.team.start, done=done, total=total, leader=leader),
        tuple(buttons),
    )


def reminder(view: AssignmentView) -> Outgoing:
    return Outgoing.card(
        text("assign.reminder_title"),
        text("assign.reminder", campaign=view.team.campaign, start=view.team.start, id=view.id),
        _buttons(view.id),
        subject(view.id),
    )


@dataclass(frozen=True)
class Notices:
    """Who is told what when an officer leaves a team."""

    officer: Outgoing
    leader: Outgoing
    unit: Outgoing | None  # the unit's leaders, when the reserve ran out


def excused_notices(
    campaign: str,
    team: int,
    officer: str,
    reason: str,
    substitute: str | None,
    position: int | None,
    short_by: int,
) -> Notices:
    """The excused officer, the team leader and (if nobody could take the place) the unit's
    leaders; none of it names a target."""
    if substitute is not None:
        return Notices(
            Outgoing.plain(text("assign.excused", campaign=campaign, reason=reason)),
            Outgoing.plain(
                text(
                    "assign.leader_told_substitute",
                    team=team,
                    officer=officer,
                    reason=reason,
                    substitute=substitute,
                    position=position,
                )
            ),
            None,
        )
    return Notices(
        Outgoing.plain(text("assign.excused_no_substitute", campaign=campaign, reason=reason)),
        Outgoing.plain(
            text(
                "assign.leader_told_short",
                team=team,
                officer=officer,
                reason=reason,
                short_by=short_by,
            )
        ),
        Outgoing.plain(
            text("assign.reserve_exhausted", campaign=campaign, team=team, short_by=short_by)
        ),
    )
