"""Registry imports against a real database: all or nothing, upserts, audit, round trips."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.registry import sheets
from bot.registry.export import export_sheet, list_records
from bot.registry.importer import SAMPLE_KINDS, ImportReport, import_sheet
from bot.registry.kinds import KINDS
from bot.registry.sheets import SheetError
from storage import audit
from storage.models import AuditEntry, Certificate, SpotCheckItem
from storage.officers import drawable_officers
from tests.helpers import (
    count_rows,
    entity_row,
    load_sample,
    new_workbook,
    read_csv,
    write_csv,
)

pytestmark = pytest.mark.db

Factory = async_sessionmaker[AsyncSession]
Clock = Callable[[], dt.datetime]


async def _import(
    factory: Factory, kind: str, path: Path, clock: Clock, **options: bool
) -> ImportReport:
    return await import_sheet(factory, kind, path, actor="李管理", clock=clock, **options)


async def _entries(factory: Factory) -> list[AuditEntry]:
    async with factory() as session:
        return list((await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars())


async def test_sample_registries_import_cleanly(
    factory: Factory, sample_dir: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    assert await count_rows(factory, "entities") == 500
    assert await count_rows(factory, "people") == 44
    assert await count_rows(factory, "spot_check_items") == 9
    async with factory() as session:
        assert (await audit.verify(session)).ok


async def test_one_bad_uscc_in_a_thousand_rows_changes_nothing_and_is_named(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    rows = [entity_row(n) for n in range(1000)]
    rows[636][0] = rows[636][0][:-1] + ("0" if rows[636][0][-1] != "0" else "1")
    path = write_csv(tmp_path / "监管对象.csv", "entities", rows)
    report = await _import(factory, "entities", path, clock)
    assert not report.written
    assert [p.line() for p in report.problems] == [
        f"监管对象.csv 第638行 统一社会信用代码: 「{rows[636][0]}」校验位不对，请核对是否抄错"
    ]
    assert await count_rows(factory, "entities") == 0
    assert await count_rows(factory, "audit_log") == 0


async def test_skip_invalid_imports_the_good_rows_and_still_lists_the_bad(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    rows = [entity_row(n) for n in range(20)]
    rows[3][6] = "很多"  # 职工人数
    rows[9][10] = "倒闭"  # 经营状态
    path = write_csv(tmp_path / "e.csv", "entities", rows)
    report = await _import(factory, "entities", path, clock, skip_invalid=True)
    assert report.written and report.created == 18
    assert [(p.row, p.column) for p in report.problems] == [(5, "职工人数"), (11, "经营状态")]
    assert await count_rows(factory, "entities") == 18


async def test_every_problem_in_the_file_is_listed(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    rows = [entity_row(n) for n in range(6)]
    rows[1][0] = "123"
    rows[2][11] = "2025-13-01"
    rows[4][0] = rows[0][0]  # the same employer twice
    rows[5][1] = ""
    path = write_csv(tmp_path / "e.csv", "entities", rows)
    report = await _import(factory, "entities", path, clock)
    assert [(p.row, p.column) for p in report.problems] == [
        (3, "统一社会信用代码"),
        (4, "最近检查日期"),
        (6, "统一社会信用代码"),
        (7, "单位名称"),
    ]
    assert "与第2行重复" in report.problems[2].reason


async def test_reimport_reports_unchanged_and_an_edit_is_audited_before_and_after(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    rows = [entity_row(n) for n in range(5)]
    path = write_csv(tmp_path / "e.csv", "entities", rows)
    first = await _import(factory, "entities", path, clock)
    assert (first.created, first.updated, first.unchanged) == (5, 0, 0)
    rows[1][7] = "C"
    rows[1][8] = "3"
    second = await _import(factory, "entities", write_csv(path, "entities", rows), clock)
    assert (second.created, second.updated, second.unchanged) == (0, 1, 4)
    entry = (await _entries(factory))[-1]
    assert (entry.actor, entry.action, entry.subject_key) == (
        "李管理",
        "registry:update",
        rows[1][0],
    )
    assert json.loads(entry.before or "") == {"credit_grade": "B", "complaints_12m": 1}
    assert json.loads(entry.after or "") == {"credit_grade": "C", "complaints_12m": 3}
    assert entry.at == clock()


async def test_gb18030_csv_saved_by_excel_imports(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    path = write_csv(tmp_path / "e.csv", "entities", [entity_row(7)], encoding="gb18030")
    report = await _import(factory, "entities", path, clock)
    assert report.created == 1
    [record] = await list_records(factory, "entities")
    assert record["name"] == "睢县测试企业7有限公司"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
async def test_export_then_import_is_lossless(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock, suffix: str
) -> None:
    await load_sample(factory, clock)
    for kind in SAMPLE_KINDS:
        before = await list_records(factory, kind)
        first = tmp_path / f"{kind}{suffix}"
        assert await export_sheet(factory, kind, first) == len(before)
        report = await _import(factory, kind, first, clock)
        assert (report.created, report.updated, report.unchanged) == (0, 0, len(before)), kind
        assert await list_records(factory, kind) == before
        second = tmp_path / f"{kind}-again{suffix}"
        await export_sheet(factory, kind, second)
        if suffix == ".csv":
            assert first.read_bytes() == second.read_bytes()
        else:
            assert _xlsx_values(first) == _xlsx_values(second)


def _xlsx_values(path: Path) -> list[tuple[object, ...]]:
    workbook = load_workbook(path, read_only=True)
    try:
        return list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()


async def test_export_of_the_sample_matches_the_shipped_files(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    exported = tmp_path / "entities.csv"
    await export_sheet(factory, "entities", exported)
    assert sorted(read_csv(exported)[1:]) == sorted(read_csv(sample_dir / "entities.csv")[1:])


async def test_renewed_certificate_is_added_to_the_same_person(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    rows = read_csv(sample_dir / "officers.csv")
    header, officer = rows[0], rows[1]
    old_number = officer[0]
    officer[0] = "豫41142299999"
    officer[header.index("证件有效期至")] = "2031-12-31"
    path = tmp_path / "officers.csv"
    write_csv(path, "officers", [officer])
    report = await _import(factory, "officers", path, clock)
    assert (report.created, report.updated) == (0, 1)
    async with factory() as session:
        numbers = (
            await session.execute(
                select(Certificate.number).where(
                    Certificate.person_id
                    == select(Certificate.person_id)
                    .where(Certificate.number == old_number)
                    .scalar_subquery()
                )
            )
        ).scalars()
        assert sorted(numbers) == sorted([old_number, "豫41142299999"])
    assert await count_rows(factory, "people") == 44


async def test_officer_problems_the_database_knows_are_named(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    rows = read_csv(sample_dir / "officers.csv")
    header = rows[0]
    newcomer = list(rows[1])
    newcomer[0] = "豫41142288888"
    newcomer[header.index("姓名")] = "新同事"
    newcomer[header.index("企业微信账号")] = rows[2][header.index("企业微信账号")]
    newcomer[header.index("钉钉账号")] = "099999999"
    stranger = list(newcomer)
    stranger[0] = "豫41142277777"
    stranger[header.index("企业微信账号")] = "xintongshi"
    stranger[header.index("钉钉账号")] = "088888888"
    stranger[header.index("所属单位")] = "不存在的股"
    path = write_csv(tmp_path / "o.csv", "officers", [newcomer, stranger])
    report = await _import(factory, "officers", path, clock)
    assert not report.written
    owner = rows[2][header.index("姓名")]
    assert [(p.row, p.column, p.reason) for p in report.problems] == [
        (2, "企业微信账号", f"这个账号已属于「{owner}」"),
        (3, "所属单位", "单位「不存在的股」不在单位名录中，请先导入单位"),
    ]


async def test_changed_item_gets_a_new_version_and_the_old_one_is_closed(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    rows = read_csv(sample_dir / "items.csv")
    header, item = rows[0], rows[1]
    item[header.index("默认抽查比例")] = "8%"
    item[header.index("生效日期")] = "2026-07-01"
    path = write_csv(tmp_path / "items.xlsx".replace("xlsx", "csv"), "items", [item])
    report = await _import(factory, "items", path, clock)
    assert report.updated == 1
    async with factory() as session:
        versions = (
            (
                await session.execute(
                    select(SpotCheckItem)
                    .where(SpotCheckItem.code == item[0])
                    .order_by(SpotCheckItem.version)
                )
            )
            .scalars()
            .all()
        )
    assert [(v.version, v.valid_from, v.valid_to, str(v.default_ratio)) for v in versions] == [
        (1, dt.date(2026, 1, 1), dt.date(2026, 6, 30), "5.00"),
        (2, dt.date(2026, 7, 1), None, "8.00"),
    ]
    assert versions[1].changed_by == "李管理"
    [current] = [r for r in await list_records(factory, "items") if r["code"] == item[0]]
    assert str(current["default_ratio"]) == "8.00"


async def test_recusal_for_unknown_officer_or_employer_is_refused(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    rows = read_csv(sample_dir / "recusals.csv")
    bad_officer = ["豫00000000000", *rows[1][1:]]
    bad_entity = [rows[1][0], entity_row(424242)[0], *rows[1][2:]]
    path = write_csv(tmp_path / "r.csv", "recusals", [bad_officer, bad_entity])
    report = await _import(factory, "recusals", path, clock)
    assert [(p.row, p.column) for p in report.problems] == [
        (2, "执法证号"),
        (3, "统一社会信用代码"),
    ]
    assert await count_rows(factory, "recusals") == 6


async def test_wrong_headers_are_refused_before_any_row(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "e.csv"
    write_csv(path, "entities", [entity_row(1)])
    text = path.read_text("utf-8-sig").replace("职工人数", "员工数", 1)
    path.write_text(text, "utf-8-sig")
    report = await _import(factory, "entities", path, clock, skip_invalid=True)
    assert not report.written
    assert {(p.row, p.column) for p in report.problems} == {(1, "员工数"), (1, "职工人数")}


async def test_xlsx_import_of_a_sheet_staff_edited(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    path = tmp_path / "items.xlsx"
    await export_sheet(factory, "items", path)
    workbook = load_workbook(path)
    sheet = workbook.worksheets[0]
    sheet["G2"].value = 0.1  # 默认抽查比例, typed as a percent-formatted number
    sheet["G2"].number_format = "0%"
    sheet["I2"].value = dt.datetime(2026, 9, 1)
    workbook.save(path)
    report = await _import(factory, "items", path, clock)
    assert (report.updated, report.unchanged) == (1, 8)
    exported = tmp_path / "again.csv"
    await export_sheet(factory, "items", exported)
    assert read_csv(exported)[1][6:9] == ["10%", "1", "2026-09-01"]


async def test_audit_chain_holds_after_imports(
    factory: Factory, sample_dir: Path, clock: Clock, tmp_path: Path
) -> None:
    await load_sample(factory, clock)
    shutil.copy(sample_dir / "entities.csv", tmp_path / "e.csv")
    await _import(factory, "entities", tmp_path / "e.csv", clock)
    entries = await _entries(factory)
    assert len(entries) == 10 + 44 + 500 + 9 + 6
    async with factory() as session:
        assert (await audit.verify(session)).count == len(entries)


async def test_expired_or_suspended_certificate_keeps_the_officer_but_not_the_draw(
    factory: Factory, sample_dir: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    officers = [o for o in await list_records(factory, "officers") if "officer" in o["roles"]]
    on = dt.date(2026, 3, 2)
    expected = {
        o["name"]
        for o in officers
        if o["certificate_status"] == "valid" and o["certificate_valid_until"] >= on
    }
    async with factory() as session:
        drawable = {p.name for p in await drawable_officers(session, on)}
        later = {p.name for p in await drawable_officers(session, dt.date(2031, 1, 1))}
    assert drawable == expected
    assert len(officers) - len(drawable) == 4  # the sample's 3 expired and 1 suspended
    assert later < drawable


async def test_suspending_a_renewed_certificate_makes_the_officer_undrawable(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    rows = read_csv(sample_dir / "officers.csv")
    header, officer = rows[0], list(rows[1])
    name = officer[header.index("姓名")]
    officer[0] = "豫41142209999"
    officer[header.index("证件有效期至")] = "2031-09-19"
    path = write_csv(tmp_path / "renewed.csv", "officers", [officer])
    assert (await _import(factory, "officers", path, clock)).updated == 1
    officer[header.index("证件状态")] = "暂扣"
    write_csv(path, "officers", [officer])
    assert (await _import(factory, "officers", path, clock)).updated == 1
    async with factory() as session:
        drawable = {p.name for p in await drawable_officers(session, dt.date(2026, 12, 1))}
    assert name not in drawable  # the older, still valid certificate no longer counts
    [listed] = [o for o in await list_records(factory, "officers") if o["name"] == name]
    assert (listed["certificate_no"], listed["certificate_status"]) == (
        "豫41142209999",
        "suspended",
    )


async def test_recusals_follow_the_officer_across_a_renewal(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    recusal = read_csv(sample_dir / "recusals.csv")[1]
    officers = read_csv(sample_dir / "officers.csv")
    header = officers[0]
    [officer] = [list(o) for o in officers[1:] if o[0] == recusal[0]]
    officer[0] = "豫41142209998"
    officer[header.index("证件有效期至")] = "2032-01-01"
    await _import(factory, "officers", write_csv(tmp_path / "o.csv", "officers", [officer]), clock)
    listed = await list_records(factory, "recusals")
    assert len(listed) == 6
    assert [r["certificate_no"] for r in listed if r["uscc"] == recusal[1]] == ["豫41142209998"]
    both = [recusal, ["豫41142209998", *recusal[1:]]]
    report = await _import(
        factory, "recusals", write_csv(tmp_path / "r.csv", "recusals", both), clock
    )
    assert [(p.row, p.column) for p in report.problems] == [(3, "执法证号")]


async def test_item_history_is_never_rewritten(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    rows = read_csv(sample_dir / "items.csv")
    header, item = rows[0], list(rows[1])
    item[header.index("抽查内容")] = item[header.index("抽查内容")] + "（含电子劳动合同）"
    path = write_csv(tmp_path / "items.csv", "items", [item])
    report = await _import(factory, "items", path, clock)  # same 生效日期: would rewrite history
    assert [(p.row, p.column) for p in report.problems] == [(2, "生效日期")]
    # Closing the current version only sets its end date, in place.
    closing = list(rows[1])
    closing[header.index("失效日期")] = "2026-12-31"
    report = await _import(factory, "items", write_csv(path, "items", [closing]), clock)
    assert report.updated == 1
    async with factory() as session:
        versions = (
            (await session.execute(select(SpotCheckItem).where(SpotCheckItem.code == item[0])))
            .scalars()
            .all()
        )
    assert [(v.version, v.valid_to) for v in versions] == [(1, dt.date(2026, 12, 31))]


async def test_wecom_accounts_ignore_case_as_wecom_does(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    rows = read_csv(sample_dir / "officers.csv")
    header, officer = rows[0], list(rows[1])
    column = header.index("企业微信账号")
    officer[column] = officer[column].upper()
    report = await _import(
        factory, "officers", write_csv(tmp_path / "o.csv", "officers", [officer]), clock
    )
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)


# --- spreadsheet traps (issues 12 and 13) -----------------------------------------------------


def _workbook(kind: str, rows: list[list[Any]]) -> tuple[Workbook, Worksheet]:
    return new_workbook([list(KINDS[kind].headers().values()), *rows])


def _officers(sample_dir: Path) -> tuple[list[str], list[list[str]]]:
    """The sample officers sheet: its header and its rows, to change."""
    header, *rows = read_csv(sample_dir / "officers.csv")
    return header, rows


async def test_formula_credit_grade_without_a_value_is_refused_not_stored_ungraded(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    workbook, sheet = _workbook("entities", [entity_row(n) for n in range(3)])
    sheet["H3"] = '="C"'  # written by a program that does not compute: no cached value
    path = tmp_path / "entities.xlsx"
    workbook.save(path)
    report = await _import(factory, "entities", path, clock, skip_invalid=True)
    assert [(p.row, p.column) for p in report.problems] == [(3, "守法诚信等级")]
    assert '="C"' in report.problems[0].reason
    assert report.created == 2  # the formula's row is not stored as ungraded


async def test_five_kilobyte_workbook_with_a_far_corner_cell_imports_its_rows(
    factory: Factory, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    workbook, sheet = _workbook("units", [["办公室", "股室"]])
    sheet["XFD1048576"].font = Font(bold=True)  # one formatted cell in Excel's last corner
    path = tmp_path / "units.xlsx"
    workbook.save(path)
    assert path.stat().st_size < 6000
    converted = 0
    convert = sheets._xlsx_cell

    def counting(cell: Any) -> Any:
        # Reading 17 billion padded cells would take hours: fail at the first thousand instead.
        nonlocal converted
        converted += 1
        assert converted < 1000, "the reader pads to the declared size"
        return convert(cell)

    monkeypatch.setattr(sheets, "_xlsx_cell", counting)
    report = await _import(factory, "units", path, clock)
    assert (report.written, report.created, report.problems) == (True, 1, [])


async def test_hidden_rows_are_refused_by_row_and_skipped_with_skip_invalid(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    workbook, sheet = _workbook("entities", [entity_row(n) for n in range(5)])
    for number in (3, 5):
        sheet.row_dimensions[number].hidden = True
    path = tmp_path / "entities.xlsx"
    workbook.save(path)
    report = await _import(factory, "entities", path, clock)
    assert not report.written
    assert [(p.row, p.column) for p in report.problems] == [(3, ""), (5, "")]
    assert "隐藏" in report.problems[0].reason
    skipped = await _import(factory, "entities", path, clock, skip_invalid=True)
    assert skipped.created == 3


async def test_a_hidden_column_refuses_the_sheet_before_any_row(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    workbook, sheet = _workbook("entities", [entity_row(n) for n in range(2)])
    sheet.column_dimensions["J"].hidden = True  # 有严重违法
    path = tmp_path / "entities.xlsx"
    workbook.save(path)
    report = await _import(factory, "entities", path, clock, skip_invalid=True)
    assert not report.written
    assert [(p.row, p.column) for p in report.problems] == [(1, "有严重违法")]
    assert await count_rows(factory, "entities") == 0


async def test_merged_cells_in_an_optional_column_are_refused_naming_the_rows(
    factory: Factory, tmp_path: Path, clock: Clock
) -> None:
    workbook, sheet = _workbook("entities", [entity_row(n) for n in range(4)])
    sheet["L2"] = "2025-05-06"
    sheet.merge_cells("L2:L4")  # 最近检查日期 shows for three employers, is stored for one
    path = tmp_path / "entities.xlsx"
    workbook.save(path)
    report = await _import(factory, "entities", path, clock)
    assert not report.written
    assert [(p.row, p.column) for p in report.problems] == [
        (3, "最近检查日期"),
        (4, "最近检查日期"),
    ]
    assert "L2:L4" in report.problems[0].reason


@pytest.mark.parametrize(
    ("encoding", "header"),
    [("big5", "單位名稱,單位類型"), ("shift_jis", "単位名称,単位種類")],
)
async def test_csv_in_big5_or_shift_jis_is_refused_as_an_unknown_encoding(
    factory: Factory, tmp_path: Path, clock: Clock, encoding: str, header: str
) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(f"{header}\r\n監察大隊,執法機構\r\n".encode(encoding))
    with pytest.raises(SheetError) as caught:
        await _import(factory, "units", path, clock)
    assert caught.value.error.key == "unknown_encoding"


async def test_problems_are_listed_in_row_order(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    header, (first, second, *_) = _officers(sample_dir)
    first[header.index("所属单位")] = "不存在的股"  # found by the database, after the batch
    second[header.index("可任组长")] = "也许"  # found in the cell, while reading
    path = write_csv(tmp_path / "o.csv", "officers", [first, second])
    report = await _import(factory, "officers", path, clock)
    assert [(p.row, p.column) for p in report.problems] == [(2, "所属单位"), (3, "可任组长")]


async def test_officers_sheet_imported_as_units_says_which_kind_it_looks_like(
    factory: Factory, sample_dir: Path, clock: Clock
) -> None:
    report = await _import(factory, "units", sample_dir / "officers.csv", clock)
    assert not report.written
    [problem] = report.problems
    assert problem.row == 1
    assert "人员" in problem.reason and "officers" in problem.reason


def _impostor(sample_dir: Path, tmp_path: Path) -> Path:
    """张凯's certificate number under another name, with other accounts."""
    header, (officer, *_) = _officers(sample_dir)
    assert (officer[0], officer[1]) == ("豫41142200229", "张凯")
    officer[header.index("姓名")] = "冒充张凯"
    officer[header.index("角色")] = "执法人员"
    officer[header.index("企业微信账号")] = "maochong"
    officer[header.index("钉钉账号")] = "099999999"
    return write_csv(tmp_path / "o.csv", "officers", [officer])


async def _zhang_kai(factory: Factory) -> dict[str, Any]:
    [officer] = [
        o for o in await list_records(factory, "officers") if o["certificate_no"] == "豫41142200229"
    ]
    return officer


async def test_new_name_and_accounts_on_a_known_certificate_are_refused_row_by_row(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    before = await _zhang_kai(factory)
    report = await _import(factory, "officers", _impostor(sample_dir, tmp_path), clock)
    assert not report.written
    [problem] = report.problems
    assert problem.row == 2
    for shown in (
        "「张凯」→「冒充张凯」",
        "「zhangkai」→「maochong」",
        "--confirm-identity-changes",
    ):
        assert shown in problem.reason
    skipped = await _import(factory, "officers", tmp_path / "o.csv", clock, skip_invalid=True)
    assert (skipped.created, skipped.updated) == (0, 0)
    assert await _zhang_kai(factory) == before  # name, accounts and leader role all kept


async def test_confirmed_identity_change_is_written_and_reported_before_and_after(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    path = _impostor(sample_dir, tmp_path)
    report = await _import(factory, "officers", path, clock, confirm_identity_changes=True)
    assert report.written and report.updated == 1 and not report.problems
    [change] = report.identity_changes
    assert (change.row, change.key) == (2, "豫41142200229")
    assert change.changes == (
        ("姓名", "张凯", "冒充张凯"),
        ("企业微信账号", "zhangkai", "maochong"),
        ("钉钉账号", "0516754045645063", "099999999"),
    )
    assert (await _zhang_kai(factory))["name"] == "冒充张凯"


async def test_a_renewal_or_a_role_change_needs_no_confirmation(
    factory: Factory, sample_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    await load_sample(factory, clock)
    header, (renewed, promoted, *_) = _officers(sample_dir)
    renewed[0] = "豫41142299999"
    promoted[header.index("角色")] = "执法人员"
    path = write_csv(tmp_path / "o.csv", "officers", [renewed, promoted])
    report = await _import(factory, "officers", path, clock)
    assert (report.updated, report.problems, report.identity_changes) == (2, [], [])
