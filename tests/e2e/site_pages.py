"""Reading the public site's pages as a browser would: the results table's rows, the links
and the marks of a page, parsed with html.parser rather than grepped."""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
from pathlib import Path


class Page(HTMLParser):
    """A page's table rows (cells' text), links (href) and the text of `.late` elements."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.late: list[str] = []
        self.scripts: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._late = False
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        elif tag == "script" and found.get("src"):
            self.scripts.append(str(found["src"]))
        if "late" in (found.get("class") or "").split():
            self._late = True  # the marks hold plain text only
            self.late.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        self._late = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._late:
            self.late[-1] += data


def read(site: Path, path: str) -> Page:
    return Page((site / path).read_text("utf-8"))


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and its SHA-256: equal fingerprints, byte-identical folders."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
