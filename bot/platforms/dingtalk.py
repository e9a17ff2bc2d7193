"""DingTalk (钉钉) enterprise-internal app robot: callbacks in, robot messages out.

Three ways in: the robot's HTTP callback (``timestamp`` + ``sign`` headers, an HMAC of the
timestamp only, so it is checked, with a one-hour window, before the body is parsed); the event
subscription (WeCom's crypto scheme with the app key in place of the corp id); and Stream mode
(not in this module). Out: one-to-one robot messages. DingTalk's plain action cards carry links,
not callbacks, so a button is a ``dtmd://`` link that sends its key back as a text message;
where an interactive card template is configured (Stream mode), a card with buttons is an
interactive card instead, and a press comes back as a card callback (``card_to_inbound``).
A question whose options are ticked on a card elsewhere (an ``Outgoing`` of kind "choice") is
sent as its words only, options numbered, and answered by typing: a card with inputs would
need a second template, with a multiple-choice input, made in the console for it.
The template needs the string variables ``title``, ``markdown`` and ``buttons`` (a JSON list of
``{"key", "label"}``), and each button's callback must carry ``key`` in its params. Once its
question is settled, an interactive card is updated (``PUT /v1.0/card/instances``): ``buttons``
becomes empty and ``outcome`` (a string variable the template may show) says how it ended. A
plain action card cannot be changed after it is sent: its buttons stay, and a press on one
after the question is settled is answered that nothing more needs doing.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.platforms.errors import Rejected, SendFailed, plain_id
from bot.platforms.messages import (
    Inbound,
    InboundKind,
    Outgoing,
    Platform,
    Receipt,
    card_id,
    card_ref,
)
from bot.platforms.wecom import WeComCodec, read_capped

SIGN_WINDOW_MS = 3600 * 1000
# How the new API (api.dingtalk.com) refuses: an invalid or expired token is HTTP 400 with this
# code (401 too, from some gateways); throttling is HTTP 403 with a QPS/QPM code (or 429).
TOKEN_REFUSED = "InvalidAuthentication"
THROTTLED = ("Forbidden.AccessDenied.Qps", "Forbidden.AccessDenied.Qpm")
MAX_FORM_FIELDS = 50  # inputs on one card, and options chosen in one of them
MAX_FORM_TEXT = 2000  # characters in one input


def robot_sign(app_secret: str, timestamp: str) -> str:
    digest = hmac.new(
        app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def check_robot_headers(app_secret: str, timestamp: str, sign: str, now_ms: int) -> None:
    """Refuse a robot callback whose sign is wrong or whose timestamp is over an hour off."""
    well_formed = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16
    if not well_formed or abs(now_ms - int(timestamp)) > SIGN_WINDOW_MS:
        raise Rejected(403, "timestamp outside the window")
    if not hmac.compare_digest(robot_sign(app_secret, timestamp).encode(), sign.encode()):
        raise Rejected(403, "bad sign")


def robot_to_inbound(body: bytes, now: dt.datetime, robot_code: str = "") -> Inbound | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSON and Unicode errors, over-long numbers
        raise Rejected(400, "malformed json") from exc
    if not isinstance(data, dict):
        raise Rejected(400, "not an object")
    sender, msg_id = data.get("senderStaffId"), data.get("msgId")
    if not plain_id(sender, 64) or not plain_id(msg_id, 200):
        raise Rejected(400, "missing or malformed sender or msgId")
    if robot_code and data.get("robotCode") != robot_code:
        raise Rejected(403, "another robot's message")
    picture = data.get("content") if data.get("msgtype") == "picture" else None
    code = picture.get("downloadCode") if isinstance(picture, dict) else None
    if plain_id(code, 500):  # a picture to fetch; one without a code reads as no text
        return Inbound(
            Platform.DINGTALK,
            str(msg_id),
            str(sender),
            InboundKind.IMAGE,
            now,
            fields={"media": str(code)},
        )
    text = data.get("text")
    content = text.get("content", "") if isinstance(text, dict) else ""
    if not isinstance(content, str) or not plain_id(content.replace("\n", " ") or "x", 8000):
        raise Rejected(400, "malformed text")
    webhook = data.get("sessionWebhook")
    return Inbound(
        Platform.DINGTALK,
        str(msg_id),
        str(sender),
        InboundKind.TEXT,
        now,
        text=str(content).strip(),
        reply_token=webhook if isinstance(webhook, str) else "",
    )


@dataclass(frozen=True)
class EventCodec:
    """The event-subscription callback: the same crypto as WeCom, keyed by the app key."""

    token: str
    aes_key: str
    app_key: str

    @property
    def _codec(self) -> WeComCodec:
        return WeComCodec(self.token, self.aes_key, self.app_key)

    def open(self, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> dict[str, Any]:
        try:
            envelope = json.loads(body)
        except (ValueError, RecursionError) as exc:  # JSON and Unicode errors, huge numbers
            raise Rejected(400, "malformed json") from exc
        encrypt = envelope.get("encrypt") if isinstance(envelope, dict) else None
        if not isinstance(encrypt, str) or not encrypt:
            raise Rejected(400, "no encrypt field")
        plain = self._codec.verify_url(msg_signature, timestamp, nonce, encrypt)
        try:
            event = json.loads(plain)
        except (ValueError, RecursionError) as exc:
            raise Rejected(400, "malformed event") from exc
        if not isinstance(event, dict):
            raise Rejected(400, "not an object")
        return event

    def answer(self, text: str, timestamp: str, nonce: str) -> dict[str, str]:
        """The encrypted answer DingTalk expects (``success`` to acknowledge an event)."""
        encrypt, sig = self._codec.seal_echo(text, timestamp, nonce)
        return {"msg_signature": sig, "timeStamp": timestamp, "nonce": nonce, "encrypt": encrypt}


def send_text_link(key: str) -> str:
    """A link that, tapped in DingTalk, sends ``key`` to the robot as a text message."""
    return "dtmd://dingtalkclient/sendMessage?content=" + urllib.parse.quote(key)


def render(message: Outgoing) -> tuple[str, dict[str, Any]]:
    """(msgKey, msgParam) of a one-to-one robot message."""
    if message.kind == "text":
        return "sampleText", {"content": message.text}
    if message.kind in ("markdown", "choice"):  # no card to tick options on: typed
        return "sampleMarkdown", {"title": message.title or message.text[:20], "text": message.text}
    if message.kind == "link" or not message.buttons:
        return "sampleActionCard", {
            "title": message.title,
            "text": message.text,
            "singleTitle": message.title or message.text[:20],
            "singleURL": message.url,
        }
    # The vertical cards go up to sampleActionCard5; sampleActionCard6 is another layout.
    buttons = message.buttons[:5]
    param: dict[str, Any] = {"title": message.title, "text": message.text}
    for n, button in enumerate(buttons, start=1):
        param[f"actionTitle{n}"] = button.label
        param[f"actionURL{n}"] = send_text_link(button.key)
    if len(buttons) == 1:
        return "sampleActionCard", {
            "title": message.title,
            "text": message.text,
            "singleTitle": buttons[0].label,
            "singleURL": send_text_link(buttons[0].key),
        }
    return f"sampleActionCard{len(buttons)}", param


def render_interactive(
    message: Outgoing, recipient: str, template_id: str, robot_code: str, ref: str
) -> dict[str, Any]:
    """The createAndDeliver body of an interactive card to one person's robot chat."""
    buttons = [{"key": b.key, "label": b.label} for b in message.buttons]
    return {
        "cardTemplateId": template_id,
        # Stable per outbox row: a resend after a crash addresses the same card.
        "outTrackId": card_id(ref),
        "cardData": {
            "cardParamMap": {
                "title": message.title,
                "markdown": message.text,
                "buttons": json.dumps(buttons, ensure_ascii=False),
            }
        },
        "callbackType": "STREAM",
        "openSpaceId": f"dtv1.card//IM_ROBOT.{recipient}",
        "imRobotOpenSpaceModel": {"supportForward": False},
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": robot_code},
    }


def render_card_update(message: Outgoing) -> dict[str, Any]:
    """The body of ``PUT /v1.0/card/instances`` that closes an interactive card: no buttons
    left, and the outcome in their place; the other variables stay."""
    return {
        "outTrackId": message.token,
        "cardData": {"cardParamMap": {"buttons": "[]", "outcome": message.text}},
        "cardUpdateOptions": {"updateCardDataByKey": True},
    }


def card_to_inbound(data: Any, message_id: str, now: dt.datetime) -> Inbound | None:
    """A press on an interactive card (Stream topic ``/v1.0/card/instances/callback``).

    Our card templates send the pressed button's ``key`` in ``cardPrivateData.params``; a card
    with inputs sends them there too, beside it, and its press is a form submission."""
    if not isinstance(data, dict) or not plain_id(message_id, 150):
        raise Rejected(400, "malformed card callback")
    sender = data.get("userId")
    try:
        content = json.loads(data.get("content") or "{}")
    except (TypeError, ValueError, RecursionError) as exc:
        raise Rejected(400, "malformed card content") from exc
    private = content.get("cardPrivateData") if isinstance(content, dict) else None
    params = private.get("params") if isinstance(private, dict) else None
    if not isinstance(params, dict):
        params = {}
    key = params.get("key")
    if not plain_id(sender, 64) or not plain_id(key, 1024):
        raise Rejected(400, "card callback without sender or key")
    fields = {name: _form_value(value) for name, value in params.items() if name != "key"}
    if len(fields) > MAX_FORM_FIELDS or not all(plain_id(name, 128) for name in fields):
        raise Rejected(400, "malformed card inputs")
    return Inbound(
        Platform.DINGTALK,
        f"card:{message_id}",
        str(sender),
        InboundKind.FORM if fields else InboundKind.CLICK,
        now,
        action=str(key),
        fields=fields,
        reply_token=str(data.get("outTrackId", ""))[:200],
        card=card_ref(str(data.get("outTrackId", ""))[:200]),
    )


def _form_value(value: Any) -> str | list[str]:
    """One card input as typed or chosen: text (a number or a switch as its text), or the
    options of a multiple choice."""
    if isinstance(value, list) and len(value) <= MAX_FORM_FIELDS:
        return [_form_text(v) for v in value]
    return _form_text(value)


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int | float):
        value = str(value)
    # Text a database can hold: a lone surrogate (an emoji cut in half) or a NUL would fail
    # the whole batch of events stored with it.
    if not isinstance(value, str) or len(value) > MAX_FORM_TEXT or "\x00" in value:
        raise Rejected(400, "malformed card input")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Rejected(400, "malformed card input") from exc
    return value


# The old API's answers for a token it will not take (invalid, expired): refresh once.
OAPI_TOKEN_ERRORS = {40014, 42001, 88}


class DingTalkClient:
    """The robot's sending API over a shared aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_base: str,
        app_key: str,
        app_secret: str,
        robot_code: str,
        timeout: float = 10.0,
        card_template_id: str = "",
        oapi_base: str = "https://oapi.dingtalk.com",
    ) -> None:
        self.session, self.api_base = session, api_base.rstrip("/")
        self.oapi_base = oapi_base.rstrip("/")
        self.app_key, self.app_secret, self.robot_code = app_key, app_secret, robot_code
        self.card_template_id = card_template_id
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.handle_lifetime: dt.timedelta | None = None  # an outTrackId lasts with its card
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def _call(
        self, path: str, body: dict[str, Any], token: str | None, method: str = "POST"
    ) -> tuple[int, Any]:
        headers = {"x-acs-dingtalk-access-token": token} if token else {}
        try:
            async with self.session.request(
                method, f"{self.api_base}{path}", json=body, headers=headers, timeout=self.timeout
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendFailed(f"network: {type(exc).__name__}", retry=True) from exc
        try:
            return status, json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return status, {}

    async def token(self, refresh: bool = False) -> str:
        async with self._lock:
            if self._token and not refresh and self._token[1] > time.monotonic():
                return self._token[0]
            status, data = await self._call(
                "/v1.0/oauth2/accessToken",
                {"appKey": self.app_key, "appSecret": self.app_secret},
                None,
            )
            if status != 200 or not isinstance(data, dict) or "accessToken" not in data:
                code = _code(data)
                raise SendFailed(
                    f"accessToken http {status} {code}", retry=_retryable(status, code)
                )
            lifetime = max(60, int(data.get("expireIn", 7200)) - 300)
            self._token = (str(data["accessToken"]), time.monotonic() + lifetime)
            return self._token[0]

    async def send(self, recipient: str, message: Outgoing, ref: str) -> Receipt:
        if message.kind == "update":  # an interactive card's outTrackId: close it
            try:
                await self._request("PUT", "/v1.0/card/instances", render_card_update(message))
            except SendFailed as failure:
                if failure.retry:
                    raise
                return Receipt(note=f"card not changed: {failure.reason}")
            return Receipt()
        if message.kind == "card" and message.buttons and self.card_template_id:
            body = render_interactive(
                message, recipient, self.card_template_id, self.robot_code, ref
            )
            await self._request("POST", "/v1.0/card/instances/createAndDeliver", body)
            return Receipt(handle=body["outTrackId"])
        key, param = render(message)
        body = {
            "robotCode": self.robot_code,
            "userIds": [recipient],
            "msgKey": key,
            "msgParam": json.dumps(param, ensure_ascii=False),
        }
        await self._request("POST", "/v1.0/robot/oToMessages/batchSend", body)
        return Receipt()  # an action card's buttons are links: nothing to change later

    async def _request(self, method: str, path: str, body: dict[str, Any]) -> None:
        for attempt in (1, 2):
            token = await self.token(refresh=attempt == 2)
            status, data = await self._call(path, body, token, method)
            if status == 200:
                return
            code = _code(data)
            refused = status == 401 or code == TOKEN_REFUSED
            if refused and attempt == 1:
                continue  # token expired or revoked: refresh once
            # A token refused right after a refresh: DingTalk's side; try again later.
            retry = refused or _retryable(status, code)
            raise SendFailed(f"{path} http {status} {code}", retry=retry)

    async def user_of_code(self, code: str) -> str | None:
        """Who opened a page, from the one-time code ``dd.getAuthCode`` gave it there (免登,
        ``topapi/v2/user/getuserinfo`` on the old API, which takes the same token): their
        userid, or None for a code spent, expired or forged. SendFailed when DingTalk cannot
        be asked now."""
        for attempt in (1, 2):
            token = await self.token(refresh=attempt == 2)
            try:
                async with self.session.post(
                    f"{self.oapi_base}/topapi/v2/user/getuserinfo",
                    params={"access_token": token},
                    json={"code": code},
                    timeout=self.timeout,
                ) as response:
                    status, raw = response.status, await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise SendFailed(f"network: {type(exc).__name__}", retry=True) from exc
            try:
                data = json.loads(raw)
            except json.JSONDecodeError:
                data = None
            if status >= 500 or not isinstance(data, dict):
                raise SendFailed(f"getuserinfo http {status}", retry=True)
            errcode = data.get("errcode", -1)
            if errcode in OAPI_TOKEN_ERRORS and attempt == 1:
                continue
            if errcode == 0:
                result = data.get("result")
                userid = result.get("userid") if isinstance(result, dict) else None
                return str(userid) if userid else None
            if errcode in OAPI_TOKEN_ERRORS or errcode == -1:  # -1: DingTalk is busy
                raise SendFailed(f"getuserinfo {errcode}", retry=True)
            return None
        raise AssertionError("the second attempt returns or raises")

    async def fetch(self, download_code: str, max_bytes: int) -> bytes:
        """A picture a person sent the robot: ``messageFiles/download`` gives a short-lived
        URL for the code, then the file. SendFailed as for sending, or ``too_big``."""
        body = {"downloadCode": download_code, "robotCode": self.robot_code}
        for attempt in (1, 2):
            token = await self.token(refresh=attempt == 2)
            status, data = await self._call("/v1.0/robot/messageFiles/download", body, token)
            code = _code(data)
            if (status == 401 or code == TOKEN_REFUSED) and attempt == 1:
                continue
            url = data.get("downloadUrl") if isinstance(data, dict) else None
            if status != 200 or not isinstance(url, str):
                raise SendFailed(
                    f"messageFiles/download http {status} {code}", retry=_retryable(status, code)
                )
            try:
                async with self.session.get(url, timeout=self.timeout) as response:
                    if response.status >= 400:
                        raise SendFailed(f"download http {response.status}", retry=True)
                    return await read_capped(response, max_bytes)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise SendFailed(f"network: {type(exc).__name__}", retry=True) from exc
        raise AssertionError("the second attempt returns or raises")


def _code(data: Any) -> str:
    return str(data.get("code", "")) if isinstance(data, dict) else ""


def _retryable(status: int, code: str) -> bool:
    """Whether a refusal may pass by itself: DingTalk's own faults and its throttling."""
    return status >= 500 or status == 429 or code.startswith(THROTTLED)


def now_ms() -> int:
    return int(time.time() * 1000)
