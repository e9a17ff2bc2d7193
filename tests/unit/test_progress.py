"""「进度」 rendered: a team's findings with who holds each, every team's for the leaders, the
counts, confidential employers kept unnamed, and long lists cut to what one message holds."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.platforms.messages import MAX_MARKDOWN_BYTES
from handlers.progress import (
    CampaignStanding,
    Cell,
    Counts,
    EmployerStanding,
    Running,
    TeamStanding,
    choose_reply,
    fit,
    team_reply,
    unit_reply,
)

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
START, END = dt.date(2026, 5, 4), dt.date(2026, 5, 15)
DURING, AFTER = dt.date(2026, 5, 6), dt.date(2026, 5, 20)
HELD = dt.datetime(2026, 5, 6, 6, 30, tzinfo=dt.UTC)  # 14:30 in Shanghai
ITEMS = ("工资支付情况", "社会保险参保缴费情况")
SUBMITTED = Cell(
    "submitted", 12, submitted_by="李四", submitted_at=dt.datetime(2026, 5, 5, 2, tzinfo=dt.UTC)
)
DRAFT = Cell("draft", 13, holder="张三", held_since=HELD)
SENT_BACK = Cell("draft", 14, submitted_by="李四", reopened=1)
EMPTY = Cell("empty")


def employer(n: int, *cells: Cell) -> EmployerStanding:
    return EmployerStanding(f"睢县测试企业{n}有限公司", f"9141142200000000{n:02d}", cells)


def campaign(*teams: TeamStanding, confidential: bool = False) -> CampaignStanding:
    return CampaignStanding(7, "2026年5月工资支付专项抽查", START, END, ITEMS, confidential, teams)


TEAM_1 = TeamStanding(1, "王组长", (employer(1, SUBMITTED, DRAFT), employer(2, EMPTY, SENT_BACK)))
TEAM_2 = TeamStanding(2, "赵组长", (employer(3, SUBMITTED, SUBMITTED),))
TEAM_3 = TeamStanding(3, "钱组长", (employer(4, SUBMITTED, SUBMITTED), employer(5, EMPTY, EMPTY)))


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def test_counts_add_up_by_state() -> None:
    assert TEAM_1.counts == Counts(submitted=1, draft=2, empty=1)
    assert TEAM_1.counts.total == 4 and not TEAM_1.counts.complete
    assert TEAM_2.counts.complete
    assert campaign(TEAM_1, TEAM_2).counts == Counts(3, 2, 1)


def test_a_team_leader_reads_each_finding_and_who_holds_it_since_when_in_local_time() -> None:
    reply = team_reply(campaign(TEAM_1), TEAM_1, DURING, TZ)
    assert reply.kind == "markdown" and reply.title == "第1组检查进度" and reply.repeatable
    text = reply.text
    assert "已提交 1/4，填写中 2，未填 1" in text
    assert "①工资支付情况、②社会保险参保缴费情况" in text
    line_1 = next(line for line in text.splitlines() if "企业1有限公司" in line)
    assert "①已提交（李四，结果12）" in line_1
    assert "②填写中（张三，2026-05-06 14:30 起）" in line_1
    line_2 = next(line for line in text.splitlines() if "企业2有限公司" in line)
    assert "①未填" in line_2 and "②填写中（已退回，待修改）" in line_2
    assert "还有" not in text and "退回 结果编号" in text


def test_before_the_start_the_leader_is_told_when_filling_opens() -> None:
    text = team_reply(campaign(TEAM_1), TEAM_1, START - dt.timedelta(days=1), TZ).text
    assert f"检查从 {START} 开始" in text
    assert "检查从" not in team_reply(campaign(TEAM_1), TEAM_1, START, TZ).text


def test_a_leader_reads_every_team_with_what_is_missing_and_complete_teams_in_one_line() -> None:
    reply = unit_reply(campaign(TEAM_1, TEAM_2, TEAM_3), frozenset(), DURING, TZ)
    text = reply.text
    assert reply.title == "检查进度"
    assert "共 3 个组" in text and "已提交 5/10，填写中 2，未填 3" in text
    assert "已全部提交：第 2 组" in text and "第 2 组**" not in text
    assert "**第 1 组**（组长 王组长）已提交 1/4" in text
    assert "**第 3 组**（组长 钱组长）已提交 2/4，未填 2" in text
    # What is missing, and who holds a draft; not what was submitted.
    line_1 = next(line for line in text.splitlines() if "企业1有限公司" in line)
    assert line_1 == "- 睢县测试企业1有限公司：②填写中（张三）"
    assert "企业4有限公司" not in text and "企业3有限公司" not in text
    assert "- 睢县测试企业5有限公司：都未填" in text
    assert "保密" not in text


def test_employers_where_nothing_was_begun_share_one_line() -> None:
    idle = TeamStanding(
        4, "李组长", (*TEAM_1.employers, *(employer(n, EMPTY, EMPTY) for n in (6, 7)))
    )
    text = unit_reply(campaign(idle), frozenset(), DURING, TZ).text
    assert "- 2 家都未填：睢县测试企业6有限公司、睢县测试企业7有限公司" in text
    assert "- 睢县测试企业2有限公司：①未填　②填写中（已退回，待修改）" in text  # one begun
    hidden = unit_reply(campaign(idle, confidential=True), frozenset(), DURING, TZ).text
    assert "- 2 家都未填：第3、4家" in hidden and "企业6" not in hidden


def test_a_confidential_campaign_names_only_the_employers_of_teams_the_reader_leads() -> None:
    during = unit_reply(campaign(TEAM_1, TEAM_3, confidential=True), frozenset({3}), DURING, TZ)
    assert "企业1有限公司" not in during.text and "企业2有限公司" not in during.text
    assert "- 第1家：②填写中（张三）" in during.text and "- 第2家：①未填" in during.text
    assert "- 睢县测试企业5有限公司：都未填" in during.text  # the reader's own team
    assert "要求保密" in during.text
    # Once the inspections are over, the targets are no secret any more (the draw is public).
    after = unit_reply(campaign(TEAM_1, confidential=True), frozenset(), AFTER, TZ)
    assert "企业1有限公司" in after.text and "保密" not in after.text
    # The team's leader is on the team: named.
    mine = team_reply(campaign(TEAM_1, confidential=True), TEAM_1, DURING, TZ)
    assert "企业1有限公司" in mine.text


def big_team(number: int, employers: int) -> TeamStanding:
    return TeamStanding(
        number,
        "孙组长",
        tuple(employer(n, DRAFT, EMPTY) for n in range(1, employers + 1)),
    )


def test_a_long_team_is_cut_at_a_whole_line_and_says_how_many_are_left() -> None:
    team = big_team(1, 60)
    reply = team_reply(campaign(team), team, DURING, TZ)
    assert size(reply.text) <= MAX_MARKDOWN_BYTES
    listed = re.findall(r"^(\d+)\. 睢县测试企业\1有限公司：①填写中.*②未填$", reply.text, re.M)
    assert 10 < len(listed) < 60 and listed == [str(n) for n in range(1, len(listed) + 1)]
    left = re.search(r"…还有 (\d+) 项未列出", reply.text)
    assert left is not None and int(left.group(1)) == (60 - len(listed)) * 2
    assert "suiji campaign show 7" in reply.text
    assert "已提交 0/120" in reply.text  # the counts are of the whole team


def test_many_teams_are_cut_and_the_teams_left_out_are_counted() -> None:
    teams = tuple(big_team(n, 4) for n in range(1, 41))
    reply = unit_reply(campaign(*teams), frozenset(), DURING, TZ)
    assert size(reply.text) <= MAX_MARKDOWN_BYTES
    shown = re.findall(r"^\*\*第 (\d+) 组\*\*", reply.text, re.M)
    lines = [line for line in reply.text.splitlines() if line.startswith("- 睢县")]
    left = re.search(r"…还有 (\d+) 项（(\d+) 个组）未列出", reply.text)
    assert left is not None and shown
    assert int(left.group(1)) == 40 * 4 * 2 - 2 * len(lines)
    # A team whose heading made it may have lost some of its lines, never the other way round.
    assert int(left.group(2)) == 40 - len(shown)
    assert "已提交 0/320，填写中 160，未填 160" in reply.text


def test_several_campaigns_are_listed_to_choose_from() -> None:
    running = [
        Running(7, "五月专项", START, END, None, Counts(3, 1, 4)),
        Running(9, "六月专项", START, END, 2, Counts(0, 0, 6)),
    ]
    text = choose_reply(running).text
    assert "抽查7 五月专项" in text and "已提交 3/8" in text
    assert "抽查9 六月专项" in text and "第 2 组：已提交 0/6" in text
    assert "「进度 抽查7」" in text


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.integers(1, 300), max_size=40),
    tail=st.integers(0, 40),
    budget=st.integers(0, 3000),
)
def test_fit_keeps_the_most_whole_lines_that_fit(lines: list[int], tail: int, budget: int) -> None:
    def draw(k: int) -> str:
        body = "".join("x" * n + "\n" for n in lines[:k])
        return body + ("…" * tail if k < len(lines) else "")

    shown = fit(len(lines), draw, budget)
    k = next(k for k in range(len(lines), -1, -1) if draw(k) == shown)
    if k:  # whatever was kept fits…
        assert size(shown) <= budget
    if k < len(lines):  # …and one more line would not
        assert size(draw(k + 1)) > budget
