"""What a witness can do from their phone: 「帮助」 links their draw's certificate and record,
which `suiji serve` shows read-only under /draw/, with the standalone verifier beside them."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import TEMPLATES_DIR
from bot.draw.record import commitment_sha256, first_difference, public_record
from bot.registry.scan import scan_document
from bot.workflows import campaigns
from bot.workflows.campaign_spec import parse_campaign
from bot.workflows.publish import load_people
from storage.models import Person
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.test_assignments import drawn, window
from tests.helpers import load_sample, spec

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]
PUBLIC = "https://suiji.example.gov.cn"


@pytest.fixture
async def wecom(factory: Factory, database_url: str) -> AsyncIterator[Phones]:
    await load_sample(factory, utc_now)
    async with phones("wecom", database_url, SUIJI_SERVER__PUBLIC_URL=PUBLIC) as built:
        yield built


async def witness(p: Phones) -> str:
    async with p.factory() as session:
        found = await session.execute(
            select(Person.wecom_userid).where(Person.is_witness, Person.wecom_userid.is_not(None))
        )
        account = found.scalars().first()
    assert account
    return account


async def fetch(p: Phones, link: str) -> tuple[int, bytes, str]:
    """What a phone gets opening ``link`` (an address under the public URL)."""
    assert link.startswith(PUBLIC)
    async with p.http.get(p.bot.make_url(link.removeprefix(PUBLIC))) as response:
        return response.status, await response.read(), response.content_type


async def test_a_witness_opens_the_certificate_and_record_of_a_draw_from_the_help(
    wecom: Phones,
) -> None:
    campaign_id = await drawn(wecom, spec(**window(), confidential="false"))
    record = await campaigns.draw_record(wecom.factory, campaign_id)
    account = await witness(wecom)
    assert await wecom.say(account, "帮助") == 200
    reply = (await wecom.wait_for(account, "作为监督人")).text
    assert "suiji draw" not in reply  # a 纪委 witness has no suiji of their own
    certificate_link = f"{PUBLIC}/draw/{campaign_id}/"
    for link in (certificate_link, f"{certificate_link}record.json", f"{PUBLIC}/draw/verify.py"):
        assert link in reply
    assert record["draws"][-1]["sha256"] in reply and commitment_sha256(record) in reply

    status, page, kind = await fetch(wecom, certificate_link)
    assert (status, kind) == (200, "text/html")
    html = page.decode("utf-8")
    assert "摇号证书" in html and commitment_sha256(record) in html
    assert 'href="record.json"' in html and 'href="../verify.py"' in html
    status, body, _ = await fetch(wecom, f"{certificate_link}record.json")
    assert status == 200 and hashlib.sha256(body).hexdigest() in html  # sha256sum agrees
    # The public record and certificate: no one's name, and the record still recomputes.
    assert json.loads(body) == public_record(record) and first_difference(json.loads(body)) is None
    async with wecom.factory() as session:
        people = await load_people(session)
    assert scan_document("record.json", body.decode("utf-8"), people) == []
    assert scan_document("index.html", html, people) == []
    assert "执法证号依法公开" in html
    status, verifier, _ = await fetch(wecom, f"{PUBLIC}/draw/verify.py")
    assert status == 200
    assert verifier == (TEMPLATES_DIR / "draw" / "verify.py").read_bytes()


async def test_a_confidential_draw_stays_closed_until_its_inspections_end(wecom: Phones) -> None:
    dates = window()
    campaign_id = await drawn(wecom, spec(**dates, confidential="true"))
    record = await campaigns.draw_record(wecom.factory, campaign_id)
    account = await witness(wecom)
    await wecom.say(account, "帮助")
    reply = (await wecom.wait_for(account, "作为监督人")).text
    assert f"/draw/{campaign_id}/" not in reply
    assert "保密" in reply and dates["end"] in reply
    assert record["draws"][-1]["sha256"] in reply  # to note now, and compare when it opens
    for path in ("", "record.json"):
        status, page, _ = await fetch(wecom, f"{PUBLIC}/draw/{campaign_id}/{path}")
        assert status == 403
        assert "保密" in page.decode("utf-8") and dates["end"] in page.decode("utf-8")


@pytest.mark.parametrize("path", ["/draw/99/", "/draw/99/record.json", "/draw/abc/", "/draw/1/x"])
async def test_no_draw_there_is_a_chinese_page_never_a_server_error(
    wecom: Phones, path: str
) -> None:
    status, page, _ = await fetch(wecom, PUBLIC + path)
    assert status == 404
    assert re.search("[\u4e00-\u9fff]", page.decode("utf-8"))


async def test_a_committed_campaign_not_yet_drawn_has_no_certificate_yet(wecom: Phones) -> None:
    source = spec(**window(), confidential="false")
    created = await campaigns.create_campaign(
        wecom.factory, parse_campaign(source), "李管理", utc_now
    )
    campaign_id = created.id
    await campaigns.commit_draw(wecom.factory, campaign_id, "李管理", utc_now)
    status, page, _ = await fetch(wecom, f"{PUBLIC}/draw/{campaign_id}/")
    assert status == 404 and "还没有摇号" in page.decode("utf-8")
