"""Rendering of every user-facing word from ``templates/``.

Owns the Jinja2 environment. Short messages are macros in ``templates/text/<group>.txt.j2`` and
are addressed as ``"group.macro"``; sheet headers and value labels are TOML in
``templates/registry/``. Python code holds no Chinese text of its own.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

import jinja2

import templates
from bot.base.times import local_time

TEMPLATES_DIR = Path(templates.__file__).parent

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    undefined=jinja2.StrictUndefined,
    autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
environment.filters["local_time"] = local_time


def text(key: str, /, **values: Any) -> str:
    """Render the message ``group.name`` with ``values``; surrounding blank space is dropped."""
    group, _, name = key.partition(".")
    module = environment.get_template(f"text/{group}.txt.j2").module
    macro = getattr(module, name, None)
    if macro is None:
        raise KeyError(f"no message {key!r} in templates/text/{group}.txt.j2")
    return str(macro(**values)).strip()


def render(template: str, **values: Any) -> str:
    """Render a whole template file, such as the commented config or a page."""
    return environment.get_template(template).render(**values)


@functools.cache
def table(name: str) -> dict[str, Any]:
    """A TOML table of words under templates/, e.g. ``registry/columns.toml``."""
    with (TEMPLATES_DIR / name).open("rb") as f:
        return tomllib.load(f)
