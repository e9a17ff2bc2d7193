"""Queries about officers as a pool for draws.

Owns the eligibility rule of 持证上岗: an officer may be drawn on a day only while holding a
certificate that is valid (not suspended or revoked) and not expired on that day. An officer
without one stays in the registry; they are simply not drawable.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Exists, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Certificate, CertificateStatus, Person


def holds_valid_certificate(on: dt.date) -> Exists:
    """SQL condition: the person has a certificate in force on ``on``."""
    return exists().where(
        Certificate.person_id == Person.id,
        Certificate.status == CertificateStatus.VALID,
        Certificate.valid_until >= on,
    )


async def drawable_officers(session: AsyncSession, on: dt.date) -> list[Person]:
    """Officers who may be drawn on ``on``, ordered by id."""
    query = (
        select(Person)
        .where(Person.is_officer.is_(True), holds_valid_certificate(on))
        .order_by(Person.id)
    )
    return list((await session.execute(query)).scalars())
