"""Fixtures the end-to-end tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_cli import run


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
