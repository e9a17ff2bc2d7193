"""Campaigns and their draw: create from a spec, commit (freeze and publish), run, export, show.

Owns the order of operations and their rules: who is in the pools (the exclusion window and the
yearly cap, certificates in force for the whole window), whether a draw can be filled at all,
that a second run needs a reason, and that every step is audited. The arithmetic of the draw is
bot.draw; the rows are storage.campaigns.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import render, text
from bot.base.times import utc_iso as iso
from bot.draw.engine import Stratum, team_total
from bot.draw.pools import PastDraw, employer_rules, feasible, history_span
from bot.draw.record import (
    FORMATS,
    PRIVATE,
    RECORD_FORMAT,
    broken_link,
    canonical,
    chain_heads,
    chained,
    commitment_document,
    commitment_sha256,
    private_difference,
    public_record,
    recompute,
    sha256_text,
    source_names,
    with_private,
)
from bot.draw.strata import stratum_of
from bot.registry.fields import labels
from bot.workflows import assignments, deadlines
from bot.workflows.campaign_spec import CampaignSpec
from bot.workflows.publish import load_people, typed_personal_data
from bot.workflows.step import DEFAULT_POLICY, Policy, Step
from handlers.commands import DrawToCheck
from storage import assignments as assignment_db
from storage import audit
from storage import campaigns as db
from storage.engine import unit_of_work
from storage.models import (
    AbsenceApprover,
    AssignmentRole,
    Campaign,
    CampaignState,
    DecisionState,
    DrawCommitment,
    DrawReseed,
    DrawRun,
    PlanNeed,
)
from storage.officers import officers_in_force

Clock = Callable[[], dt.datetime]
Salt = Callable[[], str]


def new_salt() -> str:
    """A private part's salt: with it, a name cannot be guessed from the part's digest."""
    return secrets.token_hex(16)


Factory = async_sessionmaker[AsyncSession]


class CampaignError(Exception):
    """A campaign step that cannot be done; the message is ready for the user."""


class Embargoed(CampaignError):
    """A confidential campaign's draw, asked for before its inspections end."""


def _fail(key: str, **values: Any) -> CampaignError:
    return CampaignError(text(f"campaign.{key}", **values))


async def _campaign(session: AsyncSession, campaign_id: int, *, lock: bool = False) -> Campaign:
    campaign = await db.campaign_by_id(session, campaign_id, lock=lock)
    if campaign is None:
        raise _fail("no_campaign", id=campaign_id)
    return campaign


@dataclass(frozen=True)
class Created:
    """A new campaign, and the earlier ones it is identical to (the same file twice?)."""

    id: int
    twins: tuple[int, ...] = ()


def declines_closed_on(spec: CampaignSpec, policy: Policy) -> dt.date:
    """The day 「无法参加」 closes for everyone drawn for this campaign."""
    return spec.start - dt.timedelta(days=policy.decline_closes_days_before_start)


# What makes two campaigns the same campaign: everything the file says.
_SAME = (
    "name", "unit_id", "plan_need_id", "items", "start_on", "end_on", "purpose", "methods",
    "officers_per_team", "team_count", "leader_ids", "confidential", "use_of_results",
    "absence_approver", "exclusion_months", "yearly_cap", "algorithm", "strata",
    "entropy_sources", "officer_exclusions",
)  # fmt: skip


def _published_text(spec: CampaignSpec) -> list[tuple[str, str]]:
    """The plan's free text that the public site, the public draw record or the list to publish
    at ``draw commit`` show, by field; not a witness's name (published as 监督人N)."""
    shown = [("name", spec.name), ("purpose", spec.purpose)]
    shown.append(("use_of_results", spec.use_of_results))
    for source in spec.entropy:
        if source.kind != "witness":
            shown.append(("entropy_name", source.name))
        shown.append(("entropy_description", source.description))
    return shown


async def create_campaign(
    factory: Factory,
    spec: CampaignSpec,
    actor: str,
    clock: Clock,
    *,
    policy: Policy = DEFAULT_POLICY,
    allow_past: bool = False,
) -> Created:
    """Create a draft campaign. Refused when 「无法参加」 would already be closed for every
    officer drawn (a start today or past, by the bureau's calendar) unless ``allow_past``: a
    campaign entered after the fact."""
    today = clock().astimezone(policy.tz).date()
    if not allow_past and today >= declines_closed_on(spec, policy):
        raise _fail(
            "start_too_soon",
            start=spec.start.isoformat(),
            closed=declines_closed_on(spec, policy).isoformat(),
            today=today.isoformat(),
        )
    async with unit_of_work(factory) as session:
        unit = await db.unit_by_name(session, spec.unit)
        if unit is None:
            raise _fail("no_unit", name=spec.unit)
        shown = [(text("campaign.public_field", name=k), v) for k, v in _published_text(spec)]
        if found := typed_personal_data(shown, await load_people(session)):
            raise _fail("personal_data", lines=found)
        items = await db.items_in_force(session, spec.items, spec.start)
        missing = [code for code in spec.items if code not in items]
        if missing:
            raise _fail("no_item", codes=missing, day=spec.start.isoformat())
        leader_ids: list[int] = []
        for ref in spec.leaders:
            person = await db.find_person(session, ref)
            if person is None:
                raise _fail("no_person", ref=ref)
            if not (person.is_leader or person.team_leader_eligible):
                raise _fail("not_leader", name=person.name)
            if person.id in leader_ids:
                raise _fail("leader_twice", name=person.name)
            leader_ids.append(person.id)
        if spec.teams is not None and len(leader_ids) < spec.teams:
            raise _fail("too_few_leaders", teams=spec.teams, leaders=len(leader_ids))
        exclusions = []
        for exclusion in spec.exclude_officers:
            person = await db.find_person(session, exclusion.officer)
            if person is None:
                raise _fail("no_person", ref=exclusion.officer)
            exclusions.append({"person_id": person.id, "reason": exclusion.reason})
        if spec.plan_need is not None:
            need = await db.need_by_id(session, spec.plan_need)
            _check_need(need, spec)
        campaign = Campaign(
            name=spec.name,
            unit_id=unit.id,
            plan_need_id=spec.plan_need,
            items=[
                {"code": i.code, "version": i.version, "name": i.name}
                for i in (items[c] for c in spec.items)
            ],
            start_on=spec.start,
            end_on=spec.end,
            purpose=spec.purpose,
            methods=list(spec.methods),
            officers_per_team=spec.officers_per_team,
            team_count=spec.teams,
            leader_ids=leader_ids,
            confidential=spec.confidential,
            use_of_results=spec.use_of_results,
            absence_approver=AbsenceApprover(spec.absence_approver),
            exclusion_months=spec.exclusion_months,
            yearly_cap=spec.yearly_cap,
            algorithm=spec.algorithm,
            strata=[
                {"label": s.label, "ratio": f"{s.ratio.normalize():f}", "minimum": s.minimum}
                for s in spec.strata
            ],
            entropy_sources=[
                {"name": e.name, "kind": e.kind, "description": e.description} for e in spec.entropy
            ],
            officer_exclusions=exclusions,
            state=CampaignState.DRAFT,
            created_by=actor,
            created_at=clock(),
        )
        earlier = await db.campaigns_named(session, spec.name, spec.start, spec.end)
        twins = tuple(
            c.id for c in earlier if all(getattr(c, k) == getattr(campaign, k) for k in _SAME)
        )
        session.add(campaign)
        await session.flush()
        await audit.append(
            session,
            [
                audit.Change(
                    actor,
                    "campaign:create",
                    "campaigns",
                    str(campaign.id),
                    None,
                    {
                        "name": spec.name,
                        "unit": spec.unit,
                        "items": list(spec.items),
                        "start": spec.start.isoformat(),
                        "end": spec.end.isoformat(),
                    },
                )
            ],
            clock(),
        )
        return Created(campaign.id, twins)


def _check_need(need: PlanNeed | None, spec: CampaignSpec) -> None:
    if need is None:
        raise _fail("no_need", id=spec.plan_need)
    if need.state is not DecisionState.APPROVED:
        raise _fail("need_not_approved", id=need.id)
    if need.unit.name != spec.unit:
        raise _fail("need_other_unit", id=need.id, unit=need.unit.name)
    if need.plan.year != spec.start.year:
        raise _fail("need_other_year", id=need.id, year=need.plan.year)
    outside = [code for code in spec.items if code not in need.items]
    if outside:
        raise _fail("need_items", id=need.id, codes=outside)


async def _employer_strata(
    session: AsyncSession, campaign: Campaign, leader_recusals: dict[str, set[str]]
) -> tuple[list[Stratum], list[dict[str, str]]]:
    """The frozen employer pool split into strata (each in USCC order), and who was left out
    by which rule (bot.draw.pools)."""
    start = campaign.start_on
    since, until = history_span(start, campaign.exclusion_months)
    history = [PastDraw(*row) for row in await db.drawn_between(session, since, until, campaign.id)]
    rules = employer_rules(
        start,
        campaign.exclusion_months,
        campaign.yearly_cap,
        frozenset(item["code"] for item in campaign.items),
        history,
        leader_recusals,
        len(campaign.leader_ids),
    )
    members: dict[str, list[str]] = {s["label"]: [] for s in campaign.strata}
    excluded = []
    async for row in db.active_employers(session):
        rule = rules.exclusion(row.uscc, row.last_inspected)
        if rule is not None:
            excluded.append({"uscc": row.uscc, "rule": rule})
            continue
        label = stratum_of(row.complaints_12m, row.serious_violation, row.credit_grade)
        if label in members:
            members[label].append(row.uscc)
    strata = [
        # Sorted here, not by the database: collations differ, the record's order must not.
        Stratum(
            s["label"], Decimal(s["ratio"]), int(s["minimum"]), tuple(sorted(members[s["label"]]))
        )
        for s in campaign.strata
    ]
    return strata, sorted(excluded, key=lambda e: e["uscc"])


async def commit_draw(
    factory: Factory,
    campaign_id: int,
    actor: str,
    clock: Clock,
    make_secret: Callable[[], str] = lambda: str(secrets.randbits(256)),
    make_salt: Salt = new_salt,
) -> dict[str, Any]:
    """Freeze the pools and publish what the draw will use; returns the commitment document."""
    async with unit_of_work(factory) as session:
        campaign = await _campaign(session, campaign_id, lock=True)
        if campaign.state is not CampaignState.DRAFT:
            raise _fail("already_committed", id=campaign_id)
        keys = await db.person_keys(session, campaign.leader_ids)
        key_of = _leader_keys(campaign.leader_ids, keys)
        leader_recusals: dict[str, set[str]] = {}
        for pid, uscc in await db.recusal_pairs(session, campaign.leader_ids, None):
            leader_recusals.setdefault(key_of[pid], set()).add(uscc)
        strata, employer_exclusions = await _employer_strata(session, campaign, leader_recusals)
        reasons = {e["person_id"]: e["reason"] for e in campaign.officer_exclusions}
        in_force = await officers_in_force(session, campaign.end_on)
        pool = sorted(
            (number, pid)
            for pid, number in in_force
            if pid not in reasons and pid not in campaign.leader_ids
        )
        employers = sum(s.count for s in strata)
        teams = team_total(employers, campaign.team_count)
        if employers == 0:
            raise _fail("no_employers")
        if len(campaign.leader_ids) < teams:
            raise _fail("too_few_leaders", teams=teams, leaders=len(campaign.leader_ids))
        pool_usccs = {e for s in strata for e in s.entries}
        number_of = {pid: number for number, pid in pool}
        recusals = [
            (number_of[pid], uscc)
            for pid, uscc in await db.recusal_pairs(session, list(number_of), pool_usccs)
        ]
        recused_officers = len({officer for officer, _ in recusals})
        if not feasible(len(pool), teams, campaign.officers_per_team, recused_officers):
            needed = teams * campaign.officers_per_team + recused_officers
            raise _fail("too_few_officers", needed=needed, available=len(pool))
        recusals += [
            (leader, uscc)
            for leader, usccs in leader_recusals.items()
            for uscc in usccs
            if uscc in pool_usccs
        ]
        excluded_keys = await db.person_keys(session, list(reasons))
        secret = make_secret()
        committed_at = clock()
        document = commitment_document(
            campaign=_campaign_summary(campaign),
            algorithm=campaign.algorithm,
            strata=strata,
            officers=[number for number, _ in pool],
            leaders=[key_of[pid] for pid in campaign.leader_ids],
            recusals=recusals,
            sources=public_sources(campaign.entropy_sources),
            secret_sha256=sha256_text(secret),
            committed_at=iso(committed_at),
            private={
                "salt": make_salt(),
                "committed_by": actor,
                "entropy_sources": campaign.entropy_sources,
                # Free text, which may name or describe a person: kept, never published.
                "officer_exclusions": dict(
                    sorted((excluded_keys[pid], reason) for pid, reason in reasons.items())
                ),
            },
        )
        # Who was left out (the reasons are private): informative, not used to recompute.
        document["officer_exclusions"] = sorted(
            key for key in (excluded_keys[pid] for pid in reasons) if not _is_account(key)
        )
        document["employer_exclusions"] = employer_exclusions
        body = canonical(document)
        digest = commitment_sha256(document)
        session.add(
            DrawCommitment(
                campaign_id=campaign.id,
                committed_at=committed_at,
                committed_by=actor,
                document=body,
                document_sha256=digest,
                secret=secret,
            )
        )
        campaign.state = CampaignState.COMMITTED
        await audit.append(
            session,
            [
                audit.Change(
                    actor,
                    "draw:commit",
                    "campaigns",
                    str(campaign.id),
                    None,
                    {
                        "document_sha256": digest,
                        "employer_pool_sha256": document["employer_pool_sha256"],
                        "officer_pool_sha256": document["officers"]["sha256"],
                        "secret_sha256": document["secret_sha256"],
                        "counts": {s["label"]: s["count"] for s in document["strata"]},
                    },
                )
            ],
            committed_at,
        )
        document["document_sha256"] = digest  # for the announcement; not part of the hash
        return document


def _is_account(key: str) -> bool:
    """Whether a person's key (storage.campaigns.person_keys) is a platform account, which is
    personal, rather than a certificate number, which is public by law."""
    return key.startswith(("wecom:", "dingtalk:"))


def _leader_keys(leader_ids: list[int], keys: dict[int, str]) -> dict[int, str]:
    """How the record names each leader: by certificate number, or — a bureau leader may lead
    a team without one — by 「组长2」 (their place in the list), never by a platform account,
    for the record is published. Only the private part has their name."""
    return {
        pid: text("campaign.leader_key", n=n) if _is_account(keys[pid]) else keys[pid]
        for n, pid in enumerate(leader_ids, start=1)
    }


def public_sources(sources: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entropy sources as a v3 record publishes them: a witness by its kind and number
    (「监督人1」), for its name is a person's; a lottery and the like as named, with the draw's
    description that anyone can look up."""
    published, witnesses = [], 0
    for source in sources:
        if source["kind"] == "witness":
            witnesses += 1
            label = text("campaign.witness_source", n=witnesses)
            # Every source has the same keys; a witness's own description stays private.
            published.append({"name": label, "kind": "witness", "description": ""})
        else:
            published.append(dict(source))
    names = [s["name"] for s in published]
    if len(set(names)) != len(names):  # a lottery named like a witness label: keep them apart
        return [{**s, "name": f"{i}. {s['name']}"} for i, s in enumerate(published, start=1)]
    return published


def _campaign_summary(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "unit": campaign.unit.name,
        "items": campaign.items,
        "start": campaign.start_on.isoformat(),
        "end": campaign.end_on.isoformat(),
        "officers_per_team": campaign.officers_per_team,
        "teams": campaign.team_count,
        "confidential": campaign.confidential,
    }


async def _intact_commitment(session: AsyncSession, campaign_id: int) -> DrawCommitment:
    """The campaign's commitment, refused if its document no longer hashes to what was
    published (and chained into the audit log) at commit."""
    commitment = await db.commitment_of(session, campaign_id)
    if commitment is None:
        raise _fail("not_committed", id=campaign_id)
    published = await audit.latest_after(session, "draw:commit", "campaigns", str(campaign_id))
    document = json.loads(commitment.document)
    if document.get("format") not in FORMATS:
        raise _fail("old_record_format", id=campaign_id, format=RECORD_FORMAT)
    digest = commitment_sha256(document)
    if (
        digest != commitment.document_sha256
        or (published or {}).get("document_sha256") != digest
        or canonical(document) != commitment.document  # nothing beside it, as stored
        or private_difference("", document, document.get("format") == RECORD_FORMAT)
    ):
        raise _fail("commitment_changed", id=campaign_id)
    return commitment


async def _intact_runs(
    session: AsyncSession, campaign_id: int, commitment: DrawCommitment, document: dict[str, Any]
) -> list[dict[str, Any]]:
    """The campaign's runs after its (intact) commitment and document, refused unless they
    are still the unbroken chain whose head the audit log recorded at the last run: a run
    changed, dropped or added since is refused."""
    runs = [json.loads(row.result) for row in await db.runs_of(session, campaign_id)]
    logged = await audit.latest_after(session, "draw:run", "campaigns", str(campaign_id))
    head = runs[-1]["sha256"] if runs else None
    v3 = document["format"] == RECORD_FORMAT
    if (
        broken_link(commitment.document_sha256, runs, v3) is not None
        or (logged or {}).get("seq") != (len(runs) or None)
        or (logged or {}).get("run_sha256") != head
    ):
        raise _fail("runs_changed", id=campaign_id)
    return runs


async def reseed_draw(
    factory: Factory,
    campaign_id: int,
    reason: str,
    actor: str,
    clock: Clock,
    make_secret: Callable[[], str] = lambda: str(secrets.randbits(256)),
) -> str:
    """Commit a new secret for drawing again; returns its SHA-256, to publish before the run."""
    if not reason.strip():
        raise _fail("reseed_needs_reason")
    async with unit_of_work(factory) as session:
        campaign = await _campaign(session, campaign_id, lock=True)
        runs = await db.runs_of(session, campaign.id)
        if not runs:
            raise _fail("reseed_before_run", id=campaign_id)
        if await db.reseed_for(session, campaign.id, len(runs) + 1) is not None:
            raise _fail("reseed_pending", id=campaign_id)
        secret = make_secret()
        digest = sha256_text(secret)
        session.add(
            DrawReseed(
                campaign_id=campaign.id,
                run_seq=len(runs) + 1,
                secret=secret,
                secret_sha256=digest,
                reason=reason.strip(),
                created_at=clock(),
                created_by=actor,
            )
        )
        await audit.append(
            session,
            [
                audit.Change(
                    actor,
                    "draw:reseed",
                    "campaigns",
                    str(campaign.id),
                    None,
                    {"run_seq": len(runs) + 1, "secret_sha256": digest, "reason": reason.strip()},
                )
            ],
            clock(),
        )
        return digest


NUMBER_SEPARATORS = re.compile(r"[,，、\s]+")
MAX_DIGITS = 30  # an entropy value is a number people say or a lottery prints


def entropy_numbers(typed: str) -> list[int] | None:
    """One source's numbers as people write them — 「7,42,88」, 「7，42，88」, 「7 42 88」, or
    mixed — or None unless each is a plain decimal number of at most ``MAX_DIGITS`` digits.
    The command line and the sandbox page read them alike."""
    parts = [p for p in NUMBER_SEPARATORS.split(typed) if p]
    if not parts or not all(p.isascii() and p.isdigit() and len(p) <= MAX_DIGITS for p in parts):
        return None
    return [int(p) for p in parts]


async def _revealed_secret(
    session: AsyncSession,
    campaign_id: int,
    seq: int,
    commitment: DrawCommitment,
    document: dict[str, Any],
) -> tuple[str, str]:
    """The secret run ``seq`` reveals and the SHA-256 published for it before its entropy was
    known: the commitment's for the first run, the reseed's for a later one.

    Refused unless the secret still hashes to what was published: whoever can write the
    database and knows the entropy could otherwise choose the result by choosing the secret.
    """
    if seq == 1:
        secret, published = commitment.secret, document["secret_sha256"]
    else:
        # A run after the first needs a secret committed since the last run: the old one
        # is public now, and with it whoever supplies the entropy could pick the result.
        reseed = await db.reseed_for(session, campaign_id, seq)
        if reseed is None:
            raise _fail("rerun_needs_reseed", id=campaign_id)
        # What was published is what the audit log chained at reseed, not the row's own copy.
        logged = await audit.latest_after(session, "draw:reseed", "campaigns", str(campaign_id))
        if (logged or {}).get("run_seq") != seq:
            logged = None
        published = (logged or {}).get("secret_sha256")
        if published != reseed.secret_sha256:
            raise _fail("secret_changed", id=campaign_id, seq=seq)
        secret = reseed.secret
    if sha256_text(secret) != published:
        raise _fail("secret_changed", id=campaign_id, seq=seq)
    return secret, published


def check_entropy(sources: list[dict[str, Any]], values: dict[str, list[int]]) -> None:
    declared = [s["name"] for s in sources]
    unknown = [name for name in values if name not in declared]
    if unknown:
        raise _fail("unknown_source", names=unknown, declared=declared)
    missing = [name for name in declared if name not in values]
    if missing:
        raise _fail("missing_source", names=missing)
    for name, numbers in values.items():
        if not numbers or any(n < 0 for n in numbers):
            raise _fail("bad_entropy", name=name)


async def run_draw(
    factory: Factory,
    campaign_id: int,
    values: dict[str, list[int]],
    reason: str | None,
    actor: str,
    clock: Clock,
    policy: Policy = DEFAULT_POLICY,
    make_salt: Salt = new_salt,
) -> dict[str, Any]:
    """Reveal the secret, form the key from every source, draw, and make the teams current;
    each drawn officer's assignment (and each leader's team) goes to the outbox with it."""
    async with unit_of_work(factory) as session:
        campaign = await _campaign(session, campaign_id, lock=True)
        if campaign.state is CampaignState.DRAFT:
            raise _fail("not_committed", id=campaign_id)
        commitment = await _intact_commitment(session, campaign.id)
        document = json.loads(commitment.document)
        runs = await _intact_runs(session, campaign.id, commitment, document)
        if runs and not (reason and reason.strip()):
            raise _fail("rerun_needs_reason", id=campaign_id, runs=len(runs))
        secret, secret_sha256 = await _revealed_secret(
            session, campaign.id, len(runs) + 1, commitment, document
        )
        check_entropy(campaign.entropy_sources, values)
        in_record = source_names(document)  # a witness goes by 「监督人1」 in a v3 record
        values = {in_record[name]: numbers for name, numbers in values.items()}
        try:
            key, results = recompute(document, values, secret)
        except ValueError as exc:  # an employer every leader of the drawn teams recused from
            raise _fail("unplaceable", detail=str(exc)) from exc
        run_at = clock()
        drawn_employers = [e for team in results["teams"] for e in team["employers"]]
        # The names as they stand at the draw, inside the run and so under its hash: what the
        # certificate shows of people and employers is covered like the rest.
        names = await db.names_for(session, drawn_employers, results["officer_order"])
        leaders = await db.people_by_id(session, campaign.leader_ids)
        for leader, pid in zip(document["leaders"], campaign.leader_ids, strict=True):
            names[leader] = leaders[pid].name
        reason = reason.strip() if reason else None
        run = chained(
            _run_document(
                document["format"],
                {
                    "seq": len(runs) + 1,
                    "run_at": iso(run_at),
                    "entropy_values": {name: sorted(values[name]) for name in values},
                    "secret": secret,
                    "secret_sha256": secret_sha256,
                    "key": key,
                    **results,
                },
                {"salt": make_salt(), "run_by": actor, "reason": reason, "names": names},
                set(drawn_employers),
            ),
            runs[-1]["sha256"] if runs else commitment.document_sha256,
        )
        row = DrawRun(
            campaign_id=campaign.id,
            seq=run["seq"],
            run_at=run_at,
            run_by=actor,
            reason=reason,
            result=canonical(run),
        )
        session.add(row)
        await session.flush()
        step = Step(session, policy, run_at, actor)
        await assignments.withdraw_all(step, campaign)  # a run again replaces the teams
        person_of = await db.person_ids_by_certificate(session, document["officers"]["entries"])
        entity_of = await db.ids_by_uscc(session, drawn_employers)
        await db.replace_current_teams(
            session,
            campaign.id,
            row,
            [
                {
                    "number": t["number"],
                    "leader_id": campaign.leader_ids[t["number"] - 1],
                    "entity_ids": [entity_of[e] for e in t["employers"]],
                    "member_ids": [person_of[o] for o in t["officers"]],
                    "short_by": t["short_by"],
                }
                for t in results["teams"]
            ],
            [person_of[o] for o in results["officer_order"]],
        )
        campaign.state = CampaignState.DRAWN
        await assignments.assign_drawn(step, campaign)
        await deadlines.campaign_drawn(step, campaign)
        await audit.append(
            session,
            [
                audit.Change(
                    actor,
                    "draw:run",
                    "campaigns",
                    str(campaign.id),
                    None,
                    {
                        "seq": run["seq"],
                        "key": key,
                        "reason": reason,
                        "run_sha256": run["sha256"],
                    },
                )
            ],
            run_at,
        )
        return run


def _run_document(
    form: str, run: dict[str, Any], private: dict[str, Any], employers: set[str]
) -> dict[str, Any]:
    """A run as its record's format keeps it. v3: employers' registered names in the hashed
    run (public), people's names, who ran it and the free-text reason in its private part.
    v2 (a campaign committed before v3, drawn after): all of it in the hashed run, as then."""
    names = dict(sorted(private["names"].items()))
    if form != RECORD_FORMAT:
        extra = {"run_by": private["run_by"], "reason": private["reason"], "names": names}
        return {**run, **extra}
    employer_names = {k: v for k, v in names.items() if k in employers}
    people = {k: v for k, v in names.items() if k not in employers}
    return with_private({**run, "employer_names": employer_names}, {**private, "names": people})


async def record_in(session: AsyncSession, campaign_id: int) -> dict[str, Any]:
    """The full record, private parts included, read in ``session``."""
    await _campaign(session, campaign_id)
    commitment = await _intact_commitment(session, campaign_id)
    record = json.loads(commitment.document)
    record["draws"] = await _intact_runs(session, campaign_id, commitment, record)
    return dict(record)


async def draw_record(factory: Factory, campaign_id: int) -> dict[str, Any]:
    """The full record: the commitment and every run (the secret only once revealed), with
    the private parts — the bureau's own; ``public_record`` is what may be published."""
    async with factory() as session:
        return await record_in(session, campaign_id)


async def notify_campaign(
    factory: Factory, campaign_id: int, actor: str, clock: Clock, policy: Policy = DEFAULT_POLICY
) -> int:
    """Send a drawn campaign's assignments again; how many people were sent something."""
    async with unit_of_work(factory) as session:
        campaign = await db.campaign_by_id(session, campaign_id, lock=True)
        if campaign is None:
            raise _fail("no_campaign", id=campaign_id)
        if campaign.state is not CampaignState.DRAWN:
            raise _fail("not_drawn", id=campaign_id)
        step = Step(session, policy, clock(), actor)
        if step.today > campaign.end_on:
            raise _fail("already_ended", id=campaign_id, end=campaign.end_on.isoformat())
        return await assignments.notify_again(step, campaign)


async def show_campaign(factory: Factory, campaign_id: int) -> dict[str, Any]:
    """The campaign as `campaign show` prints it: settings, draw status, teams and reserve."""
    async with factory() as session:
        campaign = await _campaign(session, campaign_id)
        commitment = await db.commitment_of(session, campaign_id)
        runs = await db.runs_of(session, campaign_id)
        teams = await db.current_teams(session, campaign_id)
        placed = await assignment_db.assignments_of_campaign(session, campaign_id)
        reserve = await assignment_db.reserve(session, campaign_id)
        people = [a.person_id for a in placed] + [pid for _, pid in reserve]
        names = await db.people_by_id(session, people + campaign.leader_ids)
        by_id = {a.id: a for a in placed}
        keys = await db.person_keys(session, people + campaign.leader_ids)
        last = json.loads(runs[-1].result) if runs else None
        return {
            "id": campaign.id,
            "name": campaign.name,
            "unit": campaign.unit.name,
            # Reported once every team's report is approved (reports.py), whatever state says.
            "state": "reported" if campaign.reported_on else campaign.state.value,
            "reported_on": campaign.reported_on.isoformat() if campaign.reported_on else None,
            "items": campaign.items,
            "start": campaign.start_on.isoformat(),
            "end": campaign.end_on.isoformat(),
            "officers_per_team": campaign.officers_per_team,
            "teams_setting": campaign.team_count,
            "confidential": campaign.confidential,
            "absence_approver": campaign.absence_approver.value,
            "created_by": campaign.created_by,
            "created_at": iso(campaign.created_at),
            "leaders": [{"name": names[pid].name, "key": keys[pid]} for pid in campaign.leader_ids],
            "draw": {
                "committed": commitment is not None,
                "committed_at": iso(commitment.committed_at) if commitment else None,
                "committed_by": commitment.committed_by if commitment else None,
                "document_sha256": commitment.document_sha256 if commitment else None,
                "runs": len(runs),
                "last_run_at": last["run_at"] if last else None,
                "key": last["key"] if last else None,
            },
            "teams": [
                {
                    "number": t["team"].number,
                    "leader": {
                        "name": names[t["team"].leader_id].name,
                        "key": keys[t["team"].leader_id],
                    },
                    "short_by": t["team"].short_by,
                    "employers": [
                        {"uscc": u, "name": n, "address": a} for u, n, a in t["employers"]
                    ],
                    "members": [
                        {
                            "name": names[a.person_id].name,
                            "certificate_no": keys[a.person_id],
                            "position": a.position,
                            "state": a.state.value,
                            "substitute_for": (
                                names[by_id[a.replaces_id].person_id].name
                                if a.replaces_id in by_id
                                else None
                            ),
                            "reason": a.reason,
                            "task": a.id,
                        }
                        for a in placed
                        if a.team_id == t["team"].id and a.role is AssignmentRole.MEMBER
                    ],
                }
                for t in teams
            ],
            "reserve": [
                {"name": names[pid].name, "certificate_no": keys[pid], "position": pos}
                for pos, pid in reserve
            ],
        }


def under_embargo(confidential: bool, end: dt.date, today: dt.date) -> bool:
    """Whether a draw must stay unpublished: a confidential campaign's, until its inspections
    end (those drawn are not to be known beforehand)."""
    return confidential and today <= end


async def published_record(factory: Factory, campaign_id: int, today: dt.date) -> dict[str, Any]:
    """The record of a drawn campaign, as its public page gives it: refused before the first
    run, and for a confidential campaign until its inspections end."""
    record = await draw_record(factory, campaign_id)
    if not record["draws"]:
        raise _fail("not_drawn_yet", id=campaign_id)
    summary = record["campaign"]
    if under_embargo(summary["confidential"], dt.date.fromisoformat(summary["end"]), today):
        raise Embargoed(text("campaign.embargoed", id=campaign_id, end=summary["end"]))
    return record


@dataclass(frozen=True)
class PublishedDraw:
    """A campaign's draw as the public site lists it: its commitment, published at
    ``draw commit`` (a confidential campaign's too: the digest reveals nothing), and once drawn
    and out of embargo, its record (full: the site publishes its public form)."""

    id: int
    name: str
    commitment_sha256: str
    committed_at: str  # UTC, as the record keeps it
    end: str
    commitment: dict[str, Any]  # as published: without runs and private part
    drawn: bool
    record: dict[str, Any] | None  # None: not drawn yet, or under embargo
    embargoed: bool  # confidential, its inspections not over: nothing more until ``end``


async def published_draws(session: AsyncSession, today: dt.date) -> list[PublishedDraw]:
    """Every committed campaign's draw, by id, read in ``session``; each commitment and chain
    checked against the audit log as for any record (a changed one is refused)."""
    found = []
    for campaign_id in await db.committed_campaign_ids(session):
        record = await record_in(session, campaign_id)
        summary = record["campaign"]
        embargoed = under_embargo(
            summary["confidential"], dt.date.fromisoformat(summary["end"]), today
        )
        found.append(
            PublishedDraw(
                id=campaign_id,
                name=summary["name"],
                commitment_sha256=commitment_sha256(record),
                committed_at=record["committed_at"],
                end=summary["end"],
                commitment={k: v for k, v in record.items() if k not in ("draws", PRIVATE)},
                drawn=bool(record["draws"]),
                record=record if record["draws"] and not embargoed else None,
                embargoed=embargoed,
            )
        )
    return found


async def recent_draws(session: AsyncSession, today: dt.date, limit: int = 3) -> list[DrawToCheck]:
    """The latest drawn campaigns, as a witness checks them: the run count, chain head and
    commitment SHA-256 the audit log chained when they were made, and whether each
    certificate may be opened yet."""
    found = []
    for campaign in await db.latest_drawn(session, limit):
        key = str(campaign.id)
        run = await audit.latest_after(session, "draw:run", "campaigns", key) or {}
        commit = await audit.latest_after(session, "draw:commit", "campaigns", key) or {}
        found.append(
            DrawToCheck(
                id=campaign.id,
                name=campaign.name,
                runs=int(run.get("seq") or 0),
                head=str(run.get("run_sha256") or ""),
                commitment=str(commit.get("document_sha256") or ""),
                end=campaign.end_on.isoformat(),
                public=not under_embargo(campaign.confidential, campaign.end_on, today),
            )
        )
    return found


def _sources_shown(record: dict[str, Any], public: bool) -> list[dict[str, Any]]:
    """The entropy sources by their names in the record — in public, a v2 record's witness by
    「监督人1」 too, for there it is a person's name — and on the bureau's certificate also as
    the campaign named them (a witness's name) when the record keeps that."""
    in_record = record["entropy_sources"]
    published = public_sources(in_record) if public else in_record
    given = None if public else (record.get(PRIVATE) or {}).get("entropy_sources")
    shown = []
    for n, source in enumerate(published):
        named = given[n] if given else source
        shown.append(
            {
                **source,
                "key": in_record[n]["name"],  # its values' name in each run
                "given": named["name"] if named["name"] != source["name"] else None,
                "description": named.get("description"),
            }
        )
    return shown


def certificate_values(record: dict[str, Any], public: bool) -> dict[str, Any]:
    """What a certificate shows of a record. ``public``: people by certificate number only
    (public by law), no one's name, no free-text reason, and the SHA-256 of the public record —
    None for a v2 record, which has no public form. Otherwise, for the bureau's file and its
    signatures, the names as the record holds them (a v3 record's private parts, if kept)."""
    runs = []
    for run in record["draws"]:
        private = run.get(PRIVATE) or run  # v2: the names are in the hashed run
        names = private.get("names") or {}
        employers = {e for team in run["teams"] for e in team["employers"]}
        runs.append(
            {
                "run": run,
                "employers": run.get("employer_names")
                or {k: v for k, v in names.items() if k in employers},
                "people": {} if public else {k: v for k, v in names.items() if k not in employers},
                "run_by": None if public else private.get("run_by"),
                "reason": None if public else private.get("reason"),
            }
        )
    shown = public_record(record) if public else record
    named = (record.get(PRIVATE) or record) if not public else {}
    values = commitment_values(record, public)
    return {
        **values,
        "runs": runs,
        "public": public,
        "committed_by": named.get("committed_by"),
        "chain_head": chain_heads(values["commitment_sha256"], record["draws"])[-1],
        "record_sha256": sha256_text(canonical(shown)) if shown is not None else None,
    }


def commitment_values(record: dict[str, Any], public: bool = True) -> dict[str, Any]:
    """What a page shows of a commitment (a record's, or one not drawn yet): the document, its
    SHA-256 and the entropy sources (draw/commitment.html.j2)."""
    return {
        "record": record,
        "sources": _sources_shown(record, public),
        "commitment_sha256": commitment_sha256(record),
    }


def certificate_html(
    record: dict[str, Any],
    zone: str,
    links: dict[str, str] | None = None,
    *,
    public: bool = False,
) -> str:
    """The Chinese draw certificate (HTML) of a record (:func:`certificate_values`). Everything
    on it comes from the record, so all it shows is covered by the commitment SHA-256 and the
    chain head it states; times read in ``zone`` (the record keeps UTC); ``links`` (record,
    verifier) are where a served page offers the files."""
    return render(
        "draw/certificate.html.j2",
        labels=labels,
        links=links or {},
        tz=zone,
        **certificate_values(record, public),
    )
