"""递补: who takes the place of an officer excused from a team. Pure.

The rule (O3, D5): the next officer in draw order who has not been given a place in this
campaign yet, holds a certificate in force until the campaign ends, is not on a team of another
campaign at the same time, and has no recusal against any employer of that team. An officer
passed over for one team keeps their place in line for the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    position: int  # 1-based draw order
    person_id: int
    certified: bool  # certificate in force through the campaign's end
    busy: bool  # on a team of an overlapping campaign
    recused: frozenset[int]  # entity ids


def next_substitute(reserve: Iterable[Candidate], employers: frozenset[int]) -> Candidate | None:
    """The first candidate in draw order who may join a team inspecting ``employers``."""
    for candidate in sorted(reserve, key=lambda c: c.position):
        if candidate.certified and not candidate.busy and not (candidate.recused & employers):
            return candidate
    return None


def shortfall(active_members: int, officers_per_team: int) -> int:
    """How many members a team lacks (its flag in ``campaign show``)."""
    return max(0, officers_per_team - active_members)
