"""A person opens the public site (issue 17, Done-when): the results page of a site built by
`suiji publish site`, opened from its folder (file://, as from a USB stick or the portal's
copy) in a headless Chromium the size of a phone; its search narrows the table as one types,
nothing is wider than the screen, and its screenshot is a real picture (the README shows
one). Skipped, saying so, where no Chromium is installed."""

from __future__ import annotations

import asyncio
import struct
import zlib
from pathlib import Path

import pytest

from tests.e2e import test_public_site
from tests.e2e.browser import chromium, phone_page
from tests.e2e.phones import Phones
from tests.e2e.test_publication import approved_in_chat, prepared, reported, suiji, the_publication

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine"),
]

wecom = test_public_site.wecom  # one platform: the page is the same whichever approved it

SHOWN = "[...document.querySelectorAll('#results tbody tr')].filter(r => r.offsetHeight > 0).length"


def colours(png: bytes) -> int:
    """How many different byte values the image's pixel data holds: a blank page has 2 or 3
    (the rows' filter bytes and one colour), a page of text hundreds."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    data, at = b"", 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        if kind == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    return len(set(zlib.decompress(data)))


async def test_the_results_page_opens_on_a_phone_and_its_search_narrows_the_table(
    wecom: Phones, database_url: str, tmp_path: Path
) -> None:
    bot = wecom
    campaign_id = await reported(bot)
    await approved_in_chat(bot, await prepared(bot, campaign_id))
    rows = (await the_publication(bot, campaign_id)).rows
    folder = tmp_path / "site"
    done = await suiji(database_url, "publish", "site", str(folder))
    assert done.exit_code == 0, done.output

    shot = tmp_path / "site-results.png"
    async with asyncio.timeout(120), phone_page((folder / "results/index.html").as_uri()) as page:
        assert await page.visible("#search")  # the script ran: the search box shows
        assert await page.evaluate(SHOWN) == len(rows)
        wanted = rows[0]["uscc"][-8:].lower()  # part of one code, typed in lower case
        await page.evaluate(
            f"(i => {{ i.value = '{wanted}'; i.dispatchEvent(new Event('input')); }})"
            "(document.getElementById('search'))"
        )
        assert await page.evaluate(SHOWN) == 1
        assert "找到 1 条" in await page.evaluate(
            "document.getElementById('search-count').textContent"
        )
        await page.evaluate(
            "(i => { i.value = ''; i.dispatchEvent(new Event('input')); })"
            "(document.getElementById('search'))"
        )
        assert await page.evaluate(SHOWN) == len(rows)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await page.screenshot(shot)
    assert shot.stat().st_size > 10_000 and colours(shot.read_bytes()) > 50
