"""`suiji publish site` as a bureau runs it on the sample registries: the draws pages name no
one (`suiji publish scan` agrees), and the record the site offers verifies with the verifier it
offers beside it, exactly as its page says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_cli import run
from tests.unit.test_certificate import Text


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sample bureau's example campaign, made public, drawn twice and published."""
    tmp_path = tmp_path_factory.mktemp("site")
    directory = tmp_path / "bureau"
    assert run("init", str(directory), "--sample").exit_code == 0
    config = directory / "suiji.toml"
    example = tmp_path / "campaign.toml"
    source = run("campaign", "example").output.replace(
        "confidential = true", "confidential = false"
    )
    example.write_text(source, "utf-8")
    assert run("campaign", "create", "--file", str(example), config=config).exit_code == 0
    assert run("draw", "commit", "1", config=config).exit_code == 0
    entropy = ["--entropy", "监督人刘艳丽=7,42,88", "--entropy", "福彩3D=3,9,1"]
    assert run("draw", "run", "1", *entropy, config=config).exit_code == 0
    reason = ["--reason", "监督人刘艳丽报数有误，重新摇号"]  # a name, in free text
    assert run("draw", "reseed", "1", *reason, config=config).exit_code == 0
    assert (
        run("draw", "run", "1", *entropy[:3], "福彩3D=4,5,6", *reason, config=config).exit_code == 0
    )
    folder = tmp_path / "public"
    built = run("publish", "site", str(folder), config=config)
    assert built.exit_code == 0, built.output
    return config, folder


def test_publish_scan_finds_no_one_in_the_draws_pages(published: tuple[Path, Path]) -> None:
    config, folder = published
    scanned = run("publish", "scan", str(folder / "draws"), config=config)
    assert scanned.exit_code == 0, scanned.output
    assert "没有发现个人信息" in scanned.output
    assert {p.name for p in (folder / "draws" / "1").iterdir()} == {"index.html", "record.json"}


def test_the_three_steps_on_the_page_verify_the_record(published: tuple[Path, Path]) -> None:
    _, folder = published
    page = Text((folder / "draws" / "1" / "index.html").read_text("utf-8")).text
    command = re.search(r"python3 verify\.py record\.json --runs (\d+) --head ([0-9a-f]{64})", page)
    assert command is not None and command[1] == "2"
    done = subprocess.run(
        [sys.executable, "../verify.py", "record.json", "--runs", command[1], "--head", command[2]],
        cwd=folder / "draws" / "1",
        capture_output=True, text=True, encoding="utf-8", timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    for label in ("record file", "commitment", "chain head"):  # each printed value on the page
        printed = re.search(label + r": ([0-9a-f]{64})", done.stdout)
        assert printed is not None and printed[1] in page, label
    assert "与公布的一致" in done.stdout
