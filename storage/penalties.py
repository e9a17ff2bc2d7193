"""Penalty decisions (issue 17 §1): read, locked and listed for bot.workflows.penalties, and the
published ones for the public site."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Entity, Finding, FindingState, Penalty, PenaltyState


async def penalty(session: AsyncSession, penalty_id: int, *, lock: bool = False) -> Penalty | None:
    query = select(Penalty).where(Penalty.id == penalty_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar()


async def numbers_taken(session: AsyncSession, numbers: Sequence[str]) -> set[str]:
    if not numbers:
        return set()
    rows = await session.execute(select(Penalty.number).where(Penalty.number.in_(list(numbers))))
    return set(rows.scalars())


async def entities_by_uscc(session: AsyncSession, usccs: Sequence[str]) -> dict[str, Entity]:
    if not usccs:
        return {}
    rows = await session.execute(select(Entity).where(Entity.uscc.in_(sorted(set(usccs)))))
    return {e.uscc: e for e in rows.scalars()}


async def submitted_findings(
    session: AsyncSession, entity_ids: Sequence[int]
) -> dict[int, list[Finding]]:
    """Each employer's submitted findings (what a spot check found there), oldest first."""
    found: dict[int, list[Finding]] = {i: [] for i in entity_ids}
    if not entity_ids:
        return found
    rows = await session.execute(
        select(Finding)
        .where(Finding.entity_id.in_(sorted(set(entity_ids))))
        .where(Finding.state == FindingState.SUBMITTED)
        .order_by(Finding.id)
    )
    for finding in rows.scalars():
        found[finding.entity_id].append(finding)
    return found


async def listing(
    session: AsyncSession, *, state: PenaltyState | None = None
) -> list[tuple[Penalty, Entity]]:
    """Decisions with their employer, by decision date and number."""
    query = (
        select(Penalty, Entity)
        .join(Entity, Entity.id == Penalty.entity_id)
        .order_by(Penalty.decided_on, Penalty.number)
    )
    if state is not None:
        query = query.where(Penalty.state == state)
    return [(p, e) for p, e in await session.execute(query)]


async def published_penalties(session: AsyncSession) -> list[tuple[Penalty, Entity]]:
    """What the public may see (the public site reads it): published decisions with their
    employer, ordered by decision date, then number."""
    return await listing(session, state=PenaltyState.PUBLISHED)
