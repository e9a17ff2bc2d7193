"""Any interleaving of confirm / decline / approve / reject / recuse, as people type them:
every team keeps two officers or is flagged short, nobody serves with an employer they recused
from, and substitutes come strictly in draw order (the next free officer without a recusal
against that team). Runs the real routing, workflows and storage on SQLite."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.platforms.messages import Inbound, InboundKind, Platform
from bot.server import dispatch
from bot.workflows import campaigns
from bot.workflows.campaign_spec import parse_campaign
from bot.workflows.step import Policy, Step
from storage import migrate
from storage.assignments import ACTIVE
from storage.engine import make_engine, make_session_factory, unit_of_work
from storage.models import (
    Approval,
    ApprovalState,
    Assignment,
    AssignmentRole,
    DrawnOfficer,
    Entity,
    Person,
    Recusal,
    Team,
    TeamEmployer,
)
from storage.officers import officers_in_force
from tests.helpers import ENTROPY, load_sample, spec

START = dt.date.today() + dt.timedelta(days=30)
END = START + dt.timedelta(days=10)
LEADERS = ("zhangkai", "miaomingliang")
POLICY = Policy(platforms=("wecom",))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _template(path: Path, approver: str) -> None:
    """A database with the sample and a committed two-team campaign whose pool leaves a
    reserve of three, so that both substitution and running out happen."""
    engine = make_engine(f"sqlite:///{path}")
    await migrate.upgrade(engine)
    factory = make_session_factory(engine)
    await load_sample(factory, now)
    async with factory() as session:
        in_force = {pid for pid, _ in await officers_in_force(session, END)}
        people = (await session.execute(select(Person).order_by(Person.id))).scalars()
        pool = [
            p for p in people if p.id in in_force and p.wecom_userid not in (*LEADERS, "fengfeng")
        ]
    excluded = "".join(
        f'\n[[exclude_officers]]\nofficer = "{p.wecom_userid}"\nreason = "另有任务"\n'
        for p in pool[7:]
    )
    source = spec(
        excluded,
        start=START.isoformat(),
        end=END.isoformat(),
        teams="2",
        leaders='["zhangkai", "miaomingliang"]',
        absence_approver=f'"{approver}"',
    )
    campaign_id = (await campaigns.create_campaign(factory, parse_campaign(source), "t", now)).id
    assert campaign_id == 1
    await campaigns.commit_draw(factory, campaign_id, "t", now)
    await engine.dispose()


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    found = {}
    for approver in ("组长审批", "直接同意"):
        path = tmp_path_factory.mktemp("stateful") / "template.db"
        asyncio.run(_template(path, approver))
        found[approver] = path
    return found


class Interleavings(RuleBasedStateMachine):
    templates: dict[str, Path]
    workdir: Path

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine: AsyncEngine | None = None
        self.keys = itertools.count(1)

    def run(self, work: Callable[..., Any], *args: Any) -> Any:
        return self.loop.run_until_complete(work(*args))

    @initialize(approver=st.sampled_from(["组长审批", "直接同意"]))
    def draw(self, approver: str) -> None:
        path = self.workdir / f"run-{id(self)}.db"
        shutil.copy(self.templates[approver], path)
        self.engine = make_engine(f"sqlite:///{path}")
        self.factory = make_session_factory(self.engine)
        self.run(campaigns.run_draw, self.factory, 1, ENTROPY, None, "t", now, POLICY)
        self.run(self._load_model)

    async def _load_model(self) -> None:
        async with self.factory() as session:
            placed = set((await session.execute(select(Assignment.person_id))).scalars())
            drawn = await session.execute(
                select(DrawnOfficer.position, DrawnOfficer.person_id).order_by(
                    DrawnOfficer.position
                )
            )
            self.reserve = [(pos, pid) for pos, pid in drawn if pid not in placed]
            self.recusals: dict[int, set[int]] = {}
            for pid, entity_id in await session.execute(
                select(Recusal.person_id, Recusal.entity_id)
            ):
                self.recusals.setdefault(pid, set()).add(entity_id)
            self.employers: dict[int, set[int]] = {}
            for team_id, entity_id in await session.execute(
                select(TeamEmployer.team_id, TeamEmployer.entity_id)
            ):
                self.employers.setdefault(team_id, set()).add(entity_id)

    def teardown(self) -> None:
        if self.engine is not None:
            self.run(self.engine.dispose)
        self.loop.close()

    # --- what people do ------------------------------------------------------------------

    async def _say(self, person_id: int, words: str) -> None:
        async with unit_of_work(self.factory) as session:
            person = await session.get(Person, person_id, with_for_update=True)
            assert person is not None and person.wecom_userid
            inbound = Inbound(
                Platform.WECOM,
                f"k{next(self.keys)}",
                person.wecom_userid,
                InboundKind.TEXT,
                now(),
                text=words,
            )
            step = Step(session, POLICY, now(), person.name)
            await dispatch.decide(session, inbound, person, step)

    async def _rows(self) -> tuple[list[Assignment], list[Approval], list[Team]]:
        async with self.factory() as session:
            members = list(
                (
                    await session.execute(
                        select(Assignment)
                        .where(Assignment.role == AssignmentRole.MEMBER)
                        .order_by(Assignment.id)
                    )
                ).scalars()
            )
            pending = list(
                (
                    await session.execute(
                        select(Approval).where(Approval.state == ApprovalState.PENDING)
                    )
                ).scalars()
            )
            teams = list((await session.execute(select(Team))).scalars())
        return members, pending, teams

    def _expect_substitution(self, team_id: int) -> None:
        """The model's next substitute for a team, taken off the model's reserve."""
        for index, (_, pid) in enumerate(self.reserve):
            if not (self.recusals.get(pid, set()) & self.employers[team_id]):
                del self.reserve[index]
                return

    def _active(self, index: int) -> Assignment | None:
        members, _, _ = self.run(self._rows)
        active = [m for m in members if m.state in ACTIVE]
        return active[index % len(active)] if active else None

    @rule(index=st.integers(0, 20))
    def confirm(self, index: int) -> None:
        member = self._active(index)
        if member is not None:
            self.run(self._say, member.person_id, f"确认参加 任务{member.id}")

    @rule(index=st.integers(0, 20), words=st.sampled_from(["无法参加", "不能参加，原因："]))
    def decline(self, index: int, words: str) -> None:
        member = self._active(index)
        if member is None:
            return
        before = self.run(self._rows)[1]
        self.run(self._say, member.person_id, f"{words}任务{member.id} 出差")
        members, pending, _ = self.run(self._rows)
        after = {m.id: m for m in members}[member.id]
        if after.state.value == "replaced" and len(pending) == len(before):
            assert member.team_id is not None
            self._expect_substitution(member.team_id)  # accepted at once (直接同意)

    @rule(index=st.integers(0, 20), approve=st.booleans())
    def decide(self, index: int, approve: bool) -> None:
        _, pending, _ = self.run(self._rows)
        if not pending:
            return
        request = pending[index % len(pending)]
        words = f"同意 审批{request.id}" if approve else f"驳回 审批{request.id} 人手不够"
        self.run(self._say, request.approver_ids[0], words)
        if approve:
            members, _, _ = self.run(self._rows)
            subject = {m.id: m for m in members}[request.subject_id]
            assert subject.state.value == "replaced" and subject.team_id is not None
            self._expect_substitution(subject.team_id)

    @rule(index=st.integers(0, 20), pick=st.integers(0, 20))
    def recuse(self, index: int, pick: int) -> None:
        member = self._active(index)
        if member is None or member.team_id is None:
            return
        entity_id = sorted(self.employers[member.team_id])[
            pick % len(self.employers[member.team_id])
        ]
        uscc = self.run(self._uscc, entity_id)
        self.run(self._say, member.person_id, f"回避 {uscc} 亲属在该单位")
        self.recusals.setdefault(member.person_id, set()).add(entity_id)
        self._expect_substitution(member.team_id)

    @rule(index=st.integers(0, 20), pick=st.integers(0, 40))
    def reserve_recuses(self, index: int, pick: int) -> None:
        """An officer still in reserve declares an interest in one of the teams' employers:
        they must then be passed over for that team, and keep their place for the other."""
        if not self.reserve:
            return
        _, person_id = self.reserve[index % len(self.reserve)]
        candidates = sorted(set().union(*self.employers.values()))
        entity_id = candidates[pick % len(candidates)]
        self.run(self._say, person_id, f"回避 {self.run(self._uscc, entity_id)} 曾在该单位任职")
        self.recusals.setdefault(person_id, set()).add(entity_id)

    async def _uscc(self, entity_id: int) -> str:
        async with self.factory() as session:
            entity = await session.get(Entity, entity_id)
            assert entity is not None
            return entity.uscc

    # --- what must always hold -------------------------------------------------------------

    @precondition(lambda self: self.engine is not None)
    @invariant()
    def every_team_keeps_two_or_is_flagged(self) -> None:
        members, _, teams = self.run(self._rows)
        for team in teams:
            active = [m for m in members if m.team_id == team.id and m.state in ACTIVE]
            assert len(active) >= 2 or team.short_by > 0, (team.number, active)
            assert team.short_by == max(0, 2 - len(active))

    @precondition(lambda self: self.engine is not None)
    @invariant()
    def nobody_serves_with_an_employer_they_recused_from(self) -> None:
        members, _, _ = self.run(self._rows)
        for m in members:
            if m.state in ACTIVE and m.team_id is not None:
                assert not (self.recusals.get(m.person_id, set()) & self.employers[m.team_id])

    @precondition(lambda self: self.engine is not None)
    @invariant()
    def substitutes_come_strictly_in_draw_order(self) -> None:
        """The model takes, for each substitution, the first officer in draw order without a
        recusal against the team; the database's reserve must be exactly what the model
        has left, in the same order."""
        self.run(self._check_reserve)

    async def _check_reserve(self) -> None:
        async with self.factory() as session:
            placed = set((await session.execute(select(Assignment.person_id))).scalars())
            drawn = await session.execute(
                select(DrawnOfficer.position, DrawnOfficer.person_id).order_by(
                    DrawnOfficer.position
                )
            )
            left = [(pos, pid) for pos, pid in drawn if pid not in placed]
        assert left == self.reserve


def test_any_interleaving_keeps_teams_whole_recusals_honoured_and_draw_order(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    Interleavings.templates = templates
    Interleavings.workdir = tmp_path
    Interleavings.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    Interleavings.TestCase().runTest()
