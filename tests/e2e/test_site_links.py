"""Every link of every page of the public site leads to a file of the same build: the site is
moved, hosted and read offline as one folder, so a link out of it or to a page no section
wrote is a broken page for the public. Built from realistic data (the sample registries, a
changed item, plans, drawn and undrawn campaigns), before and after a confidential campaign's
targets open, so that pages which appear only then are walked too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.workflows.site.items import item_path
from bot.workflows.site.pages import SiteFile
from tests.e2e.site import Factory, broken_links, built, realistic

pytestmark = pytest.mark.db


async def test_every_link_of_every_page_resolves_within_the_build(
    factory: Factory, tmp_path: Path
) -> None:
    bureau = await realistic(factory, tmp_path)
    for today in (dt.date(2026, 12, 3), bureau.end + dt.timedelta(days=1)):
        files = await built(factory, today)
        assert any(f.path.endswith(".html") for f in files)
        assert broken_links(files) == []


def test_the_walk_finds_a_missing_page_a_link_out_and_one_above_the_site() -> None:
    page = (
        b'<a href="items/index.html">ok</a><a href="items/">folder</a><a href="#top">here</a>'
        b'<a href="plans/2026.html">missing</a><img src="https://cdn.example.com/x.png">'
        b'<a href="../outside.html">above</a>'
    )
    files = [SiteFile("index.html", page), SiteFile("items/index.html", b"")]
    assert broken_links(files) == [
        ("index.html", "plans/2026.html"),
        ("index.html", "https://cdn.example.com/x.png"),
        ("index.html", "../outside.html"),
    ]


def test_every_item_code_has_its_own_page_whose_link_needs_no_escaping() -> None:
    codes = ["RS-JC-001", "人社-01", "index", "a/b", "~e4baba", "x-e4baba", "RS.1"]
    paths = [item_path(code) for code in codes]
    assert len(set(paths)) == len(codes)
    assert paths[:2] == ["items/RS-JC-001.html", "items/~e4babae7a4be2d3031.html"]
    assert all(quote(p, safe="/~") == p and p.count("/") == 1 for p in paths)
    assert "items/index.html" not in paths
