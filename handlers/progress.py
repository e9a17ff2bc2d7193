"""「进度」: where the findings of a team stand, for its leader, and those of every team of a
campaign, for the leaders; cut to what one message on a phone holds. Pure: standings in,
messages out.

A team's leader reads each employer × item of the team: 未填, 填写中 with who holds the draft and
since when, 已提交 with who submitted it. A leader reads the campaign's counts and one block per
team still missing something, with what is missing. In a confidential campaign, until its
inspections end, the leaders' view names employers only on the teams the reader leads (as
handlers.assignments keeps targets from everyone off the team): the others read 「第N家」.

A message longer than WeCom's markdown holds is cut at a whole line and ends with 「…还有 N 项」,
leaving the rest to ``suiji campaign show``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.base.texts import render, text
from bot.platforms.messages import MAX_MARKDOWN_BYTES, Outgoing

STATES = ("submitted", "draft", "empty")


@dataclass(frozen=True)
class Cell:
    """One finding, an employer × item of a team: where it stands."""

    state: str  # empty | draft | submitted
    finding: int | None = None
    holder: str = ""  # a draft's: who is filling it ("" when nobody is: sent back)
    held_since: dt.datetime | None = None  # UTC
    submitted_by: str = ""
    submitted_at: dt.datetime | None = None  # UTC
    reopened: int = 0  # how often it was sent back


@dataclass(frozen=True)
class EmployerStanding:
    name: str
    uscc: str
    cells: tuple[Cell, ...]  # one per item, in the campaign's order


@dataclass(frozen=True)
class Counts:
    submitted: int = 0
    draft: int = 0
    empty: int = 0

    @property
    def total(self) -> int:
        return self.submitted + self.draft + self.empty

    @property
    def complete(self) -> bool:
        return self.submitted == self.total


def counts(employers: Sequence[EmployerStanding]) -> Counts:
    states = [c.state for e in employers for c in e.cells]
    return Counts(*(states.count(s) for s in STATES))


@dataclass(frozen=True)
class TeamStanding:
    number: int
    leader: str
    employers: tuple[EmployerStanding, ...]  # in draw order

    @property
    def counts(self) -> Counts:
        return counts(self.employers)


@dataclass(frozen=True)
class Due:
    """An open deadline as 「进度」 shows it: a team's (its findings, its report, a
    rectification — the soonest of each kind) or, with ``team`` None, the campaign's own (its
    publication)."""

    team: int | None
    kind: str
    due_on: dt.date
    days_left: int  # working days; negative: overdue
    estimated: bool  # in a year the calendar does not cover


@dataclass(frozen=True)
class CampaignStanding:
    id: int
    name: str
    start: dt.date
    end: dt.date
    items: tuple[str, ...]  # the items' names, in the campaign's order (the cells' order)
    confidential: bool
    teams: tuple[TeamStanding, ...]
    dues: tuple[Due, ...] = ()  # its open deadlines, soonest first

    def dues_of(self, team: int | None) -> list[Due]:
        return [d for d in self.dues if d.team == team]

    @property
    def counts(self) -> Counts:
        return counts([e for t in self.teams for e in t.employers])


@dataclass(frozen=True)
class Entry:
    """One line of a progress message: a team's heading; an employer with the cells to show
    (index in the items, cell); or the team's employers where nothing was begun yet (each with
    its place in the team's draw order)."""

    team: TeamStanding
    employer: EmployerStanding | None = None
    position: int = 0  # the employer's place in the team's draw order, from 1
    named: bool = True  # whether employers may be named here
    cells: tuple[tuple[int, Cell], ...] = ()
    untouched: tuple[tuple[int, EmployerStanding], ...] = ()

    @property
    def kind(self) -> str:
        if self.employer is not None:
            return "employer"
        return "untouched" if self.untouched else "team"

    @property
    def findings(self) -> int:
        return len(self.cells) + sum(len(e.cells) for _, e in self.untouched)


@dataclass(frozen=True)
class More:
    """What a cut message leaves out: findings, and teams whose heading did not fit."""

    findings: int
    teams: int


def left_out(entries: Sequence[Entry]) -> More:
    return More(sum(e.findings for e in entries), sum(e.kind == "team" for e in entries))


def fit(count: int, draw: Callable[[int], str], budget: int = MAX_MARKDOWN_BYTES) -> str:
    """``draw(k)`` (the message with its first ``k`` of ``count`` lines, and a tail for the
    rest when ``k < count``) for the largest ``k`` that fits in ``budget`` UTF-8 bytes; with
    no line at all when not even that fits (the platform then cuts it)."""

    def size(message: str) -> int:
        return len(message.encode("utf-8"))

    whole = draw(count)
    if size(whole) <= budget:
        return whole
    best, low, high = draw(0), 1, count - 1
    while low <= high:  # a line adds far more than the tail's number can shrink by
        middle = (low + high) // 2
        shown = draw(middle)
        if size(shown) <= budget:
            best, low = shown, middle + 1
        else:
            high = middle - 1
    return best


def _markdown(body: str, title: str) -> Outgoing:
    # Asking again a minute later is asking again: WeCom's duplicate check must not drop it.
    return Outgoing("markdown", body.strip(), title=title, repeatable=True)


def team_reply(
    campaign: CampaignStanding, team: TeamStanding, today: dt.date, tz: dt.tzinfo
) -> Outgoing:
    """To a team's leader: each employer × item of the team, and who holds each."""
    entries = [
        Entry(team, e, n, True, tuple(enumerate(e.cells))) for n, e in enumerate(team.employers, 1)
    ]

    def draw(k: int) -> str:
        return render(
            "chat/progress_team.md.j2",
            c=campaign,
            team=team,
            counts=team.counts,
            started=today >= campaign.start,
            entries=entries[:k],
            more=left_out(entries[k:]) if k < len(entries) else None,
            tz=tz,
        )

    title = text("progress.team_title", number=team.number)
    return _markdown(fit(len(entries), draw), title)


def unit_reply(
    campaign: CampaignStanding, led: frozenset[int], today: dt.date, tz: dt.tzinfo
) -> Outgoing:
    """To a leader: the campaign's counts, and each team still missing something with what it
    is missing. ``led``: the numbers of the teams the reader leads (named even when the
    campaign is confidential)."""
    hidden = campaign.confidential and today <= campaign.end
    open_teams = [t for t in campaign.teams if not t.counts.complete]
    entries = []
    for team in open_teams:
        entries.append(Entry(team))
        named = not hidden or team.number in led
        untouched = []
        for n, e in enumerate(team.employers, 1):
            missing = tuple((i, c) for i, c in enumerate(e.cells) if c.state != "submitted")
            if len(missing) == len(e.cells) and all(c.state == "empty" for _, c in missing):
                untouched.append((n, e))
            elif missing:
                entries.append(Entry(team, e, n, named, missing))
        if untouched:  # one line, however many: what is missing is every item of each
            entries.append(Entry(team, named=named, untouched=tuple(untouched)))

    def draw(k: int) -> str:
        return render(
            "chat/progress_unit.md.j2",
            c=campaign,
            counts=campaign.counts,
            complete=[t.number for t in campaign.teams if t.counts.complete],
            hidden=hidden and any(t.number not in led for t in open_teams),
            started=today >= campaign.start,
            entries=entries[:k],
            more=left_out(entries[k:]) if k < len(entries) else None,
            tz=tz,
        )

    return _markdown(fit(len(entries), draw), text("progress.unit_title"))


@dataclass(frozen=True)
class Running:
    """A campaign in progress the asker may look at, as the list to choose from shows it."""

    id: int
    name: str
    start: dt.date
    end: dt.date
    team: int | None  # the team the asker leads, when that is all they see of it
    counts: Counts


def choose_reply(running: Sequence[Running]) -> Outgoing:
    """Several campaigns in progress: how far each is, and how to look at one."""

    def draw(k: int) -> str:
        return render(
            "chat/progress_choose.md.j2",
            rows=running[:k],
            left=len(running) - k,
            first=running[0].id,
        )

    return _markdown(fit(len(running), draw), text("progress.unit_title"))
