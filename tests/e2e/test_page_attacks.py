"""The pages attacked as an outsider would, through the fakes on 127.0.0.1: malformed bodies
and addresses get the pages' own Chinese answer (never a 500, nor the app's last-resort
"bad request" for an error it did not expect), a login's ``after`` cannot split the
redirect's headers, input the database cannot hold is refused with words, and the pages may
be framed only by this site."""

from __future__ import annotations

import pytest

from tests.e2e.pages import Browser, Shown
from tests.e2e.phones import Phones
from tests.e2e.test_finding_pages import begin_in_chat, page_of, stored, unchanged

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
