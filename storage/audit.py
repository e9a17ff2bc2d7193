"""The append-only audit log, chained by SHA-256.

Owns appending (serialized through the audit_head row, so appends from several processes line up)
and verification. Each entry's hash covers the previous entry's hash and its own content, so an
edited, inserted or deleted row breaks the chain from that row on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, AuditHead

GENESIS_HASH = "0" * 64
HEAD_ID = 1
_VERIFY_PAGE = 5000


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spacing, so equal values always hash equal."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Change:
    """What one audit entry records: who did what to which record, before and after."""

    actor: str
    action: str
    subject_kind: str
    subject_key: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def entry_hash(
    prev_hash: str,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    subject_kind: str,
    subject_key: str,
    before: str | None,
    after: str | None,
) -> str:
    at_utc = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = canonical_json([seq, at_utc, actor, action, subject_kind, subject_key, before, after])
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


async def lock_head(session: AsyncSession) -> None:
    """Take the head row's lock until the transaction ends: writing it (a row lock on
    PostgreSQL and MariaDB, the write lock on SQLite) before reading it, so that two writers can
    never chain onto the same entry, nor two processes both do what one must do alone."""
    await session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq)
    )


async def append(session: AsyncSession, changes: Sequence[Change], at: dt.datetime) -> None:
    """Append entries in the caller's transaction; they commit or vanish with its changes."""
    if not changes:
        return
    await lock_head(session)
    # FOR UPDATE makes MariaDB read the newest head, not the transaction's older snapshot.
    seq, prev = (
        await session.execute(
            select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update()
        )
    ).one()
    rows = []
    for change in changes:
        seq += 1
        before = None if change.before is None else canonical_json(change.before)
        after = None if change.after is None else canonical_json(change.after)
        digest = entry_hash(
            prev,
            seq,
            at,
            change.actor,
            change.action,
            change.subject_kind,
            change.subject_key,
            before,
            after,
        )
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": change.actor,
                "action": change.action,
                "subject_kind": change.subject_kind,
                "subject_key": change.subject_key,
                "before": before,
                "after": after,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    # Core executemany: the ORM bulk path sends one INSERT per row on some drivers.
    await session.execute(cast(Table, AuditEntry.__table__).insert(), rows)
    await session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=seq, hash=prev)
    )


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: how many entries held, and the first break if any."""

    count: int
    broken_seq: int | None = None
    # "edited" | "missing" | "tail_missing" | "head_missing" | "unreadable" | "anchor"
    problem: str | None = None
    head_hash: str = GENESIS_HASH

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


async def head(session: AsyncSession) -> tuple[int, str] | None:
    """The newest entry's number and hash: publish it to anchor the chain outside the database."""
    row = (
        await session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID))
    ).first()
    return None if row is None else (row[0], row[1])


async def verify(session: AsyncSession, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk the chain up to the head, in pages, and report the first entry that does not hold.

    Entries appended while this runs lie beyond the head read first and are left for next time.
    ``anchor`` (a number and hash published earlier) also catches a chain cut back and
    re-headed by someone with write access.
    """
    current = await head(session)
    if current is None:
        return ChainReport(0, 1, "head_missing")
    head_seq, head_hash = current
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    while expected_seq <= head_seq:
        try:
            page = (
                (
                    await session.execute(
                        select(AuditEntry)
                        .where(AuditEntry.seq >= expected_seq, AuditEntry.seq <= head_seq)
                        .order_by(AuditEntry.seq)
                        .limit(_VERIFY_PAGE)
                    )
                )
                .scalars()
                .all()
            )
        except ValueError:  # a value no longer readable as what it was written as
            return ChainReport(count, expected_seq, "unreadable")
        if not page:
            break
        for entry in page:
            if entry.seq != expected_seq or entry.prev_hash != prev:
                return ChainReport(count, expected_seq, "missing")
            digest = entry_hash(
                prev,
                entry.seq,
                entry.at,
                entry.actor,
                entry.action,
                entry.subject_kind,
                entry.subject_key,
                entry.before,
                entry.after,
            )
            if digest != entry.hash:
                return ChainReport(count, entry.seq, "edited")
            if anchor is not None and entry.seq == anchor[0] and digest != anchor[1]:
                return ChainReport(count, entry.seq, "anchor")
            prev, expected_seq, count = digest, expected_seq + 1, count + 1
    if count != head_seq or prev != head_hash:
        return ChainReport(count, count + 1, "tail_missing")
    if anchor is not None and anchor[0] > head_seq:
        return ChainReport(count, head_seq + 1, "anchor")
    return ChainReport(count, head_hash=head_hash)


async def entries(
    session: AsyncSession,
    *,
    since: dt.datetime | None = None,
    actor: str | None = None,
    kind: str | None = None,
    limit: int = 50,
) -> tuple[list[AuditEntry], int]:
    """The newest ``limit`` entries that match, oldest first, and how many match in all.
    ``kind`` is an action (``draw:commit``), its group (``draw``) or a subject kind
    (``officers``)."""
    conditions = []
    if since is not None:
        conditions.append(AuditEntry.at >= since)
    if actor is not None:
        conditions.append(AuditEntry.actor == actor)
    if kind is not None:
        conditions.append(
            or_(
                AuditEntry.action == kind,
                AuditEntry.action.startswith(f"{kind}:", autoescape=True),
                AuditEntry.subject_kind == kind,
            )
        )
    total = (
        await session.execute(select(func.count()).select_from(AuditEntry).where(*conditions))
    ).scalar_one()
    newest = select(AuditEntry).where(*conditions).order_by(AuditEntry.seq.desc()).limit(limit)
    rows = list((await session.execute(newest)).scalars())
    return rows[::-1], total


async def latest_after(
    session: AsyncSession, action: str, subject_kind: str, subject_key: str
) -> dict[str, Any] | None:
    """The recorded "after" of the newest entry for this action and subject, if any."""
    row = (
        await session.execute(
            select(AuditEntry.after)
            .where(
                AuditEntry.action == action,
                AuditEntry.subject_kind == subject_kind,
                AuditEntry.subject_key == subject_key,
            )
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    value = json.loads(row)
    return value if isinstance(value, dict) else None
