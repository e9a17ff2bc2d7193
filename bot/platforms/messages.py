"""The one platform-neutral model of chat, each way.

In: what a person did (sent text, clicked a button, submitted a form, opened the app).
Out: what the bot says (text, markdown, a card with buttons, a link card to a page).
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
    reply_token: str = ""  # WeCom ResponseCode / DingTalk sessionWebhook, if any


@dataclass(frozen=True)
class Button:
    key: str  # comes back as Inbound.action when clicked
    label: str


@dataclass(frozen=True)
class Outgoing:
    """One message to one person. ``kind`` picks which of the other fields matter."""

    kind: str  # "text" | "markdown" | "card" | "link" | "update" (a card already sent)
    text: str
    title: str = ""
    buttons: tuple[Button, ...] = ()
    url: str = ""
    token: str = ""  # for "update": the platform's handle on the clicked card
    # The same words may rightly be sent again soon (a question asked again, 「我的任务」 asked
    # twice): WeCom's duplicate check would drop the second silently. Set on answers to what a
    # person just asked, where a copy after a crash is harmless.
    repeatable: bool = False

    @staticmethod
    def card_update(token: str, outcome: str) -> Outgoing:
        """Replace the buttons of the card a person just clicked with ``outcome``."""
        return Outgoing("update", outcome, token=token)

    @staticmethod
    def plain(text: str) -> Outgoing:
        return Outgoing("text", text)

    @staticmethod
    def card(title: str, text: str, buttons: tuple[Button, ...]) -> Outgoing:
        return Outgoing("card", text, title=title, buttons=buttons)

    def to_json(self) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "text": self.text,
            "title": self.title,
            "buttons": [{"key": b.key, "label": b.label} for b in self.buttons],
            "url": self.url,
            "token": self.token,
        }
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
            repeatable=data.get("repeatable", False),
        )
