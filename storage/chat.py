"""Rows the bot reads and writes: inbound events, the outbox, and who is behind an account.

Owns the durable parts of the chat flow: storing an event once (the unique key makes retried
callbacks no-ops), locking an event and its person while it is handled (so two events of one
person never interleave, across processes), and claiming outbox rows for sending.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, and_, delete, exists, false, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    EventState,
    InboundEvent,
    OutboxMessage,
    OutboxState,
    Person,
    RobotSign,
)

CLAIM_SECONDS = 60
# Which registry column holds each platform's user ids (WeCom ids are stored lower case).
ACCOUNT_COLUMNS = {"wecom": Person.wecom_userid, "dingtalk": Person.dingtalk_userid}


DEDUP_KEY_LENGTH = 200  # the column's width: a longer platform key is stored cut to it


def event_key(platform: str, dedup_key: str) -> tuple[str, str]:
    """An event's identity as stored, and as store_events reports what it stored."""
    return platform, dedup_key[:DEDUP_KEY_LENGTH]


async def store_events(
    session: AsyncSession | AsyncConnection, rows: Sequence[dict[str, Any]]
) -> dict[tuple[str, str], int]:
    """Store new events in one statement; the ids of those stored now, by (platform, key).

    Keys stored before (a retried callback) are skipped by the database itself, so concurrent
    retries can never both be taken as new, whichever process they reach.
    """
    if not rows:
        return {}
    values = [
        {
            "platform": r["platform"],
            "dedup_key": event_key(r["platform"], r["dedup_key"])[1],
            "sender": r["sender"][:64],
            "payload": r["payload"],
            "received_at": r["received_at"],
            "state": EventState.PENDING,
            "attempts": 0,
        }
        for r in rows
    ]
    table = cast(Table, InboundEvent.__table__)
    columns = [table.c.id, table.c.platform, table.c.dedup_key]
    returned = await _insert_new(session, table, values, ["platform", "dedup_key"], columns)
    return {(platform, key): event_id for event_id, platform, key in returned}


async def stored_keys(
    session: AsyncSession | AsyncConnection, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these events (platform, key) are stored."""
    if not keys:
        return set()
    wanted = [event_key(platform, key) for platform, key in keys]
    query = select(InboundEvent.platform, InboundEvent.dedup_key).where(
        tuple_(InboundEvent.platform, InboundEvent.dedup_key).in_(wanted)
    )
    return {(platform, key) for platform, key in await session.execute(query)}


async def _insert_new(
    session: AsyncSession | AsyncConnection,
    table: Table,
    values: list[dict[str, Any]],
    keys: list[str],
    returning: list[Any],
) -> list[Any]:
    """INSERT the rows whose unique ``keys`` are new, skip the rest; the new rows' ``returning``.

    The database decides, so two processes racing on one key can never both win.
    """
    bind = session if isinstance(session, AsyncConnection) else session.get_bind()
    backend = bind.dialect.name
    if backend in ("sqlite", "postgresql"):
        dialect_insert = sqlite_insert if backend == "sqlite" else postgresql_insert
        statement: Any = dialect_insert(table).on_conflict_do_nothing(index_elements=keys)
    else:  # MariaDB 10.5+ returns the rows INSERT IGNORE actually inserted
        statement = insert(table).prefix_with("IGNORE")
    # The rows as parameters of one cached statement, not literal VALUES: SQLAlchemy then
    # batches them itself ("insertmanyvalues") instead of building and compiling a new
    # statement for every batch, which cost more than the rest of an acknowledgement.
    return list(await session.execute(statement.returning(*returning), values))


SIGN_LENGTH = 100  # the column's width


async def spend_sign(session: AsyncSession, sign: str, now: dt.datetime) -> bool:
    """Record a robot-callback sign; False if it was used before (a replay)."""
    return bool(await spend_signs(session, {sign: now}))


async def spend_signs(
    session: AsyncSession | AsyncConnection, signs: dict[str, dt.datetime]
) -> set[str]:
    """Record robot-callback signs (each with when it was seen); those not used before. A sign
    is spent in the same transaction as the event it carried: if that cannot be stored, the
    platform's retry, under the same sign, is not taken for a replay."""
    if not signs:
        return set()
    table = cast(Table, RobotSign.__table__)
    rows = [{"sign": sign[:SIGN_LENGTH], "seen_at": seen} for sign, seen in signs.items()]
    spent = {row.sign for row in await _insert_new(session, table, rows, ["sign"], [table.c.sign])}
    return {sign for sign in signs if sign[:SIGN_LENGTH] in spent}


async def probe_write(connection: AsyncConnection) -> None:
    """A write that changes nothing, to learn whether the database takes writes at all (a
    read-only file or server refuses it; a locked one makes it wait). The caller's transaction
    is rolled back."""
    await connection.execute(update(RobotSign).where(false()).values(sign=RobotSign.sign))


async def forget_signs(session: AsyncSession, seen_before: dt.datetime) -> int:
    """Drop the signs first seen before ``seen_before``; how many. Keep them for at least two
    sign windows: a sign is bound to its timestamp, so once that is out of the window a
    replay is refused by the timestamp check without the record."""
    result = await session.execute(delete(RobotSign).where(RobotSign.seen_at < seen_before))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def lock_pending_event(session: AsyncSession, event_id: int) -> InboundEvent | None:
    """The event, if still pending, locked for the rest of the transaction; else None.

    A write comes first, on purpose: on SQLite it takes the database's write lock at once
    (SELECT … FOR UPDATE does nothing there), on PostgreSQL and MariaDB the row lock. A second
    handler of the same event waits, then finds it no longer pending.
    """
    claimed = await session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == event_id, InboundEvent.state == EventState.PENDING)
        .values(attempts=InboundEvent.attempts)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    query = (
        select(InboundEvent)
        .where(InboundEvent.id == event_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one()


async def first_untried_before(session: AsyncSession, event_id: int) -> int | None:
    """The oldest event of the same sender that came before ``event_id`` and is still waiting
    for its first try; None if there is none. (One that failed already got its apology and is
    retried later: it does not hold up the sender's newer messages.)"""
    event = await session.get(InboundEvent, event_id)
    if event is None:
        return None
    query = (
        select(InboundEvent.id)
        .where(
            InboundEvent.platform == event.platform,
            InboundEvent.sender == event.sender,
            InboundEvent.state == EventState.PENDING,
            InboundEvent.attempts == 0,
            InboundEvent.id < event_id,
        )
        .order_by(InboundEvent.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def pending_event_ids(session: AsyncSession, received_before: dt.datetime) -> list[int]:
    """Pending events older than ``received_before`` (newer ones are still in the queue)."""
    rows = await session.execute(
        select(InboundEvent.id)
        .where(
            InboundEvent.state == EventState.PENDING,
            InboundEvent.received_at < received_before,
        )
        .order_by(InboundEvent.id)
    )
    return list(rows.scalars())


async def lock_person_by_account(
    session: AsyncSession, platform: str, account: str
) -> Person | None:
    """The person behind a platform account, row-locked for the rest of the transaction."""
    return await person_by_account(session, platform, account, lock=True)


async def person_by_account(
    session: AsyncSession, platform: str, account: str, *, lock: bool = False
) -> Person | None:
    """The person behind a platform account (row-locked with ``lock``)."""
    column = ACCOUNT_COLUMNS[platform]  # KeyError for a platform with no registry column
    value = account.lower() if platform == "wecom" else account
    query = select(Person).where(column == value)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def enqueue(
    session: AsyncSession,
    platform: str,
    recipient: str,
    body: dict[str, Any],
    now: dt.datetime,
    event_id: int | None = None,
    card_id: int | None = None,
) -> None:
    """Queue a message (a card keeps the question it asks, ``body["subject"]``); with
    ``card_id``, an update of that card."""
    session.add(OutboxMessage(**_outbox_row(platform, recipient, body, now, event_id, card_id)))


def _outbox_row(
    platform: str,
    recipient: str,
    body: dict[str, Any],
    now: dt.datetime,
    event_id: int | None,
    card_id: int | None = None,
) -> dict[str, Any]:
    return {
        "platform": platform,
        "recipient": recipient,
        "body": body,
        "state": OutboxState.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "event_id": event_id,
        "subject": str(body.get("subject") or "")[:40] or None,
        "card_id": card_id,
    }


async def enqueue_many(
    session: AsyncSession,
    messages: Sequence[tuple[str, str, dict[str, Any]]],
    now: dt.datetime,
    event_id: int | None = None,
) -> None:
    """Queue many messages, (platform, recipient, body) each, in one INSERT (a tick's
    thousands of digests: as ORM objects SQLite wrote them one statement each). Whatever the
    session still holds is written first, so that the outbox keeps the order things were
    queued in."""
    if not messages:
        return
    await session.flush()
    rows = [_outbox_row(platform, to, body, now, event_id) for platform, to, body in messages]
    # The table, not the entity: the ORM's bulk path would look at each row again.
    await session.execute(insert(cast(Table, OutboxMessage.__table__)), rows)


def message_ref(message: OutboxMessage) -> str:
    """A message's ref: stable for its row, unique across databases (a rebuilt one restarts
    its ids). A card goes out under it, so a press on the card names the row again."""
    return f"{int(message.created_at.timestamp() * 1000)}-{message.id}"


async def open_cards(session: AsyncSession, subject: str) -> list[OutboxMessage]:
    """The cards asking ``subject`` that are not closed yet and still can be: sent with a
    handle to change them, or on their way; none given up on, none with an update queued."""
    update = aliased(OutboxMessage)
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.subject == subject,
            OutboxMessage.card_id.is_(None),
            OutboxMessage.state != OutboxState.DEAD,
            or_(OutboxMessage.state != OutboxState.SENT, OutboxMessage.handle.is_not(None)),
            ~exists().where(update.card_id == OutboxMessage.id),
        )
        .order_by(OutboxMessage.id)
    )
    return list((await session.execute(query)).scalars())


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= now),
        # A sender that died mid-send leaves its claim to expire; the row is sent again (the
        # platform's duplicate check keeps the person from seeing it twice).
        and_(OutboxMessage.state == OutboxState.SENDING, OutboxMessage.claimed_until < now),
    )


async def claim_due(session: AsyncSession, now: dt.datetime, limit: int) -> list[OutboxMessage]:
    """Claim up to ``limit`` due messages for this sender; others skip claimed rows."""
    ids = list(
        (
            await session.execute(
                select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
            )
        ).scalars()
    )
    claimed = []
    until = now + dt.timedelta(seconds=CLAIM_SECONDS)
    for message_id in ids:
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, _due(now))
            .values(state=OutboxState.SENDING, claimed_until=until)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(message_id)
    if not claimed:
        return []
    rows = await session.execute(
        select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id)
    )
    return list(rows.scalars())


async def mark(
    session: AsyncSession,
    message_id: int,
    state: OutboxState,
    *,
    now: dt.datetime,
    error: str | None = None,
    next_attempt_at: dt.datetime | None = None,
    count_attempt: bool = True,
    handle: str = "",
) -> None:
    values: dict[str, Any] = {"state": state, "claimed_until": None, "last_error": error}
    if handle:
        values["handle"] = handle[:255]
    if count_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    if state is OutboxState.SENT:
        values["sent_at"] = now
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(values)
    )


async def outbox_rows(
    session: AsyncSession, states: Sequence[OutboxState] | None = None, limit: int = 100
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if states:
        query = query.where(OutboxMessage.state.in_(states))
    return list((await session.execute(query)).scalars())


async def retry_message(session: AsyncSession, message_id: int, now: dt.datetime) -> bool:
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.state == OutboxState.DEAD)
        .values(state=OutboxState.PENDING, attempts=0, next_attempt_at=now, last_error=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def sent_to(
    session: AsyncSession, platform: str, recipient: str, since: dt.datetime
) -> list[dt.datetime]:
    """When messages were sent to this recipient since ``since``, oldest first."""
    rows = await session.execute(
        select(OutboxMessage.sent_at)
        .where(
            OutboxMessage.platform == platform,
            OutboxMessage.recipient == recipient,
            OutboxMessage.state == OutboxState.SENT,
            OutboxMessage.sent_at > since,
        )
        .order_by(OutboxMessage.sent_at)
    )
    return [at for at in rows.scalars() if at is not None]


async def event_rows(
    session: AsyncSession, states: Sequence[EventState] | None = None, limit: int = 100
) -> list[InboundEvent]:
    query = select(InboundEvent).order_by(InboundEvent.id.desc()).limit(limit)
    if states:
        query = query.where(InboundEvent.state.in_(states))
    return list((await session.execute(query)).scalars())


async def state_counts(
    session: AsyncSession, model: type[OutboxMessage] | type[InboundEvent]
) -> dict[str, int]:
    """How many outbox messages (or inbound events) are in each state, by state value."""
    rows = await session.execute(select(model.state, func.count()).group_by(model.state))
    return {state.value: count for state, count in rows}


async def retry_event(session: AsyncSession, event_id: int) -> bool:
    """Put an event given up on back in line (a running server retries it within a minute)."""
    result = await session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == event_id, InboundEvent.state == EventState.FAILED)
        .values(state=EventState.PENDING, attempts=0, last_error=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
