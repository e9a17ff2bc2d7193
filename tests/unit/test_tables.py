"""Terminal tables line up by display width, Chinese characters counting as two columns."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.tables import display_width, format_table, wrap

GAP = 2  # spaces between columns


def column_starts(line: str) -> list[int]:
    """Display column at which each space-free cell of ``line`` starts."""
    return [display_width(line[: m.start()]) for m in re.finditer(r"\S+", line)]


def expected_starts(widths: list[int]) -> list[int]:
    starts, position = [], 0
    for width in widths:
        starts.append(position)
        position += width + GAP
    return starts


@pytest.mark.parametrize(
    ("value", "width"),
    [("", 0), ("abc", 3), ("张伟", 4), ("A级", 3), ("（无）", 6), ("ＡＢ", 4), ("91350100", 8)],
)
def test_display_width_counts_wide_characters_as_two(value: str, width: int) -> None:
    assert display_width(value) == width


def test_columns_line_up_with_chinese_text() -> None:
    table = format_table(
        ["执法证号", "姓名", "单位"],
        [
            ["豫41142200123", "张伟", "劳动保障监察大队"],
            ["wecom:lisi", "欧阳明月", "办公室"],
            ["X1", "Li", "大队"],
        ],
    )
    lines = table.split("\n")
    assert len(lines) == 5
    # Widths: max(8, 13, 10, 2) = 13; max(4, 4, 8, 2) = 8; max(4, 16, 6, 4) = 16.
    starts = expected_starts([13, 8, 16])
    for line in [lines[0], *lines[2:]]:
        assert column_starts(line) == starts, line
    assert lines[1] == "-" * 13 + "  " + "-" * 8 + "  " + "-" * 16
    assert lines[0] == "执法证号" + " " * 7 + "姓名" + " " * 6 + "单位"


def test_lines_have_no_trailing_blanks() -> None:
    table = format_table(["名称", "x"], [["劳动保障监察大队", "长长长长长长"], ["a", "b"]])
    assert all(line == line.rstrip() for line in table.split("\n"))


def test_table_without_rows_is_header_and_rule() -> None:
    assert format_table(["单位名称", "类型"], []) == "单位名称  类型\n--------  ----"


def test_row_with_the_wrong_number_of_cells_is_refused() -> None:
    with pytest.raises(ValueError):
        format_table(["a", "b"], [["1"]])


cells = st.text(alphabet="abcXYZ0129张伟劳动保障监察大队（）ＡＢ", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.lists(cells, min_size=n, max_size=n),
            st.lists(st.lists(cells, min_size=n, max_size=n), max_size=6),
        )
    )
)
def test_every_row_starts_each_column_at_the_same_display_position(
    table: tuple[list[str], list[list[str]]],
) -> None:
    headers, rows = table
    lines = format_table(headers, rows).split("\n")
    widths = [max(display_width(c) for c in column) for column in zip(headers, *rows, strict=True)]
    starts = expected_starts(widths)
    assert column_starts(lines[0]) == starts
    assert [len(dashes) for dashes in lines[1].split("  ")] == widths
    for line in lines[2:]:
        assert column_starts(line) == starts
    assert len(lines) == len(rows) + 2


# --- wrapping help text by display width ----------------------------------------------------

HELP = (
    "把文件导入名录（按自然键新增或更新）；有一行有问题就什么都不写，除非加 --skip-invalid。"
    "种类：units、officers、entities、items、recusals。"
)


@given(st.integers(min_value=20, max_value=100))  # the longest word fits
def test_wrapped_chinese_lines_fit_the_width_and_lose_nothing(width: int) -> None:
    lines = wrap(HELP, width, "  ", "    ").splitlines()
    # Only closing marks, kept back from starting the next line, may stand past the width.
    assert all(display_width(line.rstrip("，。、；：）」")) <= width for line in lines)
    assert "".join(line.strip() for line in lines).replace(" ", "") == HELP.replace(" ", "")


def test_english_words_are_not_cut_and_closing_marks_do_not_start_a_line() -> None:
    for width in range(20, 60):
        lines = wrap(HELP, width).splitlines()
        assert any("--skip-invalid" in line for line in lines)
        assert not any(line.lstrip()[:1] in "，。、；：）」" for line in lines)


def test_paragraphs_and_unwrapped_blocks_are_kept() -> None:
    text = "第一段，第一段。\n\n\b\n  a  b\n  c\n\n第三段"
    assert wrap(text, 40, preserve_paragraphs=True) == "第一段，第一段。\n\n  a  b\n  c\n\n第三段"
