"""The annual plan (O1): units propose needs, leaders approve them; supplements the same way.

Owns the rules: one plan per year, needs name registered units and items, only a leader decides,
and a need is decided once. Each need is a request of the shared approval engine
(bot.workflows.approvals): the leaders get it as a card in chat, and ``suiji plan approve --as``
decides the same request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.base.times import utc_iso
from bot.platforms.messages import Outgoing
from bot.workflows import approvals
from bot.workflows.publish import load_people, typed_personal_data
from bot.workflows.step import DEFAULT_POLICY, Policy, Step
from storage import assignments as people_db
from storage import audit
from storage import campaigns as db
from storage.engine import unit_of_work
from storage.models import AnnualPlan, Approval, DecisionState, Person, PlanNeed
from storage.registries import current_items

Clock = Callable[[], dt.datetime]
Factory = async_sessionmaker[AsyncSession]
NEED = "plan_need"


class PlanError(Exception):
    """A plan step that cannot be done; the message is ready for the user."""


def _fail(key: str, **values: Any) -> PlanError:
    return PlanError(text(f"plan.{key}", **values))


async def create_plan(factory: Factory, year: int, actor: str, clock: Clock) -> None:
    async with unit_of_work(factory) as session:
        if await db.plan_for_year(session, year) is not None:
            raise _fail("exists", year=year)
        session.add(AnnualPlan(year=year, created_by=actor, created_at=clock()))
        await audit.append(
            session, [audit.Change(actor, "plan:create", "annual_plans", str(year))], clock()
        )


async def add_need(
    factory: Factory,
    year: int,
    *,
    unit: str,
    items: list[str],
    scope: str,
    ratio: Decimal,
    timing: str,
    supplement: bool,
    actor: str,
    clock: Clock,
    policy: Policy = DEFAULT_POLICY,
) -> int:
    async with unit_of_work(factory) as session:
        plan = await db.plan_for_year(session, year)
        if plan is None:
            raise _fail("no_plan", year=year)
        found = await db.unit_by_name(session, unit)
        if found is None:
            raise _fail("no_unit", name=unit)
        known = {item.code for item in await current_items(session, items)}
        missing = [code for code in items if code not in known]
        if missing:
            raise _fail("no_item", codes=missing)
        shown = [
            (text("plan.public_field", name=k), v)
            for k, v in (("scope", scope), ("timing", timing))
        ]
        if hits := typed_personal_data(shown, await load_people(session)):
            raise _fail("personal_data", lines=hits)
        # Once any need has been decided, the plan stands: what comes later is a supplement.
        late = any(n.state is not DecisionState.PENDING for n in plan.needs)
        need = PlanNeed(
            plan_id=plan.id,
            unit_id=found.id,
            items=items,
            scope=scope,
            proposed_ratio=ratio,
            timing=timing,
            supplement=supplement or late,
            state=DecisionState.PENDING,
            proposed_by=actor,
            proposed_at=clock(),
        )
        session.add(need)
        await session.flush()
        await audit.append(
            session,
            [
                audit.Change(
                    actor,
                    "plan:need",
                    "plan_needs",
                    str(need.id),
                    None,
                    {
                        "year": year,
                        "unit": unit,
                        "items": items,
                        "scope": scope,
                        "ratio": f"{ratio.normalize():f}",
                        "timing": timing,
                        "supplement": need.supplement,
                    },
                )
            ],
            clock(),
        )
        step = Step(session, policy, clock(), actor)
        await approvals.request(
            step,
            kind=NEED,
            subject_id=need.id,
            role="leader",
            approvers=await people_db.leaders(session),
            requested_by=await db.find_person(session, actor),
            reason="",
        )
        return need.id


async def decide_need(
    factory: Factory,
    need_id: int,
    *,
    approve: bool,
    comment: str | None,
    approver: str,
    clock: Clock,
    policy: Policy = DEFAULT_POLICY,
) -> PlanNeed:
    """Approve or reject a need as ``approver`` (a person reference), who must be a leader:
    the same request the leaders see in chat."""
    async with unit_of_work(factory) as session:
        person = await db.find_person(session, approver)
        if person is None:
            raise _fail("no_person", ref=approver)
        if not person.is_leader:
            raise _fail("not_leader", name=person.name)
        need = await db.need_by_id(session, need_id)
        if need is None:
            raise _fail("no_need", id=need_id)
        if need.state is not DecisionState.PENDING:
            raise _fail("decided", id=need_id, state=need.state.value, by=need.decided_by)
        step = Step(session, policy, clock(), person.name)
        pending = await people_db.pending_for_subject(session, NEED, need.id)
        request = pending[0] if pending else await _request_quietly(step, need)
        replies = await approvals.decide(step, request, person, approve, comment or "")
        if need.state is DecisionState.PENDING:  # refused: the reply says why
            raise PlanError(replies[0].text)
        return need


async def _request_quietly(step: Step, need: PlanNeed) -> Approval:
    """A request for a need proposed before needs were approved in chat; nobody is sent it."""
    return await approvals.request(
        step,
        kind=NEED,
        subject_id=need.id,
        role="leader",
        approvers=[],
        requested_by=None,
        reason="",
    )


async def _describe_need(step: Step, approval: Approval) -> tuple[str, str]:
    need = await db.need_by_id(step.session, approval.subject_id)
    assert need is not None
    return text("approve.need_title", supplement=need.supplement), text(
        "approve.need_summary",
        year=need.plan.year,
        unit=need.unit.name,
        items=need.items,
        ratio=f"{need.proposed_ratio.normalize():f}",
        timing=need.timing,
        scope=need.scope,
    )


async def _apply_need(step: Step, approval: Approval, decider: Person, approve: bool) -> None:
    need = await db.need_by_id(step.session, approval.subject_id)
    assert need is not None
    if need.state is not DecisionState.PENDING:
        return
    before = {"state": need.state.value}
    need.state = DecisionState.APPROVED if approve else DecisionState.REJECTED
    need.decided_by, need.decided_at, need.comment = decider.name, step.now, approval.comment
    await step.audit(
        "plan:decide",
        "plan_needs",
        need.id,
        before,
        {"state": need.state.value, "comment": approval.comment},
    )
    proposer = await db.find_person(step.session, need.proposed_by)
    if proposer is not None and proposer.id != decider.id:
        step.send(
            proposer,
            Outgoing.plain(
                text(
                    "approve.need_decided",
                    id=need.id,
                    approved=approve,
                    by=decider.name,
                    comment=approval.comment or "",
                )
            ),
        )


async def _lock_need(step: Step, approval: Approval) -> None:
    await db.need_by_id(step.session, approval.subject_id)  # SELECT … FOR UPDATE


approvals.register(NEED, approvals.Kind(_describe_need, _apply_need, _lock_need))


async def plan_view(factory: Factory, year: int) -> dict[str, Any]:
    async with factory() as session:
        plan = await db.plan_for_year(session, year)
        if plan is None:
            raise _fail("no_plan", year=year)
        return {
            "year": plan.year,
            "created_by": plan.created_by,
            "created_at": utc_iso(plan.created_at),
            "needs": [
                {
                    "id": n.id,
                    "unit": n.unit.name,
                    "items": n.items,
                    "scope": n.scope,
                    "ratio": float(n.proposed_ratio),
                    "timing": n.timing,
                    "supplement": n.supplement,
                    "state": n.state.value,
                    "proposed_by": n.proposed_by,
                    "proposed_at": utc_iso(n.proposed_at),
                    "decided_by": n.decided_by,
                    "decided_at": utc_iso(n.decided_at) if n.decided_at else None,
                    "comment": n.comment,
                }
                for n in plan.needs
            ],
        }
