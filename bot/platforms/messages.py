"""The one platform-neutral model of chat, each way.

In: what a person did (sent text, clicked a button, submitted a form, opened the app).
Out: what the bot says (text, markdown, a card with buttons, a question in words with options
to tick on a card, a link card to a page), and the change of a card already sent once its
question is settled (its buttons give way to the outcome); what a platform answered for a
message (``Receipt``).
Adapters in bot/platforms translate both; nothing else knows a platform's wire format.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any


class Platform(enum.Enum):
    WECOM = "wecom"
    DINGTALK = "dingtalk"


class InboundKind(enum.Enum):
    TEXT = "text"
    CLICK = "click"  # a card button: ``action`` is the button's key
    FORM = "form"  # a form submission: ``fields`` holds the answers
    ENTER = "enter"  # the person opened the app / chat
    IMAGE = "image"  # a picture: ``fields["media"]`` is the platform's handle to fetch it by


@dataclass(frozen=True)
class Inbound:
    """One event from a person, as every handler sees it."""

    platform: Platform
    dedup_key: str  # unique per platform: MsgId, FromUserName+CreateTime, msgId, eventId
    sender: str  # the platform's user id (WeCom userid, DingTalk staffId)
    kind: InboundKind
    received_at: dt.datetime
    text: str = ""
    action: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    reply_token: str = ""  # WeCom ResponseCode / DingTalk sessionWebhook or outTrackId, if any
    card: str = ""  # the pressed card's ref as it was sent (see card_id), if it is one of ours


CARD_PREFIX = "suiji-"


def card_id(ref: str) -> str:
    """The id a card goes out under (WeCom task_id, DingTalk outTrackId) for an outbox ref."""
    return CARD_PREFIX + ref


def card_ref(platform_card_id: str) -> str:
    """The outbox ref of a card from the id a press names; "" for a card not sent by suiji."""
    return (
        platform_card_id.removeprefix(CARD_PREFIX)
        if platform_card_id.startswith(CARD_PREFIX)
        else ""
    )


@dataclass(frozen=True)
class Receipt:
    """What the platform answered for a message it took."""

    handle: str = ""  # its handle to change this card later (WeCom response_code, outTrackId)
    note: str = ""  # why nothing was changed, for an update the platform could not apply


@dataclass(frozen=True)
class Button:
    key: str  # comes back as Inbound.action when clicked
    label: str


MAX_CHOICE_OPTIONS = 20  # options on a card to tick (WeCom's vote card holds 1 to 20)
MAX_MARKDOWN_BYTES = 2048  # WeCom's markdown message holds this many UTF-8 bytes; cut beyond


@dataclass(frozen=True)
class Choice:
    """A question's options to tick on a card and submit: the card part of an ``Outgoing`` of
    kind "choice", whose ``text`` asks the same question in words. A platform with such a card
    (WeCom's vote card) shows both; one without shows the words only, and the answer is typed.
    """

    key: str  # names the question: comes back as Inbound.action on submit, and in its fields
    heading: str  # the card's title: the question
    hint: str  # under it: how to answer
    options: tuple[str, ...]  # each option's id on the card is its number, from 1
    multiple: bool = False
    checked: tuple[int, ...] = ()  # the numbers ticked already (the answer given before)
    submit: str = ""  # the submit button's label

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "heading": self.heading,
            "hint": self.hint,
            "options": list(self.options),
            "multiple": self.multiple,
            "checked": list(self.checked),
            "submit": self.submit,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Choice:
        return Choice(
            data["key"],
            data["heading"],
            data["hint"],
            tuple(data["options"]),
            bool(data.get("multiple", False)),
            tuple(int(n) for n in data.get("checked", ())),
            data.get("submit", ""),
        )


@dataclass(frozen=True)
class Outgoing:
    """One message to one person. ``kind`` picks which of the other fields matter."""

    # "text" | "markdown" | "card" | "choice" (markdown, with ``choice``) | "link" | "update"
    # (a card already sent)
    kind: str
    text: str
    title: str = ""
    buttons: tuple[Button, ...] = ()
    url: str = ""
    token: str = ""  # for "update": the platform's handle on the card, if known when queued
    # For a card: the question it asks (e.g. "approval:5"), so that every card asking it can be
    # closed once it is settled, however it was answered.
    subject: str = ""
    # The same words may rightly be sent again soon (a form's question asked again): WeCom's
    # duplicate check would drop the second silently. Set where a copy after a crash (the one
    # thing the check is for) is harmless.
    repeatable: bool = False
    choice: Choice | None = None

    @staticmethod
    def card_update(token: str, outcome: str) -> Outgoing:
        """Replace a card's buttons with ``outcome``; ``token`` is the platform's handle on it
        ("" to use the one the card was sent with)."""
        return Outgoing("update", outcome, token=token)

    @staticmethod
    def plain(text: str) -> Outgoing:
        return Outgoing("text", text)

    @staticmethod
    def card(title: str, text: str, buttons: tuple[Button, ...], subject: str = "") -> Outgoing:
        return Outgoing("card", text, title=title, buttons=buttons, subject=subject)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "text": self.text,
            "title": self.title,
            "buttons": [{"key": b.key, "label": b.label} for b in self.buttons],
            "url": self.url,
            "token": self.token,
            "subject": self.subject,
        }
        if self.choice is not None:
            data["choice"] = self.choice.to_json()
        return {**data, "repeatable": True} if self.repeatable else data

    @staticmethod
    def from_json(data: dict[str, Any]) -> Outgoing:
        return Outgoing(
            data["kind"],
            data["text"],
            title=data.get("title", ""),
            buttons=tuple(Button(b["key"], b["label"]) for b in data.get("buttons", [])),
            url=data.get("url", ""),
            token=data.get("token", ""),
            subject=data.get("subject", ""),
            repeatable=data.get("repeatable", False),
            choice=Choice.from_json(data["choice"]) if data.get("choice") else None,
        )
