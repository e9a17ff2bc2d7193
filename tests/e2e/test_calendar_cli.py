"""`suiji calendar` as a bureau's admin uses it: a year chinesecalendar lacks shown as an
estimate, its notice imported (audited, admins only), imported again (replaced whole), a bad
file refused with nothing changed, and a year's file started with `calendar example`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from tests.e2e.test_cli import run
from tests.helpers import MADE_UP_2027


@pytest.fixture
def bureau(sample_copy: Path) -> Path:
    """A copy of the sample bureau (its operator is the sample admin 陈红军)."""
    return sample_copy


def write(tmp_path: Path, body: str, name: str = "2027.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, "utf-8")
    return path


def show(config: Path, year: str = "2027") -> dict[str, object]:
    result = run("calendar", "show", year, "--format", "json", config=config)
    assert result.exit_code == 0, result.output
    view: dict[str, object] = json.loads(result.output)
    return view


def calendar_audit(config: Path) -> list[dict[str, object]]:
    result = run("audit", "list", "--kind", "calendar", "--format", "json", config=config)
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.output)
    return found


def imported(config: Path, path: Path, *args: str) -> Result:
    return run("calendar", "import", str(path), *args, config=config)


def test_a_year_nobody_covers_is_shown_as_an_estimate(bureau: Path) -> None:
    result = run("calendar", "show", "2027", config=bureau)
    assert result.exit_code == 0, result.output
    assert "仅按周末估算" in result.output and "估算" in result.output
    assert "suiji calendar example 2027" in result.output
    view = show(bureau)
    assert view["source"] == "weekends" and view["estimated"] is True
    assert view["covered"] is False and view["working_days"] == 261


def test_2026_comes_from_chinesecalendar(bureau: Path) -> None:
    result = run("calendar", "show", "2026", config=bureau)
    assert result.exit_code == 0, result.output
    assert "来自 chinesecalendar" in result.output
    assert "国庆节　2026-10-01（四） 至 2026-10-07（三），7 天" in result.output
    assert "国庆节　2026-10-10（六）" in result.output
    assert "全年工作日 248 天" in result.output


def test_an_admin_imports_a_year_and_it_is_audited(bureau: Path, tmp_path: Path) -> None:
    result = imported(bureau, write(tmp_path, MADE_UP_2027))
    assert result.exit_code == 0, result.output
    assert "已导入 2027 年：放假 19 天，调休上班 3 天" in result.output
    view = show(bureau)
    assert view["source"] == "imported" and view["estimated"] is False
    assert view["working_days"] == 261 - 11 + 3  # weekday holidays off, 调休 days on
    table = run("calendar", "show", "2027", config=bureau).output
    assert "导入（2027.toml，陈红军 于" in table and "测试用：虚构的 2027 年节假日安排" in table
    assert "国庆节　2027-09-26（日）" in table
    (entry,) = calendar_audit(bureau)
    assert entry["actor"] == "陈红军" and entry["action"] == "calendar:import"
    assert entry["subject_key"] == "2027" and entry["before"] is None
    listed = run("audit", "list", "--kind", "calendar", config=bureau).output
    assert "导入节假日安排" in listed and "节假日安排 2027" in listed


def test_a_second_import_replaces_the_year_and_says_what_it_replaced(
    bureau: Path, tmp_path: Path
) -> None:
    assert imported(bureau, write(tmp_path, MADE_UP_2027)).exit_code == 0
    fewer = 'year = 2027\n\n[[holiday]]\nname = "国庆节"\nfrom = 2027-10-01\nto = 2027-10-07\n'
    result = imported(bureau, write(tmp_path, fewer, "2027-更正.toml"))
    assert result.exit_code == 0, result.output
    assert "放假 7 天，调休上班 0 天（整年替换了此前导入的：放假 19 天，调休上班 3 天）" in (
        result.output
    )
    view = show(bureau)
    assert view["workdays"] == [] and len(view["holidays"]) == 1  # type: ignore[arg-type]
    second = calendar_audit(bureau)[-1]
    assert second["before"]["holiday_count"] == 19  # type: ignore[index]
    assert second["after"]["holiday_count"] == 7  # type: ignore[index]


def test_only_an_admin_imports(bureau: Path, tmp_path: Path) -> None:
    result = imported(bureau, write(tmp_path, MADE_UP_2027), "--as", "张凯")
    assert result.exit_code == 1
    assert "张凯 不是管理员" in result.output
    assert calendar_audit(bureau) == [] and show(bureau)["source"] == "weekends"


def test_a_bad_file_is_refused_whole_and_changes_nothing(bureau: Path, tmp_path: Path) -> None:
    assert imported(bureau, write(tmp_path, MADE_UP_2027)).exit_code == 0
    bad = MADE_UP_2027.replace("workdays = [2027-02-20]", "workdays = [2027-02-19]")
    bad = bad.replace("2027-10-09]", "2027-10-09, 2027-10-07]")
    result = imported(bureau, write(tmp_path, bad, "坏.toml"))
    assert result.exit_code == 1
    assert "坏.toml 第13行: 2027-02-19 是星期五" in result.output
    assert "坏.toml 第19行: 2027-10-07 在第17行已写成放假，不能又是上班" in result.output
    assert "没有导入：文件有 2 处问题" in result.output and "数据库里什么也没改" in result.output
    assert len(calendar_audit(bureau)) == 1
    assert len(show(bureau)["workdays"]) == 3  # type: ignore[arg-type]


def test_a_year_without_holidays_is_imported_with_a_warning(bureau: Path, tmp_path: Path) -> None:
    result = imported(bureau, write(tmp_path, "year = 2028\n", "2028.toml"))
    assert result.exit_code == 0, result.output
    assert "提醒：2028.toml 第1行: 这一年一天放假也没有" in result.output
    assert show(bureau, "2028")["source"] == "imported"


def test_example_starts_a_year_and_writes_sheets(tmp_path: Path) -> None:
    frame = run("calendar", "example", "2027")
    assert frame.exit_code == 0 and "year = 2027" in frame.output and 'from = ""' in frame.output
    exact = run("calendar", "example", "2026")
    assert "from = 2026-10-01" in exact.output
    sheet = tmp_path / "2026.xlsx"
    written = run("calendar", "example", "2026", str(sheet))
    assert written.exit_code == 0 and sheet.is_file(), written.output
    wrong = run("calendar", "example", "2026", str(tmp_path / "2026.txt"))
    assert wrong.exit_code == 1 and "「.txt」" in wrong.output


def test_an_xlsx_file_imports(bureau: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "2026.xlsx"
    assert run("calendar", "example", "2026", str(sheet)).exit_code == 0
    result = imported(bureau, sheet)
    assert result.exit_code == 0, result.output
    assert "已导入 2026 年：放假 33 天，调休上班 6 天" in result.output
    table = run("calendar", "show", "2026", config=bureau).output
    assert "以导入的为准" in table


def test_the_commands_explain_themselves_in_chinese() -> None:
    result = run("calendar", "--help")
    assert result.exit_code == 0 and "工作日" in result.output
    assert "导入" in run("calendar", "import", "--help").output
