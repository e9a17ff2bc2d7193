"""Penalty decisions end to end (issue 17 §1, §3, §5): recorded by the command line and from a
sheet, each bad input refused with nothing recorded; a 7-working-day publication deadline (the
decision day not counted); approved in chat by a bureau leader → published, the deadline
closed (late ones marked late); rejected → back to whoever recorded it with the comment; an ID
number in the facts refused naming the place; the 信用中国 export's columns and values."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import Result
from sqlalchemy import select, update

from bot.platforms import fakes
from bot.registry.penalties import COLUMNS, PERSONAL_COLUMNS, parse_record
from bot.registry.uscc import check_character
from bot.workflows import deadlines, site
from bot.workflows import penalties as flow
from bot.workflows.publish import PublishError, load_people
from bot.workflows.site.pages import SiteContext
from storage import penalties as penalty_db
from storage.engine import unit_of_work
from storage.models import (
    Approval,
    AuditEntry,
    Deadline,
    Entity,
    Finding,
    Penalty,
    PenaltyState,
    Person,
)
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.test_cli import run
from tests.e2e.test_findings import Factory, reply, started
from tests.e2e.test_publication import approved_at
from tests.e2e.test_reports import submit_findings
from tests.helpers import load_sample
from tests.unit.test_personal import ID

pytestmark = pytest.mark.db
ADMIN = "陈红军"  # an admin of the sample registry, with a WeCom account
COMPANY = ("91411422MAKD1PU93K", "睢县凯旋农业科技有限公司")
SHOP = ("92411422818686838W", "睢县城郊乡博远便利店")  # a 个体工商户
BUREAU_USCC = "11411422MB0000000" + check_character("11411422MB0000000")
BUREAU = {"SUIJI_BUREAU__NAME": "睢县人力资源和社会保障局", "SUIJI_BUREAU__USCC": BUREAU_USCC}
ORGAN = flow.Organ(BUREAU["SUIJI_BUREAU__NAME"], BUREAU_USCC)


@pytest.fixture
async def bot(
    factory: Factory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Phones]:
    """The sample bureau on WeCom (the approval engine's two platforms are proved elsewhere)."""
    await load_sample(factory, utc_now)
    monkeypatch.setattr(fakes, "PER_MEMBER_PER_MINUTE", 200)
    pace = {"SUIJI_OUTBOX__PER_RECIPIENT_PER_MINUTE": "200"}
    async with phones("wecom", database_url, **pace) as built:
        yield built


async def suiji(database_url: str, *args: str, bureau: bool = True) -> Result:
    env = {"SUIJI_DATABASE__URL": database_url, **(BUREAU if bureau else {})}
    return await asyncio.to_thread(run, *args, env=env)


def options(number: str, employer: tuple[str, str] = COMPANY, **changed: str) -> list[str]:
    given = {
        "number": number,
        "uscc": employer[0],
        "violation": "未按时足额支付劳动者工资",
        "facts": "拖欠 12 名劳动者两个月工资，经责令限期支付后逾期未支付。",
        "basis": "《劳动保障监察条例》第二十六条",
        "category": "罚款",
        "content": "罚款人民币贰仟元整",
        "amount": "2000",
        "date": "2026-09-30",
        **changed,
    }
    return [
        *[a for key, value in given.items() if value for a in (f"--{key}", value)],
        "--as",
        ADMIN,
    ]


async def record(database_url: str, number: str, **changed: str) -> Result:
    return await suiji(database_url, "penalty", "record", *options(number, **changed))


async def decisions(p: Phones) -> list[Penalty]:
    async with p.factory() as session:
        rows = await session.execute(select(Penalty).order_by(Penalty.id))
        return list(rows.scalars())


async def deadlines_of(p: Phones, penalty_id: int) -> list[Deadline]:
    async with p.factory() as session:
        rows = await session.execute(
            select(Deadline).where(
                Deadline.kind == "penalty_publication",
                Deadline.subject_kind == "penalty",
                Deadline.subject_id == penalty_id,
            )
        )
        return list(rows.scalars())


async def test_recorded_by_the_command_line_opens_a_7_working_day_deadline(
    bot: Phones, database_url: str
) -> None:
    done = await record(database_url, "睢人社监罚〔2026〕1号")
    assert done.exit_code == 0, done.output
    # DOMAIN.md: 7 working days after 2026-09-30 (National Day and Mid-Autumn) is 2026-10-15.
    assert f"（睢人社监罚〔2026〕1号，{COMPANY[1]}），须在 2026-10-15 前公示" in done.output
    (made,) = await decisions(bot)
    assert (made.number, made.state, made.amount) == (
        "睢人社监罚〔2026〕1号",
        PenaltyState.RECORDED,
        Decimal("2000.00"),
    )
    assert (made.organ, made.organ_uscc, made.recorded_by) == (ORGAN.name, ORGAN.uscc, ADMIN)
    (deadline,) = await deadlines_of(bot, made.id)
    async with bot.factory() as session:
        owner = await session.get(Person, deadline.owner_id)
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "penalty:record"))
        ).scalar_one()
    assert deadline.due_on == dt.date(2026, 10, 15) and deadline.state.value == "open"
    assert owner is not None and owner.name == ADMIN
    assert entry.actor == ADMIN and entry.after is not None
    assert json.loads(entry.after)["due_on"] == "2026-10-15"
    listed = await suiji(database_url, "penalty", "list", "--format", "json")
    (row,) = json.loads(listed.output)
    assert (row["employer"], row["due_on"], row["state"]) == (COMPANY[1], "2026-10-15", "recorded")
    # Long past its day and still not published: the list says so, as 「待办」 does below.
    assert (row["overdue"], row["late"]) == (True, False)
    table = await suiji(database_url, "penalty", "list")
    assert "待提交（逾期）" in table.output and "睢人社监罚〔2026〕1号" in table.output
    # Reminded like every other deadline: in 「待办」 and the tick's plan (overdue by now).
    recorder = await bot.account(owner.id)
    todo = await reply(bot, recorder, "待办")
    assert f"**逾期** 处罚决定公示 处罚{made.id} 2026-10-15" in todo.text, todo.text
    # A working-day morning, whatever day the tests run on.
    at = dt.datetime(2026, 12, 3, 1, 30, tzinfo=dt.UTC)
    planned = await deadlines.preview(bot.factory, bot.policy, at)
    items = [i for entry in planned if entry["person"] == ADMIN for i in entry["items"]]
    assert [(i["kind"], i["due_on"]) for i in items] == [("penalty_publication", "2026-10-15")]


@pytest.mark.parametrize(
    ("changed", "said"),
    [
        ({"uscc": "91411422MA9G5T3K0T"}, "名录里没有统一社会信用代码为 91411422MA9G5T3K0T 的单位"),
        ({"uscc": COMPANY[0][:-1] + "0"}, "校验"),
        ({"amount": "-5"}, "「罚款金额（元）」：「-5」应为不小于 0 的金额"),
        ({"amount": "两千"}, "「两千」应为不小于 0 的金额"),
        ({"amount": "12.345"}, "金额最多到分"),
        ({"amount": ""}, "请填写大于 0 的罚款金额"),
        ({"category": "罚款、罚站"}, "罚站"),
        ({"date": "2026-13-01"}, "「处罚决定日期」"),
    ],
)
async def test_a_bad_decision_is_refused_and_nothing_is_recorded(
    bot: Phones, database_url: str, changed: dict[str, str], said: str
) -> None:
    done = await record(database_url, "睢人社监罚〔2026〕2号", **changed)
    assert done.exit_code == 1 and said in done.output, done.output
    assert "Traceback" not in done.output
    assert await decisions(bot) == []


async def test_a_repeated_number_a_future_day_and_no_organ_are_refused(
    bot: Phones, database_url: str
) -> None:
    assert (await record(database_url, "睢人社监罚〔2026〕3号")).exit_code == 0
    again = await record(database_url, "睢人社监罚〔2026〕3号", category="警告", amount="")
    assert again.exit_code == 1 and "「睢人社监罚〔2026〕3号」已经登记过了" in again.output
    no_organ = await suiji(
        database_url, "penalty", "record", *options("睢人社监罚〔2026〕4号"), bureau=False
    )
    assert no_organ.exit_code == 1 and "[bureau]" in no_organ.output
    bad_organ = await suiji(
        database_url,
        "penalty",
        "record",
        *options("睢人社监罚〔2026〕4号"),
        "--organ-uscc",
        BUREAU_USCC[:-1] + ("0" if BUREAU_USCC[-1] != "0" else "1"),
    )
    assert bad_organ.exit_code == 1 and "处罚机关的统一社会信用代码" in bad_organ.output
    # The clock says 2026-09-29 (local): a decision dated the 30th is in the future.
    before = dt.datetime(2026, 9, 29, 15, 0, tzinfo=dt.UTC)
    parsed = parse_record(dict(zip(RAW_KEYS, RAW_VALUES, strict=True)))
    with pytest.raises(flow.PenaltyError, match="2026-09-30 还没到（今天是 2026-09-29）"):
        await flow.record(bot.factory, parsed, ORGAN, ADMIN, lambda: before, bot.policy)
    assert [d.number for d in await decisions(bot)] == ["睢人社监罚〔2026〕3号"]


RAW_KEYS = ("number", "uscc", "violation", "facts", "legal_basis", "categories", "content")
RAW_VALUES = ("睢人社监罚〔2026〕5号", SHOP[0], "违法", "事实", "依据", "警告", "警告")
RAW_KEYS += ("amount", "decided_on", "finding")
RAW_VALUES += ("", "2026-09-30", "")


def fill(path: Path, rows: list[dict[str, Any]]) -> None:
    """The example sheet with its example row replaced by ``rows`` (header → value)."""
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    headers = [c.value for c in sheet[1]]
    sheet.delete_rows(2, sheet.max_row)
    for row in rows:
        sheet.append([row.get(str(h), "") for h in headers])
    book.save(path)


def sheet_row(number: str, employer: tuple[str, str]) -> dict[str, Any]:
    return {
        "处罚决定书文号": number,
        "统一社会信用代码": employer[0],
        "违法行为类型": "未依法订立书面劳动合同",
        "违法事实": "招用 3 名劳动者未订立书面劳动合同。",
        "处罚依据": "《中华人民共和国劳动合同法》第八十二条",
        "处罚类别": "警告、罚款",
        "处罚内容": "警告，并处罚款壹仟伍佰元",
        "罚款金额（元）": 1500.5,
        "处罚决定日期": dt.date(2026, 11, 20),
    }


async def test_a_sheet_is_recorded_whole_or_refused_whole_naming_row_and_column(
    bot: Phones, database_url: str, tmp_path: Path
) -> None:
    sheet = tmp_path / "处罚决定.xlsx"
    made = await suiji(database_url, "penalty", "example", str(sheet))
    assert made.exit_code == 0, made.output
    fill(
        sheet,
        [
            sheet_row("睢人社监罚〔2026〕10号", COMPANY),
            sheet_row("睢人社监罚〔2026〕11号", SHOP) | {"罚款金额（元）": -1},
            sheet_row("睢人社监罚〔2026〕12号", ("91411422MA9G5T3K0T", "")),
            sheet_row("睢人社监罚〔2026〕10号", SHOP),
        ],
    )
    refused = await suiji(database_url, "penalty", "import", str(sheet), "--as", ADMIN)
    assert refused.exit_code == 1, refused.output
    assert "处罚决定.xlsx 第3行 罚款金额（元）: 「-1」应为不小于 0 的金额" in refused.output
    assert "处罚决定.xlsx 第5行 处罚决定书文号: 与第2行重复" in refused.output
    assert "整个文件都没有登记" in refused.output
    assert await decisions(bot) == []
    # The rows read well but the registry does not know the employer of row 4.
    fill(
        sheet,
        [
            sheet_row("睢人社监罚〔2026〕10号", COMPANY),
            sheet_row("睢人社监罚〔2026〕12号", ("91411422MA9G5T3K0T", "")),
        ],
    )
    refused = await suiji(database_url, "penalty", "import", str(sheet), "--as", ADMIN)
    assert refused.exit_code == 1, refused.output
    assert (
        "处罚决定.xlsx 第3行 统一社会信用代码: 名录里没有统一社会信用代码为 91411422MA9G5T3K0T"
        in (refused.output)
    )
    assert await decisions(bot) == []
    fill(
        sheet,
        [sheet_row("睢人社监罚〔2026〕10号", COMPANY), sheet_row("睢人社监罚〔2026〕11号", SHOP)],
    )
    done = await suiji(database_url, "penalty", "import", str(sheet), "--as", ADMIN)
    assert done.exit_code == 0, done.output
    assert "登记 2 条处罚决定" in done.output
    found = await decisions(bot)
    assert [(d.number, d.categories, d.amount) for d in found] == [
        ("睢人社监罚〔2026〕10号", ["warning", "fine"], Decimal("1500.50")),
        ("睢人社监罚〔2026〕11号", ["warning", "fine"], Decimal("1500.50")),
    ]
    # 2026-11-20 is a Friday: 7 working days later is Tuesday 2026-12-01.
    for decision in found:
        assert [d.due_on for d in await deadlines_of(bot, decision.id)] == [dt.date(2026, 12, 1)]


async def test_a_decision_on_an_employer_checked_in_a_campaign_names_its_finding(
    bot: Phones, database_url: str
) -> None:
    campaign_id = await started(bot)
    finding_ids = await submit_findings(bot, campaign_id, 1)
    async with bot.factory() as session:
        finding = await session.get(Finding, finding_ids[0])
        assert finding is not None
        employer = await session.get(Entity, finding.entity_id)
        assert employer is not None
        other = (
            (
                await session.execute(
                    select(Finding.id).where(Finding.entity_id != employer.id).order_by(Finding.id)
                )
            )
            .scalars()
            .first()
        )
    checked = (employer.uscc, employer.name)
    today = dt.date.today().isoformat()
    missing = await record(database_url, "睢人社监罚〔2026〕20号", uscc=checked[0], date=today)
    assert missing.exit_code == 1 and "请用「检查结果编号」写明" in missing.output
    assert str(finding.id) in missing.output
    if other is not None:
        wrong = await record(
            database_url, "睢人社监罚〔2026〕20号", uscc=checked[0], date=today, finding=str(other)
        )
        assert wrong.exit_code == 1 and f"检查结果 {other} 不是这家单位" in wrong.output
    done = await record(
        database_url, "睢人社监罚〔2026〕20号", uscc=checked[0], date=today, finding=str(finding.id)
    )
    assert done.exit_code == 0, done.output
    (made,) = await decisions(bot)
    assert made.finding_id == finding.id
    # Its publication deadline belongs to the campaign it came from.
    (deadline,) = await deadlines_of(bot, made.id)
    assert deadline.campaign_id == campaign_id


async def published_by_a_leader(p: Phones, penalty_id: int) -> tuple[Approval, str]:
    """Prepared (as ``suiji penalty prepare`` does, with the phones' platform) and the card
    seen by a bureau leader; the request and the leader's account."""
    prepared = await flow.prepare(p.factory, penalty_id, ADMIN, utc_now, p.policy)
    assert prepared.state is PenaltyState.PENDING and prepared.approval_id is not None
    async with p.factory() as session:
        approval = await session.get(Approval, prepared.approval_id)
        assert approval is not None
    leader = await p.account(approval.approver_ids[0])
    card = await p.wait_for(leader, f"行政处罚决定待公示：{prepared.number}")
    assert "不含法定代表人和任何证件号码" in card.text
    return approval, leader


async def test_approved_in_chat_published_the_deadline_closed_and_exported_for_credit_china(
    bot: Phones, database_url: str, tmp_path: Path
) -> None:
    assert (await record(database_url, "睢人社监罚〔2026〕30号")).exit_code == 0
    shop = await record(
        database_url, "睢人社监罚〔2026〕31号", employer=SHOP, category="警告", amount=""
    )
    assert shop.exit_code == 0, shop.output
    unpublished = await record(database_url, "睢人社监罚〔2026〕32号", date="2026-10-08")
    assert unpublished.exit_code == 0
    first, second, _ = await decisions(bot)
    for decision in (first, second):
        approval, leader = await published_by_a_leader(bot, decision.id)
        said = await reply(bot, leader, f"同意 审批{approval.id}")
        assert f"已同意审批{approval.id}" in said.text, said.text
    again = await suiji(database_url, "penalty", "prepare", str(first.id), "--as", ADMIN)
    assert again.exit_code == 1 and "已经公示" in again.output
    for decision in (first, second):
        async with bot.factory() as session:
            found = await penalty_db.penalty(session, decision.id)
        assert found is not None and found.state is PenaltyState.PUBLISHED
        assert found.published_at is not None
        closed = await deadlines_of(bot, decision.id)
        # Published today, long after 2026-10-15: late, and shown so.
        assert [(d.state.value, d.closed_why) for d in closed] == [("closed", "published_late")]
        assert found.late is True
    async with bot.factory() as session:
        public = await penalty_db.published_penalties(session)
    assert [p.number for p, _ in public] == ["睢人社监罚〔2026〕30号", "睢人社监罚〔2026〕31号"]

    book = tmp_path / "penalties.xlsx"
    done = await suiji(database_url, "publish", "export", "penalties", str(book))
    assert done.exit_code == 0, done.output
    cells = list(openpyxl.load_workbook(book).active.iter_rows(values_only=True))
    headers = list(cells[0])
    assert len(headers) == len(COLUMNS) == 30
    for expected in (
        "行政相对人名称",
        "行政相对人类别",
        "行政相对人代码_1（统一社会信用代码）",
        "法定代表人",
        "行政处罚决定书文号",
        "违法行为类型",
        "违法事实",
        "处罚依据",
        "处罚类别",
        "处罚内容",
        "罚款金额（万元）",
        "处罚决定日期",
        "公示截止期",
        "处罚机关",
        "处罚机关统一社会信用代码",
        "数据来源单位",
    ):
        assert expected in headers, expected
    rows = [dict(zip(headers, (v or "" for v in row), strict=True)) for row in cells[1:]]
    assert len(rows) == 2  # only the published
    company, shop_row = rows
    assert company["行政相对人名称"] == COMPANY[1]
    assert company["行政相对人类别"] == "法人及非法人组织"
    assert company["行政相对人代码_1（统一社会信用代码）"] == COMPANY[0]
    assert company["罚款金额（万元）"] == "0.200000"
    assert company["处罚类别"] == "罚款"
    assert company["处罚决定日期"] == "2026-09-30" and company["公示截止期"] == "2027-09-30"
    assert company["处罚机关"] == company["数据来源单位"] == ORGAN.name
    assert company["处罚机关统一社会信用代码"] == BUREAU_USCC
    assert shop_row["行政相对人类别"] == "个体工商户"
    assert shop_row["罚款金额（万元）"] == "" and shop_row["处罚类别"] == "警告"
    from bot.base.texts import text

    for column in PERSONAL_COLUMNS:
        header = text("penalty.column", name=column)
        assert company[header] == shop_row[header] == ""
    sheet = tmp_path / "penalties.csv"
    done = await suiji(database_url, "publish", "export", "penalties", str(sheet))
    assert done.exit_code == 0, done.output
    with sheet.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == headers and [r[13] for r in lines[1:]] == [
        "睢人社监罚〔2026〕30号",
        "睢人社监罚〔2026〕31号",
    ]
    bad = await suiji(database_url, "publish", "export", "penalties", "1", str(sheet))
    assert bad.exit_code == 1 and "suiji publish export penalties 文件" in bad.output

    # Personal data planted behind the workflow's back in a published decision: the export
    # refuses, names the place, and writes nothing.
    async with unit_of_work(bot.factory) as session:
        await session.execute(
            update(Penalty).where(Penalty.id == second.id).values(facts=f"店主身份证 {ID}")
        )
    refused = tmp_path / "refused.xlsx"
    said = await suiji(database_url, "publish", "export", "penalties", str(refused))
    assert said.exit_code == 1 and f"第 2 条（{SHOP[1]}）「违法事实」：身份证号" in said.output
    assert ID not in said.output and not refused.exists()


async def test_published_within_the_deadline_is_on_time(bot: Phones, database_url: str) -> None:
    today = dt.datetime.now(dt.UTC).astimezone(bot.policy.tz).date()
    done = await record(database_url, "睢人社监罚〔2026〕35号", date=today.isoformat())
    assert done.exit_code == 0, done.output
    (decision,) = await decisions(bot)
    approval, leader = await published_by_a_leader(bot, decision.id)
    await reply(bot, leader, f"同意 审批{approval.id}")
    (found,) = await decisions(bot)
    assert found.state is PenaltyState.PUBLISHED and found.late is False
    closed = await deadlines_of(bot, decision.id)
    assert [(d.state.value, d.closed_why) for d in closed] == [("closed", "published")]


async def test_published_after_its_deadline_is_marked_late_not_hidden(
    bot: Phones, database_url: str
) -> None:
    today = dt.datetime.now(dt.UTC).astimezone(bot.policy.tz).date()
    done = await record(database_url, "睢人社监罚〔2026〕36号", date=today.isoformat())
    assert done.exit_code == 0, done.output
    (decision,) = await decisions(bot)
    (deadline,) = await deadlines_of(bot, decision.id)
    prepared = await flow.prepare(bot.factory, decision.id, ADMIN, utc_now, bot.policy)
    later = utc_now() + dt.timedelta(days=(deadline.due_on - today).days + 3)
    assert prepared.approval_id is not None
    await approved_at(bot, prepared.approval_id, later)
    (found,) = await decisions(bot)
    assert found.state is PenaltyState.PUBLISHED and found.late is True
    closed = await deadlines_of(bot, decision.id)
    assert [(d.state.value, d.closed_why) for d in closed] == [("closed", "published_late")]
    listed = json.loads((await suiji(database_url, "penalty", "list", "--format", "json")).output)
    assert listed[0]["late"] is True
    table = await suiji(database_url, "penalty", "list")
    assert "已公示（逾期）" in table.output


async def test_the_public_site_lists_published_decisions_only_late_ones_marked(
    bot: Phones, database_url: str
) -> None:
    """The site's 行政处罚决定 page: a decision published late is there, marked late, in the
    approved row's values (no representative, no ID number: the scan finds nothing); one still
    waiting on a leader is not."""
    today = dt.datetime.now(dt.UTC).astimezone(bot.policy.tz).date()
    for number in ("睢人社监罚〔2026〕40号", "睢人社监罚〔2026〕41号"):
        done = await record(database_url, number, date=today.isoformat())
        assert done.exit_code == 0, done.output
    late, waiting = await decisions(bot)
    (deadline,) = await deadlines_of(bot, late.id)
    prepared = await flow.prepare(bot.factory, late.id, ADMIN, utc_now, bot.policy)
    assert prepared.approval_id is not None
    later = utc_now() + dt.timedelta(days=(deadline.due_on - today).days + 3)
    await approved_at(bot, prepared.approval_id, later)
    await flow.prepare(bot.factory, waiting.id, ADMIN, utc_now, bot.policy)
    files = await site.build(bot.factory, SiteContext(today, bot.policy.timezone))
    shown = next(f for f in files if f.path == "penalties/index.html").content.decode()
    assert late.number in shown and waiting.number not in shown
    assert COMPANY[0] in shown and COMPANY[1] in shown and "逾期公示" in shown
    async with bot.factory() as session:
        people = await load_people(session)
    assert site.scan(files, people) == []


async def test_a_rejected_publication_goes_back_to_the_recorder_with_the_comment(
    bot: Phones, database_url: str
) -> None:
    assert (await record(database_url, "睢人社监罚〔2026〕40号")).exit_code == 0
    (decision,) = await decisions(bot)
    approval, leader = await published_by_a_leader(bot, decision.id)
    said = await reply(bot, leader, f"驳回 审批{approval.id} 处罚依据请写到条款")
    assert "已驳回" in said.text
    (found,) = await decisions(bot)
    assert found.state is PenaltyState.REJECTED and found.published_at is None
    async with bot.factory() as session:
        recorder = (await session.execute(select(Person).where(Person.name == ADMIN))).scalar_one()
    told = await bot.wait_for(await bot.account(recorder.id), "被")
    assert "处罚依据请写到条款" in told.text and "睢人社监罚〔2026〕40号" in told.text
    # Still due: the deadline stays open, and it may be asked for again.
    assert [d.state.value for d in await deadlines_of(bot, decision.id)] == ["open"]
    again = await flow.prepare(bot.factory, decision.id, ADMIN, utc_now, bot.policy)
    assert again.state is PenaltyState.PENDING and again.approval_id != approval.id


async def test_an_id_number_in_the_facts_is_refused_naming_the_place(
    bot: Phones, database_url: str
) -> None:
    """Refused when recorded: a decision cannot be edited after, so it could never be
    published and its deadline would stay open; planted behind the workflow's back, refused
    again by prepare's scan."""
    facts = f"拖欠职工（身份证 {ID}）工资。"
    said = await record(database_url, "睢人社监罚〔2026〕50号", facts=facts)
    assert said.exit_code == 1 and "「违法事实」：有个人信息（身份证号" in said.output, said.output
    assert ID not in said.output and await decisions(bot) == []
    assert (await record(database_url, "睢人社监罚〔2026〕50号")).exit_code == 0
    (decision,) = await decisions(bot)
    async with unit_of_work(bot.factory) as session:
        await session.execute(update(Penalty).where(Penalty.id == decision.id).values(facts=facts))
    with pytest.raises(PublishError) as refused:
        await flow.prepare(bot.factory, decision.id, ADMIN, utc_now, bot.policy)
    message = str(refused.value)
    assert f"第 1 条（{COMPANY[1]}）「违法事实」：身份证号" in message and ID not in message
    (found,) = await decisions(bot)
    assert found.state is PenaltyState.RECORDED and found.approval_id is None
    async with bot.factory() as session:
        assert (await session.execute(select(Approval))).scalars().first() is None


async def test_prepare_by_the_command_line_once_and_only_for_a_known_decision(
    bot: Phones, database_url: str
) -> None:
    unknown = await suiji(database_url, "penalty", "prepare", "99", "--as", ADMIN)
    assert unknown.exit_code == 1 and "没有编号为 99 的处罚决定" in unknown.output
    assert (await record(database_url, "睢人社监罚〔2026〕60号")).exit_code == 0
    (decision,) = await decisions(bot)
    witness = await suiji(database_url, "penalty", "prepare", str(decision.id), "--as", "刘艳丽")
    assert witness.exit_code == 1 and "刘艳丽" in witness.output
    done = await suiji(database_url, "penalty", "prepare", str(decision.id), "--as", ADMIN)
    assert done.exit_code == 0 and "已提交局领导审批公示" in done.output, done.output
    (found,) = await decisions(bot)
    assert found.state is PenaltyState.PENDING and found.approval_id is not None
    again = await suiji(database_url, "penalty", "prepare", str(decision.id), "--as", ADMIN)
    assert again.exit_code == 1 and "正在等领导审批" in again.output


async def test_a_csv_sheet_saved_by_excel_on_a_chinese_windows_is_recorded_too(
    bot: Phones, database_url: str, tmp_path: Path
) -> None:
    row = sheet_row("睢人社监罚〔2026〕70号", SHOP) | {
        "处罚决定日期": "2026年11月20日",
        "检查结果编号": "",
    }
    sheet = tmp_path / "处罚.csv"
    with sheet.open("w", encoding="gb18030", newline="") as f:
        csv.writer(f).writerows([list(row), [str(v) for v in row.values()]])
    done = await suiji(database_url, "penalty", "import", str(sheet), "--as", ADMIN)
    assert done.exit_code == 0, done.output
    (made,) = await decisions(bot)
    assert (made.number, made.decided_on) == ("睢人社监罚〔2026〕70号", dt.date(2026, 11, 20))
