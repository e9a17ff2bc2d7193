"""Benchmark: officers filling a twelve-question form in chat, all at once (issue 14 §7).

Run: ``python -m tests.benchmarks.bench_forms [--officers 200] [--think SECONDS] [--url URL]
[--rounds N]``.

Before the clock (on a temporary SQLite file, or each ``--url``, emptied first): the sample
registries, as many officers again as are drawn plus one leader for every two, and a campaign
of the wages item (RS-JC-003) that starts today with teams of two, drawn. Every team has two
employers or more, and its first officer fills the first employer's finding, the second the
second's: no two officers share a finding (one holds a draft at a time).

The bot then serves in a child process as ``suiji serve`` runs it (bench_callbacks' server,
with a fake WeCom for its replies), and this process plays WeCom for every officer at once,
each on a kept-alive connection of their own, with sealed text callbacks: 「填写 任务N」 and
the employer's number open the form (unmeasured: the warm-up); then the twelve answers of
ANSWERS and 「提交」, each posted once the bot's reply to the one before is in the outbox
table (polled every POLL_SECONDS) and ``--think`` seconds have passed (0 by default: at once,
so that every officer is always waiting on the bot, and the time to a reply is about the
officers divided by the answers a second). Measured: answers a second, the acknowledgement's
p50/p99, and the time from posting an answer to its reply (the next question, the review,
then 「已提交」) being in the outbox, p50/p99; beside the ceiling of bench_callbacks (a bare
endpoint that only verifies and decrypts) for the same people posting as many callbacks.
Prints figures and asserts nothing; warns when a finding was not submitted in the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.platforms.fakes import new_secrets
from bot.registry.importer import import_sheet
from bot.server.h5_login import SESSION_COOKIE, Sessions
from bot.workflows import campaigns
from bot.workflows.campaign_spec import parse_campaign
from bot.workflows.step import policy_of
from storage.assignments import team_employers
from storage.engine import make_engine, make_session_factory
from storage.models import (
    Assignment,
    AssignmentRole,
    Finding,
    FindingState,
    OutboxMessage,
    OutboxState,
    Person,
)
from tests.benchmarks.bench_callbacks import (
    add_database_options,
    each_round,
    fresh_database,
    measure,
    percentiles,
    read_answer,
    sealed_post,
    sealer,
    serving,
    settings_for,
)
from tests.helpers import ENTROPY, spec, write_csv

ITEM = "RS-JC-003"  # 工资支付情况
# One path through the wages form and the standard result: twelve questions, then the review.
ANSWERS = [
    "12",  # 1 现有职工人数
    "是",  # 2 制作并保存工资支付记录
    "1",  # 3 工资支付周期: 按月支付
    "是",  # 4 按时足额 (否 would ask three more)
    "是",  # 5 个人工资清单
    "否",  # 6 工程建设领域 (是 would ask about 农民工工资)
    "跳过",  # 7 证据照片, optional
    "今天",  # 8 检查日期
    "1",  # 9 检查方式: 实地检查
    "3",  # 10 检查结果: 发现问题待后续处理
    "3",  # 11 后续处置: 移送办案机构 (责令改正 would ask 整改期限)
    "未按规定保存2024年工资支付记录",  # 12 发现的问题, required for that result
    "提交",  # at the review
]
POLL_SECONDS = 0.005
GAP_SECONDS = 30.0
REPLY_TIMEOUT = 120.0
SETTLE_TIMEOUT = 180.0
# A kept-alive connection is opened again after this long without a post: suiji serve closes
# one that sends no request within server.header_timeout_seconds (10) of its last answer.
IDLE_SECONDS = 8.0
OPENING = 2  # 「填写 任务N」 and the employer's number: not measured
ACTOR = "bench"


@dataclasses.dataclass
class Officer:
    account: str
    opening: list[str]  # OPENING posts: 「填写 任务N」, then the employer's number


def _officer_rows(count: int, leaders: int) -> list[list[str]]:
    """Officers for the sheet: ``leaders`` who may lead a team first, then the rest."""
    rows = []
    for n in range(count):
        leads = n < leaders
        rows.append([
            f"豫4114229{n:04d}", f"执法员{n}", "劳动保障监察大队",
            "执法人员、领导" if leads else "执法人员", "是" if leads else "否",
            "河南省人民政府", "2030-12-31", "有效", "", f"bench{n}", "",
        ])  # fmt: skip
    return rows


def _campaign_source(teams: int, leaders: list[str]) -> str:
    start = dt.date.today()
    # Of the sample's 500 employers, about three a team (two are needed): 60% for 100 teams.
    ratio = f'{{ ratio = "{min(60, 3 * teams // 5 + 1)}%" }}'
    return spec(
        items=json.dumps([ITEM]),
        start=start.isoformat(),
        end=(start + dt.timedelta(days=14)).isoformat(),
        teams=str(teams),
        leaders=json.dumps(leaders, ensure_ascii=False),
        high_risk=ratio, grade_c=ratio, grade_b=ratio, grade_a=ratio, ungraded=ratio,
    )  # fmt: skip


async def prepare(url: str, keys: dict[str, str], count: int, folder: Path) -> list[Officer]:
    """The database for ``count`` officers filling at once (teams of two); each officer's
    opening words."""
    await fresh_database(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        teams = (count + 1) // 2
        sheet = write_csv(folder / "officers.csv", "officers", _officer_rows(count + teams, teams))
        report = await import_sheet(factory, "officers", sheet, actor=ACTOR, clock=_now)
        assert report.written and not report.problems, [p.line() for p in report.problems]
        leaders = [row[0] for row in _officer_rows(teams, teams)]
        # Created as if three weeks ago, when a start today was still ahead, and drawn now.
        weeks_ago = _now() - dt.timedelta(days=21)
        source = parse_campaign(_campaign_source(teams, leaders))
        created = await campaigns.create_campaign(factory, source, ACTOR, lambda: weeks_ago)
        campaign_id = created.id
        policy = policy_of(settings_for(keys, url, 0))
        await campaigns.commit_draw(factory, campaign_id, ACTOR, _now)
        await campaigns.run_draw(factory, campaign_id, ENTROPY, None, ACTOR, _now, policy)
        return (await _officers(engine, campaign_id))[:count]
    finally:
        await engine.dispose()


async def _officers(engine: AsyncEngine, campaign_id: int) -> list[Officer]:
    officers = []
    async with make_session_factory(engine)() as session:
        rows = await session.execute(
            select(Assignment, Person.wecom_userid)
            .join(Person, Person.id == Assignment.person_id)
            .where(
                Assignment.campaign_id == campaign_id,
                Assignment.role == AssignmentRole.MEMBER,
                Assignment.team_id.is_not(None),
            )
            .order_by(Assignment.team_number, Assignment.position)
        )
        teams: dict[int, list[tuple[Assignment, str]]] = defaultdict(list)
        for a, account in rows:
            teams[a.team_id or 0].append((a, account or ""))
        for team_id, members in teams.items():
            employers = await team_employers(session, team_id)
            if len(employers) < len(members):
                raise RuntimeError(f"team {team_id}: {len(employers)} employers")
            for number, (a, account) in enumerate(members, 1):
                officers.append(Officer(account, [f"填写 任务{a.id}", str(number)]))
    return officers


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _outbox_settled(engine: AsyncEngine) -> None:
    """Until the bot has sent everything in its outbox (the draw's notifications)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            waiting = await conn.scalar(
                select(func.count()).where(OutboxMessage.state == OutboxState.PENDING)
            )
        if not waiting:
            return
        await asyncio.sleep(0.25)
    print(f"warning: {waiting} messages still unsent after {SETTLE_TIMEOUT} s")


class Replies:
    """The bot's replies as they are written to the outbox: this process polls the table and
    queues the moment each row is first seen, by recipient.

    On a server database rows commit out of id order (several handlers at once), so a row may
    appear below one seen already: each poll reads from the lowest id not yet seen, and a gap
    (an id never committed: a rolled-back insert) is passed over after GAP_SECONDS."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.seen: dict[str, asyncio.Queue[float]] = defaultdict(asyncio.Queue)
        self.floor = 0  # every id up to here is seen (or given up on)
        self.above: set[int] = set()  # ids seen above the floor
        self.gap_since: float | None = None

    async def skip_past(self) -> None:
        async with self.engine.connect() as conn:
            self.floor = await conn.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0)))

    async def watch(self) -> None:
        query = select(OutboxMessage.id, OutboxMessage.recipient)
        while True:
            async with self.engine.connect() as conn:
                rows = (await conn.execute(query.where(OutboxMessage.id > self.floor))).all()
            now = time.perf_counter()
            for row_id, recipient in rows:
                if row_id not in self.above:
                    self.above.add(row_id)
                    self.seen[recipient].put_nowait(now)
            self._raise_floor(now)
            await asyncio.sleep(POLL_SECONDS)

    def _raise_floor(self, now: float) -> None:
        while self.above:
            if self.floor + 1 in self.above:
                self.above.discard(self.floor + 1)
                self.floor += 1
                self.gap_since = None
            elif self.gap_since is None:
                self.gap_since = now
                return
            elif now - self.gap_since > GAP_SECONDS:
                self.floor += 1
                self.gap_since = None
            else:
                return

    async def next(self, recipient: str) -> float:
        """When the next reply to ``recipient`` was first seen."""
        try:
            return await asyncio.wait_for(self.seen[recipient].get(), REPLY_TIMEOUT)
        except TimeoutError:
            raise RuntimeError(f"no reply to {recipient} within {REPLY_TIMEOUT} s") from None


async def _fill(
    port: int, url: str, requests: dict[str, list[bytes]], think: float
) -> dict[str, Any]:
    """Every officer at once: the opening posts (warm-up), then, once all are at the first
    question, the measured ones. Each post waits for its acknowledgement, then for its reply
    in the outbox, then ``think`` seconds (a half to one and a half times, at random) before
    the next."""
    engine = make_engine(url)
    replies = Replies(engine)
    await _outbox_settled(engine)
    await replies.skip_past()
    watcher = asyncio.create_task(replies.watch())
    streams = {user: await asyncio.open_connection("127.0.0.1", port) for user in requests}
    opened = asyncio.Barrier(len(requests) + 1)
    rng = random.Random(len(requests))
    acks: list[float] = []
    turns: list[float] = []

    async def officer(user: str, own: list[bytes]) -> None:
        reader, writer = streams[user]
        idle_since = time.perf_counter()
        for n, request in enumerate(own):
            if n == OPENING:
                await opened.wait()
            if n >= OPENING and think:  # the first answer too: they did not all open at once
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            if time.perf_counter() - idle_since > IDLE_SECONDS:  # the edge would close it
                writer.close()
                reader, writer = streams[user] = await asyncio.open_connection("127.0.0.1", port)
            started = time.perf_counter()
            writer.write(request)
            assert await read_answer(reader) == 200
            answered = idle_since = time.perf_counter()
            arrived = await replies.next(user)
            if n >= OPENING:
                acks.append(answered - started)
                turns.append(arrived - started)

    officers = [asyncio.create_task(officer(u, own)) for u, own in requests.items()]
    try:
        await opened.wait()  # everyone at the first question: the clock starts
        started = time.perf_counter()
        await asyncio.gather(*officers)
        elapsed = time.perf_counter() - started
    finally:
        watcher.cancel()
        for _, writer in streams.values():
            writer.close()
    async with engine.connect() as conn:
        submitted = await conn.scalar(
            select(func.count()).where(Finding.state == FindingState.SUBMITTED)
        )
    await engine.dispose()
    ack = percentiles(acks)
    return {
        "answers_per_s": len(turns) / elapsed,
        "ack_p50_ms": ack["p50_ms"],
        "ack_p99_ms": ack["p99_ms"],
        **percentiles(turns),
        "elapsed_s": elapsed,
        "submitted": submitted,
    }


async def _pages(port: int, url: str, keys: dict[str, str]) -> dict[str, Any]:
    """Every officer opens their finding's page at once (GET /h5/findings/{id}, logged in:
    a session cookie signed as the server signs them): the page's time, p50/p99."""
    engine = make_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(Finding.id, Finding.submitted_by_id))).all()
    await engine.dispose()
    sessions = Sessions(settings_for(keys, url, 0, port), time.time)
    times: list[float] = []

    async def open_page(http: aiohttp.ClientSession, finding_id: int, person_id: int) -> None:
        answer = web.Response()
        sessions.sign_in(answer, person_id)
        cookie = {SESSION_COOKIE: answer.cookies[SESSION_COOKIE].value}
        started = time.perf_counter()
        async with http.get(f"/h5/findings/{finding_id}", cookies=cookie) as response:
            await response.read()
            assert response.status == 200, response.status
        times.append(time.perf_counter() - started)

    limit = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=limit) as http:
        await asyncio.gather(*(open_page(http, f, p) for f, p in rows if p is not None))
    shown = percentiles(times)
    return {"pages": len(times), "page_p50_ms": shown["p50_ms"], "page_p99_ms": shown["p99_ms"]}


def measure_bot(url: str, count: int, think: float, folder: Path) -> dict[str, Any]:
    keys = new_secrets()
    officers = asyncio.run(prepare(url, keys, count, folder))
    with serving("bot", keys, url) as port:
        fake = sealer(keys)
        msg_ids = iter(range(10**9, 2 * 10**9))
        requests = {
            o.account: [
                sealed_post(fake, port, o.account, words, next(msg_ids))
                for words in [*o.opening, *ANSWERS]
            ]
            for o in officers
        }
        figures = asyncio.run(_fill(port, url, requests, think))
        figures |= asyncio.run(_pages(port, url, keys))
    if figures["submitted"] != len(officers):
        print(f"warning: {figures['submitted']} of {len(officers)} findings submitted")
    return figures


def _report(count: int, ceiling: dict[str, Any], bots: list[tuple[str, dict[str, Any]]]) -> None:
    print(
        f"{'ceiling (verify+decrypt)':<26} {ceiling['acks_per_s']:>6.0f} acks/s     "
        f"ack p50 {ceiling['p50_ms']:6.1f} ms  p99 {ceiling['p99_ms']:6.1f} ms"
    )
    for url, f in bots:
        print(
            f"{'suiji (' + url.split(':', 1)[0] + ')':<26} {f['answers_per_s']:>6.0f} answers/s  "
            f"ack p50 {f['ack_p50_ms']:6.1f} ms  p99 {f['ack_p99_ms']:6.1f} ms\n"
            f"{'':<26} next question in the outbox p50 {f['p50_ms']:6.0f} ms  "
            f"p99 {f['p99_ms']:6.0f} ms; {f['submitted']}/{count} submitted in "
            f"{f['elapsed_s']:.1f} s\n"
            f"{'':<26} {f['pages']} finding pages opened at once: p50 "
            f"{f['page_p50_ms']:6.0f} ms  p99 {f['page_p99_ms']:6.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--officers", type=int, default=200)
    add_database_options(parser)
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds an officer takes over each question before answering, a half to one and "
        "a half times that at random (0: the moment it is in the outbox, every officer always "
        "waiting on the bot)",
    )
    args = parser.parse_args()
    print(
        f"{args.officers} officers at once x {len(ANSWERS)} callbacks ({len(ANSWERS) - 1} answers "
        f"and 「提交」) = {args.officers * len(ANSWERS)}, {args.think:g} s to think; replies seen "
        f"in the outbox within {POLL_SECONDS * 1000:.0f} ms"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for urls in each_round(args, folder):
            ceiling = measure("bare", urls[0], args.officers, len(ANSWERS))
            bots = [(url, measure_bot(url, args.officers, args.think, folder)) for url in urls]
            _report(args.officers, ceiling, bots)


if __name__ == "__main__":
    main()
