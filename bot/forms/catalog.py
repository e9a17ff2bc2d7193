"""Where form definitions come from: the ones suiji ships (``templates/forms/``) and a site's
own (a ``forms/`` folder beside ``suiji.toml``), the site's winning for the same item code.

One file per item, named by its code (``RS-JC-003.toml``); files whose name starts with ``_``
are not forms (``_standard.toml`` is the standard result every form ends with).
"""

from __future__ import annotations

import functools
from pathlib import Path

from bot.base.texts import TEMPLATES_DIR
from bot.forms.definition import Form, FormError, Problem, Question, parse_form, parse_standard

SHIPPED = TEMPLATES_DIR / "forms"


@functools.cache
def standard() -> tuple[Question, ...]:
    path = SHIPPED / "_standard.toml"
    return parse_standard(path.read_text("utf-8"), str(path))


def read_form(path: Path) -> Form:
    """One definition file, checked, with the standard result appended."""
    try:
        source = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormError([Problem(str(path), 1, "unreadable", {"reason": str(exc)})]) from exc
    form = parse_form(source, str(path), standard=standard())
    if form.item != path.stem:
        raise FormError([Problem(str(path), 1, "item_mismatch", {"item": form.item})])
    return form


def definition_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.toml") if not p.name.startswith("_"))


def check(directory: Path) -> list[Problem]:
    """Every problem in every definition of a folder (none: all good)."""
    problems: list[Problem] = []
    for path in definition_files(directory):
        try:
            read_form(path)
        except FormError as error:
            problems.extend(error.problems)
    return problems


def site_folder(config_file: Path | None) -> Path | None:
    """The site's own forms: ``forms/`` beside the config file, when there is one."""
    return config_file.parent / "forms" if config_file is not None else None


def find(code: str, site: Path | None = None) -> Form | None:
    """The definition for an item code: the site's if it has one, else the shipped one."""
    for folder in (site, SHIPPED):
        if folder is not None and (path := folder / f"{code}.toml").is_file():
            return read_form(path)
    return None


def codes(site: Path | None = None) -> list[str]:
    folders = [f for f in (SHIPPED, site) if f is not None and f.is_dir()]
    return sorted({p.stem for folder in folders for p in definition_files(folder)})
