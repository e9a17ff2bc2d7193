"""`suiji audit list`: reading the audit log as people do (local time, who, what) and as
programs do (JSON in UTC), filtered by time, person and kind of change."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from pathlib import Path

import pytest

from bot.base.times import local_time
from tests.e2e.test_cli import run

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
UTC_ISO = re.compile(r"\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample bureau with a plan made by the operator and a need proposed by a leader."""
    directory = tmp_path_factory.mktemp("audit") / "bureau"
    assert run("init", str(directory), "--sample").exit_code == 0
    config = directory / "suiji.toml"
    assert run("plan", "create", "2027", config=config).exit_code == 0
    added = run("plan", "add-need", "2027", "--unit", "劳动保障监察大队", "--items", "RS-JC-003",
                "--scope", "全县", "--ratio", "5%", "--timing", "一季度", "--as", "张凯",
                config=config)  # fmt: skip
    assert added.exit_code == 0, added.output
    return config


def listed(config: Path, *args: str) -> list[dict[str, object]]:
    result = run("audit", "list", *args, "--format", "json", config=config)
    assert result.exit_code == 0, result.output
    entries: list[dict[str, object]] = json.loads(result.output)
    return entries


def test_json_gives_the_newest_entries_oldest_first_in_utc(bureau: Path) -> None:
    entries = listed(bureau, "--limit", "3")
    assert [e["action"] for e in entries] == ["plan:create", "plan:need", "approval:request"]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)
    newest = entries[1]
    assert newest["actor"] == "张凯" and newest["subject_kind"] == "plan_needs"
    assert str(newest["at"]).endswith("Z")
    assert isinstance(newest["after"], dict) and newest["after"]["timing"] == "一季度"
    assert set(newest) >= {"seq", "at", "actor", "action", "subject_kind", "subject_key",
                           "before", "after", "hash"}  # fmt: skip


def test_the_table_reads_in_local_time_with_who_and_what_in_chinese(bureau: Path) -> None:
    result = run("audit", "list", "--limit", "3", config=bureau)
    assert result.exit_code == 0, result.output
    create = listed(bureau, "--limit", "3")[0]
    lines = result.output.splitlines()
    assert "时间" in lines[0] and "操作人" in lines[0]
    assert local_time(str(create["at"]), ZONE) in result.output
    assert not UTC_ISO.search(result.output)
    assert any("陈红军" in line and "建立年度计划" in line for line in lines)
    assert any("张凯" in line and "提出计划需求" in line for line in lines)
    assert "还有" in result.output  # the sample's imports came before: cut by the limit


def test_filters_by_person_kind_and_time(bureau: Path) -> None:
    assert {e["actor"] for e in listed(bureau, "--actor", "张凯")} == {"张凯"}
    assert {e["action"] for e in listed(bureau, "--kind", "plan")} == {"plan:create", "plan:need"}
    assert {e["action"] for e in listed(bureau, "--kind", "plan:need")} == {"plan:need"}
    units = listed(bureau, "--kind", "units", "--limit", "1000")
    assert units and {e["subject_kind"] for e in units} == {"units"}
    today = dt.datetime.now(ZONE).date()
    assert listed(bureau, "--since", (today + dt.timedelta(days=1)).isoformat()) == []
    an_hour_ago = (dt.datetime.now(ZONE) - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    assert "plan:need" in {e["action"] for e in listed(bureau, "--since", an_hour_ago)}
    assert len(listed(bureau, "--since", today.isoformat(), "--limit", "10000")) > 2


def test_nothing_found_is_said_and_a_bad_since_is_refused_in_chinese(bureau: Path) -> None:
    nobody = run("audit", "list", "--actor", "李四", config=bureau)
    assert nobody.exit_code == 0 and "没有" in nobody.output
    bad = run("audit", "list", "--since", "last tuesday", config=bureau)
    assert bad.exit_code == 1 and "last tuesday" in bad.output and "2026-" in bad.output
