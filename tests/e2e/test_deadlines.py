"""Deadlines and their reminders end to end (issue 16), with an injected clock: a campaign
through the 2026 National Day / Mid-Autumn holidays (start, findings due, overdue escalation
to the unit's leaders, an approval waiting, a rectification deadline, publication 20 working
days after the end; each digest once, none in quiet hours or on holidays), quiet hours, a
server down over the holiday (one catch-up digest per person), two ticks at once (nothing
twice), an owner without an account, a campaign in a year the calendar does not cover (估算),
and 「待办」."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import zoneinfo
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select

from bot.base.calendar import NO_OVERRIDES
from bot.base.texts import render, text
from bot.server.app import SENDER
from bot.workflows import campaigns, deadlines
from bot.workflows.campaign_spec import parse_campaign
from bot.workflows.deadlines import (
    APPROVAL,
    CAMPAIGN_START,
    FINDINGS_DUE,
    PUBLICATION,
    RECTIFICATION,
    REPORT_DUE,
)
from bot.workflows.step import Policy
from handlers import reminders as rules
from storage.assignments import admins as admins_of
from storage.engine import make_engine, make_session_factory, unit_of_work
from storage.findings import teams_of_campaign
from storage.models import (
    Assignment,
    AssignmentRole,
    AuditEntry,
    Deadline,
    DeadlineState,
    OutboxMessage,
    Person,
    Team,
)
from tests.e2e.phones import Phones, phones
from tests.e2e.test_cli import run
from tests.e2e.test_findings import Factory, reply
from tests.e2e.test_reports import approve_report, submit_findings, submit_report
from tests.helpers import ENTROPY, MADE_UP_2027, load_sample, spec

pytestmark = pytest.mark.db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
DIGEST = text("deadlines.digest_title")
TICKS = ("09:00", "21:30")  # when the walk runs the reminder tick, each day


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ).astimezone(dt.UTC)


def clock(text: str) -> deadlines.Clock:
    return lambda: at(text)


@pytest.fixture
async def bot(factory: Factory, database_url: str) -> AsyncIterator[Phones]:
    await load_sample(factory, clock("2026-09-01 10:00"))
    async with phones("wecom", database_url) as built:
        yield built


async def draw(
    factory: Factory, policy: Policy, start: str, end: str, drawn_at: str = "2026-09-10 10:00"
) -> int:
    """A campaign from ``start`` to ``end``, created on 1 September and drawn at ``drawn_at``."""
    created = await campaigns.create_campaign(
        factory, parse_campaign(spec(start=start, end=end)), "李管理", clock("2026-09-01 10:00")
    )
    await campaigns.commit_draw(factory, created.id, "李管理", clock(drawn_at))
    await campaigns.run_draw(factory, created.id, ENTROPY, None, "李管理", clock(drawn_at), policy)
    return created.id


async def drawn(p: Phones, start: str, end: str, drawn_at: str = "2026-09-10 10:00") -> int:
    """The same, its assignments on the phones."""
    campaign_id = await draw(p.factory, p.policy, start, end, drawn_at)
    await p.settled()
    return campaign_id


async def leaders_of(p: Phones, campaign_id: int) -> list[Person]:
    async with p.factory() as session:
        rows = await session.execute(
            select(Person).join(Team, Team.leader_id == Person.id)
            .where(Team.campaign_id == campaign_id).order_by(Team.number)
        )  # fmt: skip
        return list(rows.scalars())


async def digests(p: Phones) -> Counter[str]:
    """How many reminder digests each account was sent."""
    async with p.factory() as session:
        rows = await session.execute(select(OutboxMessage.recipient, OutboxMessage.body))
        return Counter(r for r, body in rows if body.get("title") == "到期提醒")


async def suiji(database_url: str, *args: str) -> Result:
    return await asyncio.to_thread(run, *args, env={"SUIJI_DATABASE__URL": database_url})


async def tick(p: Phones, when: str) -> int:
    sent = await deadlines.remind_due(p.factory, p.policy, clock(when))
    await p.settled()
    return sent


class Walk:
    """The bot's time, moved forward by the test: the app, its sender and its ticks read it."""

    def __init__(self, start: str) -> None:
        self.now = at(start)

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass(frozen=True)
class Received:
    """A digest as the fake WeCom received it, and the bot's time then."""

    when: str  # local, as the walk set it
    user: str
    kinds: tuple[str, ...]  # the kinds of its items, in its order
    text: str
    buttons: tuple[str, ...]


KIND_OF = {text("deadlines.kind_label", kind=k): k for k in deadlines.KINDS}


def kinds_in(body: str) -> tuple[str, ...]:
    found = []
    for line in body.splitlines():
        label = line.removeprefix("- ").removeprefix("**逾期** ").split("【")[0].split(" 审批")[0]
        if line.startswith("- ") and label in KIND_OF:
            found.append(KIND_OF[label])
    return tuple(found)


async def walk_to(p: Phones, walk: Walk, when: str, log: list[Received]) -> list[Received]:
    """Move the bot's time to ``when`` and run its deadline tick there (what its timer does):
    the digests it queued, once they have reached the phones."""
    walk.now = at(when)
    before = len(p.fake.delivered)
    sent = await deadlines.remind_due(p.factory, p.policy, walk)
    p.bot.app[SENDER].wake.set()
    deadline = time.monotonic() + 15
    while True:
        new = [m for m in p.fake.delivered[before:] if m.title == DIGEST]
        if len(new) >= sent:
            break
        assert time.monotonic() < deadline, f"{len(new)} of {sent} digests came"
        await asyncio.sleep(0.02)
    found = [
        Received(when, m.user, kinds_in(m.text), m.text, tuple(b["label"] for b in m.buttons))
        for m in new
    ]
    log.extend(found)
    return found


def moments(first: str, last: str, hours: tuple[str, ...] = TICKS) -> list[str]:
    """Each day from ``first`` to ``last`` at each of ``hours``."""
    day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    span = range((end - day).days + 1)
    return [f"{day + dt.timedelta(days=n)} {hour}" for n in span for hour in hours]


async def test_a_campaign_through_the_national_day_holidays(
    factory: Factory, database_url: str
) -> None:
    """One campaign, 21–25 September 2026, walked through Mid-Autumn and National Day (25 Sep;
    1–7 Oct; Sun 20 Sep and Sat 10 Oct worked) on the bot's own clock, its deadline tick run
    at 09:00 and 21:30 every day, weekends and holidays too: every digest the fake WeCom
    received is listed (who, when, which deadlines), and each arrives once, never in quiet
    hours or on a holiday, one per person at a time. Team 1 hands its findings in on time
    (one orders rectification by 8 Oct), its report waits on a leader and is approved, and the
    rectification is reported done; the other teams' officers are late, escalated to their
    team leaders and then the unit's leaders, and report on 13 Oct; the bot is down for a long
    weekend and catches up in one digest each; publication is due 20 working days after the
    end, 29 October."""
    await load_sample(factory, clock("2026-09-01 10:00"))
    walk = Walk("2026-09-10 10:00")
    log: list[Received] = []
    async with phones("wecom", database_url, clock=walk) as bot:

        async def until(when: str, hours: tuple[str, ...] = TICKS) -> None:
            """Every tick from where the walk is up to ``when``, then the bot's time there."""
            for moment in moments(walk.now.astimezone(TZ).date().isoformat(), when[:10], hours):
                if walk.now < at(moment) <= at(when):
                    await walk_to(bot, walk, moment, log)
            walk.now = at(when)

        async def levels() -> set[tuple[str, int, int]]:
            async with bot.factory() as session:
                rows = await session.execute(
                    select(Deadline.kind, Team.number, Deadline.escalation)
                    .join(Team, Team.id == Deadline.team_id)
                    .where(Deadline.state == DeadlineState.OPEN, Deadline.kind == FINDINGS_DUE)
                )  # fmt: skip
                return {(kind, number, level) for kind, number, level in rows}

        campaign_id = await drawn(bot, "2026-09-21", "2026-09-25")
        first, *_ = [await bot.account(p.id) for p in await leaders_of(bot, campaign_id)]
        # The drawn officers (the secret is new each run, so who they are is too): by team.
        async with bot.factory() as session:
            placed = await session.execute(
                select(Assignment.person_id, Assignment.team_number)
                .where(Assignment.campaign_id == campaign_id,
                       Assignment.role == AssignmentRole.MEMBER)
            )  # fmt: skip
            officers = {await bot.account(pid): f"O{number}" for pid, number in placed.all()}
        # Team 1 hands in its findings (the first orders rectification within 15 days: by
        # 8 October) and its report, which waits on the unit's leaders; approved on the 28th.
        await until("2026-09-23 14:00")
        [rectify, *_] = await submit_findings(bot, campaign_id, 1, clock=walk)
        approval = await submit_report(bot, campaign_id, 1, clock=walk)
        await until("2026-09-28 10:00")
        await approve_report(bot, approval, clock=walk)
        await until("2026-09-29 12:00")
        assert await levels() == {(FINDINGS_DUE, 2, 1), (FINDINGS_DUE, 3, 1)}  # team leader
        await until("2026-10-09 08:30")
        said = await reply(bot, first, f"已整改 结果{rectify} 已补发工资")
        assert "整改完成" in said.text
        await until("2026-10-09 12:00")
        assert await levels() == {(FINDINGS_DUE, 2, 2), (FINDINGS_DUE, 3, 2)}  # unit leaders
        # Down from then until Monday the 12th (Saturday the 10th was worked): at 07:30, quiet
        # hours, nothing though much is due; at nine one catch-up digest each.
        walk.now = at("2026-10-12 07:00")
        assert await walk_to(bot, walk, "2026-10-12 07:30", log) == []
        # The other teams hand in on 13 October: the campaign is reported.
        await until("2026-10-13 14:00")
        async with bot.factory() as session:
            numbers = [t.number for t in await teams_of_campaign(session, campaign_id)]
        for number in numbers[1:]:
            await submit_findings(bot, campaign_id, number, clock=walk)
            await approve_report(
                bot, await submit_report(bot, campaign_id, number, clock=walk), clock=walk
            )
        async with bot.factory() as session:
            due = (
                await session.execute(select(Deadline).where(Deadline.kind == PUBLICATION))
            ).scalars()
            assert {(d.due_on, d.estimated) for d in due} == {(dt.date(2026, 10, 29), False)}
        await until("2026-10-30 23:00")
        await bot.settled()  # and nothing more on its way
        assert len([m for m in bot.fake.delivered if m.title == DIGEST]) == len(log)
    walked: dict[str, list[str]] = {}
    for r in log:
        kinds = " ".join(SHORT[k] for k in r.kinds)
        who = SHORT.get(r.user) or officers[r.user]
        walked.setdefault(r.when[5:], []).append(f"{who}: {kinds}")
    assert [f"{when}  {'  '.join(sorted(got))}" for when, got in walked.items()] == WALKED
    # Each went out at a time reminders may (a working day, out of quiet hours), one per
    # person at a time; each with its buttons to act.
    assert all(
        rules.allowed(at(r.when).astimezone(TZ), bot.policy.deadlines, NO_OVERRIDES) for r in log
    )
    assert set(Counter((r.when, r.user) for r in log).values()) == {1}
    approving = next(r for r in log if "approval" in r.kinds)
    assert f"审批{approval.id}" in approving.text and approving.buttons == ("审批",)
    escalated = next(r for r in log if r.user == first and r.kinds == ("findings_due",) * 4)
    assert "（责任人：" in escalated.text and "逾期 4 项" in escalated.text
    assert escalated.buttons == ("填写",)


# What the fake WeCom received in the walk above, in order: when (local), then each digest sent
# then: to whom (ZK zhangkai leads team 1, MML miaomingliang team 2, MJ miaojuan team 3; all
# three are the unit's leaders, who approve each other's reports; On is one of team n's two
# drawn officers, who own their team's findings) and the deadlines in it, in its order (S the
# start, F findings, R report, A approval, X rectification, P publication). Teams 2 and 3 are
# late with their findings: from 29 September (two working days overdue) their leaders are
# told of their officers' findings too, from 9 October all the unit's leaders.
SHORT = {
    "zhangkai": "ZK", "miaomingliang": "MML", "miaojuan": "MJ",
    CAMPAIGN_START: "S", FINDINGS_DUE: "F", REPORT_DUE: "R", APPROVAL: "A",
    RECTIFICATION: "X", PUBLICATION: "P",
}  # fmt: skip
WALKED = """\
09-17 09:00  MJ: S  MML: S  ZK: S
09-20 09:00  MJ: S  MML: S  ZK: S
09-21 09:00  MJ: S  MML: S  ZK: S
09-22 09:00  O1: F  O1: F  O2: F  O2: F  O3: F  O3: F
09-24 09:00  MJ: A  MML: A  O2: F  O2: F  O3: F  O3: F
09-28 09:00  MJ: A  MML: A  O2: F  O2: F  O3: F  O3: F  ZK: X
09-29 09:00  MJ: F F R  MML: F F R  O2: F  O2: F  O3: F  O3: F
09-30 09:00  MJ: F F  MML: F F  O2: F  O2: F  O3: F  O3: F  ZK: X
10-08 09:00  MJ: F F R  MML: F F R  O2: F  O2: F  O3: F  O3: F  ZK: X
10-09 09:00  MJ: F F F F R  MML: F F F F R  O2: F  O2: F  O3: F  O3: F  ZK: F F F F
10-12 09:00  MJ: F F F F R  MML: F F F F R  O2: F  O2: F  O3: F  O3: F  ZK: F F F F
10-13 09:00  MJ: F F F F R  MML: F F F F R  O2: F  O2: F  O3: F  O3: F  ZK: F F F F
10-23 09:00  MJ: X  MML: X
10-26 09:00  MJ: P  MML: P  ZK: P
10-27 09:00  MJ: X  MML: X
10-28 09:00  MJ: X P  MML: X P  ZK: P
10-29 09:00  MJ: X P  MML: X P  ZK: P
10-30 09:00  MJ: X P  MML: X P  ZK: P
""".splitlines()


async def test_two_engines_ticking_at_the_same_moment_send_each_reminder_once(
    bot: Phones, database_url: str
) -> None:
    """Two ticks started together in this process, each on an engine (a pool of connections)
    of its own as two processes would have: the claims in the database let one send. The same
    with two real ``suiji serve`` processes on a server database, racing on their own timers:
    tests/e2e/test_serve_reminders.py."""
    await drawn(bot, "2026-09-21", "2026-09-25")
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        factories = [make_session_factory(e) for e in engines]
        sent = await asyncio.gather(
            *(deadlines.remind_due(f, bot.policy, clock("2026-09-17 09:00")) for f in factories)
        )
    finally:
        for engine in engines:
            await engine.dispose()
    counts = await digests(bot)
    assert sum(sent) == sum(counts.values()) > 0 and set(counts.values()) == {1}


async def test_an_owner_without_an_account_is_passed_over_and_the_list_says_so(
    bot: Phones, database_url: str
) -> None:
    campaign_id = await drawn(bot, "2026-09-21", "2026-09-25")
    [first, *_] = await leaders_of(bot, campaign_id)
    async with unit_of_work(bot.factory) as session:
        person = await session.get(Person, first.id)
        assert person is not None
        person.wecom_userid = person.dingtalk_userid = None
    listed = await suiji(
        database_url, "deadlines", "list", "--campaign", str(campaign_id), "--format", "json"
    )
    assert listed.exit_code == 0, listed.output
    rows = [r for r in json.loads(listed.output) if r["owner"] == first.name]
    assert rows and not any(r["owner_reachable"] for r in rows)
    table = await suiji(database_url, "deadlines", "list")
    assert "无平台账号" in table.output
    preview = await deadlines.preview(bot.factory, bot.policy, at("2026-09-17 09:00"))
    assert first.name not in [p["person"] for p in preview]
    assert any(not i["as_owner"] for p in preview for i in p["items"])  # someone above them
    shown = await suiji(database_url, "reminders", "preview", "--at", "2026-09-17 09:00")
    assert shown.exit_code == 0 and "到期前 3 个工作日" in shown.output
    bad = await suiji(database_url, "reminders", "preview", "--at", "明天")
    assert bad.exit_code == 1 and "看不懂时间" in bad.output


async def test_a_campaign_in_a_year_not_covered_is_marked_estimated(
    bot: Phones, database_url: str
) -> None:
    campaign_id = await drawn(bot, "2027-12-06", "2027-12-24")
    listed = await suiji(database_url, "deadlines", "list", "--campaign", str(campaign_id))
    assert listed.exit_code == 0 and "估算" in listed.output
    [leader, *_] = await leaders_of(bot, campaign_id)
    said = await reply(bot, await bot.account(leader.id), "待办")
    assert "提交检查报告" in said.text and "估算" in said.text


async def test_progress_shows_each_teams_due_dates_overdue_marked(bot: Phones) -> None:
    """「进度」 shows the deadlines: a team's leader their team's findings and report, a leader of
    the unit each team's under its heading; past ones marked overdue (the campaign ended in
    September, the bot's today is December)."""
    campaign_id = await drawn(bot, "2026-09-21", "2026-09-25")
    first, second, _ = [await bot.account(p.id) for p in await leaders_of(bot, campaign_id)]
    findings = f"{text('deadlines.kind_label', kind=FINDINGS_DUE)} 2026-09-25"
    report = f"{text('deadlines.kind_label', kind=REPORT_DUE)} 2026-10-09"  # after the holiday
    async with bot.factory() as session:
        tasks = await session.execute(
            select(Assignment.id).join(Person, Person.id == Assignment.person_id)
            .where(Assignment.campaign_id == campaign_id, Assignment.role == AssignmentRole.LEADER,
                   Person.wecom_userid == second)
        )  # fmt: skip
        task = tasks.scalar_one()
    own = (await reply(bot, second, f"进度 任务{task}")).text
    assert findings in own and report in own and own.count("已逾期") == 2, own
    assert text("deadlines.kind_label", kind=CAMPAIGN_START) not in own  # it has come
    unit = (await reply(bot, first, f"进度 抽查{campaign_id}")).text
    assert unit.count(findings) == 3 and unit.count(report) == 3, unit


async def test_a_rectification_carried_out_is_closed_by_its_team_leader_and_reminded_no_more(
    bot: Phones,
) -> None:
    """「已整改 结果N」 by the team's leader closes that finding's rectification deadline
    (audited); nobody else can, and without it the overdue deadline would go on reminding."""
    campaign_id = await drawn(bot, "2026-09-21", "2026-09-25")
    leader, other, *_ = await leaders_of(bot, campaign_id)
    async with unit_of_work(bot.factory) as session:
        team = (await session.execute(select(Team).where(Team.leader_id == leader.id))).scalar()
        assert team is not None
        rectify = Deadline(
            kind="rectification", subject_kind="finding", subject_id=77,
            campaign_id=campaign_id, team_id=team.id, owner_id=leader.id,
            due_on=dt.date(2026, 10, 9), rule="rectification:on", estimated=False,
            state=DeadlineState.OPEN, created_at=at("2026-09-22 10:00"), escalation=0,
        )  # fmt: skip
        session.add(rectify)
    mine, theirs = await bot.account(leader.id), await bot.account(other.id)
    assert await tick(bot, "2026-10-12 10:00") > 0
    assert "整改期限" in (await bot.wait_for(mine, "整改期限")).text
    assert "已整改 结果编号" in (await reply(bot, mine, "已整改")).text
    assert "没有待跟进的整改期限" in (await reply(bot, mine, "已整改 结果78")).text
    assert "只有该检查组的组长" in (await reply(bot, theirs, "已整改 结果77 好了")).text
    async with bot.factory() as session:
        assert (await session.get(Deadline, rectify.id)).state is DeadlineState.OPEN  # type: ignore[union-attr]
    assert "整改完成" in (await reply(bot, mine, "已整改 结果77 已补发工资")).text
    async with bot.factory() as session:
        closed = await session.get(Deadline, rectify.id)
        [entry] = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "deadline:close"))
        ).scalars()
    assert closed is not None and closed.state is DeadlineState.CLOSED
    assert closed.closed_why == "rectified" and entry.subject_key == str(rectify.id)
    assert "已补发工资" in (entry.after or "") and leader.name in (entry.after or "")
    # Days later, still working days overdue: the closed deadline is in no digest.
    later = await deadlines.preview(bot.factory, bot.policy, at("2026-10-20 10:00"))
    assert all(i.get("id") != rectify.id for p in later for i in p["items"])
    assert "整改期限" not in (await reply(bot, mine, "待办")).text


async def asked(p: Phones) -> Counter[str]:
    """How many asks for next year's calendar each account was sent."""
    async with p.factory() as session:
        rows = await session.execute(select(OutboxMessage.recipient, OutboxMessage.body))
        return Counter(r for r, body in rows if "年的节假日安排还没有导入" in body.get("text", ""))


async def test_admins_are_asked_weekly_from_november_for_next_years_calendar(
    bot: Phones, database_url: str, tmp_path: Path
) -> None:
    """From 1 November, 2027 not covered: the admins get one message a week (none in quiet
    hours, none twice when two processes tick at once), until the year is imported."""
    async with bot.factory() as session:
        people = await admins_of(session)
    admins = [await bot.account(a.id) for a in people]
    assert admins

    async def ask(when: str) -> int:
        sent = await deadlines.ask_for_calendar(bot.factory, bot.policy, clock(when))
        await bot.settled()
        return sent

    assert await ask("2026-10-30 10:00") == 0  # October: not yet
    assert await ask("2026-11-02 10:00") == len(admins)  # Monday of the first week
    said = await bot.wait_for(admins[0], "2027 年的节假日安排")
    assert "suiji calendar import" in said.text
    assert await ask("2026-11-02 10:05") == 0 and await ask("2026-11-06 15:00") == 0
    assert await ask("2026-11-09 22:30") == 0  # quiet hours: the week's ask waits
    assert await ask("2026-11-14 10:00") == 0  # a Saturday: nothing goes out
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        both = await asyncio.gather(
            *(
                deadlines.ask_for_calendar(
                    make_session_factory(e), bot.policy, clock("2026-11-10 09:30")
                )
                for e in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    await bot.settled()
    assert sorted(both) == [0, len(admins)]
    assert set((await asked(bot)).values()) == {2}
    # Imported: asked no more, and the ask is in no digest, 「待办」 or list.
    path = tmp_path / "2027.toml"
    path.write_text(MADE_UP_2027, "utf-8")
    done = await suiji(database_url, "calendar", "import", str(path), "--as", people[0].name)
    assert done.exit_code == 0, done.output
    assert await ask("2026-11-16 10:00") == 0
    async with bot.factory() as session:
        [row] = (
            await session.execute(select(Deadline).where(Deadline.kind == "calendar_year"))
        ).scalars()
    assert row.state is DeadlineState.CLOSED and row.subject_id == 2027
    assert set((await asked(bot)).values()) == {2}


async def test_answers_awaited_are_listed_beside_the_deadlines_until_given(
    factory: Factory, database_url: str
) -> None:
    """A member's answer to an assignment (「确认参加」/「无法参加」) is read from the
    assignment itself: in their 「待办」 and ``suiji deadlines list``, due the last day
    「无法参加」 is accepted (the day before the start), until they answer."""
    await load_sample(factory, clock("2026-09-01 10:00"))
    async with phones("wecom", database_url, clock=clock("2026-09-14 10:00")) as p:
        campaign_id = await drawn(p, "2026-09-21", "2026-09-25")
        async with p.factory() as session:
            a, member = (
                await session.execute(
                    select(Assignment, Person).join(Person, Person.id == Assignment.person_id)
                    .where(Assignment.campaign_id == campaign_id,
                           Assignment.role == AssignmentRole.MEMBER)
                    .order_by(Assignment.id).limit(1)
                )
            ).one()  # fmt: skip
        user = await p.account(member.id)
        # Due Sunday 2026-09-20, a 调休 working day: five working days from Monday the 14th.
        todo = (await reply(p, user, "待办")).text
        assert f"答复任务{a.id}【" in todo and "2026-09-20，还有 5 个工作日" in todo
        listed = await deadlines.listing(p.factory, p.policy, at("2026-09-14 10:00"))
        [row] = [r for r in listed if r["subject"] == f"assignment:{a.id}"]
        assert row["kind"] == "assignment_answer" and row["id"] is None
        assert (row["owner"], row["due_on"], row["campaign_id"]) == (
            member.name,
            "2026-09-20",
            campaign_id,
        )
        assert [r["due_on"] for r in listed] == sorted(r["due_on"] for r in listed)
        table = render("cli/deadlines_list.txt.j2", rows=listed)
        assert f"答复任务{a.id}【" in table and "#None" not in table
        overdue = await deadlines.listing(p.factory, p.policy, at("2026-09-14 10:00"), overdue=True)
        assert not [r for r in overdue if r["kind"] == "assignment_answer"]
        # The dry run shows its reminder too (sent on the 10th, unanswered past a day), at a
        # working hour only.
        planned = await deadlines.preview(p.factory, p.policy, at("2026-09-14 10:00"))
        [mine] = [e for e in planned if e["person"] == member.name]
        assert [(i["kind"], i["id"]) for i in mine["items"]] == [("assignment_answer", a.id)]
        assert not await deadlines.preview(p.factory, p.policy, at("2026-09-14 22:00"))
        shown = await suiji(database_url, "reminders", "preview", "--at", "2026-09-14 10:00")
        assert f"#{a.id} 答复任务" in shown.output and "仍未答复" in shown.output, shown.output
        await reply(p, user, f"确认参加 任务{a.id}")
        assert f"答复任务{a.id}" not in (await reply(p, user, "待办")).text
        listed = await deadlines.listing(p.factory, p.policy, at("2026-09-14 10:00"))
        assert not [r for r in listed if r["subject"] == f"assignment:{a.id}"]
