"""Reading files for the personal-data scan: each format down to its strings, and each hit's
place (line and column, row and column, sheet and cell, JSON path)."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import Workbook

from bot.registry.personal import Kind, People, Person
from bot.registry.scan import Place, Report, scan_data, scan_paths, scan_rows
from tests.unit.test_personal import CARD, ID

PEOPLE = People(
    persons=(Person("张凯", ("zhangkai",)),),
    public_names=frozenset({"睢县张凯百货店"}),
)
PHONE = "13912345678"


def places(report: Report) -> list[tuple[str, Place, Kind]]:
    return [(Path(h.file).name, h.place, h.kind) for h in report.hits]


def scanned(path: Path) -> Report:
    return scan_paths([path], PEOPLE)


def test_text_places_are_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(f"第一行\n电话 {PHONE}，检查人 张凯\n", "utf-8")
    assert places(scanned(path)) == [
        ("notes.txt", Place("text", 2, 4), Kind.MOBILE),
        ("notes.txt", Place("text", 2, 20), Kind.NAME),
    ]


def test_html_text_attributes_comments_and_scripts_are_read_markup_is_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<!doctype html>\n"
        '<html><body class="zhangkai">\n'  # an attribute value: read
        "<zhangkai>睢县张凯百货店</zhangkai>\n"  # a tag's name is markup; the employer is public
        f"<p>结果：合格</p><!-- {ID} -->\n"
        f"<script>const d = {{phone: '{PHONE}'}};</script>\n"
        f"<p>\n  联系 a@example.com\n</p>\n",
        "utf-8",
    )
    assert places(scanned(path)) == [
        ("page.html", Place("text", 2, 20), Kind.ACCOUNT),
        ("page.html", Place("text", 4, 18), Kind.ID_NUMBER),
        ("page.html", Place("text", 5, 28), Kind.MOBILE),
        ("page.html", Place("text", 7, 6), Kind.EMAIL),
    ]


def test_html_columns_count_characters_as_written(tmp_path: Path) -> None:
    path = tmp_path / "refs.html"
    path.write_text(
        f"<p>A&amp;B &#x5F20;凯\n&nbsp;{PHONE}</p><script>x='&amp;{PHONE}'</script>", "utf-8"
    )
    assert places(scanned(path)) == [
        ("refs.html", Place("text", 1, 12), Kind.NAME),  # written 张 as a reference
        ("refs.html", Place("text", 2, 7), Kind.MOBILE),
        ("refs.html", Place("text", 2, 38), Kind.MOBILE),  # a script's text is as written
    ]


def test_csv_utf8_with_and_without_bom_and_gbk(tmp_path: Path) -> None:
    body = f"单位名称,联系人\n睢县张凯百货店,{PHONE}\n"
    for name, encoding in (("bom.csv", "utf-8-sig"), ("plain.csv", "utf-8"), ("gbk.csv", "gbk")):
        path = tmp_path / name
        path.write_bytes(body.encode(encoding))
        report = scanned(path)
        assert places(report) == [(name, Place("csv", 2, 2), Kind.MOBILE)], name
        assert report.hits[0].masked == "139****5678"


def test_csv_in_no_known_encoding_is_unreadable_not_clean(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"\xff\xfe\xfa\x00\x81\x00\xd8")
    report = scanned(path)
    assert not report.clean and [u.reason for u in report.unreadable] == ["encoding"]


def test_xlsx_every_sheet_and_cell_hidden_ones_too(tmp_path: Path) -> None:
    workbook = Workbook()
    results = workbook.active
    assert results is not None
    results.title = "结果"
    results.append(["单位名称", "结果"])
    results.append(["睢县张凯百货店", "合格"])
    results["C2"] = int(PHONE)  # a number stored as a number
    hidden = workbook.create_sheet("张凯")
    hidden.sheet_state = "hidden"
    hidden["AB7"] = f"身份证{ID}"
    path = tmp_path / "results.xlsx"
    workbook.save(path)
    report = scanned(path)
    assert places(report) == [
        ("results.xlsx", Place("cell", 2, 3, "结果"), Kind.MOBILE),
        ("results.xlsx", Place("sheet", sheet="张凯"), Kind.NAME),
        ("results.xlsx", Place("cell", 7, 28, "张凯"), Kind.ID_NUMBER),
    ]
    assert report.hits[2].place.cell == "AB7"


def test_a_broken_xlsx_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    assert [u.reason for u in scanned(path).unreadable] == ["xlsx"]


def test_json_keys_values_and_numbers_by_path(tmp_path: Path) -> None:
    data = {
        "results": [{"name": "睢县张凯百货店", "result": "合格"}, {"phone": int(PHONE)}],
        "张凯": True,
        "注释": {"卡": f"{CARD}"},
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    assert places(scanned(path)) == [
        ("data.json", Place("json", path="$.results[1].phone"), Kind.MOBILE),
        ("data.json", Place("json_key", path='$["张凯"]'), Kind.NAME),
        ("data.json", Place("json", path='$["注释"]["卡"]'), Kind.BANK_CARD),
    ]
    bad = tmp_path / "bad.json"
    bad.write_text("{oops", "utf-8")
    assert [u.reason for u in scanned(bad).unreadable] == ["json"]


def test_a_directory_is_read_recursively_other_types_skipped(tmp_path: Path) -> None:
    (tmp_path / "site" / "results").mkdir(parents=True)
    (tmp_path / "site" / "index.html").write_text("<p>睢县张凯百货店：合格</p>", "utf-8")
    (tmp_path / "site" / "results" / "2026.csv").write_text(f"a\n{ID}\n", "utf-8")
    (tmp_path / "site" / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / "site" / "张凯.txt").write_text("", "utf-8")  # a file's name is read too
    report = scan_paths([tmp_path / "site"], PEOPLE)
    assert places(report) == [
        ("2026.csv", Place("csv", 2, 1), Kind.ID_NUMBER),
        ("张凯.txt", Place("file_name"), Kind.NAME),
    ]
    assert [Path(f).name for f in report.skipped] == ["logo.png"]
    assert sorted(Path(f).name for f in report.scanned) == ["2026.csv", "index.html", "张凯.txt"]


def test_a_clean_directory_is_clean(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>睢县张凯百货店：合格</p>", "utf-8")
    report = scan_paths([tmp_path], PEOPLE)
    assert report.clean and report.hits == [] and len(report.scanned) == 1


def test_rows_and_data_about_to_be_written_are_scanned_by_place() -> None:
    rows = [["单位名称", "统一社会信用代码"], ["睢县张凯百货店", "914114227260438865"], ["张凯"]]
    hits = scan_rows(rows, PEOPLE, "results.xlsx", sheet="抽查结果")
    assert [(h.place.cell, h.kind, h.masked) for h in hits] == [("A3", Kind.NAME, "张*")]
    assert [h.place for h in scan_rows(rows, PEOPLE)] == [Place("csv", 3, 1)]
    found = scan_data({"finding": [f"现场联系人 {PHONE}"]}, PEOPLE, "x")
    assert [(h.place.path, h.text) for h in found] == [("$.finding[0]", PHONE)]
