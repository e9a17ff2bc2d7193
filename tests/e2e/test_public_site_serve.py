"""`suiji serve`'s /public/: the public site read-only, as a browser and a portal's sync see
it — GET and HEAD only, a folder's index.html, the right content types, a Chinese 404, no way
out of the site, revalidation by ETag; kept fresh on the scheduler's tick and written whole to
[public] site_dir for the county portal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from multidict import CIMultiDict
from yarl import URL

from bot.server.public_site import SETTLE_SECONDS, SITE
from bot.workflows import site
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.site_pages import Page, fingerprint
from tests.e2e.test_findings import Factory, started
from tests.helpers import load_sample

pytestmark = pytest.mark.db


@pytest.fixture
async def served(factory: Factory, database_url: str, tmp_path: Path) -> AsyncIterator[Phones]:
    await load_sample(factory, utc_now)
    async with phones(
        "wecom", database_url, SUIJI_PUBLIC__SITE_DIR=str(tmp_path / "portal")
    ) as built:
        await built.bot.app[SITE].first.wait()
        yield built


async def get(
    p: Phones, path: str, method: str = "GET", **headers: str
) -> tuple[int, bytes, CIMultiDict[str]]:
    url = URL(str(p.bot.make_url("/")).rstrip("/") + path, encoded=True)
    async with p.http.request(method, url, headers=headers, allow_redirects=False) as response:
        return response.status, await response.read(), response.headers.copy()


async def test_the_site_is_served_read_only_with_its_types_and_a_chinese_404(
    served: Phones,
) -> None:
    status, body, headers = await get(served, "/public/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    home = Page(body.decode("utf-8"))
    assert "results/index.html" in home.links and "draws/index.html" in home.links
    assert "执法证号" in body.decode("utf-8")
    assert (await get(served, "/public"))[2]["Location"] == "public/"
    assert (await get(served, "/public/results"))[2]["Location"] == "results/"
    status, body, _ = await get(served, "/public/results/")
    assert status == 200 and "抽查结果公示" in body.decode("utf-8")

    types = {
        "/public/index.html": "text/html; charset=utf-8",
        "/public/style.css": "text/css; charset=utf-8",
        "/public/search.js": "text/javascript; charset=utf-8",
        "/public/SHA256SUMS": "text/plain; charset=utf-8",
    }
    for path, kind in types.items():
        status, body, headers = await get(served, path)
        assert (status, headers["Content-Type"]) == (200, kind), path
        assert headers["X-Content-Type-Options"] == "nosniff"
    status, body, headers = await get(served, "/public/index.html", "HEAD")
    assert status == 200 and body == b""
    status, body, _ = await get(served, "/public/index.html", **{"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""

    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        path = "/public" if method == "PUT" else "/public/index.html"  # the folder's redirect too
        status, body, headers = await get(served, path, method)
        assert status == 405 and headers["Allow"] == "GET,HEAD", method
        assert "只读" in body.decode("utf-8") and "Method" not in body.decode("utf-8")
    # Sent as written (not normalised by the client): nothing outside the site is ever read.
    for path in (
        "/public/nothing.html",
        "/public/results/9999.html",
        "/public/%2e%2e/%2e%2e/etc/passwd",
        "/public/..%2f..%2fpyproject.toml",
        "/public/results/..%2f..%2fSHA256SUMS",
        "/public/results//index.html",
        "/public/.%2findex.html",
        "/public/..%5cpyproject.toml",
        "/public/%00index.html",
    ):
        status, body, headers = await get(served, path)
        assert status == 404, path
        assert b"[tool" not in body and b"root:" not in body, path
        assert headers["Content-Type"] == "text/html; charset=utf-8", path
        assert "页面不存在" in body.decode("utf-8"), path


async def test_a_change_is_built_once_it_settled_and_written_whole_for_the_portal(
    served: Phones, tmp_path: Path
) -> None:
    held = served.bot.app[SITE]
    portal = tmp_path / "portal"
    first = fingerprint(portal)
    assert (
        first
        and (await get(served, "/public/SHA256SUMS"))[1] == (portal / site.MANIFEST).read_bytes()
    )
    assert await held.refresh() is False  # nothing changed: no build
    campaign_id = await started(served)  # a draw: recorded in the audit log
    # Not urgent (results and the day are as they were): built once it has settled.
    assert await held.refresh() is False
    assert fingerprint(portal) == first
    held.built_at -= SETTLE_SECONDS  # as if that long had passed
    await held.tick()
    home = Page((await get(served, "/public/index.html"))[1].decode("utf-8"))
    assert f"campaigns/{campaign_id}.html" in home.links
    assert fingerprint(portal) != first
    assert (await get(served, "/public/index.html"))[1] == (portal / "index.html").read_bytes()
