"""The draw itself: strata of employers, one ordered draw of officers, and the teams.

Pure: a function of the frozen pools, the key and the campaign's numbers. Both ``suiji draw run``
and ``suiji draw verify`` call :func:`run_draw`, so a record verifies exactly when recomputing
it from its own inputs gives its own results.

Rules (also in the README, so that others can reimplement them):

- Strata are drawn in their listed order; stratum ``s`` takes
  ``count = min(size, max(ceil(ratio × size), minimum))`` employers, its entries in canonical
  (sorted) order, with the stratum's label mixed into the hash (``rfc3797-sha256``).
- The officer pool (canonical order) is drawn whole, label ``officers``: that order is both the
  order teams are filled in and the substitution order.
- Employers, in draw order (strata in order, picks in order), go to teams round-robin: the k-th
  drawn employer (from 0) joins team ``k mod T``, or, if that team's appointed leader has recused
  from it, the next team round whose leader has not. With one team per employer, ``T`` is the
  number of employers drawn.
- Teams are filled one after another in team order: each takes the next officers in draw order
  who have no recusal against any employer of that team; an officer skipped for a recusal keeps
  their place at the front of the line for the next team. Officers left over are the reserve,
  in draw order. A team that cannot be filled is marked short.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from bot.draw.rfc3797 import select

OFFICERS_LABEL = "officers"


def stratum_count(size: int, ratio_percent: Decimal, minimum: int = 0) -> int:
    """How many employers a stratum of ``size`` gives: ceil(ratio × size), at least ``minimum``."""
    wanted = math.ceil(Fraction(ratio_percent) * size / 100)  # exact, whatever the digits
    return min(size, max(wanted, minimum))


@dataclass(frozen=True)
class Stratum:
    label: str
    ratio_percent: Decimal
    minimum: int
    entries: tuple[str, ...]  # USCCs, sorted

    @property
    def count(self) -> int:
        return stratum_count(len(self.entries), self.ratio_percent, self.minimum)


@dataclass(frozen=True)
class Pick:
    index: int  # 1-based pick number
    position: int  # 1-based position in the stratum's entries
    entry: str


@dataclass(frozen=True)
class Team:
    number: int  # 1-based
    leader: str
    employers: tuple[str, ...]
    officers: tuple[str, ...]

    def short_of(self, officers_per_team: int) -> int:
        return max(0, officers_per_team - len(self.officers))


@dataclass(frozen=True)
class DrawResult:
    picks: dict[str, tuple[Pick, ...]]  # stratum label -> picks in order
    officer_order: tuple[str, ...]
    teams: tuple[Team, ...]
    reserve: tuple[str, ...]

    @property
    def employers(self) -> tuple[str, ...]:
        return tuple(p.entry for picks in self.picks.values() for p in picks)


def team_total(employer_count: int, teams: int | None) -> int:
    """The number of teams: as set, or one per employer drawn."""
    return employer_count if teams is None else teams


def draw_employers(
    algorithm: str, key: str, strata: Sequence[Stratum]
) -> dict[str, tuple[Pick, ...]]:
    picks = {}
    for stratum in strata:
        positions = select(algorithm, key, len(stratum.entries), stratum.count, stratum.label)
        picks[stratum.label] = tuple(
            Pick(i + 1, p + 1, stratum.entries[p]) for i, p in enumerate(positions)
        )
    return picks


def order_officers(algorithm: str, key: str, officers: Sequence[str]) -> tuple[str, ...]:
    positions = select(algorithm, key, len(officers), len(officers), OFFICERS_LABEL)
    return tuple(officers[p] for p in positions)


def place_employer(
    k: int, employer: str, leaders: Sequence[str], recusals: frozenset[tuple[str, str]]
) -> int:
    """The team (from 0) of the k-th drawn employer: team k mod T, or the next one round whose
    leader has not recused from it. The commit leaves out employers every leader recused from."""
    total = len(leaders)
    for step in range(total):
        team = (k + step) % total
        if (leaders[team], employer) not in recusals:
            return team
    raise ValueError(f"every leader has recused from {employer}")


def form_teams(
    employers: Sequence[str],
    officer_order: Sequence[str],
    leaders: Sequence[str],
    teams: int | None,
    officers_per_team: int,
    recusals: frozenset[tuple[str, str]],
) -> tuple[tuple[Team, ...], tuple[str, ...]]:
    """Teams in order, and the reserve, by the rules in the module docstring."""
    total = team_total(len(employers), teams)
    if len(leaders) < total:
        raise ValueError(f"{total} teams need {total} leaders, got {len(leaders)}")
    groups: list[list[str]] = [[] for _ in range(total)]
    for k, employer in enumerate(employers):
        groups[place_employer(k, employer, leaders[:total], recusals)].append(employer)
    line = list(officer_order)
    formed = []
    for number, group in enumerate(groups, start=1):
        members: list[str] = []
        for officer in list(line):
            if len(members) == officers_per_team:
                break
            if any((officer, employer) in recusals for employer in group):
                continue  # keeps their place for the next team
            members.append(officer)
            line.remove(officer)
        formed.append(Team(number, leaders[number - 1], tuple(group), tuple(members)))
    return tuple(formed), tuple(line)


def run_draw(
    algorithm: str,
    key: str,
    strata: Sequence[Stratum],
    officers: Sequence[str],
    leaders: Sequence[str],
    teams: int | None,
    officers_per_team: int,
    recusals: frozenset[tuple[str, str]],
) -> DrawResult:
    picks = draw_employers(algorithm, key, strata)
    order = order_officers(algorithm, key, officers)
    employers = [p.entry for stratum_picks in picks.values() for p in stratum_picks]
    formed, reserve = form_teams(employers, order, leaders, teams, officers_per_team, recusals)
    return DrawResult(picks, order, formed, reserve)
