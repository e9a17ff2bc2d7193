"""The public site's always-public pages (issue 17 §1 "Always public", §2), built from a real
database: the item list in force and as of any date, the approved plans only, and each
campaign's implementation plan with its targets only once they may be known."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.workflows import approvals, site
from bot.workflows.site.items import as_of_path, item_path
from bot.workflows.site.pages import campaign_path, draw_path, results_path
from bot.workflows.step import Step
from storage.campaigns import current_teams
from storage.engine import unit_of_work
from storage.models import Approval, DrawnOfficer, Person
from storage.officers import newest_certificate
from tests.e2e.browser import chromium, phone_page
from tests.e2e.phones import Phones, utc_now
from tests.e2e.site import Bureau, Factory, Page, built, by_path, hits, parsed, realistic
from tests.e2e.test_publication import prepared, reported

pytestmark = pytest.mark.db


@pytest.fixture
async def bureau(factory: Factory, tmp_path: Path) -> Bureau:
    return await realistic(factory, tmp_path)


def shown_versions(page: Page, code: str) -> list[tuple[str, str]]:
    """(version, ratio) of the rows of ``code`` a reader sees (not hidden)."""
    return [
        (r.attrs["data-version"] or "", r.cells[6])
        for r in page.rows
        if r.attrs.get("data-code") == code and not r.hidden
    ]


async def test_the_item_list_as_of_today_and_before_a_change(
    factory: Factory, bureau: Bureau
) -> None:
    after = await built(factory, dt.date(2026, 8, 1))
    before = await built(factory, dt.date(2026, 6, 30))
    # Today's list shows the version in force; every version is in the page for its script.
    assert shown_versions(parsed(after, "items/index.html"), bureau.item) == [("2", "8%")]
    assert shown_versions(parsed(before, "items/index.html"), bureau.item) == [("1", "5%")]
    listed = parsed(after, "items/index.html")
    rows = [r for r in listed.rows if r.attrs.get("data-code") == bureau.item]
    every = [r.attrs["data-version"] for r in rows]
    assert every == ["1", "2"]
    assert len([r for r in listed.rows if r.attrs.get("data-code") and not r.hidden]) == 9

    # Without the script: the list as of each day it changed, linked from the list.
    first, change = as_of_path(dt.date(2026, 1, 1)), as_of_path(bureau.changed_on)
    assert {f"../{first}", f"../{change}"} <= set(listed.links)
    assert shown_versions(parsed(after, first), bureau.item) == [("1", "5%")]
    assert shown_versions(parsed(after, change), bureau.item) == [("2", "8%")]
    assert len([r for r in parsed(after, first).rows if r.attrs.get("data-code")]) == 9

    history = parsed(after, item_path(bureau.item))
    assert "第 1 版：2026-01-01 起，2026-06-30 止" in history.text
    assert "第 2 版：2026-07-01 起" in history.text
    assert "调整了：默认抽查比例" in history.text
    assert "陈红军" not in history.text  # who changed it is a person: never shown


async def test_only_approved_needs_of_a_plan_are_public(factory: Factory, bureau: Bureau) -> None:
    files = await built(factory, dt.date(2026, 12, 3))
    paths = set(by_path(files))
    assert "plans/2026.html" in paths and "plans/2027.html" not in paths  # 2027: none approved
    plan = parsed(files, "plans/2026.html")
    assert "全县建筑业用人单位" in plan.text and "全县餐饮业" not in plan.text
    assert "局领导" in plan.text and "张凯" not in plan.text  # the approver as a role
    assert "../items/RS-JC-003.html" in plan.links
    index = parsed(files, "plans/index.html")
    assert index.links.count("../plans/2026.html") == 1
    assert "../plans/2027.html" not in index.links


async def drawn_usccs(factory: Factory, campaign_id: int) -> list[str]:
    async with factory() as session:
        teams = await current_teams(session, campaign_id)
    return [uscc for t in teams for uscc, _, _ in t["employers"]]


async def drawn_certificates(factory: Factory, campaign_id: int) -> list[str]:
    async with factory() as session:
        people = await session.execute(
            select(Person)
            .join(DrawnOfficer, DrawnOfficer.person_id == Person.id)
            .where(DrawnOfficer.campaign_id == campaign_id)
        )
        found = []
        for person in people.scalars():
            await session.refresh(person, ["certificates"])
            newest = newest_certificate(person.certificates)
            assert newest is not None
            found.append(newest.number)
        return found


async def test_a_confidential_campaigns_targets_appear_only_after_its_checks_end(
    factory: Factory, bureau: Bureau
) -> None:
    targets = await drawn_usccs(factory, bureau.confidential)
    assert targets
    for today, shown in ((bureau.end, False), (bureau.end + dt.timedelta(days=1), True)):
        page = parsed(await built(factory, today), campaign_path(bureau.confidential))
        assert all((uscc in page.text) is shown for uscc in targets), today
        assert ("本次抽查保密" in page.text) is not shown
        assert f"../{draw_path(bureau.confidential)}" in page.links


async def test_a_campaign_page_gives_its_plan_and_targets_never_its_officers(
    factory: Factory, bureau: Bureau
) -> None:
    files = await built(factory, dt.date(2026, 12, 3))
    page = parsed(files, campaign_path(bureau.public))
    targets = await drawn_usccs(factory, bureau.public)
    rows = [r.cells for r in page.rows if len(r.cells) == 3 and r.cells[2] in targets]
    assert [uscc for _, _, uscc in rows] == targets  # by team, in draw order
    assert all(team.startswith("第 ") and name for team, name, _ in rows)
    for officer in await drawn_certificates(factory, bureau.public):
        assert officer not in page.text
    assert "RS-JC-003 工资支付情况（第 2 版）" in page.text  # the version in force at its start
    assert "../items/RS-JC-003.html" in page.links
    assert "3 组" in page.text and "随机抽取执法人员 2 人" in page.text
    assert "实地检查、书面检查" in page.text and "30%" in page.text
    assert f"../{results_path(bureau.public)}" not in page.links  # nothing published yet

    waiting = parsed(files, campaign_path(bureau.committed))
    assert "尚未摇号" in waiting.text and "中国福利彩票3D开奖号码" in waiting.text
    assert f"../{draw_path(bureau.committed)}" in waiting.links

    index = parsed(files, "campaigns/index.html")
    pages = [campaign_path(i) for i in (bureau.public, bureau.confidential, bureau.committed)]
    linked = [link for link in index.links if link.removeprefix("../") in pages]
    newest_first = [bureau.committed, bureau.confidential, bureau.public]  # same start: by id
    assert linked == [f"../{campaign_path(i)}" for i in newest_first]


async def test_the_pages_hold_no_personal_data_and_build_the_same_bytes(
    factory: Factory, bureau: Bureau
) -> None:
    for today in (dt.date(2026, 12, 3), bureau.end + dt.timedelta(days=1)):
        files = await built(factory, today)
        assert await hits(factory, files) == []
        assert files == await built(factory, today)


@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine")
async def test_the_date_form_shows_the_list_as_of_the_chosen_day_in_a_browser(
    factory: Factory, bureau: Bureau, tmp_path: Path
) -> None:
    folder = tmp_path / "site"
    site.write(await built(factory, dt.date(2026, 8, 1)), folder)
    shown = """[...document.querySelectorAll('#items tbody tr[data-code="RS-JC-003"]')]
        .filter(row => !row.hidden).map(row => row.dataset.version).join()"""
    async with phone_page((folder / "items" / "index.html").as_uri()) as page:
        assert await page.visible("#as-of-form")  # hidden without the script
        assert await page.evaluate(shown) == "2"
        for day, version in (("2026-06-30", "1"), ("2026-07-01", "2"), ("2025-12-31", "")):
            await page.evaluate(
                f"document.getElementById('as-of').value = '{day}';"
                "document.getElementById('as-of-form').requestSubmit()"
            )
            assert await page.evaluate(shown) == version, day
            status = await page.evaluate("document.getElementById('as-of-status').textContent")
            assert status.startswith(day) and ("共 0 项" in status) is (not version)


async def test_a_campaign_links_its_results_once_they_are_published(wecom: Phones) -> None:
    campaign_id = await reported(wecom)
    found = await prepared(wecom, campaign_id)
    today = dt.date(2027, 1, 4)

    async def links() -> tuple[list[str], str]:
        files = await built(wecom.factory, today)
        index = parsed(files, "campaigns/index.html")
        return parsed(files, campaign_path(campaign_id)).links, index.text

    own, listed = await links()  # waiting for the leader: not public yet
    assert f"../{results_path(campaign_id)}" not in own and "检查报告已批准" in listed
    async with unit_of_work(wecom.factory) as session:
        approval = await session.get(Approval, found.approval_id)
        assert approval is not None
        leader = await session.get(Person, approval.approver_ids[0])
        assert leader is not None
        await approvals.decide(
            Step(session, wecom.policy, utc_now(), leader.name), approval, leader, True, ""
        )
    own, listed = await links()
    assert f"../{results_path(campaign_id)}" in own and "结果已公示" in listed
