"""An officer's browser inside WeCom's or DingTalk's app, for the findings page's tests.

It keeps its own cookies (the page's session, and the fake platform's record of who is logged
in to its app), opens links the way the app does (through the fake's ``/fake/browser``), and
does what the page's script would: on DingTalk's login page, it asks the fake JSAPI endpoint
for the one-time code and posts it with the page's state.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import aiohttp

from bot.platforms.fakes import FakeWeCom
from tests.e2e.phones import Phones


@dataclass
class Shown:
    status: int
    text: str
    url: str
    content: bytes = b""
    content_type: str = ""

    @property
    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.text)
        assert found, self.text
        return html.unescape(found.group(1))

    def form(self, form_id: str = "answers") -> list[tuple[str, str]]:
        """What the browser would send for the form as it stands (no button pressed)."""
        reader = _FormReader(form_id)
        reader.feed(self.text)
        return reader.fields

    def filled(self, values: dict[str, Any], action: str = "save") -> list[tuple[str, str]]:
        """The answers form as the officer sends it: as it stands, with ``values`` entered
        by question id (a list for the boxes ticked), and the button pressed."""
        given = {f"q.{q}" for q in values}
        data = [(k, v) for k, v in self.form() if k not in given]
        if action != "save":
            data.append(("action", action))
        for q, value in values.items():
            for one in value if isinstance(value, list) else [value]:
                data.append((f"q.{q}", one))
        return data

    def field(self, name: str) -> str:
        found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', self.text)
        assert found, self.text
        return html.unescape(found.group(1))


class _FormReader(HTMLParser):
    """A form's successful controls, as a browser serializes them: text, date and hidden
    inputs always, radios and checkboxes when checked, textareas with their text."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, []
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif self.inside and tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            if kind not in ("file", "submit"):
                self.fields.append((a["name"], a.get("value", "")))
        elif self.inside and tag == "textarea":
            self.textarea = a.get("name", "")
            self.fields.append((self.textarea, ""))

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            name, before = self.fields[-1]
            self.fields[-1] = (name, before + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self.textarea = None
        elif tag == "form":
            self.inside = False


class Browser:
    def __init__(self, p: Phones, user: str) -> None:
        self.p, self.user = p, user
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def open(self, url: str) -> Shown:
        """Open a link from a chat message, as the platform's app does."""
        entry = f"{self.p.fake_base}/fake/browser?" + urllib.parse.urlencode(
            {"user": self.user, "url": url}
        )
        shown = await self.get(entry)
        if not isinstance(self.p.fake, FakeWeCom) and 'name="state"' in shown.text:
            shown = await self._dingtalk_login(shown)
        return shown

    async def _dingtalk_login(self, login: Shown) -> Shown:
        """What the login page's script does: dd.getAuthCode, then post the code."""
        corp = re.search(r"corpId: \"([^\"]+)\"", login.text)
        assert corp, login.text
        ask = f"{self.p.fake_base}/fake/authcode?corpId={corp.group(1)}"
        async with self.http.get(ask) as response:
            code = (await response.json())["code"]
        action = re.search(r'<form id="login" method="post" action="([^"]+)"', login.text)
        assert action, login.text
        return await self.post(
            html.unescape(action.group(1)), {"state": login.field("state"), "code": code}
        )

    async def get(self, url: str, **kwargs: Any) -> Shown:
        async with self.http.get(url, **kwargs) as response:
            return await _shown(response)

    async def post(self, url: str, data: Any, **kwargs: Any) -> Shown:
        async with self.http.post(url, data=data, **kwargs) as response:
            return await _shown(response)


async def _shown(response: aiohttp.ClientResponse) -> Shown:
    body = await response.read()
    return Shown(
        response.status,
        body.decode("utf-8", "replace"),
        str(response.url),
        body,
        response.content_type,
    )
