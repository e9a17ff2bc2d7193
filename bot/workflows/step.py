"""What every step of a chat workflow shares: the transaction, the clock, the rules in force,
and the mail — messages to people, written to the outbox in that same transaction.

Owns how a person is reached: on the first configured platform where they have an account
(WeCom before DingTalk), so that one person never gets the same message twice; and closing the
cards that asked a question once it is settled, whoever settled it and however.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.base.config import ReminderSettings, Settings
from bot.forms.catalog import site_folder
from bot.platforms.messages import Outgoing
from storage import audit
from storage import chat as chat_db
from storage.models import Person

log = logging.getLogger("suiji.workflow")
PLATFORMS = ("wecom", "dingtalk")
DEFAULT_REMINDERS = ReminderSettings()


@dataclass(frozen=True)
class Policy:
    """The configurable rules of the workflows (config section ``[assignments]``) and the
    platforms messages go out on."""

    platforms: tuple[str, ...] = PLATFORMS
    timezone: str = "Asia/Shanghai"
    remind_after_hours: int = 24
    decline_closes_days_before_start: int = 0
    # How long the bot waits for a reason it asked for before forgetting the question.
    conversation_minutes: int = 60
    # A form open in chat waits this long for its next answer (the draft itself never expires).
    form_hours: int = 24
    # A teammate may take over a draft left untouched this long.
    findings_hold_minutes: int = 120
    forms_site: Path | None = None  # the site's own form definitions, if any
    # Where people reach suiji serve's read-only pages from outside; "" when nobody can.
    public_url: str = ""
    # Whether the findings page can be opened (a session secret, a public address, and a
    # platform that says who opens it): chat then offers its link.
    finding_pages: bool = False
    # [reminders]: when deadlines fall due and how they are reminded.
    deadlines: ReminderSettings = DEFAULT_REMINDERS

    @property
    def conversation_timeout(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.conversation_minutes)

    @property
    def form_timeout(self) -> dt.timedelta:
        return dt.timedelta(hours=self.form_hours)

    @property
    def hold_time(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.findings_hold_minutes)

    @property
    def tz(self) -> dt.tzinfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def finding_page(self, finding_id: int) -> str:
        """The link to a finding's page, or "" when there is no page."""
        if not (self.finding_pages and self.public_url):
            return ""
        return f"{self.public_url}/h5/findings/{finding_id}"

    def address(self, person: Person) -> tuple[str, str] | None:
        """(platform, account) to reach this person on, or None if they have no account."""
        for platform in self.platforms:
            account = person.wecom_userid if platform == "wecom" else person.dingtalk_userid
            if account:
                return platform, account
        return None


DEFAULT_POLICY = Policy()


def policy_of(settings: Settings) -> Policy:
    enabled = tuple(p for p in PLATFORMS if getattr(settings, p).enabled)
    return Policy(
        platforms=enabled or PLATFORMS,
        timezone=settings.app.timezone,
        remind_after_hours=settings.assignments.remind_after_hours,
        decline_closes_days_before_start=settings.assignments.decline_closes_days_before_start,
        deadlines=settings.reminders,
        forms_site=site_folder(settings.source),
        public_url=settings.server.public_url,
        finding_pages=bool(
            settings.server.public_url
            and settings.server.session_secret
            and (settings.wecom.enabled or settings.dingtalk.page_login)
        ),
    )


class Forbidden(Exception):
    """Not this person's to see (a page of another team's): one answer for every reason, so
    nothing is given away."""


@dataclass(frozen=True)
class Pressed:
    """The card whose button brought the event being handled: its outbox ref, and the handle
    the press came with (WeCom's ResponseCode: fresh, so it still works when the one the card
    was sent with has expired)."""

    card: str
    token: str

    def to_json(self) -> dict[str, str]:
        return {"card": self.card, "token": self.token}

    @staticmethod
    def from_json(data: object) -> Pressed | None:
        if not isinstance(data, dict) or not data.get("card"):
            return None
        return Pressed(str(data["card"]), str(data.get("token", "")))


@dataclass
class Step:
    """One workflow step inside one transaction."""

    session: AsyncSession
    policy: Policy
    now: dt.datetime
    actor: str  # who did it, for the audit log
    event_id: int | None = None
    unreachable: list[str] = field(default_factory=list)
    pressed: Pressed | None = None

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(self.policy.tz).date()

    def send(self, person: Person, *messages: Outgoing) -> None:
        """Queue messages to a person; they go out once the transaction commits."""
        address = self._address(person)
        if address is None:
            return
        platform, account = address
        for message in messages:
            chat_db.enqueue(
                self.session, platform, account, message.to_json(), self.now, self.event_id
            )

    async def send_all(self, mail: Sequence[tuple[Person, Outgoing]]) -> None:
        """Queue one message to each of many people at once (one INSERT: a reminder tick's
        thousands of digests)."""
        found = []
        for person, message in mail:
            address = self._address(person)
            if address is not None:
                found.append((*address, message.to_json()))
        await chat_db.enqueue_many(self.session, found, self.now, self.event_id)

    def _address(self, person: Person) -> tuple[str, str] | None:
        address = self.policy.address(person)
        if address is None:
            log.warning(
                "%s has no account on %s; message not sent", person.id, self.policy.platforms
            )
            self.unreachable.append(person.name)
        return address

    async def close_cards(self, subject: str, outcome: str) -> None:
        """Every card still open that asks ``subject`` has its buttons give way to ``outcome``
        (through the outbox, once the card itself is sent): everyone it went to sees that the
        question is settled, whoever settled it and however."""
        for card in await chat_db.open_cards(self.session, subject):
            pressed = self.pressed
            token = pressed.token if pressed and pressed.card == chat_db.message_ref(card) else ""
            chat_db.enqueue(
                self.session,
                card.platform,
                card.recipient,
                Outgoing.card_update(token, outcome).to_json(),
                self.now,
                self.event_id,
                card_id=card.id,
            )

    async def audit(
        self,
        action: str,
        subject_kind: str,
        subject_key: object,
        before: dict[str, object] | None,
        after: dict[str, object] | None,
    ) -> None:
        change = audit.Change(self.actor, action, subject_kind, str(subject_key), before, after)
        await audit.append(self.session, [change], self.now)
