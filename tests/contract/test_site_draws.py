"""The public site's draws section built from a real database with the sample registries:
every commitment listed, each public draw's certificate, public record and verifier — and no
one's name anywhere; a confidential draw's record stays off the site until its checks end."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.times import local_time
from bot.draw import record as record_module
from bot.draw.record import (
    FORMAT_V2,
    canonical,
    commitment_sha256,
    first_difference,
    public_record,
)
from bot.workflows import campaigns, site
from bot.workflows.campaign_spec import parse_campaign
from bot.workflows.publish import load_people
from bot.workflows.site import draws
from bot.workflows.site.pages import SiteContext, SiteFile
from storage.engine import unit_of_work
from storage.models import Certificate, DrawRun
from tests.helpers import ENTROPY, load_sample, spec
from tests.unit.test_certificate import Text

pytestmark = pytest.mark.db
Factory = async_sessionmaker[AsyncSession]
Clock = Callable[[], dt.datetime]
ZONE = "Asia/Shanghai"
PUBLIC = {"start": "2026-04-01", "end": "2026-04-30", "confidential": "false"}
SECRET = {"start": "2026-05-04", "end": "2026-05-29", "confidential": "true"}
# The third leads by their WeCom account: a bureau leader with no certificate (see below).
LEADERS = '["豫41142200229", "豫41142200407", "miaojuan"]'
LATER = {"start": "2026-06-01", "end": "2026-06-30", "confidential": "false"}


def page_of(html: bytes) -> Text:
    return Text(html.decode("utf-8"))


async def _campaign(factory: Factory, clock: Clock, name: str, dates: dict[str, str]) -> int:
    source = spec(name=f'"{name}"', leaders=LEADERS, **dates)
    created = await campaigns.create_campaign(
        factory, parse_campaign(source), "李管理", clock, allow_past=True
    )
    await campaigns.commit_draw(factory, created.id, "李管理", clock)
    return created.id


async def _drawn_bureau(factory: Factory, clock: Clock) -> tuple[int, int, int]:
    """The sample bureau: a public campaign drawn twice, a confidential one drawn, and one
    committed but not drawn yet."""
    await load_sample(factory, clock)
    async with unit_of_work(factory) as session:  # 苗娟 leads as a 领导 without a certificate
        await session.execute(delete(Certificate).where(Certificate.number == "豫41142200431"))
    public = await _campaign(factory, clock, "公开抽查", PUBLIC)
    await campaigns.run_draw(factory, public, ENTROPY, None, "李管理", clock)
    reason = "监督人刘艳丽报数有误，重新摇号"  # a name in free text: kept private
    await campaigns.reseed_draw(factory, public, reason, "李管理", clock)
    again = {**ENTROPY, "福彩3D": [4, 5, 6]}
    await campaigns.run_draw(factory, public, again, reason, "李管理", clock)
    secret = await _campaign(factory, clock, "保密抽查", SECRET)
    await campaigns.run_draw(factory, secret, ENTROPY, None, "李管理", clock)
    later = await _campaign(factory, clock, "待摇号抽查", LATER)
    return public, secret, later


async def _build(factory: Factory, today: str) -> dict[str, bytes]:
    context = SiteContext(dt.date.fromisoformat(today), ZONE)
    return {f.path: f.content for f in await site.build(factory, context, (draws.files,))}


async def test_the_draws_section_lists_every_commitment_and_publishes_public_draws(
    factory: Factory, clock: Clock, tmp_path: Path
) -> None:
    public, secret, later = await _drawn_bureau(factory, clock)
    files = await _build(factory, "2026-05-10")  # the confidential campaign's checks go on
    record = await campaigns.draw_record(factory, public)
    head = record["draws"][-1]["sha256"]

    index = page_of(files["draws/index.html"])
    for campaign_id in (public, secret, later):  # each commitment, as published at commit
        full = await campaigns.draw_record(factory, campaign_id)
        assert commitment_sha256(full) in index.text
        assert local_time(full["committed_at"], ZONE) in index.text
    assert f"{public}/index.html" in "".join(index.links) and head in index.text
    assert "保密：检查结束（2026-05-29）后公开" in index.text and "尚未摇号" in index.text
    for n, note in ((secret, "保密"), (later, "尚未摇号")):  # what the commitment locked, only
        assert f"draws/{n}/record.json" not in files
        locked = page_of(files[f"draws/{n}/index.html"])
        assert "摇号锁定内容" in locked.text and note in locked.text
        full = await campaigns.draw_record(factory, n)
        assert commitment_sha256(full) in locked.text
        assert not any(run["sha256"] in locked.text for run in full["draws"])
    assert files["draws/verify.py"] == (Path("templates/draw/verify.py")).read_bytes()

    body = files[f"draws/{public}/record.json"]
    assert (
        json.loads(body) == public_record(record) and body == canonical(json.loads(body)).encode()
    )
    page = page_of(files[f"draws/{public}/index.html"])
    assert {"record.json", "../verify.py"} <= set(page.links)
    assert "执法证号依法公开" in page.text and "三步核验" in page.text
    assert f"--runs 2 --head {head}" in page.text
    assert "组长3" in record["leaders"] and "组长3" in page.text  # never their account

    # The three steps, done: the verifier from the site recomputes the record from the site.
    site.write(list(map(lambda p: SiteFile(p, files[p]), files)), tmp_path / "site")
    folder = tmp_path / "site" / "draws"
    done = subprocess.run(
        [sys.executable, str(folder / "verify.py"), str(folder / str(public) / "record.json"),
         "--runs", "2", "--head", head],
        capture_output=True, text=True, encoding="utf-8", timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert commitment_sha256(record) in done.stdout and commitment_sha256(record) in page.text
    assert "not published" in done.stdout
    digest = re.search(r"record file: ([0-9a-f]{64})", done.stdout)
    assert digest is not None and digest[1] in page.text  # sha256sum record.json, as the page says

    async with factory() as session:
        people = await load_people(session)
    whole = await site.build(factory, SiteContext(dt.date(2026, 5, 10), ZONE))
    assert site.scan(whole, people) == []
    assert "刘艳丽" not in "".join(f.content.decode("utf-8") for f in whole)


async def test_a_confidential_draw_is_published_once_its_checks_end(
    factory: Factory, clock: Clock
) -> None:
    _, secret, _ = await _drawn_bureau(factory, clock)
    on_the_last_day = await _build(factory, SECRET["end"])
    assert f"draws/{secret}/record.json" not in on_the_last_day
    drawn = await campaigns.draw_record(factory, secret)
    closed = on_the_last_day[f"draws/{secret}/index.html"].decode("utf-8")
    assert "摇号锁定内容" in closed and drawn["draws"][0]["sha256"] not in closed
    assert drawn["draws"][0]["teams"][0]["employers"][0] not in closed  # no target before the end
    after = await _build(factory, "2026-05-30")
    record = json.loads(after[f"draws/{secret}/record.json"])
    assert first_difference(record) is None and "private" not in record
    assert "摇号证书" in after[f"draws/{secret}/index.html"].decode("utf-8")
    async with factory() as session:
        people = await load_people(session)
    built = [SiteFile(p, c) for p, c in after.items()]
    assert site.scan(built, people) == []


def v2_commitment(
    *, private: dict[str, Any], sources: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    """A commitment as suiji wrote it before v3: who committed and the sources as named, in
    the hashed document."""
    document = record_module.commitment_document(
        private=private, sources=private["entropy_sources"], **fields
    )
    hashed = {k: v for k, v in document.items() if k not in ("private", "private_sha256")}
    return {**hashed, "format": FORMAT_V2, "committed_by": private["committed_by"]}


async def test_a_campaign_committed_before_v3_draws_verifies_and_shows_no_names(
    factory: Factory, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Committed in v2 (names under its hashes) and drawn after the upgrade: its record still
    verifies, has no public form, and its page shows the certificate without names and says
    why there is nothing to download."""
    await load_sample(factory, clock)
    with monkeypatch.context() as old:
        old.setattr(campaigns, "commitment_document", v2_commitment)
        campaign_id = await _campaign(factory, clock, "旧格式抽查", PUBLIC)
    await campaigns.run_draw(factory, campaign_id, ENTROPY, None, "李管理", clock)
    record = await campaigns.draw_record(factory, campaign_id)
    assert record["format"] == FORMAT_V2 and "names" in record["draws"][0]
    assert first_difference(record) is None and public_record(record) is None
    files = await _build(factory, "2026-05-10")
    assert f"draws/{campaign_id}/record.json" not in files
    page = page_of(files[f"draws/{campaign_id}/index.html"])
    assert "旧版记录格式" in page.text and "record.json" not in page.links
    assert commitment_sha256(record) in page.text
    async with factory() as session:
        people = await load_people(session)
    assert site.scan([SiteFile(p, c) for p, c in files.items()], people) == []


async def test_a_record_changed_since_its_draw_stops_the_build_with_its_reason(
    factory: Factory, clock: Clock
) -> None:
    """The site is never built from a draw that no longer matches what was published: the
    same check as draw export (the chain head in the audit log)."""
    public, _, _ = await _drawn_bureau(factory, clock)
    async with unit_of_work(factory) as session:
        first = select(DrawRun).where(DrawRun.campaign_id == public).order_by(DrawRun.seq)
        row = (await session.execute(first.limit(1))).scalar_one()
        run = json.loads(row.result)
        run["run_at"] = "2026-01-01T00:00:00.000000Z"
        row.result = canonical(run)
    with pytest.raises(campaigns.CampaignError, match=str(public)):
        await _build(factory, "2026-05-10")
