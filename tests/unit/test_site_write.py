"""The public site written whole or not at all (issue 17 §5: a site rebuilt while a
publication is approved — the old site stays whole until the new one is complete), and the
same files giving the same bytes, checked by the manifest as `sha256sum -c` would."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.workflows import site
from bot.workflows.site.pages import SiteFile
from tests.e2e.site_pages import fingerprint


def files(version: str) -> list[SiteFile]:
    pages = [
        SiteFile("index.html", f"<p>首页 {version}</p>".encode()),
        SiteFile("results/index.html", f"<p>抽查结果 {version}</p>".encode()),
        SiteFile("results/7.html", f"<p>第 7 次 {version}</p>".encode()),
    ]
    return [*pages, site.manifest(pages)]


def test_the_same_files_give_the_same_bytes_and_the_manifest_checks(tmp_path: Path) -> None:
    site.write(files("一"), tmp_path / "a")
    site.write(files("一"), tmp_path / "b")
    assert fingerprint(tmp_path / "a") == fingerprint(tmp_path / "b")
    listed = (tmp_path / "a" / site.MANIFEST).read_text("utf-8").splitlines()
    assert [line.split("  ")[1] for line in listed] == [
        "index.html",
        "results/7.html",
        "results/index.html",
    ]
    checker = shutil.which("sha256sum")
    if checker is None:
        pytest.skip("sha256sum is not installed")
    checked = subprocess.run(
        [checker, "-c", "--strict", site.MANIFEST],
        cwd=tmp_path / "a",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_write_that_fails_half_way_leaves_the_old_site_byte_for_byte(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    site.write(files("旧"), folder)
    before = fingerprint(folder)
    # The new site's third file cannot be written: a file stands where its folder must go.
    broken = [*files("新")[:2], SiteFile("index.html/extra.html", b"x")]
    with pytest.raises(OSError):
        site.write(broken, folder)
    assert fingerprint(folder) == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no half-written folder left
    site.write(files("新"), folder)  # and the next good build replaces it whole
    assert (folder / "index.html").read_text("utf-8") == "<p>首页 新</p>"


def test_a_folder_that_is_not_a_site_is_refused_untouched(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("别的文件", "utf-8")
    with pytest.raises(site.SiteError, match="SHA256SUMS"):
        site.write(files("一"), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_failure_after_the_old_site_moved_aside_puts_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second of the two renames fails (the disk refuses it): the folder would be gone,
    the old site left in a hidden folder beside it. It is moved back, byte for byte."""
    folder = tmp_path / "site"
    site.write(files("旧"), folder)
    before = fingerprint(folder)
    rename = os.rename

    def refused_into_place(source: str | Path, target: str | Path) -> None:
        if Path(source).name.startswith(".site.new-"):
            raise PermissionError(13, "Permission denied", str(target))
        rename(source, target)

    monkeypatch.setattr(os, "rename", refused_into_place)
    with pytest.raises(PermissionError):
        site.write(files("新"), folder)
    monkeypatch.undo()
    assert fingerprint(folder) == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]
