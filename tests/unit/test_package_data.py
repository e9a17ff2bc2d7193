"""What ``pip install .`` carries besides code: every data file in the packages (templates,
forms, sample sheets, the sandbox's sample photo, migration templates) is matched by a
package-data pattern of pyproject.toml. One left out works from a checkout and is missing
from an installed suiji."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "storage", "templates")


def test_every_data_file_in_the_packages_is_shipped() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    files = [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    assert any(path.suffix == ".png" for path in files)  # the sandbox's sample photo
    left_out = [
        str(path.relative_to(ROOT))
        for path in files
        if not any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)
    ]
    assert left_out == []
