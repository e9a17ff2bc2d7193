"""Who is in a campaign's pools: the exclusion rules, as pure functions of their inputs.

Employers: active (the query asks only for those), and not excluded by:

- ``window``: drawn for any of the campaign's items by another campaign starting within
  ``exclusion_months`` before or after this one's start;
- ``inspected``: the registry's last inspection date falls in that window;
- ``yearly_cap``: already drawn ``yearly_cap`` times by campaigns starting that calendar year;
- ``leaders_recused``: every appointed leader has recused from it, so no team could take it.

Officers: a certificate in force for the whole campaign (storage.officers), not an appointed
leader (leaders lead; they are not drawn), and not excluded beforehand for a recorded reason.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


def shift_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (negative: earlier), clamped to the month's end."""
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class PastDraw:
    uscc: str
    start_on: dt.date
    item_codes: frozenset[str]


@dataclass(frozen=True)
class EmployerRules:
    """What decides, employer by employer, whether it is in the pool."""

    window_start: dt.date
    window_end: dt.date
    recent: frozenset[str]  # drawn for these items within the window
    capped: frozenset[str]  # at the yearly cap
    leaders_recused: frozenset[str]  # every leader recused from it

    def exclusion(self, uscc: str, last_inspected: dt.date | None) -> str | None:
        if uscc in self.recent:
            return "window"
        if last_inspected is not None and self.window_start <= last_inspected <= self.window_end:
            return "inspected"
        if uscc in self.capped:
            return "yearly_cap"
        if uscc in self.leaders_recused:
            return "leaders_recused"
        return None


def employer_rules(
    start: dt.date,
    exclusion_months: int,
    yearly_cap: int,
    items: frozenset[str],
    history: Iterable[PastDraw],
    leader_recusals: dict[str, set[str]],  # leader key -> USCCs
    leaders: int,
) -> EmployerRules:
    window_start = shift_months(start, -exclusion_months)
    window_end = shift_months(start, exclusion_months)
    past = list(history)
    recent = {
        p.uscc for p in past if window_start <= p.start_on <= window_end and p.item_codes & items
    }
    per_year = Counter(p.uscc for p in past if p.start_on.year == start.year)
    recused_by = Counter(uscc for usccs in leader_recusals.values() for uscc in usccs)
    return EmployerRules(
        window_start,
        window_end,
        frozenset(recent),
        frozenset(u for u, n in per_year.items() if n >= yearly_cap),
        frozenset(u for u, n in recused_by.items() if n >= leaders),
    )


def history_span(start: dt.date, exclusion_months: int) -> tuple[dt.date, dt.date]:
    """The campaign start dates whose draws matter: the window and the calendar year."""
    return (
        min(shift_months(start, -exclusion_months), dt.date(start.year, 1, 1)),
        max(shift_months(start, exclusion_months), dt.date(start.year, 12, 31)),
    )


def feasible(pool: int, teams: int, per_team: int, recused_officers: int) -> bool:
    """Enough officers that filling teams in draw order can never leave one short.

    The greedy fill skips an officer only for a recusal; each officer with any recusal can be
    skipped at most once per team they are barred from, so counting each of them as lost
    leaves a margin that always suffices.
    """
    return pool >= teams * per_team + recused_officers
