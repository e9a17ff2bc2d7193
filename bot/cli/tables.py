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
