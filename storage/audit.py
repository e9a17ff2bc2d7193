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

from sqlalchemy import Table, select, update
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


async def append(session: AsyncSession, changes: Sequence[Change], at: dt.datetime) -> None:
    """Append entries in the caller's transaction; they commit or vanish with its changes."""
    if not changes:
        return
    # Writing the head row first takes its lock (a row lock on PostgreSQL and MariaDB, the write
    # lock on SQLite) before we read it, so two writers can never chain onto the same entry.
    await session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq)
    )
    seq, prev = (
        await session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID))
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
    problem: str | None = None  # "edited" | "missing" | "tail_missing"

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


async def verify(session: AsyncSession) -> ChainReport:
    """Walk the whole chain in pages and report the first entry that does not hold."""
    head_seq, head_hash = (
        await session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID))
    ).one()
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    while True:
        page = (
            await session.execute(
                select(AuditEntry)
                .where(AuditEntry.seq >= expected_seq)
                .order_by(AuditEntry.seq)
                .limit(_VERIFY_PAGE)
            )
        ).scalars()
        seen = 0
        for entry in page:
            seen += 1
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
            prev, expected_seq, count = digest, expected_seq + 1, count + 1
        if seen < _VERIFY_PAGE:
            break
    if count != head_seq or prev != head_hash:
        return ChainReport(count, count + 1, "tail_missing")
    return ChainReport(count)
