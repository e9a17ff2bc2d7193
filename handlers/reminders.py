"""Which reminders are due, and how a digest reads. Pure: every decision is a function of the
open deadlines, the time, the reminder policy and the calendar's overrides (issue 16 §3).

A deadline's reminder **steps** are numbered: ``-n`` is "n working days before", ``0`` "on
the day", ``k > 0`` "k working days overdue". Each step has its moment (its day at the policy's
hour; the day of a deadline that falls on a non-working day is reminded the working day
before). At a tick only the **latest** step whose moment has passed is due, and only if it is
later than the last one sent: after downtime a deadline is reminded once, not once per missed
step. Nothing is due in quiet hours or on non-working days; what fell due then goes at the next
allowed tick. How far up the chain a reminder goes (owner, team leader, unit leaders) follows
from how many working days it is overdue; whoever in the chain has no platform account is
passed over for the next.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.base.calendar import Overrides, is_working_day, working_days_after, working_days_between
from bot.base.config import ReminderSettings
from bot.base.texts import render, text
from bot.platforms.messages import Button, Outgoing

# Kinds reminded before and on their day only: a campaign's start is not "overdue".
NO_OVERDUE = frozenset({"campaign_start"})
OWNER, TEAM_LEADER, UNIT_LEADER = 0, 1, 2
MAX_BUTTONS = 4  # a card has room for this many


@dataclass(frozen=True)
class Open:
    """An open deadline as the policy sees it. ``chain``: whom to tell at each escalation
    level (owner, team leader, unit leaders), only people the bot can reach."""

    id: int
    kind: str
    due_on: dt.date
    last_step: int | None
    chain: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Due:
    deadline_id: int
    step: int
    level: int  # how far up the chain: OWNER, TEAM_LEADER, UNIT_LEADER
    recipients: tuple[int, ...]  # empty: nobody in the chain can be reached


def quiet(moment: dt.time, rules: ReminderSettings) -> bool:
    start, end = rules.quiet_from, rules.quiet_until
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def allowed(local: dt.datetime, rules: ReminderSettings, overrides: Overrides) -> bool:
    """Whether reminders may go out at this local time."""
    return is_working_day(local.date(), overrides) and not quiet(local.time(), rules)


def step_day(due_on: dt.date, step: int, overrides: Overrides) -> dt.date:
    if step == 0 and not is_working_day(due_on, overrides):
        return working_days_after(due_on, -1, overrides).day
    return working_days_after(due_on, step, overrides).day


def latest_step(
    kind: str, due_on: dt.date, local: dt.datetime, rules: ReminderSettings, overrides: Overrides
) -> int | None:
    """The latest step of a deadline whose moment is at or before ``local``; None if none."""
    return _latest(kind not in NO_OVERDUE, due_on, local, rules, overrides)


def _latest(
    runs_overdue: bool,
    due_on: dt.date,
    local: dt.datetime,
    rules: ReminderSettings,
    overrides: Overrides,
) -> int | None:
    today, hour = local.date(), local.time()

    def passed(step: int) -> bool:
        day = step_day(due_on, step, overrides)
        return day < today or (day == today and rules.at <= hour)

    if today > due_on and runs_overdue:
        overdue = working_days_between(due_on, today, overrides).days
        if overdue >= 1 and not passed(overdue):
            overdue -= 1
        overdue -= overdue % max(rules.overdue_every_days, 1)
        if overdue >= 1:
            return overdue
    if passed(0):
        return 0
    for n in sorted(rules.before_days):
        if passed(-n):
            return -n
    return None


def level_of(step: int, rules: ReminderSettings) -> int:
    if step >= rules.escalate_unit_leader_days:
        return UNIT_LEADER
    if step >= rules.escalate_team_leader_days:
        return TEAM_LEADER
    return OWNER


def recipients(chain: Sequence[Sequence[int]], level: int) -> tuple[int, ...]:
    """Everyone up to ``level``; if nobody there can be reached, the next level that can."""
    found = [p for people in chain[: level + 1] for p in people]
    if not found:
        found = next(([*people] for people in chain[level + 1 :] if people), [])
    return tuple(dict.fromkeys(found))


class Steps:
    """:func:`latest_step` at one moment, remembered per (runs overdue or not, due day): it
    depends on nothing else, and ten thousand deadlines fall on a few dozen days."""

    def __init__(self, local: dt.datetime, rules: ReminderSettings, overrides: Overrides):
        self.local, self.rules, self.overrides = local, rules, overrides
        self.known: dict[tuple[bool, dt.date], int | None] = {}  # (runs overdue, day)

    def of(self, kind: str, due_on: dt.date) -> int | None:
        return self.at(kind not in NO_OVERDUE, due_on)

    def at(self, runs_overdue: bool, due_on: dt.date) -> int | None:
        key = (runs_overdue, due_on)
        if key not in self.known:
            self.known[key] = _latest(runs_overdue, due_on, self.local, self.rules, self.overrides)
        return self.known[key]


@dataclass(frozen=True)
class Window:
    """Which open deadlines may have a step due at one moment, for a tick to read only those:
    by due day, the latest step due for the kinds that run overdue (``steps``) and for those
    that do not (``start_steps``, kinds :data:`NO_OVERDUE`). A deadline whose day is not
    there, or whose ``last_step`` is not behind it, has nothing due."""

    steps: dict[dt.date, int]
    start_steps: dict[dt.date, int]

    @property
    def empty(self) -> bool:
        return not self.steps and not self.start_steps


def window(
    days: Iterable[dt.date],
    now: dt.datetime,
    rules: ReminderSettings,
    tz: dt.tzinfo,
    overrides: Overrides,
) -> Window:
    """The :class:`Window` at ``now`` over the due days of the open deadlines; empty in quiet
    hours, on non-working days and with reminders off (as :func:`due_reminders`)."""
    local = now.astimezone(tz)
    if not rules.enabled or not allowed(local, rules, overrides):
        return Window({}, {})
    steps = Steps(local, rules, overrides)
    found: tuple[dict[dt.date, int], dict[dt.date, int]] = ({}, {})
    for day in set(days):
        for into, runs_overdue in zip(found, (True, False), strict=True):
            step = steps.at(runs_overdue, day)
            if step is not None:
                into[day] = step
    return Window(*found)


def due_reminders(
    deadlines: Iterable[Open],
    now: dt.datetime,
    rules: ReminderSettings,
    tz: dt.tzinfo,
    overrides: Overrides,
) -> list[Due]:
    """Which (deadline, step) are due at ``now``, and to whom."""
    local = now.astimezone(tz)
    if not rules.enabled or not allowed(local, rules, overrides):
        return []
    steps = Steps(local, rules, overrides)
    found = []
    for d in deadlines:
        step = steps.of(d.kind, d.due_on)
        if step is None or (d.last_step is not None and step <= d.last_step):
            continue
        level = level_of(step, rules)
        found.append(Due(d.id, step, level, recipients(d.chain, level)))
    return found


# --- what people read ------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """A deadline as a person reads it in a digest, 「待办」 or the CLI."""

    id: int
    kind: str
    campaign: str
    team: int | None
    due_on: dt.date
    estimated: bool
    days_left: int  # working days: > 0 still to go, 0 today, < 0 overdue
    owner: str = ""
    mine: bool = True  # False: it is someone else's, shown to a leader above them
    button: str = ""  # what acting on it is: fill | approve | progress | ""
    subject_id: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def overdue(self) -> bool:
        return self.days_left < 0

    @property
    def today(self) -> bool:
        return self.days_left == 0


def days_left(due_on: dt.date, today: dt.date, overrides: Overrides) -> int:
    if due_on == today:
        return 0
    return working_days_between(today, due_on, overrides).days or (1 if due_on > today else -1)


def digest(name: str, items: Sequence[Item]) -> Outgoing:
    """One message with everything due for one person at one tick, with buttons to act."""
    items = sorted(items, key=lambda i: (i.due_on, i.id))
    body = render(
        "chat/deadlines_digest.md.j2",
        name=name,
        items=items,
        when={i.days_left: _when(i.days_left) for i in items},
        today=sum(i.today for i in items),
        overdue=sum(i.overdue for i in items),
        coming=sum(i.days_left > 0 for i in items),
    )
    return Outgoing.card(_words("deadlines.digest_title"), body.strip(), buttons(items))


# The words a digest repeats, worded once per process (templates do not change while the bot
# runs): a tick words some two thousand digests, and a template macro call each was a third of
# the tick (tests/benchmarks/bench_reminders.py).


@functools.lru_cache(maxsize=512)
def _when(days: int) -> str:
    return text("deadlines.when", days=days)


@functools.cache
def _words(key: str) -> str:
    return text(key)


def buttons(items: Sequence[Item]) -> tuple[Button, ...]:
    """One button per way to act (per approval for 审批), the first :data:`MAX_BUTTONS`; each
    worded once, however many items share it."""
    wanted: dict[tuple[str, int], None] = {}
    for item in items:
        if item.button in BUTTON_WORDS:
            wanted[(item.button, item.subject_id if item.button == "approve" else 0)] = None
    return tuple(_button(*way) for way in list(wanted)[:MAX_BUTTONS])


# A way to act: the messages of its button's key (what pressing it says) and label.
BUTTON_WORDS = {
    "approve": ("deadlines.key_approve", "deadlines.label_approve"),
    "fill": ("deadlines.key_fill", "deadlines.label_fill"),
    "progress": ("deadlines.key_progress", "deadlines.label_progress"),
}


@functools.lru_cache(maxsize=1024)
def _button(way: str, approval: int) -> Button:
    key, label = BUTTON_WORDS[way]
    said = text(key, id=approval) if way == "approve" else _words(key)
    return Button(said, _words(label))


def todo(name: str, mine: Sequence[Item], others: Sequence[Item]) -> Outgoing:
    """「待办」: my open deadlines, soonest first; for a leader, their teams' overdue ones."""
    body = render("chat/deadlines_todo.md.j2", name=name, mine=mine, others=others)
    return Outgoing("markdown", body.strip(), title=text("deadlines.todo_title"))
