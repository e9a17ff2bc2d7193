"""`suiji publish scan` as staff use it before anything goes public: a clean folder passes
(exit 0), personal data planted in CSV, XLSX, HTML or JSON is refused (exit 1) naming the file
and the place, masked; the people looked for are the sample bureau's registries."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.e2e.test_cli import run
from tests.unit.test_personal import ID

ROOT = Path(__file__).resolve().parents[2]
MASKED_ID = ID[:4] + "*" * 10 + ID[-4:]


def employers() -> list[dict[str, str]]:
    with (ROOT / "storage/sample/entities.csv").open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """What a publication looks like: employers' names, USCCs and results, in every format."""
    folder = tmp_path / "site"
    (folder / "results").mkdir(parents=True)
    rows = [[e["单位名称"], e["统一社会信用代码"], "未发现问题"] for e in employers()[:40]]
    table = "".join(f"<tr><td>{n}</td><td>{c}</td><td>{r}</td></tr>\n" for n, c, r in rows)
    (folder / "index.html").write_text(
        f'<html lang="zh"><body><h1>抽查结果公示</h1>\n<table>\n{table}</table></body></html>\n',
        "utf-8",
    )
    with (folder / "results" / "2026.csv").open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([["名称", "统一社会信用代码", "抽查结果"], *rows])
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "抽查结果"
    for row in rows:
        sheet.append(row)
    workbook.save(folder / "results" / "2026.xlsx")
    data = [{"name": n, "uscc": c, "result": r} for n, c, r in rows]
    (folder / "results.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    (folder / "style.css").write_text("body { font-family: sans-serif; }\n", "utf-8")
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n")
    return folder


def test_a_clean_publication_passes(sample_copy: Path, site: Path) -> None:
    result = run("publish", "scan", str(site), config=sample_copy)
    assert result.exit_code == 0, result.output
    assert "共检查 5 个文件，没有发现个人信息" in result.output
    assert "跳过 1 个其他类型的文件" in result.output and "logo.png" in result.output


def plant_csv(site: Path) -> tuple[str, str]:
    path = site / "results" / "2026.csv"
    lines = path.read_text("utf-8-sig").splitlines()
    lines[3] += f",联系人身份证{ID}"
    path.write_text("\n".join(lines) + "\n", "utf-8-sig")
    return str(path), "第 4 行第 4 列"


def plant_xlsx(site: Path) -> tuple[str, str]:
    path = site / "results" / "2026.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "抽查结果"
    sheet["D7"] = ID
    workbook.save(path)
    return str(path), "工作表「抽查结果」D7 格"


def plant_html(site: Path) -> tuple[str, str]:
    path = site / "index.html"
    body = path.read_text("utf-8").replace("<h1>", f'<h1 title="{ID}">', 1)
    path.write_text(body, "utf-8")
    return str(path), "第 1 行第 34 列"


def plant_json(site: Path) -> tuple[str, str]:
    path = site / "results.json"
    data = json.loads(path.read_text("utf-8"))
    data[2]["remark"] = f"经办人 {ID}"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return str(path), "$[2].remark"


@pytest.mark.parametrize("plant", [plant_csv, plant_xlsx, plant_html, plant_json])
def test_a_planted_id_number_is_refused_naming_file_and_place(
    sample_copy: Path, site: Path, plant: object
) -> None:
    assert callable(plant)
    file, place = plant(site)
    result = run("publish", "scan", str(site), config=sample_copy)
    assert result.exit_code == 1, result.output
    assert f"{file}　{place}　身份证号：{MASKED_ID}" in result.output
    assert ID not in result.output  # shown masked, never whole
    assert "发现 1 处个人信息（身份证号 1 处）" in result.output


def test_the_registries_people_are_found_by_name_and_account(
    sample_copy: Path, tmp_path: Path
) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>检查人员：张凯</p>\n<a href='wxwork://zhangkai'>联系</a>\n", "utf-8")
    result = run("publish", "scan", str(page), config=sample_copy)
    assert result.exit_code == 1, result.output
    assert f"{page}　第 1 行第 9 列　人员姓名：张*" in result.output
    assert f"{page}　第 2 行第 19 列　人员账号：zh******" in result.output
    data = json.loads(
        run("publish", "scan", str(page), "--format", "json", config=sample_copy).output
    )
    assert data["clean"] is False
    assert data["hits"][0]["place"] == {"form": "text", "line": 1, "column": 9}
    assert data["hits"][0]["where"] == "第 1 行第 9 列"
    assert [(h["kind"], h["masked"]) for h in data["hits"]] == [
        ("name", "张*"), ("account", "zh******")
    ]  # fmt: skip


def test_the_sample_officers_sheet_is_all_personal_data(sample_copy: Path, tmp_path: Path) -> None:
    officers = tmp_path / "officers.csv"
    shutil.copy(ROOT / "storage/sample/officers.csv", officers)
    result = run("publish", "scan", str(officers), config=sample_copy)
    assert result.exit_code == 1
    assert "人员姓名 44 处，人员账号 88 处" in result.output


def test_a_file_that_cannot_be_read_is_not_clean(sample_copy: Path, tmp_path: Path) -> None:
    broken = tmp_path / "results.json"
    broken.write_text("[{", "utf-8")
    result = run("publish", "scan", str(broken), config=sample_copy)
    assert result.exit_code == 1
    assert "读不了：JSON 格式有误" in result.output and "1 个文件读不了" in result.output


def test_a_path_that_is_not_there_is_a_usage_error(sample_copy: Path, tmp_path: Path) -> None:
    result = run("publish", "scan", str(tmp_path / "nowhere"), config=sample_copy)
    assert result.exit_code == 2 and "nowhere" in result.output
