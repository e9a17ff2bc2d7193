"""Commands anyone can send: 「帮助」 and 「我的任务」, and the replies to strangers and to
what the bot does not understand. Pure: the caller supplies who is asking and their tasks."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.chat import Outgoing
from bot.texts import render, table, text

_BLANKS = re.compile(r"\s+")


@dataclass(frozen=True)
class Asker:
    name: str
    roles: frozenset[str]  # officer, leader, admin, witness
    team_leader: bool


@dataclass(frozen=True)
class Task:
    campaign: str
    start: str
    end: str
    team: int
    role: str  # leader | member | reserve
    position: int  # place in the draw order (members and reserve)
    employers: int


def normalize(message: str) -> str:
    """Folded for matching: full-width to plain, no blanks, lower case."""
    return _BLANKS.sub("", unicodedata.normalize("NFKC", message)).casefold()


def command_of(message: str) -> str | None:
    """The command a message names ("help", "my_tasks"), or None."""
    folded = normalize(message)
    for command, words in table("chat/commands.toml").items():
        if folded in {normalize(w) for w in words}:
            return str(command)
    return None


def help_reply(asker: Asker) -> Outgoing:
    body = render(
        "chat/help.md.j2", name=asker.name, roles=asker.roles, team_leader=asker.team_leader
    )
    return Outgoing("markdown", body.strip(), title=text("chat.help_title"))


def tasks_reply(asker: Asker, tasks: list[Task]) -> Outgoing:
    body = render("chat/tasks.md.j2", name=asker.name, tasks=tasks)
    return Outgoing("markdown", body.strip(), title=text("chat.tasks_title"))


def stranger_reply() -> Outgoing:
    return Outgoing.plain(text("chat.stranger"))


def unknown_reply(message: str) -> Outgoing:
    return Outgoing.plain(text("chat.unknown", text=message[:50]))


def apology() -> Outgoing:
    return Outgoing.plain(text("chat.apology"))
