"""What the bot says about approvals, and who may decide one. Pure.

An approval is shown as a card with 「同意」 / 「驳回」; it can be answered by text too
(「同意」, 「驳回 原因」, with 「审批N」 when several wait). Its summary never names an
inspection target: approvers are not always on the team.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.base.texts import text
from bot.platforms.messages import Button, Outgoing


@dataclass(frozen=True)
class ApprovalView:
    id: int
    kind: str
    role: str  # team_leader | unit_leader | leader
    state: str  # pending | approved | rejected | cancelled
    title: str
    summary: str
    reason: str
    decided_by: str  # a name, once decided
    comment: str


def subject(approval_id: int) -> str:
    """What an approval's cards ask: decide it."""
    return f"approval:{approval_id}"


def card(view: ApprovalView) -> Outgoing:
    return Outgoing.card(
        text("approve.card_title", title=view.title, id=view.id),
        text("approve.card_text", summary=view.summary, reason=view.reason),
        (
            Button(text("approve.key_approve", id=view.id), text("approve.label_approve")),
            Button(text("approve.key_reject", id=view.id), text("approve.label_reject")),
        ),
        subject(view.id),
    )


def refusal(view: ApprovalView, may_decide: bool, own: bool = False) -> Outgoing | None:
    """Why this person cannot decide this approval now, or None if they can."""
    if own:
        return Outgoing.plain(text("approve.own_request", id=view.id))
    if not may_decide:
        return Outgoing.plain(text("approve.not_approver", id=view.id))
    if view.state != "pending":
        return Outgoing.plain(
            text("approve.already", id=view.id, state=view.state, by=view.decided_by)
        )
    return None


def which(pending: list[ApprovalView]) -> Outgoing:
    """Several wait: list them, ask for the number."""
    return Outgoing.plain(
        text("approve.which", items=[(v.id, v.title, v.summary) for v in pending])
    )


def decided(view: ApprovalView, approved: bool) -> Outgoing:
    return Outgoing.plain(text("approve.decided", id=view.id, approved=approved, title=view.title))


def card_closed(state: str, by: str) -> str:
    """What every approver's card reads once the request is settled: decided (and by whom),
    or withdrawn."""
    return text("approve.closed", state=state, by=by)
