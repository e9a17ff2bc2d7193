"""Evidence photos sent in chat, fetched in the background (never inside a callback).

Each pending photo is claimed (so several processes never fetch the same one), fetched from
its platform (WeCom ``media/get``; DingTalk ``messageFiles/download`` then the short-lived
URL), checked — at most ``max_bytes``, and a picture by its own bytes — put in the file store
under its SHA-256, and added to its finding in one transaction with its audit entry. A fetch
that fails is retried with backoff; the officer is told only when it finally fails, or at once
when the file is too big or not a picture.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.platforms.errors import SendFailed
from bot.server.outbox import backoff
from bot.workflows import findings
from bot.workflows.step import Policy, Step
from storage.engine import unit_of_work
from storage.files import FileStore, image_type
from storage.models import FindingPhoto, PhotoState

log = logging.getLogger("suiji.photos")
Factory = async_sessionmaker[AsyncSession]
CLAIM = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 6  # about two minutes of backoff: WeCom keeps media three days, DingTalk less


class MediaSource(Protocol):
    async def fetch(self, source: str, max_bytes: int) -> bytes:
        """The file; SendFailed(retry=…) when it cannot be had, ``too_big`` past the cap."""


async def _claim(factory: Factory, now: dt.datetime) -> FindingPhoto | None:
    async with unit_of_work(factory) as session:
        due = await session.execute(
            select(FindingPhoto.id)
            .where(FindingPhoto.state == PhotoState.PENDING, FindingPhoto.next_attempt_at <= now)
            .order_by(FindingPhoto.id)
            .limit(5)
        )
        for photo_id in due.scalars():
            claimed = await session.execute(
                update(FindingPhoto)
                .where(
                    FindingPhoto.id == photo_id,
                    FindingPhoto.state == PhotoState.PENDING,
                    FindingPhoto.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + CLAIM)
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                return await session.get(FindingPhoto, photo_id)
    return None


async def fetch_due(
    factory: Factory,
    sources: dict[str, MediaSource],
    store: FileStore,
    clock: Callable[[], dt.datetime],
    policy: Policy,
    max_bytes: int,
) -> int:
    """Fetch every photo due now; how many were handled."""
    handled = 0
    while (photo := await _claim(factory, clock())) is not None:
        handled += 1
        outcome = await _fetch(photo, sources, max_bytes)
        async with unit_of_work(factory) as session:
            row = await session.get(FindingPhoto, photo.id, with_for_update=True)
            if row is None or row.state is not PhotoState.PENDING:
                continue
            step = Step(session, policy, clock(), "scheduler")
            if isinstance(outcome, bytes):
                kind = image_type(outcome)
                if kind is None:
                    await findings.photo_failed(step, row, "not_image")
                    continue
                sha256 = store.put(outcome)
                await findings.photo_stored(step, row, sha256, len(outcome), kind)
                continue
            retry, reason = outcome
            row.attempts += 1
            row.last_error = reason[:2000]
            if retry and row.attempts < MAX_ATTEMPTS:
                row.next_attempt_at = clock() + backoff(row.attempts)
            else:
                log.warning("photo %s given up: %s", row.id, reason)
                await findings.photo_failed(step, row, reason)
    return handled


async def _fetch(
    photo: FindingPhoto, sources: dict[str, MediaSource], max_bytes: int
) -> bytes | tuple[bool, str]:
    source = sources.get(photo.platform)
    if source is None:
        return False, f"no {photo.platform} client"
    try:
        data = await source.fetch(photo.source, max_bytes)
    except SendFailed as failure:
        return failure.retry, failure.reason
    if len(data) > max_bytes:
        return False, f"too_big: {len(data)} bytes"
    return data
