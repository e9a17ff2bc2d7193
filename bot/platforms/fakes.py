"""Fake WeCom and DingTalk servers, as aiohttp apps, for the sandbox and the tests.

They behave like the platforms where suiji depends on it: access tokens that expire and can be
revoked, error codes (40014, 42001, 45009, 42014 for a reused card task id; DingTalk's 400
InvalidAuthentication and 403 QPS limit), WeCom's duplicate check and its silent drop of more
than 30 messages a minute to one member, and changing a card once it is answered: WeCom's
response_codes (one from sending an interactive card, one from each press) change a card once,
within 72 hours by the fake's own clock; a DingTalk interactive card changes by its outTrackId.
Callbacks to the bot are sealed exactly as the platforms seal them (encrypted XML and
signatures; DingTalk's timestamp + sign headers). Faults can be queued to test recovery.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import itertools
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.platforms.dingtalk import robot_sign
from bot.platforms.wecom import WeComCodec

PER_MEMBER_PER_MINUTE = 30
RESPONSE_CODE_SECONDS = 72 * 3600
INTERACTIVE_CARDS = {"button_interaction", "vote_interaction", "multiple_interaction"}
# WeCom waits 5 s for the answer to a callback and sends it three times in all until one is
# answered 200 (PROTOCOLS.md); ``deliver`` does the same, on both fakes.
CALLBACK_WAIT = 5.0
CALLBACK_TRIES = 3


@dataclass
class Delivered:
    """A message as the phone shows it."""

    seq: int
    user: str
    kind: str
    title: str
    text: str
    buttons: list[dict[str, str]]
    url: str
    at: float
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    # A card to tick options on (WeCom's vote card): its question key, mode, options
    # ({id, text, is_checked}), submit button ({text, key}) and task id.
    choice: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "user": self.user,
            "kind": self.kind,
            "title": self.title,
            "text": self.text,
            "buttons": self.buttons,
            "url": self.url,
            "at": self.at,
            "choice": self.choice,
        }


class _FakeBase:
    def __init__(self) -> None:
        self.delivered: list[Delivered] = []
        self.faults: collections.deque[str] = collections.deque()
        self.media_faults: collections.deque[str] = collections.deque()  # downloads only
        self.tokens: set[str] = set()
        self.calls: collections.Counter[str] = collections.Counter()
        self._seq = itertools.count(1)
        self.bot_url = ""
        self.changed = asyncio.Event()
        self.answers: list[int] = []  # the bot's answers to delivered callbacks (0: none in time)
        self.login_codes: dict[str, tuple[str, float]] = {}  # code -> (user, issued at)

    # --- who is on a page: the platform's in-app browser knows, and vouches with a code ----

    name = ""  # "wecom" | "dingtalk": the cookie the fake's "in-app browser" keeps its user in
    CODE_SECONDS = 300  # a login code lives five minutes and is good once, on both platforms

    def issue_code(self, user: str) -> str:
        code = secrets.token_urlsafe(24)
        self.login_codes[code] = (user, time.time())
        return code

    def redeem_code(self, code: str) -> str | None:
        """The user a login code was issued to, once, within its five minutes."""
        found = self.login_codes.pop(code, None)
        if found is None or time.time() - found[1] > self.CODE_SECONDS:
            return None
        return found[0]

    @property
    def browser_cookie(self) -> str:
        return f"fake_{self.name}_user"

    def browser_user(self, request: web.Request) -> str:
        return request.cookies.get(self.browser_cookie, "")

    async def browser(self, request: web.Request) -> web.Response:
        """``/fake/browser?user=…&url=…``: the platform's app opens a link as one of its users
        (the real app knows who is logged in to it; the fake is told)."""
        user, url = request.query.get("user", ""), request.query.get("url", "")
        if not user or not url.startswith(("http://", "https://", "/")):
            return web.Response(status=400, text="user and url required")
        response = web.Response(status=302, headers={"Location": url})
        response.set_cookie(self.browser_cookie, user, path="/", httponly=True, samesite="Lax")
        return response

    def inject(self, *faults: str) -> None:
        """Queue faults for the next API calls: "500", "timeout", or an error code."""
        self.faults.extend(faults)

    async def _media_fault(self) -> web.Response | None:
        """A fault for a download of a picture a person sent: those queued in
        ``media_faults`` first (sending and tokens go on unharmed), then any."""
        return await self._fault(self.media_faults if self.media_faults else None)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def messages_for(self, user: str) -> list[Delivered]:
        return [m for m in self.delivered if m.user == user]

    def _record(
        self,
        user: str,
        kind: str,
        title: str,
        text: str,
        buttons: list[dict[str, str]],
        url: str,
        raw: dict[str, Any],
        choice: dict[str, Any] | None = None,
    ) -> None:
        seq, at = next(self._seq), time.time()
        self.delivered.append(
            Delivered(seq, user, kind, title, text, buttons, url, at, raw, choice)
        )
        self.changed.set()

    async def _fault(self, queue: collections.deque[str] | None = None) -> web.Response | None:
        faults = self.faults if queue is None else queue
        if not faults:
            return None
        fault = faults.popleft()
        if fault == "500":
            return web.Response(status=500, text="internal error")
        if fault == "timeout":
            await asyncio.sleep(30)  # longer than the client waits
            return web.Response(status=504)
        return self._error(fault)

    def _error(self, code: str) -> web.Response:
        raise NotImplementedError

    async def _deliver(
        self,
        session: aiohttp.ClientSession,
        tries: int,
        pause: float,
        **request: Any,
    ) -> list[int]:
        """POST the same callback to the bot until it answers 200, as the platform would: each
        try waits ``CALLBACK_WAIT`` for the answer (0 when none came). The answers, in order."""
        statuses: list[int] = []
        for attempt in range(tries):
            if attempt:
                await asyncio.sleep(pause)
            try:
                async with session.post(
                    self.bot_url, timeout=aiohttp.ClientTimeout(total=CALLBACK_WAIT), **request
                ) as response:
                    status = response.status
            except TimeoutError:
                status = 0
            statuses.append(status)
            self.answers.append(status)
            if status == 200:
                break
        return statuses


class FakeWeCom(_FakeBase):
    """WeCom's gettoken, message/send and update_template_card, and its callbacks; and its
    OAuth2 (snsapi_base) for pages opened in its app."""

    name = "wecom"

    def __init__(self, corp_id: str, secret: str, token: str, aes_key: str, agent_id: int) -> None:
        super().__init__()
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.codec = WeComCodec(token, aes_key, corp_id)
        self.task_ids: set[str] = set()
        self.recent: dict[tuple[str, str], float] = {}
        self.per_member: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.dropped = 0
        self.duplicates = 0
        self.media: dict[str, tuple[bytes, str]] = {}  # pictures people sent: id → (file, type)
        # WeCom's per-app API budget: beyond it, 45009. None: unlimited.
        self.api_per_minute: int | None = None
        self._api_calls: collections.deque[float] = collections.deque()
        self.rate_limited = 0
        # Each response_code -> (the users it may change the card for, its task id, when it
        # was issued): single use and good for 72 hours, as WeCom's are.
        self.response_codes: dict[str, tuple[frozenset[str], str, float]] = {}
        self.clock = time.time  # the fake's clock, for the codes' lifetime; tests move it
        self.refused_updates = 0

    def _error(self, code: str) -> web.Response:
        return web.json_response({"errcode": int(code), "errmsg": f"fake error {code}"})

    async def gettoken(self, request: web.Request) -> web.Response:
        self.calls["gettoken"] += 1
        if (fault := await self._fault()) is not None:
            return fault
        if (
            request.query.get("corpid") != self.corp_id
            or request.query.get("corpsecret") != self.secret
        ):
            return self._error("40001")
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
        )

    def _token_error(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        if token not in self.tokens:
            return self._error("42001" if token else "41001")
        return None

    async def send(self, request: web.Request) -> web.Response:
        self.calls["send"] += 1
        if (fault := await self._fault()) is not None:
            return fault
        if self.api_per_minute is not None:
            now = time.time()
            while self._api_calls and now - self._api_calls[0] >= 60:
                self._api_calls.popleft()
            if len(self._api_calls) >= self.api_per_minute:
                self.rate_limited += 1
                return self._error("45009")
            self._api_calls.append(now)
        if (error := self._token_error(request)) is not None:
            return error
        body = await request.json()
        if body.get("agentid") != self.agent_id:
            return self._error("40056")
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        kind = body.get("msgtype")
        content = body.get(kind, {}) if isinstance(kind, str) else {}
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "invaliduser": ""}
        if kind == "template_card":
            task_id = content.get("task_id", "")
            if task_id in self.task_ids:
                return self._error("42014")
            self.task_ids.add(task_id)
            if content.get("card_type") in INTERACTIVE_CARDS:
                code = secrets.token_hex(12)
                self.response_codes[code] = (frozenset(users), task_id, self.clock())
                answer["response_code"] = code
        signature = json.dumps(content, sort_keys=True, ensure_ascii=False)
        now = time.time()
        for user in users:
            if body.get("enable_duplicate_check"):
                interval = body.get("duplicate_check_interval", 1800)
                last = self.recent.get((user, signature))
                self.recent[(user, signature)] = now
                if last is not None and now - last < interval:
                    self.duplicates += 1
                    continue
            window = self.per_member[user]
            while window and now - window[0] >= 60:
                window.popleft()
            if len(window) >= PER_MEMBER_PER_MINUTE:
                self.dropped += 1  # WeCom drops these silently; the API still says ok
                continue
            window.append(now)
            self._show(user, kind, content, body)
        return web.json_response(answer)

    def _show(self, user: str, kind: Any, content: dict[str, Any], raw: dict[str, Any]) -> None:
        if kind == "template_card" and content.get("card_type") == "vote_interaction":
            title = content.get("main_title", {})
            checkbox, submit = content.get("checkbox", {}), content.get("submit_button", {})
            choice = {
                "question_key": checkbox.get("question_key", ""),
                "mode": checkbox.get("mode", 0),
                "options": checkbox.get("option_list", []),
                "submit": submit,
                "task_id": content.get("task_id", ""),
            }
            text = title.get("desc", "")
            self._record(user, "vote", title.get("title", ""), text, [], "", raw, choice)
        elif kind == "template_card":
            buttons = [
                {
                    "key": b.get("key", ""),
                    "label": b.get("text", ""),
                    "task_id": content.get("task_id", ""),
                }
                for b in content.get("button_list", [])
            ]
            self._record(
                user,
                "card",
                content.get("main_title", {}).get("title", ""),
                content.get("sub_title_text", ""),
                buttons,
                "",
                raw,
            )
        elif kind == "textcard":
            self._record(
                user,
                "link",
                content.get("title", ""),
                content.get("description", ""),
                [],
                content.get("url", ""),
                raw,
            )
        else:
            self._record(user, str(kind), "", content.get("content", ""), [], "", raw)

    async def update_card(self, request: web.Request) -> web.Response:
        self.calls["update_template_card"] += 1
        if (fault := await self._fault()) is not None:
            return fault
        if (error := self._token_error(request)) is not None:
            return error
        body = await request.json()
        if body.get("agentid") != self.agent_id:
            return self._error("40056")
        issued = self.response_codes.pop(str(body.get("response_code", "")), None)
        if issued is None or self.clock() - issued[2] > RESPONSE_CODE_SECONDS:
            self.refused_updates += 1
            return self._error("40151")  # an unknown, used or expired response_code
        users, task_id, _ = issued
        chosen = set(body.get("userids", []))
        if not chosen or not chosen <= users:
            return self._error("40031")
        outcome = str(body.get("button", {}).get("replace_name", ""))
        for message in self.delivered:
            if message.user in chosen and any(b.get("task_id") == task_id for b in message.buttons):
                message.buttons = [{"label": outcome, "key": "", "task_id": task_id, "done": "1"}]
        self.changed.set()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self.gettoken)
        app.router.add_post("/cgi-bin/message/send", self.send)
        app.router.add_post("/cgi-bin/message/update_template_card", self.update_card)
        app.router.add_get("/cgi-bin/media/get", self.media_get)
        app.router.add_get("/connect/oauth2/authorize", self.authorize)
        app.router.add_get("/cgi-bin/auth/getuserinfo", self.getuserinfo)
        app.router.add_get("/fake/browser", self.browser)
        return app

    async def authorize(self, request: web.Request) -> web.Response:
        """OAuth2 inside WeCom's app: the person opening the page is known to it, so it goes
        straight back to ``redirect_uri`` with a one-time ``code`` and the page's ``state``."""
        self.calls["oauth2/authorize"] += 1
        query = request.query
        if query.get("appid") != self.corp_id or query.get("response_type") != "code":
            return web.Response(status=400, text="bad appid or response_type")
        if query.get("scope") not in ("snsapi_base", "snsapi_privateinfo"):
            return web.Response(status=400, text="bad scope")
        user, target = self.browser_user(request), query.get("redirect_uri", "")
        if not user:
            return web.Response(status=403, text="open this page in WeCom")
        if not target.startswith(("http://", "https://")):
            return web.Response(status=400, text="bad redirect_uri")
        back = urllib.parse.urlsplit(target)
        extra = urllib.parse.urlencode(
            {"code": self.issue_code(user), "state": query.get("state", "")}
        )
        joined = f"{back.query}&{extra}" if back.query else extra
        raise web.HTTPFound(urllib.parse.urlunsplit(back._replace(query=joined)))

    async def getuserinfo(self, request: web.Request) -> web.Response:
        self.calls["auth/getuserinfo"] += 1
        if (fault := await self._fault()) is not None:
            return fault
        if (error := self._token_error(request)) is not None:
            return error
        user = self.redeem_code(request.query.get("code", ""))
        if user is None:
            return self._error("40029")  # invalid code: spent, expired or never issued
        return web.json_response({"errcode": 0, "errmsg": "ok", "userid": user})

    async def media_get(self, request: web.Request) -> web.Response:
        """The file of a picture a person sent, or WeCom's JSON error (sent as text/plain)."""
        self.calls["media/get"] += 1
        if (fault := await self._media_fault()) is not None:
            return fault
        if (error := self._token_error(request)) is not None:
            return error
        found = self.media.get(request.query.get("media_id", ""))
        if found is None:
            body = json.dumps({"errcode": 40007, "errmsg": "invalid media_id"})
            return web.Response(text=body, content_type="text/plain")
        return web.Response(body=found[0], content_type=found[1])

    @staticmethod
    def image_xml(user: str, media_id: str, msg_id: int, created: int) -> str:
        return (
            f"<xml><ToUserName><![CDATA[corp]]></ToUserName><FromUserName><![CDATA[{user}]]>"
            f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[image]]>"
            f"</MsgType><PicUrl><![CDATA[http://127.0.0.1/pic]]></PicUrl><MediaId><![CDATA["
            f"{media_id}]]></MediaId><MsgId>{msg_id}</MsgId><AgentID>1</AgentID></xml>"
        )

    async def send_image(
        self, session: aiohttp.ClientSession, user: str, data: bytes, kind: str = "image/jpeg"
    ) -> int:
        """A person sends a picture: WeCom keeps it as temporary media and calls the bot."""
        media_id = secrets.token_urlsafe(24)
        self.media[media_id] = (data, kind)
        inner = self.image_xml(user, media_id, secrets.randbelow(10**15), int(time.time()))
        return await self.post(session, inner)

    # --- what a person does on their phone: WeCom calls the bot ---------------------------

    def sealed(self, inner: str, timestamp: str | None = None) -> tuple[str, dict[str, str]]:
        timestamp = timestamp or str(int(time.time()))
        nonce = str(secrets.randbelow(10**9))
        envelope, signature = self.codec.seal(inner, timestamp, nonce)
        return envelope, {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}

    @staticmethod
    def text_xml(user: str, text: str, msg_id: int, created: int) -> str:
        safe = text.replace("]]>", "]]]]><![CDATA[>")
        return (
            f"<xml><ToUserName><![CDATA[corp]]></ToUserName><FromUserName><![CDATA[{user}]]>"
            f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]>"
            f"</MsgType><Content><![CDATA[{safe}]]></Content><MsgId>{msg_id}</MsgId>"
            f"<AgentID>1</AgentID></xml>"
        )

    @staticmethod
    def click_xml(
        user: str,
        key: str,
        task_id: str,
        created: int,
        code: str,
        card_type: str = "button_interaction",
        chosen: dict[str, list[str]] | None = None,
    ) -> str:
        """A card event; ``chosen`` (question key → option ids) for a vote or multiple-choice
        card's submit button, whose event carries the person's choices."""
        items = "".join(
            f"<SelectedItem><QuestionKey><![CDATA[{question}]]></QuestionKey><OptionIds>"
            + "".join(f"<OptionId><![CDATA[{option}]]></OptionId>" for option in options)
            + "</OptionIds></SelectedItem>"
            for question, options in (chosen or {}).items()
        )
        return (
            f"<xml><ToUserName><![CDATA[corp]]></ToUserName><FromUserName><![CDATA[{user}]]>"
            f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]>"
            f"</MsgType><Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]>"
            f"</EventKey><TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[{card_type}]]>"
            f"</CardType><ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>1</AgentID>"
            + (f"<SelectedItems>{items}</SelectedItems>" if chosen is not None else "")
            + "</xml>"
        )

    async def post(self, session: aiohttp.ClientSession, inner: str) -> int:
        envelope, query = self.sealed(inner)
        async with session.post(self.bot_url, params=query, data=envelope.encode()) as response:
            return response.status

    async def deliver(
        self,
        session: aiohttp.ClientSession,
        inner: str,
        tries: int = CALLBACK_TRIES,
        pause: float = 0.0,
    ) -> list[int]:
        """Send a callback the way WeCom does, again and again until it is answered 200."""
        envelope, query = self.sealed(inner)
        return await self._deliver(session, tries, pause, params=query, data=envelope.encode())

    async def say(self, session: aiohttp.ClientSession, user: str, text: str) -> int:
        msg_id = secrets.randbelow(10**15)
        return await self.post(session, self.text_xml(user, text, msg_id, int(time.time())))

    async def click(
        self,
        session: aiohttp.ClientSession,
        user: str,
        key: str,
        task_id: str,
        chosen: dict[str, list[str]] | None = None,
    ) -> int:
        """A press on a card's button, or with ``chosen`` the submit of a multiple-choice
        card."""
        card_type = "button_interaction" if chosen is None else "multiple_interaction"
        return await self._press(session, user, key, task_id, card_type, chosen)

    async def vote(
        self, session: aiohttp.ClientSession, user: str, card: Delivered, ids: list[str]
    ) -> int:
        """Tick the options ``ids`` on a vote card on the user's phone and press its submit
        button: WeCom sends the submit key and, under the card's question key, the ids."""
        assert card.choice is not None, "not a vote card"
        choice = card.choice
        chosen = {str(choice["question_key"]): ids}
        key, task_id = str(choice["submit"].get("key", "")), str(choice["task_id"])
        return await self._press(session, user, key, task_id, "vote_interaction", chosen)

    async def _press(
        self,
        session: aiohttp.ClientSession,
        user: str,
        key: str,
        task_id: str,
        card_type: str,
        chosen: dict[str, list[str]] | None,
    ) -> int:
        created = int(time.time() * 1000)  # distinct per press, as WeCom's events are
        code = secrets.token_hex(8)  # each press brings a fresh response_code
        self.response_codes[code] = (frozenset([user]), task_id, self.clock())
        inner = self.click_xml(user, key, task_id, created, code, card_type, chosen)
        return await self.post(session, inner)


class FakeDingTalk(_FakeBase):
    """DingTalk's accessToken and one-to-one robot messages, and its robot callbacks; and the
    JSAPI's login code (免登) for pages opened in its app, with the old API that reads it."""

    name = "dingtalk"

    def __init__(self, app_key: str, app_secret: str, robot_code: str) -> None:
        super().__init__()
        self.app_key, self.app_secret, self.robot_code = app_key, app_secret, robot_code
        self.tickets: set[str] = set()
        self.open_delay = 0.0  # seconds the gateway takes to answer connections/open
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: dict[str, int] = {}
        self.card_template_id = ""  # the interactive card template "made in the console"
        self.files: dict[str, bytes] = {}  # pictures people sent, by download code
        self.corp_id = "dingfakecorp"  # the organisation, as dd.getAuthCode must be told it

    def _error(self, code: str) -> web.Response:
        """As the new API refuses: "token" a bad or expired token (HTTP 400), "qps" throttling
        (HTTP 403), "429" a gateway's throttling; anything else a plain 400."""
        if code == "token":
            body = {"code": "InvalidAuthentication", "message": "invalid access_token"}
            return web.json_response(body, status=400)
        if code == "qps":
            body = {"code": "Forbidden.AccessDenied.QpsLimitForApi", "message": "qps limit"}
            return web.json_response(body, status=403)
        status = 429 if code == "429" else 400
        return web.json_response({"code": f"fake.{code}", "message": "fake error"}, status=status)

    async def access_token(self, request: web.Request) -> web.Response:
        self.calls["accessToken"] += 1
        if (fault := await self._fault()) is not None:
            return fault
        body = await request.json()
        if body.get("appKey") != self.app_key or body.get("appSecret") != self.app_secret:
            return self._error("400")
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return web.json_response({"accessToken": token, "expireIn": 7200})

    async def batch_send(self, request: web.Request) -> web.Response:
        self.calls["batchSend"] += 1
        if (fault := await self._fault()) is not None:
            return fault
        if request.headers.get("x-acs-dingtalk-access-token") not in self.tokens:
            return self._error("token")
        body = await request.json()
        if body.get("robotCode") != self.robot_code:
            return self._error("400")
        param = json.loads(body.get("msgParam", "{}"))
        key = body.get("msgKey", "")
        buttons = []
        for n in range(1, 7):
            if f"actionTitle{n}" in param:
                buttons.append(
                    {"key": _dtmd_text(param[f"actionURL{n}"]), "label": param[f"actionTitle{n}"]}
                )
        if "singleURL" in param and param["singleURL"].startswith("dtmd://"):
            buttons.append({"key": _dtmd_text(param["singleURL"]), "label": param["singleTitle"]})
        text = param.get("content") or param.get("text", "")
        kind = "text" if key == "sampleText" else "markdown" if key == "sampleMarkdown" else "card"
        for user in body.get("userIds", []):
            self._record(
                user, kind, param.get("title", ""), text, buttons, param.get("singleURL", ""), body
            )
        return web.json_response({"processQueryKey": secrets.token_hex(8)})

    async def create_and_deliver(self, request: web.Request) -> web.Response:
        """An interactive card to one person's robot chat, as /v1.0/card/instances/…"""
        self.calls["createAndDeliver"] += 1
        if (fault := await self._fault()) is not None:
            return fault
        if request.headers.get("x-acs-dingtalk-access-token") not in self.tokens:
            return self._error("token")
        body = await request.json()
        deliver = body.get("imRobotOpenDeliverModel", {})
        space = str(body.get("openSpaceId", ""))
        params = body.get("cardData", {}).get("cardParamMap", {})
        if (
            body.get("cardTemplateId") != self.card_template_id
            or deliver.get("robotCode") != self.robot_code
            or not space.startswith("dtv1.card//IM_ROBOT.")
            or not all(isinstance(v, str) for v in params.values())  # strings only
        ):
            return self._error("400")
        track = str(body.get("outTrackId", ""))
        buttons = [
            {"key": b["key"], "label": b["label"], "out_track_id": track}
            for b in json.loads(params.get("buttons", "[]"))
        ]
        user = space.removeprefix("dtv1.card//IM_ROBOT.")
        self._record(
            user, "card", params.get("title", ""), params.get("markdown", ""), buttons, "", body
        )
        return web.json_response({"success": True, "result": {"outTrackId": track}})

    async def update_card(self, request: web.Request) -> web.Response:
        """A change of an interactive card's variables, as PUT /v1.0/card/instances: with
        ``buttons`` emptied and an ``outcome``, the phone shows the outcome as a spent button."""
        self.calls["updateCard"] += 1
        if (fault := await self._fault()) is not None:
            return fault
        if request.headers.get("x-acs-dingtalk-access-token") not in self.tokens:
            return self._error("token")
        body = await request.json()
        track = str(body.get("outTrackId", ""))
        params = body.get("cardData", {}).get("cardParamMap", {})
        cards = [
            m for m in self.delivered if any(b.get("out_track_id") == track for b in m.buttons)
        ]
        if not cards or not all(isinstance(v, str) for v in params.values()):
            return self._error("400")
        for message in cards:
            buttons = [
                {"key": b["key"], "label": b["label"], "out_track_id": track}
                for b in json.loads(params.get("buttons", "[]"))
            ]
            if params.get("outcome"):
                buttons.append(
                    {"key": "", "label": params["outcome"], "out_track_id": track, "done": "1"}
                )
            message.buttons = buttons
        self.changed.set()
        return web.json_response({"success": True, "result": True})

    # --- Stream mode: the gateway the official SDK connects to --------------------------------

    async def open_connection(self, request: web.Request) -> web.Response:
        self.calls["connections/open"] += 1
        await asyncio.sleep(self.open_delay)
        body = await request.json()
        if body.get("clientId") != self.app_key or body.get("clientSecret") != self.app_secret:
            return self._error("token")
        ticket = secrets.token_hex(8)
        self.tickets.add(ticket)
        ws_path = request.path.replace("/v1.0/gateway/connections/open", "/gateway/ws")
        endpoint = str(request.url.with_path(ws_path).with_query(None)).replace("http", "ws", 1)
        return web.json_response({"endpoint": endpoint, "ticket": ticket})

    async def gateway(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self.tickets:
            return web.Response(status=403)
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        async for frame in socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                ack = json.loads(frame.data)
                message_id = ack.get("headers", {}).get("messageId", "")
                self.acks[message_id] = int(ack.get("code", 0))
                self.changed.set()
        self.sockets.remove(socket)
        return socket

    async def _push(self, topic: str, data: dict[str, Any]) -> str:
        message_id = secrets.token_hex(8)
        frame = {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "topic": topic,
                "messageId": message_id,
                "contentType": "application/json",
                "appId": self.app_key,
                "time": str(int(time.time() * 1000)),
            },
            "data": json.dumps(data, ensure_ascii=False),
        }
        for socket in list(self.sockets):
            await socket.send_str(json.dumps(frame, ensure_ascii=False))
        return message_id

    async def push(self, user: str, text: str) -> str:
        """Send a robot message down the stream, as DingTalk does; returns its message id."""
        return await self._push("/v1.0/im/bot/messages/get", self.robot_body(user, text))

    async def press_card(
        self, user: str, key: str, out_track_id: str, inputs: dict[str, Any] | None = None
    ) -> str:
        """A press on an interactive card's button, as DingTalk streams it, with what the
        card's inputs hold if it has any; its message id."""
        params = {"key": key, **(inputs or {})}
        content = {"cardPrivateData": {"actionIds": ["press"], "params": params}}
        data = {
            "outTrackId": out_track_id,
            "userId": user,
            "corpId": "ding-fake-corp",
            "type": "actionCallback",
            "content": json.dumps(content, ensure_ascii=False),
        }
        return await self._push("/v1.0/card/instances/callback", data)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1.0/oauth2/accessToken", self.access_token)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self.batch_send)
        app.router.add_post("/v1.0/card/instances/createAndDeliver", self.create_and_deliver)
        app.router.add_put("/v1.0/card/instances", self.update_card)
        app.router.add_post("/v1.0/gateway/connections/open", self.open_connection)
        app.router.add_get("/gateway/ws", self.gateway)
        app.router.add_post("/v1.0/robot/messageFiles/download", self.file_download)
        app.router.add_get("/files/{code}", self.file)
        app.router.add_post("/topapi/v2/user/getuserinfo", self.getuserinfo)
        app.router.add_get("/fake/jsapi.js", self.jsapi)
        app.router.add_get("/fake/authcode", self.authcode)
        app.router.add_get("/fake/browser", self.browser)
        return app

    def auth_code(self, user: str) -> str:
        """What ``dd.getAuthCode`` gives a page opened by ``user`` in DingTalk's app."""
        return self.issue_code(user)

    async def jsapi(self, request: web.Request) -> web.Response:
        """The JSAPI a page loads: only ``dd.getAuthCode``, asking this fake for the code."""
        base = str(request.url.with_query(None)).removesuffix("/fake/jsapi.js")
        script = JSAPI.replace("BASE", json.dumps(base))
        return web.Response(text=script, content_type="application/javascript")

    async def authcode(self, request: web.Request) -> web.Response:
        origin = request.headers.get("Origin", "")
        cors = {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"}
        user = self.browser_user(request)
        if request.query.get("corpId") != self.corp_id or not user:
            return web.json_response({"errorCode": "3", "errorMessage": "no"}, headers=cors)
        return web.json_response({"code": self.auth_code(user)}, headers=cors)

    async def getuserinfo(self, request: web.Request) -> web.Response:
        """The old API's ``topapi/v2/user/getuserinfo``: the user a login code was given to."""
        self.calls["topapi/getuserinfo"] += 1
        if (fault := await self._fault()) is not None:
            return fault
        if request.query.get("access_token", "") not in self.tokens:
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        try:
            body = await request.json()
        except ValueError:
            body = {}
        user = self.redeem_code(str(body.get("code", ""))) if isinstance(body, dict) else None
        if user is None:
            return web.json_response({"errcode": 40078, "errmsg": "invalid code"})
        result = {"userid": user, "name": user, "sys": False}
        return web.json_response({"errcode": 0, "errmsg": "ok", "result": result})

    async def file_download(self, request: web.Request) -> web.Response:
        """A short-lived URL for a download code, as the robot API gives one."""
        self.calls["messageFiles/download"] += 1
        if (fault := await self._media_fault()) is not None:
            return fault
        if request.headers.get("x-acs-dingtalk-access-token") not in self.tokens:
            return self._error("token")
        body = await request.json()
        code = body.get("downloadCode", "")
        if body.get("robotCode") != self.robot_code or code not in self.files:
            return self._error("400")
        url = str(request.url.with_path(f"/files/{code}").with_query(None))
        return web.json_response({"downloadUrl": url})

    async def file(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["code"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found, content_type="application/octet-stream")

    async def send_picture(self, session: aiohttp.ClientSession, user: str, data: bytes) -> int:
        """A person sends the robot a picture: the callback carries its download code."""
        code = secrets.token_urlsafe(24)
        self.files[code] = data
        body = self.robot_body(user, "")
        del body["text"]
        body |= {"msgtype": "picture", "content": {"downloadCode": code}}
        async with session.post(self.bot_url, json=body, headers=self.robot_headers()) as response:
            return response.status

    def robot_headers(self, timestamp_ms: int | None = None) -> dict[str, str]:
        timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
        return {"timestamp": timestamp, "sign": robot_sign(self.app_secret, timestamp)}

    def robot_body(self, user: str, text: str, msg_id: str | None = None) -> dict[str, Any]:
        return {
            "msgtype": "text",
            "text": {"content": f" {text}"},
            "msgId": msg_id or f"msg{secrets.token_hex(12)}",
            "createAt": int(time.time() * 1000),
            "conversationType": "1",
            "conversationId": f"cid{user}",
            "senderStaffId": user,
            "senderNick": user,
            "chatbotUserId": "bot",
            "robotCode": self.robot_code,
            "sessionWebhook": "http://127.0.0.1/never-used",
            "sessionWebhookExpiredTime": int(time.time() * 1000) + 5_400_000,
        }

    async def say(self, session: aiohttp.ClientSession, user: str, text: str) -> int:
        async with session.post(
            self.bot_url, json=self.robot_body(user, text), headers=self.robot_headers()
        ) as response:
            return response.status

    async def deliver(
        self,
        session: aiohttp.ClientSession,
        user: str,
        text: str,
        tries: int = CALLBACK_TRIES,
        pause: float = 0.0,
    ) -> list[int]:
        """A robot callback sent again, the same body under the same sign, until answered 200."""
        body, headers = self.robot_body(user, text), self.robot_headers()
        return await self._deliver(session, tries, pause, json=body, headers=headers)


# The fake JSAPI (dingtalk.open.js): dd.getAuthCode asks the fake, which knows who is "logged
# in to DingTalk" from its browser cookie.
JSAPI = """window.dd = {
  getAuthCode: function (p) {
    return fetch(BASE + "/fake/authcode?corpId=" + encodeURIComponent(p.corpId),
                 {credentials: "include"}).then(function (r) { return r.json(); });
  }
};
"""


def _dtmd_text(url: str) -> str:
    query = urllib.parse.urlparse(url).query
    return urllib.parse.parse_qs(query).get("content", [""])[0]


def new_secrets() -> dict[str, str]:
    """Credentials for a sandbox: a 43-character AES key, tokens, ids."""
    return {
        "corp_id": "ww" + secrets.token_hex(8),
        "secret": secrets.token_urlsafe(24),
        "token": secrets.token_hex(8),
        "encoding_aes_key": base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="),
        "app_key": "ding" + secrets.token_hex(8),
        "app_secret": secrets.token_urlsafe(32),
        "robot_code": "ding" + secrets.token_hex(8),
        "session_secret": secrets.token_urlsafe(32),
    }
