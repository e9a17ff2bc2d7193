"""Officers as a pool for draws: the rule of 持证上岗.

An officer may be drawn for a period only while their *newest* certificate (latest expiry; the
latest added on a tie) is valid (not suspended or revoked) and does not expire before the
period ends. An older certificate never speaks for them once a newer one exists: a renewal that
is later suspended suspends the officer. An officer without such a certificate stays in the
registry and is simply not drawable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Certificate, CertificateStatus, Person


def newest_certificate(certificates: Iterable[Certificate]) -> Certificate | None:
    return max(certificates, key=lambda c: (c.valid_until, c.id), default=None)


async def officers_in_force(session: AsyncSession, through: dt.date) -> list[tuple[int, str]]:
    """(person id, certificate number) of every officer drawable until ``through``, by id."""
    rows = await session.execute(
        select(Certificate)
        .join(Person, Person.id == Certificate.person_id)
        .where(Person.is_officer.is_(True))
    )
    by_person: dict[int, list[Certificate]] = {}
    for certificate in rows.scalars():
        by_person.setdefault(certificate.person_id, []).append(certificate)
    found = []
    for person_id in sorted(by_person):
        newest = newest_certificate(by_person[person_id])
        if newest and newest.status is CertificateStatus.VALID and newest.valid_until >= through:
            found.append((person_id, newest.number))
    return found


async def drawable_officers(session: AsyncSession, on: dt.date) -> list[Person]:
    """Officers who may be drawn on ``on``, ordered by id."""
    ids = [person_id for person_id, _ in await officers_in_force(session, on)]
    rows = await session.execute(select(Person).where(Person.id.in_(ids)).order_by(Person.id))
    return list(rows.scalars())
