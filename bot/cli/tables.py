"""Plain-text tables that line up in a terminal even with Chinese (double-width) characters."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def display_width(value: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value)


def _pad(value: str, width: int) -> str:
    return value + " " * (width - display_width(value))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [display_width(h) for h in headers]
    for row in rows:
        widths = [max(w, display_width(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


# A line does not begin with these; one is kept at the end of the line before instead.
_CLOSING = frozenset("，。、；：？！）」』》〉”’,.;:?!)]}")


def _tokens(text: str) -> list[str]:
    """Words of narrow characters, single wide characters, and single spaces between them."""
    found: list[str] = []
    for ch in text:
        if ch.isspace():
            if found and found[-1] != " ":
                found.append(" ")
        elif (
            display_width(ch) == 1
            and found
            and found[-1] != " "
            and display_width(found[-1][-1]) == 1
        ):
            found[-1] += ch
        else:
            found.append(ch)
    return found


def _fill(text: str, width: int, first: str, rest: str) -> list[str]:
    lines: list[str] = []
    indent, line = first, ""
    for token in _tokens(text):
        if token == " ":
            line += " " if line else ""
            continue
        too_wide = display_width(indent + line + token) > width
        if line.strip() and too_wide and token not in _CLOSING:
            lines.append((indent + line).rstrip())
            indent, line = rest, ""
        line += token
    if line.strip():
        lines.append((indent + line).rstrip())
    return lines


def wrap(
    text: str,
    width: int = 78,
    initial_indent: str = "",
    subsequent_indent: str = "",
    preserve_paragraphs: bool = False,
) -> str:
    """Click's ``wrap_text``, counting a Chinese character as two columns and breaking between
    any two of them (click counts characters and breaks only at spaces)."""
    if not preserve_paragraphs:
        return "\n".join(_fill(text, width, initial_indent, subsequent_indent))
    out = []
    for paragraph in text.expandtabs().split("\n\n"):
        lines = paragraph.splitlines()
        if lines and lines[0].strip() == "\b":  # click's mark for a block kept as it is
            out.append("\n".join(initial_indent + line for line in lines[1:]))
            continue
        indent = " " * (len(lines[0]) - len(lines[0].lstrip())) if lines else ""
        joined = " ".join(line.strip() for line in lines)
        filled = _fill(joined, width, initial_indent + indent, subsequent_indent + indent)
        out.append("\n".join(filled))
    return "\n\n".join(out)
