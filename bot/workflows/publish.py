"""Publication's use cases (issue 17): whom the personal-data scan looks for, a campaign's
results publication (prepared from its approved reports, scanned, approved by a bureau leader
through the approval engine, published and its deadline closed, late or not), and the results
export for other systems.

The scan itself is bot.registry.scan (pure but for reading files); this reads the registries
it needs: every person (officers, leaders, witnesses, admins: names and WeCom / DingTalk
accounts), and what is public by law — the employers' registered names and USCCs, and the
bureau's units' names.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.draw.record import canonical, sha256_text
from bot.platforms.messages import Outgoing
from bot.registry.personal import People, Person
from bot.registry.scan import Hit, scan_rows, scan_text
from bot.workflows import approvals, deadlines
from bot.workflows.step import Policy, Step
from storage import assignments as assignment_db
from storage import publications as publication_db
from storage import reports as report_db
from storage.campaigns import find_person
from storage.engine import unit_of_work
from storage.findings import teams_of_campaign
from storage.models import Approval, Campaign, Entity, Publication, PublicationState, Unit
from storage.models import Person as PersonRow

Factory = async_sessionmaker[AsyncSession]
Clock = Callable[[], dt.datetime]


async def load_people(session: AsyncSession) -> People:
    rows = await session.execute(
        select(PersonRow.name, PersonRow.wecom_userid, PersonRow.dingtalk_userid).order_by(
            PersonRow.id
        )
    )
    persons = tuple(
        Person(name, tuple(a for a in (wecom, dingtalk) if a)) for name, wecom, dingtalk in rows
    )
    employers = (await session.execute(select(Entity.name, Entity.uscc))).all()
    units = (await session.execute(select(Unit.name))).scalars().all()
    return People(
        persons=persons,
        public_names=frozenset([name for name, _ in employers] + list(units)),
        public_codes=frozenset(uscc for _, uscc in employers),
    )


def typed_personal_data(fields: Sequence[tuple[str, str]], people: People) -> list[str]:
    """Personal data in text typed now and published later (a campaign's name, a plan need's
    scope), a line per hit naming the field by its label. Refused where it is typed: once
    committed or approved it cannot change, and the public site's scan would refuse every
    build after."""
    return [
        text(
            "publish.typed_hit",
            field=label,
            kind=text("publish.kind", value=hit.kind.value),
            masked=hit.masked,
        )
        for label, value in fields
        for hit in scan_text(value, people)
    ]


async def people_to_look_for(factory: Factory) -> People:
    """What the personal-data scan looks for, and what it lets stand, as the registries say."""
    async with factory() as session:
        return await load_people(session)


# --- the results publication (issue 17 §1) ---------------------------------------------------

KIND = "publication"  # the approval engine's kind
# What a published row holds, in order: nothing else ever leaves (no free text, no officers).
COLUMNS = ("name", "uscc", "campaign", "items", "checked_on", "unit", "result_category")
MEASURE = "measure"
SEPARATOR = " / "  # between several items, dates or categories of one employer


class PublishError(Exception):
    """A publication step that cannot be done; the message is ready for the user."""


def shows_measure(use_of_results: str) -> bool:
    """The campaign's 「结果运用」 (``use_of_results``) says the follow-up measure is published:
    it names one of the words of ``publish.measure_words``."""
    words = [w for w in text("publish.measure_words").split("|") if w]
    return any(w in use_of_results for w in words)


def _joined(values: Sequence[object]) -> str:
    return SEPARATOR.join(dict.fromkeys(str(v) for v in values if v))


def results_rows(
    contents: Sequence[dict[str, Any]], campaign_name: str, unit: str, with_measure: bool
) -> list[dict[str, str]]:
    """The published rows, one per employer, from the approved reports' content: only the
    named columns (the measure where the campaign says so), never a finding's free text."""
    rows = []
    for content in contents:
        for employer in content["employers"]:
            results = employer["results"]
            row = {
                "name": str(employer["name"]),
                "uscc": str(employer["uscc"]),
                "campaign": campaign_name,
                "items": _joined([r["item_name"] for r in results]),
                "checked_on": _joined(sorted(str(r["checked_on"] or "") for r in results)),
                "unit": unit,
                "result_category": _joined([r["result_category"] for r in results]),
            }
            if with_measure:
                row[MEASURE] = _joined([r["measure"] for r in results])
            rows.append(row)
    return sorted(rows, key=lambda r: (r["uscc"], r["name"]))


def rows_sha256(rows: list[dict[str, str]]) -> str:
    return sha256_text(canonical(rows))


def _columns(with_measure: bool) -> tuple[str, ...]:
    return (*COLUMNS, MEASURE) if with_measure else COLUMNS


def hit_line(hit: Hit) -> str:
    """One hit of the scan as people read it: file, place, kind and the data masked."""
    return text(
        "publish.hit",
        file=hit.file,
        place=text("publish.place", p=hit.place),
        kind=text("publish.kind", value=hit.kind.value),
        masked=hit.masked,
    )


def refusal(hits: Sequence[Hit], employers: Sequence[str], headers: Sequence[str]) -> str:
    """What the staff are told when the scan of a table (a header row, then one row per
    employer) finds something: each place (row, employer, column)."""
    lines = [
        text(
            "publish.row_hit",
            row=hit.place.line - 1,
            employer=employers[hit.place.line - 2] if hit.place.line >= 2 else "",
            column=headers[hit.place.column - 1],
            kind=text("publish.kind", value=hit.kind.value),
            masked=hit.masked,
        )
        for hit in hits
    ]
    return text("publish.rows_refused", count=len(hits), lines=lines)


def _labels(columns: Sequence[str]) -> list[str]:
    return [text("publish.column", name=c) for c in columns]


def _scanned(rows: list[dict[str, str]], columns: Sequence[str], people: People) -> None:
    table = [list(columns), *[[r.get(c, "") for c in columns] for r in rows]]
    hits = scan_rows(table, people)
    if hits:
        raise PublishError(refusal(hits, [r["name"] for r in rows], _labels(columns)))


async def ask_bureau_leaders(step: Step, kind: str, subject_id: int) -> Approval:
    """Ask every reachable bureau leader but the one preparing it to approve a publication
    (results or a penalty decision) in chat; refused when nobody can."""
    preparer = await find_person(step.session, step.actor)
    deciders = [
        p
        for p in await assignment_db.leaders(step.session)
        if step.policy.address(p) and (preparer is None or p.id != preparer.id)
    ]
    if not deciders:
        raise PublishError(text("publish.no_approver"))
    return await approvals.request(
        step,
        kind=kind,
        subject_id=subject_id,
        role="bureau_leader",
        approvers=deciders,
        requested_by=preparer,
        reason="",
    )


async def prepare(
    factory: Factory, campaign_id: int, actor: str, clock: Clock, policy: Policy
) -> Publication:
    """Prepare a reported campaign's results publication from its approved reports, prove it
    holds no personal data, and ask the bureau's leaders to approve it."""
    async with unit_of_work(factory) as session:
        campaign = await assignment_db.lock_campaign(session, campaign_id)
        if campaign is None:
            raise PublishError(text("campaign.no_campaign", id=campaign_id))
        if campaign.reported_on is None:
            raise PublishError(text("publish.not_reported", name=campaign.name))
        found = await publication_db.of_campaign(session, campaign.id, lock=True)
        if found is not None and found.state is PublicationState.PUBLISHED:
            raise PublishError(text("publish.already_published", name=campaign.name))
        if found is not None and found.state is PublicationState.PENDING:
            raise PublishError(text("publish.already_pending", name=campaign.name))
        reports = await report_db.reports_of_campaign(session, campaign.id)
        unit = await session.get(Unit, campaign.unit_id)
        with_measure = shows_measure(campaign.use_of_results)
        rows = results_rows(
            [r.content for r in reports], campaign.name, unit.name if unit else "", with_measure
        )
        _scanned(rows, _columns(with_measure), await load_people(session))
        step = Step(session, policy, clock(), actor)
        if found is None:
            found = Publication(campaign_id=campaign.id, late=False)
            session.add(found)
        found.state, found.rows, found.with_measure = PublicationState.PENDING, rows, with_measure
        found.content_sha256, found.prepared_by, found.prepared_at = (
            rows_sha256(rows),
            actor,
            step.now,
        )
        await session.flush()
        request = await ask_bureau_leaders(step, KIND, found.id)
        found.approval_id = request.id
        await step.audit(
            "publication:prepare",
            "publications",
            found.id,
            None,
            {
                "campaign": campaign.id,
                "rows": len(rows),
                "with_measure": with_measure,
                "content_sha256": found.content_sha256,
                "approval": request.id,
            },
        )
        return found


async def _describe(step: Step, approval: Approval) -> tuple[str, str]:
    found = await step.session.get(Publication, approval.subject_id)
    assert found is not None
    campaign = await step.session.get(Campaign, found.campaign_id)
    assert campaign is not None
    categories = collections.Counter(r["result_category"] for r in found.rows)
    summary = text(
        "publish.approval_summary",
        campaign=campaign.name,
        employers=len(found.rows),
        categories=sorted(categories.items()),
        with_measure=found.with_measure,
    )
    return text("publish.approval_title"), summary


async def _lock(step: Step, approval: Approval) -> None:
    found = await step.session.get(Publication, approval.subject_id)
    if found is not None:
        await assignment_db.lock_campaign(step.session, found.campaign_id)
        await publication_db.of_campaign(step.session, found.campaign_id, lock=True)


async def _apply(step: Step, approval: Approval, decider: PersonRow, approve: bool) -> None:
    found = await step.session.get(Publication, approval.subject_id)
    assert found is not None
    campaign = await step.session.get(Campaign, found.campaign_id)
    assert campaign is not None
    unit_leaders = await assignment_db.leaders(step.session, campaign.unit_id)
    if not approve:
        found.state = PublicationState.REJECTED
        await step.audit(
            "publication:reject",
            "publications",
            found.id,
            {"state": "pending"},
            {"state": "rejected", "by": decider.name, "comment": approval.comment},
        )
        # Back to whoever can change what it rests on: the unit's leaders (who may reopen a
        # report) and every team leader of the campaign.
        told: dict[int, PersonRow] = {p.id: p for p in unit_leaders}
        for team in await teams_of_campaign(step.session, campaign.id):
            leader = await step.session.get(PersonRow, team.leader_id)
            if leader is not None:
                told[leader.id] = leader
        notice = text(
            "publish.rejected_notice",
            name=campaign.name,
            by=decider.name,
            comment=approval.comment or "",
        )
        for person in told.values():
            if person.id != decider.id:
                step.send(person, Outgoing.plain(notice))
        return
    found.state, found.published_at = PublicationState.PUBLISHED, step.now
    found.late = await deadlines.campaign_published(step, campaign)
    await step.audit(
        "publication:publish",
        "publications",
        found.id,
        {"state": "pending"},
        {
            "state": "published",
            "by": decider.name,
            "content_sha256": found.content_sha256,
            "late": found.late,
        },
    )
    notice = text(
        "publish.published_notice", name=campaign.name, rows=len(found.rows), late=found.late
    )
    for person in unit_leaders:
        if person.id != decider.id:
            step.send(person, Outgoing.plain(notice))


approvals.register(KIND, approvals.Kind(_describe, _apply, _lock))


# --- the export for other systems (issue 17 §3) ----------------------------------------------


@dataclass(frozen=True)
class Export:
    headers: list[str]
    rows: list[list[str]]


async def results_export(factory: Factory, campaign_id: int) -> Export:
    """One row per employer × campaign for the national enterprise credit publicity system
    and the provincial platform (名称, 统一社会信用代码, 抽查类型, 抽查机关, 抽查日期, 抽查结果),
    from a published publication only, scanned before anything is written."""
    async with factory() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            raise PublishError(text("campaign.no_campaign", id=campaign_id))
        found = await publication_db.of_campaign(session, campaign_id)
        if found is None or found.state is not PublicationState.PUBLISHED:
            raise PublishError(text("publish.not_published", name=campaign.name))
        people = await load_people(session)
    headers = [text("publish.export_header", index=i) for i in range(6)]
    kind = text("publish.check_kind")
    rows = [
        [
            r["name"],
            r["uscc"],
            kind,
            r["unit"],
            r["checked_on"].split(SEPARATOR)[-1],  # sorted: the day the checks ended
            r["result_category"],
        ]
        for r in found.rows
    ]
    hits = scan_rows([headers, *rows], people)
    if hits:
        raise PublishError(refusal(hits, [row[0] for row in rows], _labels(EXPORT_KEYS)))
    return Export(headers, rows)


EXPORT_KEYS = ("name", "uscc", "check_kind", "unit", "checked_on", "result_category")
