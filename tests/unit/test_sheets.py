"""CSV and .xlsx sheets: encodings, Excel row numbers, percent cells and atomic writes."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gc
import io
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.registry import sheets
from bot.registry.fields import Cell, CellError
from bot.registry.kinds import KINDS, Kind
from bot.registry.sheets import SheetError, detect_encoding, open_sheet, sheet_writer
from tests.helpers import new_workbook, patch_xlsx

CJK = re.compile("[\u4e00-\u9fff]")
HEADERS = ["统一社会信用代码", "单位名称", "职工人数"]
ROWS = [
    ["91350100M000100Y43", "睢县恒达制鞋有限公司", "120"],
    ["914403001922038216", "华为技术有限公司（深圳）", "0"],
]


def read(path: Path) -> tuple[list[str], list[tuple[int, list[Cell]]]]:
    with open_sheet(path) as sheet:
        return sheet.headers, list(sheet.rows)


def write_csv_text(path: Path, text: str, encoding: str) -> None:
    path.write_bytes(text.encode(encoding))


def csv_text(headers: list[str], rows: list[list[str]]) -> str:
    return "".join(",".join(cells) + "\r\n" for cells in [headers, *rows])


def xlsx(path: Path, rows: list[list[Any]], formats: dict[str, str] | None = None) -> Path:
    """An .xlsx built directly with openpyxl, as Excel would save it."""
    workbook = Workbook()
    worksheet = workbook.active
    for row in rows:
        worksheet.append(row)
    for coordinate, number_format in (formats or {}).items():
        worksheet[coordinate].number_format = number_format
    workbook.save(path)
    return path


class Boom(Exception):
    pass


def write_rows(
    path: Path, headers: list[str], rows: Sequence[Sequence[Cell]], *, fail: bool = False
) -> str:
    """Write ``rows`` (then raise Boom if ``fail``); the name of the exception that stopped it.

    An .xlsx writer abandoned half way leaves an openpyxl write-only workbook (a reference
    cycle) whose row generator complains when the garbage collector finally closes it. Left to
    chance, that happens in the middle of some later ``ast.parse`` and CPython 3.11 turns it
    into a SystemError that crashes pytest; so collect here, at a known point, and keep what
    was complained about in UNRAISABLE for the test that cares.
    """
    try:
        with sheet_writer(path, headers) as append:
            for row in rows:
                append(list(row))
            if fail:
                raise Boom
    except Exception as exc:
        stopped = type(exc).__name__
    else:
        stopped = ""
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: UNRAISABLE.append(repr(unraisable.exc_value))
    try:
        gc.collect()
    finally:
        sys.unraisablehook = previous
    return stopped


UNRAISABLE: list[str] = []


# --- CSV encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [
        ("utf-8", "utf-8-sig"),
        ("utf-8-sig", "utf-8-sig"),
        ("gb18030", "gb18030"),
        ("utf-16", "utf-16"),  # Python's utf-16 writes a BOM, as Excel's "Unicode text" does
        ("utf-16-be", None),
    ],
)
def test_csv_in_each_supported_encoding_reads_back_identically(
    tmp_path: Path, encoding: str, detected: str | None
) -> None:
    path = tmp_path / "entities.csv"
    data = csv_text(HEADERS, ROWS)
    if encoding == "utf-16-be":
        path.write_bytes(codecs.BOM_UTF16_BE + data.encode("utf-16-be"))
        detected = "utf-16"
    else:
        write_csv_text(path, data, encoding)
    assert detect_encoding(path) == detected
    headers, rows = read(path)
    assert headers == HEADERS
    assert rows == [(2, ROWS[0]), (3, ROWS[1])]


def test_gb18030_characters_outside_gbk_read_back(tmp_path: Path) -> None:
    path = tmp_path / "officers.csv"
    # 𠀀 (U+20000) and € exist in GB18030 but not in GBK.
    write_csv_text(path, "姓名,备注\r\n睢𠀀,€\r\n", "gb18030")
    assert read(path) == (["姓名", "备注"], [(2, ["睢𠀀", "€"])])


def test_utf8_detection_holds_when_a_character_straddles_the_probe_chunk(tmp_path: Path) -> None:
    # detect_encoding reads 1 MiB at a time; a 3-byte character across the boundary is fine.
    path = tmp_path / "big.csv"
    head = "名称\r\n".encode()
    line = "a" * 98 + "\r\n"  # 100 bytes
    filler_lines, rest = divmod((1 << 20) - len(head) - 1, len(line))
    body = line * filler_lines + "b" * rest + "睢\r\n"
    path.write_bytes(head + body.encode())
    assert path.read_bytes()[(1 << 20) - 1 : (1 << 20) + 2] == "睢".encode()
    assert detect_encoding(path) == "utf-8-sig"
    headers, rows = read(path)
    assert headers == ["名称"]
    assert len(rows) == filler_lines + 1
    assert rows[-1] == (filler_lines + 2, ["b" * rest + "睢"])


def test_header_bom_and_blanks_are_stripped(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(codecs.BOM_UTF8 + " 单位名称 ,单位类型\r\n".encode())
    assert read(path) == (["单位名称", "单位类型"], [])


def test_gb18030_bom_is_stripped_from_the_first_header(tmp_path: Path) -> None:
    # GB18030 encodes U+FEFF as 84 31 95 33; the file is not UTF-8, so it is decoded as GB18030.
    path = tmp_path / "units.csv"
    path.write_bytes("\ufeff单位名称,单位类型\r\n大队,股室\r\n".encode("gb18030"))
    assert path.read_bytes().startswith(b"\x841\x953")
    assert read(path) == (["单位名称", "单位类型"], [(2, ["大队", "股室"])])


def test_csv_in_an_unknown_encoding_is_refused_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(b"name,kind\r\ncaf\xe9,x\r\n")  # Latin-1: invalid in UTF-8 and in GB18030
    with pytest.raises(SheetError) as caught:
        read(path)
    assert caught.value.error.key == "unknown_encoding"


def test_csv_with_an_unclosed_quote_is_refused_as_unreadable(tmp_path: Path) -> None:
    # One stray quote turns the rest of a long file into a single field beyond csv's limit.
    path = tmp_path / "entities.csv"
    lines = "".join(f"9135010{i:011d},单位{i}\r\n" for i in range(10_000))
    write_csv_text(path, f'统一社会信用代码,单位名称\r\nX,"未闭合\r\n{lines}', "utf-8")
    with pytest.raises(SheetError) as caught:
        read(path)
    assert caught.value.error.key == "csv_broken"


# --- CSV structure ---------------------------------------------------------------------------


def test_quoted_fields_keep_commas_quotes_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    write_csv_text(
        path,
        '事项编码,抽查依据\r\nRS-1,"《劳动法》第五十条,\r\n第九十一条"\r\nRS-2,"他说""是"""\r\n',
        "utf-8-sig",
    )
    headers, rows = read(path)
    assert headers == ["事项编码", "抽查依据"]
    # The multi-line cell is one Excel row, so RS-2 is on row 3.
    assert rows == [(2, ["RS-1", "《劳动法》第五十条,\r\n第九十一条"]), (3, ["RS-2", '他说"是"'])]


def test_blank_rows_are_skipped_but_rows_keep_their_excel_numbers(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    write_csv_text(
        path, "单位名称,单位类型\r\n\r\n大队,股室\r\n,\r\n , \r\n办公室,股室\r\n\r\n", "utf-8"
    )
    _, rows = read(path)
    assert rows == [(3, ["大队", "股室"]), (6, ["办公室", "股室"])]


def test_csv_written_by_sheet_writer_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with sheet_writer(path, HEADERS) as append:
        append(["91350100M000100Y43", "名称,带逗号\n和换行", 120])
        append([None, "", dt.date(2026, 3, 1)])
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    headers, rows = read(path)
    assert headers == HEADERS
    assert rows == [
        (2, ["91350100M000100Y43", "名称,带逗号\n和换行", "120"]),
        (3, ["", "", "2026-03-01"]),
    ]


def test_a_csv_cell_a_spreadsheet_would_run_is_written_inert_and_reads_back_as_typed(
    tmp_path: Path,
) -> None:
    """An export opened in a spreadsheet must not run what staff typed (=HYPERLINK(…), +cmd,
    @SUM): such a cell is written behind an apostrophe, as spreadsheets mark text, and read
    back without it; numbers, and text that merely contains those signs, are left alone."""
    path = tmp_path / "out.csv"
    typed = ['=HYPERLINK("http://x","点我")', "+1+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3", "\t=1"]
    kept = ["-5", "+86", "12.50", "罚款=2000元", "a@b"]
    with sheet_writer(path, [f"c{i}" for i in range(len(typed + kept))]) as append:
        append([*typed, *kept])
    [cells] = list(csv.reader(io.StringIO(path.read_text("utf-8-sig").splitlines()[1])))
    assert cells == [f"'{t}" for t in typed] + kept
    _, rows = read(path)
    assert rows == [(2, [*typed, *kept])]


# --- xlsx ------------------------------------------------------------------------------------


def test_xlsx_written_by_sheet_writer_reads_back_with_types(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    with sheet_writer(path, [*HEADERS, "日期"]) as append:
        append(["91350100M000100Y43", "睢县恒达制鞋有限公司", 120, dt.date(2026, 3, 1)])
        append(["914403001922038216", "012345", 0, None])
    headers, rows = read(path)
    assert headers == [*HEADERS, "日期"]
    (n1, first), (n2, second) = rows
    assert (n1, n2) == (2, 3)
    assert first[0] == "91350100M000100Y43" and isinstance(first[0], str)
    assert first[1] == "睢县恒达制鞋有限公司"
    assert first[2] == 120
    assert isinstance(first[3], dt.date)
    assert (first[3].year, first[3].month, first[3].day) == (2026, 3, 1)
    # Digit strings stay strings: a USCC or an id with leading zeros is not turned into a number.
    assert second[0] == "914403001922038216" and isinstance(second[0], str)
    assert second[1] == "012345"
    assert second[3:] in ([], [None])  # a trailing empty cell may not be stored at all


@pytest.mark.parametrize(
    ("value", "number_format", "expected"),
    [
        (0.05, "0%", "5%"),
        (1, "0%", "100%"),
        (0.125, "0.0%", "12.5%"),
        (0.0005, "0.00%", "0.05%"),
        (0.07, "0.00%", "7%"),
    ],
)
def test_percent_formatted_xlsx_cell_reads_as_the_text_shown(
    tmp_path: Path, value: float, number_format: str, expected: str
) -> None:
    path = xlsx(tmp_path / "items.xlsx", [["默认抽查比例"], [value]], {"A2": number_format})
    assert read(path) == (["默认抽查比例"], [(2, [expected])])


def test_unformatted_xlsx_numbers_stay_numbers(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "n.xlsx", [["a", "b"], [0.05, 12]])
    assert read(path)[1] == [(2, [0.05, 12])]


def test_xlsx_blank_rows_are_skipped_but_rows_keep_their_excel_numbers(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "units.xlsx",
        [
            ["单位名称", "单位类型"],
            [None, None],
            ["大队", "股室"],
            ["  ", None],
            ["办公室", "股室"],
        ],
    )
    workbook = Workbook()
    worksheet = workbook.active
    worksheet.append(["单位名称", "单位类型"])
    worksheet["A4"] = "大队"  # rows 2 and 3 never written at all
    worksheet["B4"] = "股室"
    gapped = tmp_path / "gapped.xlsx"
    workbook.save(gapped)
    assert read(path)[1] == [(3, ["大队", "股室"]), (5, ["办公室", "股室"])]
    assert read(gapped)[1] == [(4, ["大队", "股室"])]


def test_xlsx_trailing_empty_header_cells_are_dropped(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "h.xlsx", [["单位名称", " 单位类型 ", None], ["大队", "股室", "x"]])
    headers, _ = read(path)
    assert headers == ["单位名称", "单位类型"]


def test_xlsx_text_beginning_with_equals_reads_back_as_text(tmp_path: Path) -> None:
    path = tmp_path / "items.xlsx"
    with sheet_writer(path, ["抽查内容"]) as append:
        append(["=是否按时足额支付工资"])
    assert read(path)[1] == [(2, ["=是否按时足额支付工资"])]


def test_xlsx_export_of_text_with_a_control_character_does_not_crash(tmp_path: Path) -> None:
    # A line break copied out of Word arrives as \x0b; text fields accept it from CSV.
    path = tmp_path / "items.xlsx"
    assert write_rows(path, ["抽查依据"], [["《劳动法》\x0b第五十条"]]) == ""
    assert read(path)[1][0][0] == 2


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04 not really a zip",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),  # an old .xls renamed to .xlsx
        "单位名称\r\n大队\r\n".encode(),  # a CSV renamed to .xlsx
    ],
    ids=["damaged", "xls-renamed", "csv-renamed"],
)
def test_damaged_xlsx_is_refused_as_unreadable(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(content)
    with pytest.raises(SheetError) as caught:
        read(path)
    assert caught.value.error.key == "unreadable"
    assert CJK.search(caught.value.message())


# --- every kind's template survives the round trip ------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("kind", [pytest.param(k, id=n) for n, k in KINDS.items()])
def test_written_template_reads_back_as_the_same_record(
    tmp_path: Path, kind: Kind, suffix: str
) -> None:
    record = {f.name: f.parse(c) for f, c in zip(kind.fields, kind.example_row(), strict=True)}
    path = tmp_path / f"{kind.name}{suffix}"
    with sheet_writer(path, list(kind.headers().values())) as append:
        append([f.format(record[f.name]) for f in kind.fields])
    headers, rows = read(path)
    assert headers == list(kind.headers().values())
    [(number, cells)] = rows
    assert number == 2
    cells += [None] * (len(kind.fields) - len(cells))  # a trailing blank cell may be absent
    again = {f.name: f.parse(c) for f, c in zip(kind.fields, cells, strict=True)}
    assert again == record


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["units.xls", "units.txt", "units", "units.CSV.bak"])
def test_unsupported_extension_is_refused_with_a_chinese_message(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("单位名称\r\n", "utf-8")
    for attempt in (lambda: read(path), lambda: sheet_writer(path, ["a"]).__enter__()):
        with pytest.raises(SheetError) as caught:
            attempt()
        assert caught.value.error.key == "unsupported_format"
        message = caught.value.message()
        assert CJK.search(message)
        if path.suffix:
            assert path.suffix in message


def test_upper_case_extension_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "UNITS.CSV"
    write_csv_text(path, "单位名称\r\n大队\r\n", "utf-8")
    assert read(path) == (["单位名称"], [(2, ["大队"])])


@pytest.mark.parametrize("name", ["missing.csv", "missing.xlsx"])
def test_missing_file_is_refused_naming_the_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(SheetError) as caught:
        read(path)
    assert caught.value.error.key == "file_missing"
    assert str(path) in caught.value.message()
    assert CJK.search(caught.value.message())


def test_directory_named_like_a_sheet_is_refused_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "dir.csv"
    path.mkdir()
    with pytest.raises(SheetError):
        read(path)


# --- atomic writes ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_failed_write_leaves_no_file_behind(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"export{suffix}"
    assert write_rows(path, HEADERS, [ROWS[0]], fail=True) == "Boom"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_failed_write_keeps_the_previous_file_intact(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"export{suffix}"
    assert write_rows(path, HEADERS, [ROWS[0]]) == ""
    before = path.read_bytes()
    assert write_rows(path, HEADERS, [ROWS[1]], fail=True) == "Boom"
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_failed_xlsx_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    UNRAISABLE.clear()
    assert write_rows(tmp_path / "export.xlsx", HEADERS, [ROWS[0]], fail=True) == "Boom"
    assert list(scratch.iterdir()) == []
    assert UNRAISABLE == []


def test_file_appears_only_when_the_write_completes(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "export.csv"
    with sheet_writer(path, HEADERS) as append:
        append([*ROWS[0]])
        assert not path.exists()
    assert path.exists()
    assert read(path) == (HEADERS, [(2, ROWS[0])])


def test_excel_error_cells_come_back_marked(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from bot.registry.fields import ExcelError

    path = tmp_path / "e.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["单位名称", "网格"])
    sheet.append(["睢县甲公司", "x"])
    sheet["B2"].value = "#N/A"
    sheet["B2"].data_type = "e"
    workbook.save(path)
    _, rows = read(path)
    assert rows == [(2, ["睢县甲公司", "#N/A"])]
    assert isinstance(rows[0][1][1], ExcelError)


def test_utf16_bom_with_broken_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + b"\x00\xd8")  # a lone surrogate half
    with pytest.raises(SheetError) as caught:
        read(path)
    assert caught.value.error.key == "unknown_encoding"


# --- spreadsheet traps (issue 12) -------------------------------------------------------------


def remarks_of(path: Path) -> list[tuple[int, int | None, str]]:
    """(row, column position, message key) of what reading the whole sheet remarked."""
    with open_sheet(path) as sheet:
        for _ in sheet.rows:
            pass
        return [(r.row, r.column, r.error.key) for r in sheet.remarks]


SHEET_XML = "xl/worksheets/sheet1.xml"


def two_sheets(path: Path, first_state: str) -> Path:
    """Sheet 1 (hidden as ``first_state``) names a leader; the visible sheet 2 someone else."""
    workbook, hidden = new_workbook([["姓名", "角色"], ["冒充者", "领导、管理员"]], title="人员")
    hidden.sheet_state = first_state
    visible = workbook.create_sheet("Sheet2")
    visible.append(["姓名", "角色"])
    visible.append(["张凯", "执法人员"])
    workbook.save(path)
    return path


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_xlsx_reads_the_visible_active_sheet_not_a_hidden_first_one(
    tmp_path: Path, state: str
) -> None:
    path = two_sheets(tmp_path / "officers.xlsx", state)
    assert read(path) == (["姓名", "角色"], [(2, ["张凯", "执法人员"])])


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_xlsx_whose_active_sheet_is_hidden_is_refused_naming_it(tmp_path: Path, state: str) -> None:
    path = two_sheets(tmp_path / "officers.xlsx", state)
    patch_xlsx(path, "xl/workbook.xml", lambda xml: xml.replace('activeTab="1"', 'activeTab="0"'))
    with pytest.raises(SheetError) as caught:
        read(path)
    assert caught.value.error.key == "hidden_sheet"
    assert "「人员」" in caught.value.message()


def formula_sheet(path: Path, value_xml: str, cell_type: str = "") -> Path:
    """Row 2's B cell holds the formula ="C" with the given cached value XML."""
    xlsx(path, [["单位名称", "守法诚信等级"], ["睢县甲公司", "x"]])
    kind = f' t="{cell_type}"' if cell_type else ""
    return patch_xlsx(
        path,
        SHEET_XML,
        lambda xml: re.sub(
            r'<c r="B2"[^>]*>.*?</c>', f'<c r="B2"{kind}><f>"C"</f>{value_xml}</c>', xml
        ),
    )


@pytest.mark.parametrize(
    ("value_xml", "cell_type"),
    [("", ""), ("<v />", ""), ("", "str")],
    ids=["no-value", "empty-value-openpyxl", "string-without-value"],
)
def test_formula_cell_without_a_computed_value_is_refused_not_read_as_blank(
    tmp_path: Path, value_xml: str, cell_type: str
) -> None:
    path = formula_sheet(tmp_path / "entities.xlsx", value_xml, cell_type)
    [(number, cells)] = read(path)[1]
    assert number == 2
    grade = KINDS["entities"].field("credit_grade")  # optional: a blank would pass unnoticed
    with pytest.raises(CellError) as caught:
        grade.parse(cells[1])
    assert caught.value.key == "formula_no_value"
    message = caught.value.message()
    assert '="C"' in message and "WPS" in message and CJK.search(message)


@pytest.mark.parametrize(
    ("value_xml", "cell_type", "expected"),
    [("<v>C</v>", "str", "C"), ("<v></v>", "str", None)],
    ids=["computed", "computed-empty-string"],
)
def test_formula_cell_saved_by_excel_reads_as_its_computed_value(
    tmp_path: Path, value_xml: str, cell_type: str, expected: str | None
) -> None:
    path = formula_sheet(tmp_path / "entities.xlsx", value_xml, cell_type)
    [(_, cells)] = read(path)[1]
    cells += [None] * (2 - len(cells))  # a trailing blank cell may be absent
    assert KINDS["entities"].field("credit_grade").parse(cells[1]) == expected


class TooMuchWork(AssertionError):
    pass


def count_cells(monkeypatch: pytest.MonkeyPatch, limit: int) -> list[int]:
    """Count the cells the reader converts, failing fast once ``limit`` is passed."""
    converted = [0]
    convert = sheets._xlsx_cell

    def counting(cell: Any) -> Cell:
        converted[0] += 1
        if converted[0] > limit:
            raise TooMuchWork(f"more than {limit} cells converted")
        return convert(cell)

    monkeypatch.setattr(sheets, "_xlsx_cell", counting)
    return converted


def corner_workbook(path: Path) -> Path:
    """A 5 KB workbook: two real rows and one formatted cell in Excel's very last corner."""
    workbook, worksheet = new_workbook([["单位名称", "单位类型"], ["劳动保障监察大队", "执法机构"]])
    worksheet["XFD1048576"].font = Font(bold=True)
    workbook.save(path)
    return path


def test_a_formatted_cell_in_the_far_corner_reads_only_the_real_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = corner_workbook(tmp_path / "units.xlsx")
    assert path.stat().st_size < 6000
    converted = count_cells(monkeypatch, limit=100)  # padding would convert 17 billion
    assert read(path) == (["单位名称", "单位类型"], [(2, ["劳动保障监察大队", "执法机构"])])
    assert converted[0] <= 4


def test_a_huge_declared_dimension_reads_only_the_real_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = xlsx(tmp_path / "units.xlsx", [["单位名称", "单位类型"], ["大队", "执法机构"]])
    patch_xlsx(
        path,
        SHEET_XML,
        lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:XFD1048576"', xml),
    )
    count_cells(monkeypatch, limit=100)
    assert read(path) == (["单位名称", "单位类型"], [(2, ["大队", "执法机构"])])


def test_a_sheet_of_formatted_empty_cells_is_refused_after_bounded_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Formatting dragged across whole rows: 1,000 rows of 50 empty styled cells under one
    # real row. The allowance is lowered so that the test stays small; the rule is the same.
    monkeypatch.setattr(sheets, "EMPTY_ALLOWANCE", 5000, raising=False)
    path = xlsx(tmp_path / "units.xlsx", [["单位名称", "单位类型"], ["大队", "执法机构"]])
    empty = "".join(
        f'<row r="{r}">'
        + "".join(f'<c r="{get_column_letter(c)}{r}" s="0"/>' for c in range(1, 51))
        + "</row>"
        for r in range(3, 1003)
    )
    patch_xlsx(path, SHEET_XML, lambda xml: xml.replace("</sheetData>", empty + "</sheetData>"))
    with pytest.raises(SheetError) as caught:
        read(path)
    assert caught.value.error.key == "mostly_empty"
    assert caught.value.error.values["row"] < 110  # stopped within the allowance, not at 1002
    assert CJK.search(caught.value.message())


def test_hidden_data_rows_are_remarked_by_row(tmp_path: Path) -> None:
    workbook, worksheet = new_workbook(
        [
            ["单位名称", "单位类型"],
            ["大队", "执法机构"],
            ["隐藏股", "股室"],
            [None, None],
            ["办公室", "股室"],
        ]
    )
    worksheet.row_dimensions[3].hidden = True
    worksheet.row_dimensions[4].hidden = True  # blank: nothing would be imported from it
    path = tmp_path / "units.xlsx"
    workbook.save(path)
    assert remarks_of(path) == [(3, None, "hidden_row")]


def test_hidden_column_under_a_header_is_remarked_on_the_header_row(tmp_path: Path) -> None:
    workbook, worksheet = new_workbook([["姓名", "角色", "备注"], ["张凯", "领导", ""]])
    worksheet.column_dimensions["B"].hidden = True
    path = tmp_path / "officers.xlsx"
    workbook.save(path)
    with open_sheet(path) as sheet:
        assert [(r.row, r.column, r.error.key) for r in sheet.remarks] == [(1, 1, "hidden_column")]


def test_merged_cells_are_remarked_for_each_data_row_they_leave_blank(tmp_path: Path) -> None:
    rows = [[name, None, None] for name in ("甲", "乙", "丙", "丁")]
    workbook, worksheet = new_workbook([["姓名", "专长", "备注"], *rows])
    worksheet["B2"] = "工资支付"
    worksheet.merge_cells("B2:B4")  # shows 工资支付 for 甲, 乙 and 丙; only 甲 has it
    worksheet["C5"] = "x"
    worksheet.merge_cells("C5:C9")  # rows 6 to 9 are blank: nothing imported, nothing to say
    worksheet.merge_cells("E2:F3")  # beyond the header
    path = tmp_path / "officers.xlsx"
    workbook.save(path)
    remarks = remarks_of(path)
    assert [(row, column, key) for row, column, key in remarks] == [
        (3, 1, "merged_cell"),
        (4, 1, "merged_cell"),
    ]
    with open_sheet(path) as sheet:
        for _ in sheet.rows:
            pass
        message = sheet.remarks[0].error.message()
    assert "B2:B4" in message and CJK.search(message)
