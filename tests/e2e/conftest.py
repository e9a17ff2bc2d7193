"""Fixtures the end-to-end tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.platforms import fakes
from tests.e2e.phones import Phones, phones, utc_now
from tests.e2e.test_cli import run
from tests.e2e.test_findings import Factory
from tests.helpers import load_sample


@pytest.fixture(scope="module")
def sample_bureau(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory made by `suiji init --sample` once per module (its operator is the sample
    admin 陈红军); tests change copies of it."""
    directory = tmp_path_factory.mktemp("sample") / "bureau"
    assert run("init", str(directory), "--sample").exit_code == 0
    return directory


@pytest.fixture
def sample_copy(sample_bureau: Path, tmp_path: Path) -> Path:
    """A fresh copy of the sample bureau: its suiji.toml."""
    copy = tmp_path / "bureau"
    copy.mkdir()
    for name in ("suiji.toml", "suiji.db"):
        (copy / name).write_bytes((sample_bureau / name).read_bytes())
    return copy / "suiji.toml"


@pytest.fixture
async def wecom(
    factory: Factory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Phones]:
    """The sample bureau on WeCom with its pages (photos up to 1 MiB); a module's own
    ``wecom`` fixture takes its place there."""
    await load_sample(factory, utc_now)
    monkeypatch.setattr(fakes, "PER_MEMBER_PER_MINUTE", 200)
    pace = {
        "SUIJI_OUTBOX__PER_RECIPIENT_PER_MINUTE": "200",
        "SUIJI_FINDINGS__PHOTO_MAX_MIB": "1",
    }
    async with phones("wecom", database_url, pages=True, **pace) as built:
        yield built
