"""The pages attacked as an outsider would, through the fakes on 127.0.0.1: malformed bodies
and addresses get the pages' own Chinese answer (never a 500, nor the app's last-resort
"bad request" for an error it did not expect), a login's ``after`` cannot split the
redirect's headers, input the database cannot hold is refused with words, and the pages may
be framed only by this site."""

from __future__ import annotations

import urllib.parse

import aiohttp
import pytest
from yarl import URL

from bot.platforms.safexml import MAX_BODY
from bot.server.h5_login import LOGIN_COOKIE, SESSION_COOKIE
from bot.workflows import reports
from bot.workflows.step import Step
from handlers.commands import Command
from storage.engine import unit_of_work
from storage.models import Person
from tests.e2e.pages import Browser, Shown
from tests.e2e.phones import Phones, utc_now
from tests.e2e.test_assignments import team
from tests.e2e.test_finding_pages import begin_in_chat, page_of, stored, unchanged
from tests.e2e.test_findings import started
from tests.e2e.test_reports import submit_findings, the_report_of_team, the_team

pytestmark = pytest.mark.db


def answered_by_the_page(shown: Shown) -> bool:
    """A refusal the pages meant: an HTML page of theirs, not an error caught at the last."""
    return shown.status < 500 and shown.content_type == "text/html"


async def test_malformed_bodies_are_refused_not_a_500(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    url = page_of(wecom, begun.finding_id)
    before = await stored(wecom, begun.finding_id)
    async with Browser(wecom, begun.officer) as phone:
        page = await phone.open(url)
        assert page.status == 200, page.text
        token = page.csrf.encode()
        bad = [
            (url + "/photos", "multipart/form-data", b"csrf=" + token),  # no boundary
            (url, "multipart/form-data", b"csrf=" + token),
            (url + "/photos/remove", "multipart/form-data", b"x"),
            (url + "/photos", "multipart/form-data; boundary=zz", b"--zz\r\nbroken"),
            (url, "multipart/form-data; boundary=zz", b"--zz\r\nbroken"),
            (url, "application/x-www-form-urlencoded", b"csrf=" + token + b"&q.x=\xff\xfe"),
            (url, "application/x-www-form-urlencoded; charset=no-such", b"csrf=" + token),
            (f"{wecom.policy.public_url}/h5/login/dingtalk", "multipart/form-data", b"x"),
        ]
        for where, kind, body in bad:
            shown = await phone.post(where, body, headers={"Content-Type": kind})
            assert answered_by_the_page(shown), (where, kind, shown.status, shown.text)
        # A NUL, which PostgreSQL's text and jsonb cannot hold, in an answer and a removal.
        nul = await phone.post(url, page.filled({"problems": "无\x00"}))
        assert answered_by_the_page(nul), nul.text
        removal = {"csrf": page.csrf, "question": "evidence\x00", "sha256": "a\x00"}
        removed = await phone.post(url + "/photos/remove", removal)
        assert answered_by_the_page(removed), removed.text
    await unchanged(wecom, begun.finding_id, before)


async def test_a_form_too_large_gets_the_pages_own_answer_and_changes_nothing(
    wecom: Phones,
) -> None:
    """A form past the server's body limit is refused with the pages' Chinese 413, not the web
    framework's English one; nothing of it is saved."""
    begun = await begin_in_chat(wecom)
    url = page_of(wecom, begun.finding_id)
    before = await stored(wecom, begun.finding_id)
    async with Browser(wecom, begun.officer) as phone:
        page = await phone.open(url)
        huge = await phone.post(url, page.filled({"problems": "多" * (MAX_BODY // 2)}))
        assert huge.status == 413, huge.text
        assert answered_by_the_page(huge), huge.text
        assert "太大" in huge.text
    await unchanged(wecom, begun.finding_id, before)


async def test_an_address_past_the_databases_integers_is_403_not_a_500(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    async with Browser(wecom, begun.officer) as phone:
        assert (await phone.open(page_of(wecom, begun.finding_id))).status == 200
        for where in (
            page_of(wecom, 9_999_999_999),
            page_of(wecom, 2_147_483_648) + "/photos/" + "ab" * 32,
            f"{wecom.policy.public_url}/h5/reports/9999999999",
        ):
            shown = await phone.get(where)
            assert shown.status == 403, (where, shown.status, shown.text)


async def test_a_login_after_with_a_line_break_cannot_split_the_redirect(
    wecom: Phones,
) -> None:
    begun = await begin_in_chat(wecom)
    async with Browser(wecom, begun.officer) as phone:
        login = f"{wecom.policy.public_url}/h5/login?after=/h5/%0d%0aSet-Cookie:%20x=1"
        shown = await phone.open(login)
        assert answered_by_the_page(shown), shown.text
        assert "x" not in {c.key for c in phone.http.cookie_jar}


async def test_pages_may_be_framed_by_this_site_only(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    async with Browser(wecom, begun.officer) as phone:
        await phone.open(page_of(wecom, begun.finding_id))
        for where in (page_of(wecom, begun.finding_id), f"{wecom.policy.public_url}/h5/login"):
            async with phone.http.get(where, allow_redirects=False) as response:
                assert response.headers.get("X-Frame-Options") == "SAMEORIGIN", where
                assert "frame-ancestors 'self'" in response.headers.get(
                    "Content-Security-Policy", ""
                )
                assert response.headers.get("X-Content-Type-Options") == "nosniff"


async def test_a_photo_form_of_endless_parts_is_refused(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    url = page_of(wecom, begun.finding_id)
    async with Browser(wecom, begun.officer) as phone:
        page = await phone.open(url)
        body = aiohttp.FormData(default_to_multipart=True)
        body.add_field("csrf", page.csrf)
        body.add_field("question", "evidence")
        for n in range(2000):  # each under the field cap, no file among them
            body.add_field(f"f{n}", "x" * 100)
        shown = await phone.post(url + "/photos", body)
    assert "无法读取" in shown.text, shown.text


async def test_a_report_page_refuses_other_teams_and_escapes_a_conclusion(wecom: Phones) -> None:
    campaign_id = await started(wecom)
    await submit_findings(wecom, campaign_id, 1)
    t = await the_team(wecom, campaign_id, 1)
    async with unit_of_work(wecom.factory) as session:
        leader = await session.get(Person, t.leader_id)
        assert leader is not None
        step = Step(session, wecom.policy, utc_now(), leader.name)
        await reports.generate(step, leader, Command("generate_report"))
    report = await the_report_of_team(wecom, t.id)
    link = f"{wecom.policy.public_url}/h5/reports/{report.id}"
    async with Browser(wecom, await wecom.account(t.leader_id)) as phone:
        shown = await phone.open(link)
        assert shown.status == 200, shown.text
        attack = '</textarea><script>alert(1)</script><img src=x onerror="alert(2)">'
        saved = await phone.post(link, {"csrf": shown.csrf, "conclusion": attack})
        assert saved.status == 200 and "<script>alert(1)" not in saved.text
        assert "&lt;/textarea&gt;&lt;script&gt;" in saved.text
        nul = await phone.post(link, {"csrf": shown.csrf, "conclusion": "结论\x00"})
        assert answered_by_the_page(nul), nul.text
        cross = await phone.post(link, {"conclusion": "改掉"})  # another site's form: no token
        assert cross.status == 403
    _, others = await team(wecom, campaign_id, 2)  # an officer of another team, no leader
    async with Browser(wecom, await wecom.account(others[0].person_id)) as phone:
        theirs = await phone.open(link)
        missing = await phone.get(f"{wecom.policy.public_url}/h5/reports/999999")
    assert theirs.status == missing.status == 403 and theirs.text == missing.text
    assert (await the_report_of_team(wecom, t.id)).conclusion == attack


async def test_cookies_are_scoped_and_one_purpose_is_not_another(wecom: Phones) -> None:
    begun = await begin_in_chat(wecom)
    url = page_of(wecom, begun.finding_id)
    async with Browser(wecom, begun.officer) as phone:
        begin = f"{wecom.policy.public_url}/h5/login?after=/h5/"
        async with phone.http.get(begin, allow_redirects=False) as started:
            login = started.cookies[LOGIN_COOKIE]
        assert login["httponly"] and login["samesite"] == "Lax" and login["path"] == "/h5/"
        # The login cookie replayed as a session: no one is signed in by it.
        phone.http.cookie_jar.update_cookies({SESSION_COOKIE: login.value}, URL(url))
        async with phone.http.get(url, allow_redirects=False) as response:
            assert response.status == 302 and "/h5/login" in response.headers["Location"]
        phone.http.cookie_jar.clear()
        page = await phone.open(url)
        session = next(c for c in phone.http.cookie_jar if c.key == SESSION_COOKIE)
        assert session["httponly"] and session["samesite"] == "Lax" and session["path"] == "/h5/"
        # Answers and the address's query come back escaped, or not at all.
        attack = '"><script>alert(1)</script>'
        saved = await phone.post(url, page.filled({"problems": attack}))
        assert "<script>alert(1)" not in saved.text and "&lt;script&gt;" in saved.text
        shown = await phone.get(url + "?done=" + urllib.parse.quote(attack))
        assert shown.status == 200 and "alert(1)" not in shown.text.split("</textarea>")[-1]
