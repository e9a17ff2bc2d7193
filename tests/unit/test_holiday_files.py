"""Override files (`suiji calendar import`): one year's holidays and 调休 working days as TOML or
as a sheet, refused whole with every problem named by file, line (row) and reason in Chinese."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from bot.registry.holidays import HolidayFileError, YearFile, read_year_file, write_example
from tests.helpers import MADE_UP_2027, new_workbook

D = dt.date.fromisoformat


def toml_file(tmp_path: Path, body: str, name: str = "2027.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, "utf-8")
    return path


def refused(path: Path) -> list[str]:
    with pytest.raises(HolidayFileError) as error:
        read_year_file(path)
    return [problem.line() for problem in error.value.problems]


def period(name: str, first: str, last: str, workdays: str = "") -> str:
    lines = f'\n[[holiday]]\nname = "{name}"\nfrom = {first}\nto = {last}\n'
    return lines + (f"workdays = [{workdays}]\n" if workdays else "")


def test_the_made_up_2027_file_reads_as_written(tmp_path: Path) -> None:
    parsed = read_year_file(toml_file(tmp_path, MADE_UP_2027))
    assert parsed.year == 2027 and parsed.notice.startswith("测试用")
    assert len(parsed.holidays) == 3 + 9 + 7
    assert parsed.workdays == [D("2027-02-20"), D("2027-09-26"), D("2027-10-09")]
    assert parsed.warnings == () and len(parsed.sha256) == 64
    # A weekend day within a holiday period is taken as the notice lists it.
    assert D("2027-01-02") in parsed.holidays


def test_a_date_toml_cannot_read_names_its_line(tmp_path: Path) -> None:
    body = "year = 2027\n" + period("元旦", "2027-01-01", "2027-02-30")
    lines = refused(toml_file(tmp_path, body))
    assert len(lines) == 1
    assert lines[0].startswith("2027.toml 第6行") and "TOML 格式有误" in lines[0]


def test_a_quoted_bad_date_names_its_line(tmp_path: Path) -> None:
    body = "year = 2027\n" + period("春节", "2027-02-06", "2027-02-14", '"2027-02-31"')
    assert refused(toml_file(tmp_path, body)) == [
        "2027.toml 第7行: 「2027-02-31」不是有效日期，请写成 2026-03-01 这样"
    ]


def test_a_date_given_twice_is_a_duplicate(tmp_path: Path) -> None:
    body = (
        "year = 2027\n"
        + period("国庆节", "2027-10-01", "2027-10-07", "2027-10-09, 2027-10-09")
        + period("国庆节", "2027-10-07", "2027-10-07")
    )
    lines = refused(toml_file(tmp_path, body))
    assert "2027.toml 第7行: 2027-10-09 与第7行重复" in lines
    assert "2027.toml 第11行: 2027-10-07 与第5行重复" in lines


def test_a_date_both_holiday_and_working_day_is_refused(tmp_path: Path) -> None:
    body = "year = 2027\n" + period("国庆节", "2027-10-01", "2027-10-07", "2027-10-02")
    assert refused(toml_file(tmp_path, body)) == [
        "2027.toml 第7行: 2027-10-02 在第5行已写成放假，不能又是上班：一天不能既放假又上班"
    ]


def test_a_weekday_marked_as_a_tiaoxiu_working_day_is_refused(tmp_path: Path) -> None:
    body = "year = 2027\n" + period("国庆节", "2027-10-01", "2027-10-07", "2027-10-08")
    (line,) = refused(toml_file(tmp_path, body))
    assert line.startswith("2027.toml 第7行: 2027-10-08 是星期五")
    assert "只能是周六或周日" in line


def test_one_year_per_file(tmp_path: Path) -> None:
    body = (
        "year = 2027\n"
        + period("元旦", "2026-12-31", "2026-12-31")
        + period("元旦", "2027-12-31", "2028-01-02")
    )
    lines = refused(toml_file(tmp_path, body))
    assert (
        "2027.toml 第5行: 2026-12-31 不在 2027 年：一个文件只写一年，跨年的日子写进那一年的文件"
        in lines
    )
    assert any(line.startswith("2027.toml 第11行: 2028-01-02 不在 2027 年") for line in lines)


def test_a_period_ending_before_it_starts_or_far_too_long_is_refused(tmp_path: Path) -> None:
    body = (
        "year = 2027\n"
        + period("国庆节", "2027-10-07", "2027-10-01")
        + period("春节", "2027-02-01", "2027-03-01")
    )
    lines = refused(toml_file(tmp_path, body))
    assert lines[0].startswith("2027.toml 第6行: 放假最后一天 2027-10-01 早于第一天 2027-10-07")
    assert lines[1].startswith("2027.toml 第11行: 一段放假 29 天，超过 20 天")


def test_unknown_keys_and_a_missing_year_are_named(tmp_path: Path) -> None:
    body = 'notise = "x"\n' + period("元旦", "2027-01-01", "2027-01-03").replace("to =", "till =")
    lines = refused(toml_file(tmp_path, body))
    assert "2027.toml 第1行: 缺少 year（哪一年，如 year = 2027）" in lines
    assert "2027.toml 第1行: 不认识的键「notise」（可用：year、notice、holiday）" in lines
    assert any(line.startswith("2027.toml 第6行: 不认识的键「till」") for line in lines)


def test_a_year_with_no_holidays_is_taken_with_a_warning(tmp_path: Path) -> None:
    parsed = read_year_file(toml_file(tmp_path, 'year = 2027\nnotice = "空"\n'))
    assert parsed.days == ()
    assert [w.line() for w in parsed.warnings] == [
        "2027.toml 第1行: 这一年一天放假也没有：请核对是否漏抄了通知（照样导入）"
    ]


def test_other_file_kinds_are_refused_by_name(tmp_path: Path) -> None:
    (line,) = refused(toml_file(tmp_path, "year = 2027\n", name="2027.txt"))
    assert "「.txt」" in line and ".toml、.xlsx 或 .csv" in line
    assert refused(tmp_path / "nowhere.toml")[0].startswith("nowhere.toml 第1行: 找不到文件")


# --- sheets ----------------------------------------------------------------------------------


def csv_file(tmp_path: Path, rows: list[list[str]], header: tuple[str, ...] = ()) -> Path:
    path = tmp_path / "2027.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header or ("日期", "类型", "节日"))
        writer.writerows(rows)
    return path


def test_a_sheet_has_a_row_a_day(tmp_path: Path) -> None:
    rows = [
        ["2027-10-01", "放假", "国庆节"],
        ["2027年10月2日", "放假", "国庆节"],
        ["2027/10/9", "上班", ""],
    ]
    parsed = read_year_file(csv_file(tmp_path, rows))
    assert isinstance(parsed, YearFile) and parsed.year == 2027
    assert parsed.holidays == [D("2027-10-01"), D("2027-10-02")]
    assert parsed.workdays == [D("2027-10-09")]


def test_a_sheets_problems_name_the_row_and_column(tmp_path: Path) -> None:
    rows = [
        ["2027-10-01", "放假", "国庆节"],
        ["2027-10-32", "放假", "国庆节"],  # row 3
        ["2027-10-08", "上班", "国庆节"],  # row 4: a Friday
        ["2027-10-01", "放假", ""],  # row 5
        ["2027-10-09", "补班", ""],  # row 6
        ["2028-01-01", "放假", "元旦"],  # row 7
    ]
    lines = refused(csv_file(tmp_path, rows))
    assert lines[0] == "2027.csv 第3行 日期: 「2027-10-32」不是有效日期，请写成 2026-03-01 这样"
    assert lines[1].startswith("2027.csv 第4行 日期: 2027-10-08 是星期五")
    assert lines[2] == "2027.csv 第5行 日期: 2027-10-01 与第2行重复"
    assert lines[3] == "2027.csv 第6行 类型: 「补班」不是可选的值，可选：放假、上班"
    assert lines[4].startswith("2027.csv 第7行 日期: 2028-01-01 不在 2027 年")


def test_a_sheet_with_wrong_columns_is_refused_at_the_header(tmp_path: Path) -> None:
    lines = refused(csv_file(tmp_path, [["2027-10-01", "放假"]], header=("日子", "类型")))
    assert lines == [
        "2027.csv 第1行 日子: 不认识的列（可用：日期、类型、节日）",
        "2027.csv 第1行 日期: 缺少这一列",
    ]


def test_an_xlsx_with_date_cells_reads(tmp_path: Path) -> None:
    workbook, _ = new_workbook(
        [
            ["日期", "类型", "节日"],
            [dt.datetime(2027, 10, 1), "放假", "国庆节"],
            [dt.datetime(2027, 10, 9), "上班", "国庆节"],
        ]
    )
    path = tmp_path / "2027.xlsx"
    workbook.save(path)
    parsed = read_year_file(path)
    assert parsed.holidays == [D("2027-10-01")] and parsed.workdays == [D("2027-10-09")]


@pytest.mark.parametrize("suffix", [".toml", ".xlsx", ".csv"])
def test_a_written_example_reads_back_the_same(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"2026{suffix}"
    write_example(2026, path)
    parsed = read_year_file(path)
    assert parsed.year == 2026 and len(parsed.holidays) == 33 and len(parsed.workdays) == 6
    assert {e.name for e in parsed.days if e.day == D("2026-10-10")} == {"国庆节"}
