"""Plans, campaigns and draws against a real database: the same results on every backend."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.main import cli
from bot.draw.record import (
    canonical,
    chained,
    commitment_sha256,
    first_difference,
    public_record,
    sha256_text,
)
from bot.registry.scan import scan_document
from bot.workflows import campaigns, plans
from bot.workflows.campaign_spec import EXAMPLE_LEAD, example_campaign, parse_campaign
from bot.workflows.publish import load_people
from storage import audit
from storage.engine import unit_of_work
from storage.models import (
    Certificate,
    CertificateStatus,
    CreditGrade,
    DrawCommitment,
    DrawReseed,
    DrawRun,
    Entity,
    EntityStatus,
    Person,
    Recusal,
)
from tests.helpers import ENTROPY, EXAMPLE, count_rows, load_sample, spec
from tests.unit.test_personal import ID

pytestmark = pytest.mark.db

Factory = async_sessionmaker[AsyncSession]
Clock = Callable[[], dt.datetime]
SECRET = "271828182845904523536028747135266249775724709369995"


async def _create(factory: Factory, clock: Clock, source: str = EXAMPLE) -> int:
    return (await campaigns.create_campaign(factory, parse_campaign(source), "李管理", clock)).id


SALT = "5a17" * 8  # random in use; fixed here so that the record's SHA-256 is


async def _commit(factory: Factory, campaign_id: int, clock: Clock) -> dict[str, object]:
    return await campaigns.commit_draw(
        factory, campaign_id, "李管理", clock, make_secret=lambda: SECRET, make_salt=lambda: SALT
    )


async def _run(
    factory: Factory, campaign_id: int, clock: Clock, reason: str | None = None
) -> dict[str, object]:
    return await campaigns.run_draw(
        factory, campaign_id, ENTROPY, reason, "李管理", clock, make_salt=lambda: SALT
    )


async def _sample_commitment(factory: Factory, clock: Clock) -> tuple[int, dict[str, Any]]:
    """The sample registries loaded and the example campaign created and committed: its id
    and the commitment document."""
    await load_sample(factory, clock)
    campaign_id = await _create(factory, clock)
    return campaign_id, dict(await _commit(factory, campaign_id, clock))


async def _committed_sample(factory: Factory, clock: Clock) -> int:
    return (await _sample_commitment(factory, clock))[0]


# The sample campaign's record, fixed by the sample data, the secret, the entropy and the clock.
# The same on SQLite, PostgreSQL and MariaDB: each backend's CI run checks against it.
EXPECTED_RECORD_SHA256 = "7bdef3280319dd567b393217c0ea3bf07b4b32a3582a8c71a8aa0b6b787030fd"


async def test_sample_campaign_commit_run_export_verify_gives_the_same_record_everywhere(
    factory: Factory, clock: Clock
) -> None:
    await load_sample(factory, clock)
    campaign_id = await _create(factory, clock)
    document = await _commit(factory, campaign_id, clock)
    assert [s["count"] for s in document["strata"]] == [26, 0, 3, 3, 3]  # type: ignore[index]
    run = await _run(factory, campaign_id, clock)
    record = await campaigns.draw_record(factory, campaign_id)
    assert record["draws"] == [run]
    assert first_difference(record) is None
    assert sha256_text(canonical(record)) == EXPECTED_RECORD_SHA256
    async with factory() as session:
        assert (await audit.verify(session)).ok
        people = await load_people(session)
    # The full record names the sample's people (in its private parts); the public one, which
    # still verifies, names no one.
    assert scan_document("full.json", canonical(record), people)
    public = public_record(record)
    assert public is not None and first_difference(public) is None
    assert scan_document("record.json", canonical(public), people) == []


async def test_teams_reserve_and_status_show_the_draw(factory: Factory, clock: Clock) -> None:
    await load_sample(factory, clock)
    campaign_id = await _create(factory, clock)
    shown = await campaigns.show_campaign(factory, campaign_id)
    assert (shown["state"], shown["teams"], shown["draw"]["committed"]) == ("draft", [], False)
    await _commit(factory, campaign_id, clock)
    run = await _run(factory, campaign_id, clock)
    shown = await campaigns.show_campaign(factory, campaign_id)
    assert shown["state"] == "drawn" and shown["draw"]["runs"] == 1
    assert [t["leader"]["name"] for t in shown["teams"]] == ["张凯", "苗明亮", "苗娟"]
    for team, drawn in zip(shown["teams"], run["teams"], strict=True):  # type: ignore[call-overload]
        assert [m["certificate_no"] for m in team["members"]] == drawn["officers"]
        assert [e["uscc"] for e in team["employers"]] == drawn["employers"]
        assert all(e["name"] for e in team["employers"])
    assert [r["certificate_no"] for r in shown["reserve"]] == run["reserve"]
    positions = [m["position"] for t in shown["teams"] for m in t["members"]]
    positions += [r["position"] for r in shown["reserve"]]
    assert sorted(positions) == list(range(1, len(positions) + 1))


async def test_second_run_needs_a_reason_and_a_new_secret_and_both_runs_stay(
    factory: Factory, clock: Clock
) -> None:
    campaign_id = await _committed_sample(factory, clock)
    with pytest.raises(campaigns.CampaignError, match="还没有摇过号"):
        await campaigns.reseed_draw(factory, campaign_id, "x", "李管理", clock)
    first = await _run(factory, campaign_id, clock)
    with pytest.raises(campaigns.CampaignError, match="--reason"):
        await _run(factory, campaign_id, clock)
    again = {**ENTROPY, "福彩3D": [5, 5, 5]}
    reason = "监督人未到场，重新公开摇号"
    # The first secret is public now: without a new one, whoever gives the entropy could
    # search for numbers that give the teams they want.
    with pytest.raises(campaigns.CampaignError, match="draw reseed"):
        await campaigns.run_draw(factory, campaign_id, again, reason, "李管理", clock)
    digest = await campaigns.reseed_draw(
        factory, campaign_id, reason, "李管理", clock, make_secret=lambda: "99" * 30
    )
    with pytest.raises(campaigns.CampaignError, match="尚未使用"):
        await campaigns.reseed_draw(factory, campaign_id, reason, "李管理", clock)
    second = await campaigns.run_draw(factory, campaign_id, again, reason, "李管理", clock)
    assert second["secret"] == "99" * 30 and second["secret_sha256"] == digest
    record = await campaigns.draw_record(factory, campaign_id)
    assert [d["seq"] for d in record["draws"]] == [1, 2]
    assert record["draws"][0] == first and record["draws"][1]["private"]["reason"] == reason
    assert first_difference(record) is None
    shown = await campaigns.show_campaign(factory, campaign_id)
    assert [m["certificate_no"] for m in shown["teams"][0]["members"]] == second["teams"][0][
        "officers"
    ]


async def test_a_commitment_changed_in_the_database_is_refused(
    factory: Factory, clock: Clock
) -> None:
    campaign_id = await _committed_sample(factory, clock)
    async with unit_of_work(factory) as session:
        stored = (
            await session.execute(
                select(DrawCommitment).where(DrawCommitment.campaign_id == campaign_id)
            )
        ).scalar_one()
        document = json.loads(stored.document)
        document["leaders"].reverse()  # steer who leads which team
        stored.document = canonical(document)
        stored.document_sha256 = sha256_text(stored.document)  # even with its own hash redone
    with pytest.raises(campaigns.CampaignError, match="不一致"):
        await _run(factory, campaign_id, clock)


async def _written(factory: Factory) -> dict[str, int]:
    """The rows of every table a draw writes to: a refused run leaves them as they were."""
    tables = ("draw_runs", "teams", "drawn_officers", "assignments", "outbox", "audit_log")
    return {table: await count_rows(factory, table) for table in tables}


async def test_a_first_secret_changed_in_the_database_is_refused_at_run_and_nothing_is_written(
    factory: Factory, clock: Clock
) -> None:
    campaign_id = await _committed_sample(factory, clock)
    before = await _written(factory)
    # Whoever can write the database and knows the witness's and the lottery's numbers could
    # choose the result by choosing the secret: the published SHA-256 must stop them at run.
    async with unit_of_work(factory) as session:
        await session.execute(
            update(DrawCommitment)
            .where(DrawCommitment.campaign_id == campaign_id)
            .values(secret=str(int(SECRET) + 1))
        )
    with pytest.raises(campaigns.CampaignError, match=r"系统密钥与.*公布的 SHA-256 不符"):
        await _run(factory, campaign_id, clock)
    assert await _written(factory) == before
    shown = await campaigns.show_campaign(factory, campaign_id)
    assert (shown["state"], shown["draw"]["runs"]) == ("committed", 0)


@pytest.mark.parametrize("with_its_hash", [False, True], ids=["secret", "secret-and-hash"])
async def test_a_reseeded_secret_changed_in_the_database_is_refused_at_run_and_nothing_is_written(
    factory: Factory, clock: Clock, with_its_hash: bool
) -> None:
    campaign_id = await _committed_sample(factory, clock)
    first = await _run(factory, campaign_id, clock)
    reason = "监督人未到场，重新公开摇号"
    await campaigns.reseed_draw(
        factory, campaign_id, reason, "李管理", clock, make_secret=lambda: "99" * 30
    )
    before = await _written(factory)
    chosen = "12" * 30
    values: dict[str, str] = {"secret": chosen}
    if with_its_hash:  # the row's own hash redone too: the audit log still holds the published one
        values["secret_sha256"] = sha256_text(chosen)
    async with unit_of_work(factory) as session:
        await session.execute(
            update(DrawReseed).where(DrawReseed.campaign_id == campaign_id).values(**values)
        )
    again = {**ENTROPY, "福彩3D": [5, 5, 5]}
    with pytest.raises(campaigns.CampaignError, match=r"系统密钥与.*公布的 SHA-256 不符"):
        await campaigns.run_draw(factory, campaign_id, again, reason, "李管理", clock)
    assert await _written(factory) == before
    record = await campaigns.draw_record(factory, campaign_id)
    assert record["draws"] == [first]


@pytest.mark.parametrize("rechained", [False, True], ids=["edited", "edited-and-rechained"])
async def test_runs_changed_in_the_database_are_refused_at_export_and_at_the_next_run(
    factory: Factory, clock: Clock, rechained: bool
) -> None:
    campaign_id = await _committed_sample(factory, clock)
    await _run(factory, campaign_id, clock)
    reason = "监督人未到场，重新公开摇号"
    await campaigns.reseed_draw(factory, campaign_id, reason, "李管理", clock)
    await campaigns.run_draw(
        factory, campaign_id, {**ENTROPY, "福彩3D": [5]}, reason, "李管理", clock
    )
    async with unit_of_work(factory) as session:
        rows = (await session.execute(select(DrawRun).order_by(DrawRun.seq))).scalars().all()
        runs = [json.loads(row.result) for row in rows]
        runs[0]["reason"] = "首次摇号（补记）"  # what no one may change after the fact
        if rechained:  # every hash redone: only the audit log still knows the old head
            previous = runs[0]["previous_sha256"]
            for n, run in enumerate(runs):
                runs[n] = chained(run, previous)
                previous = runs[n]["sha256"]
        for row, run in zip(rows, runs, strict=True):
            row.result = canonical(run)
    with pytest.raises(campaigns.CampaignError, match="与当时记入审计日志的不一致"):
        await campaigns.draw_record(factory, campaign_id)
    await campaigns.reseed_draw(factory, campaign_id, reason, "李管理", clock)
    before = await _written(factory)
    with pytest.raises(campaigns.CampaignError, match="与当时记入审计日志的不一致"):
        await campaigns.run_draw(factory, campaign_id, ENTROPY, reason, "李管理", clock)
    assert await _written(factory) == before


async def test_a_campaign_committed_in_the_old_record_format_is_refused_with_a_message(
    factory: Factory, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load_sample(factory, clock)
    campaign_id = await _create(factory, clock)
    with monkeypatch.context() as old:
        old.setattr("bot.draw.record.RECORD_FORMAT", "suiji-draw-record/1")
        await _commit(factory, campaign_id, clock)
    with pytest.raises(campaigns.CampaignError, match="suiji-draw-record/2"):
        await _run(factory, campaign_id, clock)


async def test_registry_edits_after_commit_change_neither_the_commitment_nor_the_draw(
    factory: Factory, clock: Clock
) -> None:
    campaign_id, document = await _sample_commitment(factory, clock)
    published = document["document_sha256"]
    pooled_employer = document["strata"][0]["entries"][0]
    pooled_officer = document["officers"]["entries"][0]
    async with unit_of_work(factory) as session:  # what registry imports may do after commit
        await session.execute(
            update(Entity)
            .where(Entity.uscc == pooled_employer)
            .values(status=EntityStatus.DEREGISTERED, complaints_12m=0, serious_violation=False)
        )
        await session.execute(update(Entity).values(credit_grade=CreditGrade.A))
        await session.execute(
            update(Certificate)
            .where(Certificate.number == pooled_officer)
            .values(status=CertificateStatus.SUSPENDED)
        )
    await _run(factory, campaign_id, clock)
    record = await campaigns.draw_record(factory, campaign_id)
    assert commitment_sha256(record) == published  # the value published before the draw
    assert pooled_employer in record["strata"][0]["entries"]  # drawn from the frozen pools
    assert pooled_officer in record["officers"]["entries"]
    assert first_difference(record) is None


async def test_leaders_recusals_are_part_of_the_commitment_and_respected(
    factory: Factory, clock: Clock
) -> None:
    await load_sample(factory, clock)
    async with unit_of_work(factory) as session:
        leader = (await session.execute(select(Person).where(Person.name == "张凯"))).scalar_one()
        entities = (await session.execute(select(Entity).limit(400))).scalars().all()
        for entity in entities:  # many, so that some are surely drawn
            session.add(
                Recusal(
                    person_id=leader.id,
                    entity_id=entity.id,
                    reason="亲属任职",
                    declared_on=dt.date(2026, 11, 1),
                )
            )
    campaign_id = await _create(factory, clock)
    document = await _commit(factory, campaign_id, clock)
    recused = {e for key, e in document["recusals"] if key == "豫41142200229"}  # type: ignore[misc, union-attr]
    assert recused
    run = await _run(factory, campaign_id, clock)
    assert run["teams"][0]["leader"] == "豫41142200229"
    assert not recused & set(run["teams"][0]["employers"])
    assert recused & {e for t in run["teams"][1:] for e in t["employers"]}


async def test_entropy_must_name_exactly_the_declared_sources(
    factory: Factory, clock: Clock
) -> None:
    await load_sample(factory, clock)
    campaign_id = await _create(factory, clock)
    with pytest.raises(campaigns.CampaignError, match="suiji draw commit"):
        await _run(factory, campaign_id, clock)
    await _commit(factory, campaign_id, clock)
    for values in ({"监督人刘艳丽": [1]}, {**ENTROPY, "路人": [1]}, {**ENTROPY, "福彩3D": []}):
        with pytest.raises(campaigns.CampaignError):
            await campaigns.run_draw(factory, campaign_id, values, None, "x", clock)
    with pytest.raises(campaigns.CampaignError, match="已经锁定"):
        await _commit(factory, campaign_id, clock)


async def test_pools_leave_out_leaders_excluded_and_uncertified_officers(
    factory: Factory, clock: Clock
) -> None:
    _, document = await _sample_commitment(factory, clock)
    officers = set(document["officers"]["entries"])
    leaders = {"豫41142200229", "豫41142200407", "豫41142200431"}
    assert not officers & leaders
    assert "豫41142200526" not in officers  # excluded beforehand, with a reason
    assert len(officers) == 40 - 4 - 3 - 1  # 4 expired or suspended, 3 leaders, 1 excluded


async def test_employers_checked_recently_or_capped_are_not_in_the_pool(
    factory: Factory, clock: Clock
) -> None:
    await load_sample(factory, clock)
    first = await _create(factory, clock)
    await _commit(factory, first, clock)
    drawn = set(
        json.loads(json.dumps((await _run(factory, first, clock))["teams"]))[0]["employers"]
    )
    # Same items, three months later: the first campaign's employers are inside the window.
    later = await _create(factory, clock, spec(start="2027-03-01", end="2027-03-31"))
    pool = {e for s in (await _commit(factory, later, clock))["strata"] for e in s["entries"]}  # type: ignore[index, union-attr]
    assert not drawn & pool
    # A year cap of 1 keeps them out even for other items in the same year.
    capped = await _create(
        factory, clock, spec(items='["RS-JC-001"]', yearly_cap="1", exclusion_months="0")
    )
    pool = {e for s in (await _commit(factory, capped, clock))["strata"] for e in s["entries"]}  # type: ignore[index, union-attr]
    assert not drawn & pool
    # With no window and a generous cap they are back.
    free = await _create(
        factory, clock, spec(items='["RS-JC-001"]', yearly_cap="5", exclusion_months="0")
    )
    pool = {e for s in (await _commit(factory, free, clock))["strata"] for e in s["entries"]}  # type: ignore[index, union-attr]
    assert drawn <= pool


async def test_registry_inspection_date_inside_the_window_excludes(
    factory: Factory, clock: Clock
) -> None:
    await load_sample(factory, clock)
    async with unit_of_work(factory) as session:
        await session.execute(update(Entity).values(last_inspected=dt.date(2026, 6, 1)))
    campaign_id = await _create(factory, clock)
    with pytest.raises(campaigns.CampaignError, match="没有可抽取的企业"):
        await _commit(factory, campaign_id, clock)


async def test_too_few_officers_is_refused_at_commit(factory: Factory, clock: Clock) -> None:
    await load_sample(factory, clock)
    campaign_id = await _create(factory, clock, spec(officers_per_team="12"))
    # 3 teams of 12, plus a margin of one for each pooled officer with a recusal (4 here).
    with pytest.raises(campaigns.CampaignError, match="需要 40 名执法人员"):
        await _commit(factory, campaign_id, clock)


async def test_campaign_refuses_unknown_things_by_name(factory: Factory, clock: Clock) -> None:
    await load_sample(factory, clock)
    cases = {
        "单位「不存在」": spec(unit='"不存在"'),
        "RS-JC-404": spec(items='["RS-JC-404"]'),
        "找不到人员「无名氏」": spec(leaders='["无名氏", "豫41142200407", "豫41142200431"]'),
        "不是领导": spec(leaders='["豫41142201021", "豫41142200407", "豫41142200431"]'),
        "需要 3 名组长": spec(leaders='["豫41142200229"]'),
    }
    for message, source in cases.items():
        with pytest.raises(campaigns.CampaignError, match=message):
            await _create(factory, clock, source)


async def test_personal_data_in_what_a_campaign_publishes_is_refused_at_creation(
    factory: Factory, clock: Clock
) -> None:
    """The name, purpose, use of results and a public source's name and description are on the
    public site and in the public draw record, locked by the commitment: a phone number there
    would make every later build of the site refuse. So creation refuses, naming the field and
    nothing created; a witness's name stays allowed (published as 监督人N)."""
    await load_sample(factory, clock)
    lottery = '[[entropy]]\nname = "{}"\nkind = "lottery"\ndescription = "{}"\n'
    cases = {
        "「抽查名称」：手机号 138": spec(name='"联系人13812345678的抽查"'),
        "「抽查目的」：身份证号": spec(purpose=f'"举报人{ID}"'),
        "「结果运用」：电子邮箱": spec(use_of_results='"结果发到 zhang@example.com"'),
        "「随机数来源名称」：人员姓名 张*": spec(extra=lottery.format("张凯报数", "开奖号码")),
        "「随机数来源说明」：手机号": spec(extra=lottery.format("体彩", "问13912345678")),
        "「随机数来源说明」：身份证号": spec(description=f'"监督人{ID}报数"'),
    }
    for message, source in cases.items():
        with pytest.raises(campaigns.CampaignError, match=message):
            await _create(factory, clock, source)
    assert await count_rows(factory, "campaigns") == 0
    # The example's witness, 监督人刘艳丽, is a person of the registry.
    assert await _create(factory, clock) > 0


async def test_personal_data_in_a_plan_need_is_refused_when_proposed(
    factory: Factory, clock: Clock
) -> None:
    """An approved need's scope and timing are on the public site's plan page and cannot be
    changed after: a name or phone number there would make every later build refuse."""
    await load_sample(factory, clock)
    await plans.create_plan(factory, 2026, "李管理", clock)
    cases = {
        "「抽查范围」：人员姓名 张*": ("联系人张凯辖区企业", "第四季度"),
        "「时间安排」：手机号 138": ("全县用人单位", "第四季度，问13812345678"),
    }
    for message, (scope, timing) in cases.items():
        with pytest.raises(plans.PlanError, match=message):
            await plans.add_need(
                factory,
                2026,
                unit="劳动保障监察大队",
                items=["RS-JC-003"],
                scope=scope,
                ratio=Decimal(5),
                timing=timing,
                supplement=False,
                actor="李管理",
                clock=clock,
            )
    assert await count_rows(factory, "plan_needs") == 0


async def test_plan_needs_are_approved_by_leaders_once(factory: Factory, clock: Clock) -> None:
    await load_sample(factory, clock)
    await plans.create_plan(factory, 2026, "李管理", clock)
    with pytest.raises(plans.PlanError):
        await plans.create_plan(factory, 2026, "李管理", clock)
    need = await plans.add_need(
        factory,
        2026,
        unit="劳动保障监察大队",
        items=["RS-JC-003", "RS-JC-006"],
        scope="全县用人单位",
        ratio=Decimal(5),
        timing="第四季度",
        supplement=False,
        actor="李管理",
        clock=clock,
    )
    with pytest.raises(plans.PlanError, match="不是领导"):
        await plans.decide_need(
            factory, need, approve=True, comment=None, approver="豫41142201021", clock=clock
        )
    with pytest.raises(campaigns.CampaignError, match="还没有被批准"):
        await _create(factory, clock, EXAMPLE.replace("# plan_need = 1", f"plan_need = {need}"))
    decided = await plans.decide_need(
        factory, need, approve=True, comment="同意", approver="张凯", clock=clock
    )
    assert decided.state.value == "approved" and decided.decided_by == "张凯"
    with pytest.raises(plans.PlanError, match="不能重复审批"):
        await plans.decide_need(
            factory, need, approve=False, comment="x", approver="张凯", clock=clock
        )
    later = await plans.add_need(
        factory,
        2026,
        unit="劳动关系股",
        items=["RS-JC-002"],
        scope="建筑业",
        ratio=Decimal("2.5"),
        timing="十二月",
        supplement=False,
        actor="李管理",
        clock=clock,
    )
    view = await plans.plan_view(factory, 2026)
    assert [(n["id"], n["state"], n["supplement"]) for n in view["needs"]] == [
        (need, "approved", False),
        (later, "pending", True),
    ]
    campaign_id = await _create(
        factory, clock, EXAMPLE.replace("# plan_need = 1", f"plan_need = {need}")
    )
    assert campaign_id > 0


def test_the_example_the_tests_use_is_the_one_the_cli_prints_but_dated_2026_12_01() -> None:
    printed = CliRunner().invoke(cli, ["campaign", "example"]).output
    start = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + EXAMPLE_LEAD
    assert printed == example_campaign(start)
    assert example_campaign(dt.date(2026, 12, 1)) == EXAMPLE
