"""`suiji campaign example` and `campaign create` as a newcomer meets them: an example dated
from today that creates as it is, and a warning or a refusal where a campaign file is probably
not what was meant (a start already past, the same campaign twice)."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
import zoneinfo
from pathlib import Path

import pytest

from tests.e2e.test_cli import run

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")  # app.timezone by default


def today() -> dt.date:
    return dt.datetime.now(ZONE).date()


@pytest.fixture
def bureau(sample_copy: Path) -> Path:
    """A copy of a sample bureau (its suiji.toml), so each test starts with no campaign."""
    return sample_copy


def example() -> str:
    printed = run("campaign", "example")
    assert printed.exit_code == 0, printed.output
    return printed.output


def campaign_file(tmp_path: Path, start: dt.date, end: dt.date, name: str = "c.toml") -> Path:
    lines = []
    for line in example().splitlines():
        key = line.split("=", 1)[0].strip()
        value = {"start": start, "end": end}.get(key)
        lines.append(f"{key} = {value.isoformat()}" if value else line)
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_the_example_is_dated_a_few_weeks_from_today_and_creates_as_it_is(
    bureau: Path, tmp_path: Path
) -> None:
    data = tomllib.loads(example())
    assert data["start"] == today() + dt.timedelta(days=21)
    assert data["end"] > data["start"]
    assert data["name"].startswith(f"{data['start'].year}年{data['start'].month}月")
    path = tmp_path / "c.toml"
    path.write_text(example(), "utf-8")
    created = run("campaign", "create", "--file", str(path), config=bureau)
    assert created.exit_code == 0, created.output
    assert created.stderr == ""  # nothing to warn about
    assert created.output.strip().splitlines()[-1] == "1"


def test_a_start_whose_declines_are_already_closed_is_refused_and_nothing_is_created(
    bureau: Path, tmp_path: Path
) -> None:
    path = campaign_file(tmp_path, today(), today() + dt.timedelta(days=10))
    refused = run("campaign", "create", "--file", str(path), config=bureau)
    assert refused.exit_code == 1
    assert "--allow-past" in refused.output and today().isoformat() in refused.output
    assert run("campaign", "show", "1", config=bureau).exit_code == 1


def test_declines_closing_days_before_the_start_count_too(bureau: Path, tmp_path: Path) -> None:
    start = today() + dt.timedelta(days=3)
    path = campaign_file(tmp_path, start, start + dt.timedelta(days=10))
    env = {"SUIJI_ASSIGNMENTS__DECLINE_CLOSES_DAYS_BEFORE_START": "5"}
    refused = run("campaign", "create", "--file", str(path), config=bureau, env=env)
    assert refused.exit_code == 1
    assert (start - dt.timedelta(days=5)).isoformat() in refused.output
    assert run("campaign", "create", "--file", str(path), config=bureau).exit_code == 0


def test_a_campaign_entered_after_the_fact_needs_allow_past_and_is_warned_about(
    bureau: Path, tmp_path: Path
) -> None:
    start = today() - dt.timedelta(days=10)
    path = campaign_file(tmp_path, start, today() + dt.timedelta(days=5))
    created = run("campaign", "create", "--file", str(path), "--allow-past", config=bureau)
    assert created.exit_code == 0, created.output
    assert start.isoformat() in created.stderr and "已经过去" in created.stderr
    assert created.stdout.strip().splitlines()[-1] == "1"
    shown = json.loads(run("campaign", "show", "1", "--format", "json", config=bureau).output)
    assert shown["start"] == start.isoformat()


def test_the_same_campaign_twice_is_created_with_a_warning_naming_the_first(
    bureau: Path, tmp_path: Path
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(example(), "utf-8")
    first = run("campaign", "create", "--file", str(path), config=bureau)
    assert first.exit_code == 0 and first.stderr == ""
    again = run("campaign", "create", "--file", str(path), config=bureau)
    assert again.exit_code == 0, again.output
    assert "#1" in again.stderr and "相同" in again.stderr
    assert again.stdout.strip().splitlines()[-1] == "2"
    other = path.read_text("utf-8").replace("teams = 3", "teams = 2")
    (tmp_path / "other.toml").write_text(other, "utf-8")
    different = run("campaign", "create", "--file", str(tmp_path / "other.toml"), config=bureau)
    assert different.exit_code == 0 and different.stderr == ""


def test_a_file_saved_by_windows_powershell_redirection_is_read(
    bureau: Path, tmp_path: Path
) -> None:
    # `suiji campaign example > 方案.toml` in Windows PowerShell 5 writes UTF-16 with a BOM.
    path = tmp_path / "方案.toml"
    path.write_text("\ufeff" + example(), "utf-16-le")
    created = run("campaign", "create", "--file", str(path), config=bureau)
    assert created.exit_code == 0, created.output
