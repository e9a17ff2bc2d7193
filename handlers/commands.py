"""What people type, as commands: 「帮助」, 「我的任务」, 「无法参加 出差」, 「同意 审批5」…;
and the replies to strangers and to what the bot does not understand. Pure: the caller supplies
who is asking and their tasks."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.base.texts import render, table, text
from bot.platforms.messages import Outgoing

_BLANKS = re.compile(r"\s+")


@dataclass(frozen=True)
class Asker:
    name: str
    roles: frozenset[str]  # officer, leader, admin, witness
    team_leader: bool


@dataclass(frozen=True)
class Task:
    id: int  # the task number people type: 「任务 12」
    campaign: str
    start: str
    end: str
    team: int
    role: str  # leader | member
    state: str  # notified | confirmed | declined | replaced
    position: int  # place in the draw order (members)
    employers: int
    substitute: bool  # took the place of someone excused


@dataclass(frozen=True)
class DrawToCheck:
    """A drawn campaign, as a witness checks it against its certificate."""

    id: int
    name: str
    runs: int
    head: str  # chain head: the last run's hash
    commitment: str  # commitment SHA-256, published before the draw
    end: str  # the inspections' last day
    public: bool  # its certificate and record may be opened now (not under confidentiality)


@dataclass(frozen=True)
class Command:
    name: str  # help, my_tasks, cancel, task, confirm, decline, recuse, approve, reject
    number: int | None = None  # 「任务12」, 「审批5」
    rest: str = ""  # the reason or comment that follows
    # The word written before the number, folded (「抽查」 in 「进度 抽查3」); "" for a bare
    # number. Only a command whose number may name several kinds of thing reads it.
    prefix: str = field(default="", compare=False)


def normalize(message: str) -> str:
    """Folded for matching: full-width to plain, no blanks, lower case."""
    return _BLANKS.sub("", unicodedata.normalize("NFKC", message)).casefold()


@functools.cache
def _words() -> tuple[dict[str, str], list[tuple[str, str]], re.Pattern[str], re.Pattern[str]]:
    """(whole-message word -> command, [(prefix word, command)] longest first, the pattern of
    a number written with its prefix, the reason-label pattern), from commands.toml."""
    words = table("chat/commands.toml")
    whole = {normalize(w): name for name, ws in words.items() if isinstance(ws, list) for w in ws}
    prefixed = sorted(
        ((normalize(w), name) for name, ws in words["prefixed"].items() for w in ws),
        key=lambda pair: -len(pair[0]),
    )
    prefixes = "|".join(re.escape(normalize(p)) for p in words["words"]["number_prefixes"])
    numbered = re.compile(rf"^({prefixes})\s*(\d+)(?!\d)", re.IGNORECASE)
    labels = "|".join(re.escape(w) for w in words["words"]["reason_labels"])
    label = re.compile(rf"^(?:{labels})(?=$|[\s{_SEPARATORS}])")
    return whole, prefixed, numbered, label


# What may stand between a command, its number and its text once full-width forms are folded
# (「无法参加（出差）」, 「无法参加—出差」, 「确认参加～」), and what may trail a whole command.
_SEPARATORS = r",:;.、。!?·\-~()\[\]【】「」『』<>《》—–…"
_LEADING = re.compile(rf"^[\s{_SEPARATORS}]+")
_TRAILING = re.compile(rf"[\s{_SEPARATORS}]+$")
_BARE_NUMBER = re.compile(r"^(\d+)\s*$")  # 「同意 3」: a number on its own is a reference
MAX_REFERENCE_DIGITS = 9  # longer is no id of ours: it refers to nothing


def _after_word(message: str, word: str) -> str:
    """``message`` past its first characters that spell ``word`` (blanks and case ignored)."""
    taken = 0
    for index, char in enumerate(message):
        if taken == len(word):
            return message[index:]
        if char.isspace():
            continue
        taken += 1
    return ""


def _reference(digits: str) -> int:
    return int(digits) if len(digits) <= MAX_REFERENCE_DIGITS else 0


def parse(message: str) -> Command | None:
    """The command a message is, or None. 「不能参加，原因：开会」 is decline with rest 「开会」;
    a command word must stand on its own: 「请假条怎么写」 and 「确认参加吗」 are no commands."""
    whole, prefixed, numbered, label = _words()
    folded = normalize(message)
    if folded in whole:
        return Command(whole[folded])
    bare = _TRAILING.sub("", folded)  # 「取消。」「帮助？」
    if bare in whole:
        return Command(whole[bare])
    plain = unicodedata.normalize("NFKC", message).strip()
    for word, name in prefixed:
        if not folded.startswith(word):
            continue
        after = _after_word(plain, word)
        if after and not (_LEADING.match(after) or after[0].isdigit() or numbered.match(after)):
            continue  # the word runs on into another: not this command
        rest = _LEADING.sub("", after)
        ref, prefix = None, ""
        if found := numbered.match(rest):
            ref, prefix = _reference(found.group(2)), normalize(found.group(1))
            rest = _LEADING.sub("", rest[found.end() :])
        elif found := _BARE_NUMBER.match(rest):
            ref = _reference(found.group(1))
            rest = _LEADING.sub("", rest[found.end() :])
        rest = _LEADING.sub("", label.sub("", rest, count=1))
        return Command(name, ref, _TRAILING.sub("", rest).strip(), prefix)
    return None


def refers_to(command: Command) -> str:
    """What the number of 「进度 …」 names, by the word before it: "campaign" (「抽查3」, a bare
    number), "task" (「任务12」: one's own task) or "other" (「审批5」, 「结果7」)."""
    words = table("chat/commands.toml")["words"]
    if command.prefix in {normalize(w) for w in words["task_prefixes"]}:
        return "task"
    if not command.prefix or command.prefix in {normalize(w) for w in words["campaign_prefixes"]}:
        return "campaign"
    return "other"


def command_of(message: str) -> str | None:
    """The name of the command a message is ("help", "decline"…), or None."""
    command = parse(message)
    return command.name if command else None


def help_reply(asker: Asker, draws: Sequence[DrawToCheck] = (), public_url: str = "") -> Outgoing:
    """「帮助」 for this person's roles; a witness also gets the latest draws to check, linked
    under ``public_url`` (suiji serve's address from outside; "" when there is none)."""
    body = render(
        "chat/help.md.j2",
        name=asker.name,
        roles=asker.roles,
        team_leader=asker.team_leader,
        draws=draws,
        public_url=public_url,
    )
    return Outgoing("markdown", body.strip(), title=text("chat.help_title"))


def tasks_reply(asker: Asker, tasks: list[Task]) -> Outgoing:
    body = render("chat/tasks.md.j2", name=asker.name, tasks=tasks)
    return Outgoing("markdown", body.strip(), title=text("chat.tasks_title"))


def stranger_reply() -> Outgoing:
    return Outgoing.plain(text("chat.stranger"))


def unknown_reply(message: str) -> Outgoing:
    return Outgoing.plain(text("chat.unknown", text=message[:50]))


def form_reply() -> Outgoing:
    return Outgoing.plain(text("chat.form_not_expected"))


def apology() -> Outgoing:
    return Outgoing.plain(text("chat.apology"))


def given_up() -> Outgoing:
    return Outgoing.plain(text("chat.given_up"))
