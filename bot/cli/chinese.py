"""The command line in Chinese: click's own words (usage, the help layout, argument errors) and
every command's and option's help, all from templates/cli/ (``click.toml``, ``help.toml``).

Click words its messages through gettext, imported by name into each of its modules; putting
our lookup there in its place is the whole translation layer (no locale or .mo file needed, so
suiji speaks Chinese whatever the machine's language). Click's help layout measures and wraps
text by characters; ours by the columns a terminal shows (bot.cli.tables). :func:`speak_chinese`
runs when bot.cli is imported, before any command is built, since click words some things (the
kind of a path) as a command is built. :func:`describe` gives the built commands their help.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from bot.base.texts import table
from bot.cli.tables import display_width, wrap

# The click modules that word messages; each imports gettext's ``gettext as _`` (and some
# ``ngettext``) by name.
_CLICK_MODULES = (
    "core", "decorators", "exceptions", "formatting", "parser", "types", "termui", "utils",
    "shell_completion", "_termui_impl",
)  # fmt: skip


def gettext(message: str) -> str:
    """Click's English ``message`` as suiji shows it."""
    messages: dict[str, str] = table("cli/click.toml")["messages"]
    return messages.get(message, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return gettext(singular if count == 1 else plural)


def speak_chinese() -> None:
    """Put click's own words in Chinese, for every command of this process."""
    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            setattr(module, "_", gettext)  # noqa: B010 (mypy knows no such attribute)
        if hasattr(module, "ngettext"):
            setattr(module, "ngettext", ngettext)  # noqa: B010
    for name, label in table("cli/click.toml")["types"].items():
        getattr(click.types, name).name = label
    # Help columns line up and lines wrap by what a terminal shows: a Chinese character takes
    # two columns, and a line may break between any two of them.
    formatting = importlib.import_module("click.formatting")
    setattr(formatting, "term_len", _columns)  # noqa: B010 (mypy knows no such attribute)
    setattr(formatting, "wrap_text", wrap)  # noqa: B010


def _columns(value: str) -> int:
    return display_width(click.unstyle(value))


def _first_sentence(help_text: str) -> str:
    return help_text.split("。", 1)[0] + "。"


def describe(command: click.Command, path: str = "suiji") -> None:
    """Give ``command`` and everything under it their help from templates/cli/help.toml."""
    words: dict[str, Any] = table("cli/help.toml")
    entry = words.get(path, {})
    if "help" in entry:
        command.help = entry["help"]
        command.short_help = _first_sentence(entry["help"])
    command.options_metavar = words["usage"]["options"]
    for param in command.params:
        if isinstance(param, click.Option):
            param.help = entry.get("options", {}).get(param.name, param.help)
            param.metavar = words["option_values"].get(param.name, param.metavar)
        elif isinstance(param, click.Argument):
            param.metavar = words["arguments"].get(param.name, param.metavar)
    if isinstance(command, click.Group):
        command.subcommand_metavar = words["usage"]["command"]
        for name, sub in command.commands.items():
            describe(sub, f"{path} {name}")
