"""The public site end to end (issue 17 §2, §5, Done-when): a campaign from its draw to
`reported`, its results publication approved in chat, then `suiji publish site DIR` builds a
site whose results pages list each employer's category, whose scan finds nothing, which two
builds give byte for byte, and which `suiji serve` shows under /public/ after its next tick.
A finding's free text never reaches it; personal data that does reach a page (planted in the
published rows behind the workflow's back) makes `publish site` refuse, naming each place, and
leaves the old site as it was — served and on disk."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.server.public_site import SITE
from bot.workflows import site
from bot.workflows.site.pages import campaign_path, draw_path, results_path
from storage.engine import unit_of_work
from storage.models import Publication
from tests.e2e import test_reports
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.site_pages import fingerprint, read
from tests.e2e.test_assignments import drawn, window
from tests.e2e.test_findings import Factory, started
from tests.e2e.test_publication import (
    approved_in_chat,
    prepared,
    reported,
    reported_after_start,
    suiji,
    the_publication,
)
from tests.helpers import load_sample, spec
from tests.unit.test_personal import ID
from tests.unit.test_site_results import CAMPAIGN_COLUMNS

pytestmark = pytest.mark.db

bot = test_reports.bot  # the same phones, both platforms


@pytest.fixture
async def wecom(factory: Factory, database_url: str) -> AsyncIterator[Phones]:
    await load_sample(factory, utc_now)
    async with phones("wecom", database_url) as built:
        yield built


PROBLEMS = f"职工身份证 {ID} 的工资被拖欠"  # what an officer might type in a finding


def planted_in_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = test_reports.answers_for

    def planted(problem: bool, today: dt.date) -> dict[str, Any]:
        answers = plain(problem, today)
        if problem:
            answers["problems"] = PROBLEMS
        return answers

    monkeypatch.setattr(test_reports, "answers_for", planted)


def every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def checked_manifest(folder: Path) -> None:
    """What `sha256sum -c SHA256SUMS` does in the folder: every line's file has that SHA-256,
    and every file but the manifest is listed."""
    listed = {}
    for line in (folder / site.MANIFEST).read_text("utf-8").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert set(listed) == files - {site.MANIFEST}


def record_verifies(folder: Path, campaign_id: int) -> None:
    """The campaign's public draw record, as the site has it, passes the site's standalone
    verifier, run as anyone would: another Python, nothing of suiji imported."""
    record = folder / draw_path(campaign_id).replace("index.html", "record.json")
    verified = subprocess.run(
        [sys.executable, "-I", str(folder / "draws" / "verify.py"), str(record)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder.parent,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_a_published_campaign_reaches_the_site_and_a_planted_id_is_refused(
    bot: Phones,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    planted_in_findings(monkeypatch)
    # Not confidential, so that its draw record is public already (a confidential campaign's
    # only once its checks end).
    campaign_id = await started(bot, confidential="false")
    await reported_after_start(bot, campaign_id)
    await approved_in_chat(bot, await prepared(bot, campaign_id))
    found = await the_publication(bot, campaign_id)
    assert found.published_at is not None

    folder = tmp_path / "site"
    done = await suiji(database_url, "publish", "site", str(folder))
    assert done.exit_code == 0, done.output
    assert "个人信息检查通过" in done.output

    # The results page lists each employer's category, and links its campaign's page.
    expected = {(r["name"], r["uscc"], r["result_category"]) for r in found.rows}
    assert any("发现问题" in category for _, _, category in expected)
    index = read(folder, "results/index.html")
    header, *rows = index.rows
    assert header[:7] == [
        "名称",
        "统一社会信用代码",
        "抽查任务",
        "抽查事项",
        "检查日期",
        "检查单位",
        "抽查结果",
    ]
    assert {(r[0], r[1], r[6]) for r in rows} == expected
    assert f"../{results_path(campaign_id)}" in index.links
    assert index.scripts == ["../search.js"] and (folder / "search.js").is_file()
    page = read(folder, results_path(campaign_id))
    assert page.rows[0][:6] == CAMPAIGN_COLUMNS
    assert {(r[0], r[1], r[5]) for r in page.rows[1:]} == expected
    assert {f"../{campaign_path(campaign_id)}", f"../{draw_path(campaign_id)}"} <= set(page.links)
    assert page.late == []  # approved in time
    assert results_path(campaign_id) in read(folder, "index.html").links

    # The finding's free text is in the report, never on the site; the scan finds nothing,
    # the manifest checks, and a second build of the same data is the same bytes.
    assert ID.encode() not in every_byte(folder)
    assert "拖欠".encode() not in every_byte(folder)
    scanned = await suiji(database_url, "publish", "scan", str(folder))
    assert scanned.exit_code == 0 and "没有发现个人信息" in scanned.output, scanned.output
    record_verifies(folder, campaign_id)
    checked_manifest(folder)
    again = tmp_path / "again"
    assert (await suiji(database_url, "publish", "site", str(again))).exit_code == 0
    assert fingerprint(again) == fingerprint(folder)

    # `suiji serve` shows the same site under /public/ once its tick has seen the approval.
    held = bot.bot.app[SITE]
    await held.tick()
    async with bot.http.get(bot.bot.make_url("/public/SHA256SUMS")) as response:
        assert await response.read() == (folder / site.MANIFEST).read_bytes()

    # Personal data that reaches a page: a finding's text pasted into a published row behind
    # the workflow's back. `publish site` refuses, names each page and place, and the old
    # site stays byte for byte; the served one too.
    before = fingerprint(folder)
    pasted = [dict(found.rows[0], result_category=f"发现问题已责令改正：{PROBLEMS}")]
    async with unit_of_work(bot.factory) as session:
        await session.execute(
            update(Publication)
            .where(Publication.id == found.id)
            .values(rows=pasted + found.rows[1:])
        )
    refused = await suiji(database_url, "publish", "site", str(folder))
    assert refused.exit_code != 0
    assert "身份证号" in refused.output and "原来的网站保持不变" in refused.output
    for page_path in ("results/index.html", results_path(campaign_id)):
        assert f"{page_path}　第 " in refused.output, refused.output
    assert ID not in refused.output
    assert fingerprint(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "site"]  # no staging left
    # The served site is rebuilt when its stamp changes; a change behind the workflow's back
    # is in no audit entry, so as if the day turned:
    held.stamp = None
    with caplog.at_level(logging.ERROR, logger="suiji.site"):
        assert await held.refresh() is False
    assert "身份证号" in caplog.text and ID not in caplog.text
    async with bot.http.get(bot.bot.make_url("/public/SHA256SUMS")) as response:
        assert await response.read() == (folder / site.MANIFEST).read_bytes()


async def test_a_late_publication_is_marked_late_on_its_pages(
    wecom: Phones, database_url: str, tmp_path: Path
) -> None:
    campaign_id = await reported(wecom)
    found = await prepared(wecom, campaign_id)
    await approved_in_chat(wecom, found)
    async with unit_of_work(wecom.factory) as session:  # as if approved after the deadline
        await session.execute(
            update(Publication).where(Publication.id == found.id).values(late=True)
        )
    folder = tmp_path / "site"
    assert (await suiji(database_url, "publish", "site", str(folder))).exit_code == 0
    assert read(folder, results_path(campaign_id)).late == [
        "逾期公示：本次结果晚于规定的公示期限才公示。"
    ]
    assert "逾期公示" in read(folder, "results/index.html").late
    assert "逾期公示" in read(folder, "index.html").late


async def test_the_draw_pages_record_verifies_with_the_standalone_verifier(
    wecom: Phones, database_url: str, tmp_path: Path
) -> None:
    campaign_id = await drawn(wecom, spec(**window(), confidential="false"))
    folder = tmp_path / "site"
    done = await suiji(database_url, "publish", "site", str(folder))
    assert done.exit_code == 0, done.output
    record_verifies(folder, campaign_id)
