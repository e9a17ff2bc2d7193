"""WeCom (企业微信) self-built app: callback crypto, event parsing, and the sending API.

Callbacks: the signature (SHA-1 over the sorted token, timestamp, nonce and ciphertext) is
checked in constant time before the ciphertext is decrypted or its XML parsed; the AES cipher is
wechatpy's, the padding and framing around it are checked here. Sending goes over aiohttp with a
cached access token, refreshed once when WeCom says it is invalid or expired.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from wechatpy.crypto import PrpCrypto

from bot.platforms.errors import Rejected, SendFailed, plain_id
from bot.platforms.messages import (
    MAX_MARKDOWN_BYTES,
    Choice,
    Inbound,
    InboundKind,
    Outgoing,
    Platform,
    Receipt,
    card_id,
    card_ref,
)
from bot.platforms.safexml import children_text, flat_xml, safe_root

TOKEN_ERRORS = {40001, 40014, 42001}
RATE_LIMITED = 45009
TASK_ID_USED = 42014
RETRYABLE = {RATE_LIMITED, -1}  # -1: WeCom's "system busy"
# Cards whose submit button sends the person's choices: a form submission, not a click.
FORM_CARDS = {"vote_interaction", "multiple_interaction"}
MAX_ANSWERS = 50  # questions per card and options per question; WeCom allows far fewer
# A response_code (from message/send for an interactive card, or from a press on it) changes
# the card once, within 72 hours.
RESPONSE_CODE_LIFETIME = dt.timedelta(hours=72)
PAD_BLOCK = 32  # WeCom pads with PKCS#7 to 32 bytes, not to AES's 16
MAX_TIMESTAMP_DIGITS = 20


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


@dataclass(frozen=True)
class WeComCodec:
    """Opens and seals WeCom callbacks for one app (token, EncodingAESKey, corp id)."""

    token: str
    encoding_aes_key: str
    corp_id: str

    @functools.cached_property
    def _crypto(self) -> PrpCrypto:
        # Made once per codec, as building it cost a third as much as decrypting a callback.
        # Safe to share: it holds the key and IV in a `cryptography` Cipher, which makes a new
        # encryptor or decryptor for every call (wechatpy[cryptography], a declared dependency).
        return PrpCrypto(base64.b64decode(self.encoding_aes_key + "="))

    def _check(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        # The timestamp is WeCom's count of seconds. No window is enforced around it: WeCom
        # documents none (and retries a callback over several seconds). Replays are stopped by
        # the signature, which covers timestamp, nonce and ciphertext, and by the durable
        # deduplication of every event (MsgId, or sender and time). A timestamp that is not a
        # number is not WeCom's, signed or not.
        if (
            not (timestamp.isascii() and timestamp.isdigit())
            or len(timestamp) > MAX_TIMESTAMP_DIGITS
        ):
            raise Rejected(400, "timestamp is not a number")
        expected = signature(self.token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), msg_signature.encode()):
            raise Rejected(403, "bad signature")

    def _decrypt(self, encrypt: str) -> str:
        """The message inside ``encrypt``: AES-256-CBC (wechatpy's cipher), then PKCS#7 to 32
        bytes and the framing (16 random bytes, the message's length, the message, the corp
        id), all checked here: wechatpy takes the last byte as the pad length and never looks
        at the bytes before it."""
        try:
            plain: bytes = self._crypto.cipher.decrypt(base64.b64decode(encrypt))
        except (ValueError, TypeError) as exc:  # not base64, or not whole AES blocks
            raise Rejected(400, "cannot decrypt") from exc
        pad = plain[-1] if plain else 0
        if not 1 <= pad <= PAD_BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise Rejected(400, "cannot decrypt: bad padding")
        framed = plain[16:-pad]
        length = int.from_bytes(framed[:4], "big")
        if len(framed) < 4 or length > len(framed) - 4:
            raise Rejected(400, "cannot decrypt: bad length")
        if framed[4 + length :] != self.corp_id.encode():
            raise Rejected(400, "cannot decrypt: another corp id")
        try:
            return framed[4 : 4 + length].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejected(400, "cannot decrypt: not UTF-8") from exc

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        self._check(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def open(self, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> dict[str, str]:
        """The decrypted message as a flat dict; Rejected on anything wrong. A card's chosen
        options (``SelectedItems``, nested) come as JSON under that key: see selected_items."""
        envelope = flat_xml(body)
        encrypt = envelope.get("Encrypt", "")
        if not encrypt:
            raise Rejected(400, "no Encrypt element")
        self._check(msg_signature, timestamp, nonce, encrypt)
        root = safe_root(self._decrypt(encrypt))
        message = children_text(root)
        selected = root.find("SelectedItems")
        if selected is not None:
            message["SelectedItems"] = json.dumps(selected_items(selected), ensure_ascii=False)
        return message

    def _encrypt(self, plain: str) -> str:
        encrypted = self._crypto.encrypt(plain, self.corp_id)
        return encrypted.decode() if isinstance(encrypted, bytes) else str(encrypted)

    def seal(self, plain_xml: str, timestamp: str, nonce: str) -> tuple[str, str]:
        """(encrypted envelope XML, msg_signature): what WeCom itself sends; for fakes."""
        encrypt = self._encrypt(plain_xml)
        envelope = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[0]]></AgentID></xml>"
        )
        return envelope, signature(self.token, timestamp, nonce, encrypt)

    def seal_echo(self, text: str, timestamp: str, nonce: str) -> tuple[str, str]:
        encrypt = self._encrypt(text)
        return encrypt, signature(self.token, timestamp, nonce, encrypt)


def selected_items(element: Any) -> dict[str, list[str]]:
    """``<SelectedItems>`` of a vote or multiple-choice card: each question's chosen options.

    <SelectedItem><QuestionKey>q</QuestionKey><OptionIds><OptionId>a</OptionId>…</OptionIds>
    </SelectedItem>, one per question."""
    answers: dict[str, list[str]] = {}
    for item in element.findall("SelectedItem")[:MAX_ANSWERS]:
        question = (item.findtext("QuestionKey") or "").strip()
        options = [(o.text or "").strip() for o in item.iterfind("OptionIds/OptionId")]
        if not plain_id(question, 1024) or not all(plain_id(o, 1024) for o in options):
            raise Rejected(400, "malformed selected items")
        answers[question] = options[:MAX_ANSWERS]
    return answers


async def read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The whole body, or SendFailed ``too_big`` as soon as it passes ``max_bytes`` (a read
    returns what has arrived so far, so one read is not the file)."""
    received = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        received += chunk
        if len(received) > max_bytes:
            raise SendFailed(f"too_big: over {max_bytes} bytes", retry=False)
    return bytes(received)


def to_inbound(message: dict[str, str], now: dt.datetime) -> Inbound | None:
    """The neutral event for a decrypted WeCom message, or None for what suiji ignores."""
    sender = message.get("FromUserName", "")
    created = message.get("CreateTime", "")
    if not sender:
        return None
    if not plain_id(sender, 64) or len(message.get("MsgId", "") + created) > 100:
        raise Rejected(400, "malformed sender or ids")
    msg_type = message.get("MsgType", "")
    key = message.get("MsgId") or f"{sender}:{created}"
    if msg_type == "text":
        text = message.get("Content", "").strip()
        return Inbound(Platform.WECOM, key, sender, InboundKind.TEXT, now, text=text)
    media = message.get("MediaId", "")
    if msg_type == "image" and plain_id(media, 500):  # one without a media id is ignored
        fields = {"media": media}
        return Inbound(Platform.WECOM, key, sender, InboundKind.IMAGE, now, fields=fields)
    if msg_type != "event":
        return None
    event = message.get("Event", "")
    # Events carry no MsgId: WeCom's own advice is FromUserName + CreateTime.
    key = f"{sender}:{created}:{event}"
    if event == "enter_agent":
        return Inbound(Platform.WECOM, key, sender, InboundKind.ENTER, now)
    if event == "template_card_event":
        form = message.get("CardType", "") in FORM_CARDS
        return Inbound(
            Platform.WECOM,
            f"{key}:{message.get('TaskId', '')}",
            sender,
            InboundKind.FORM if form else InboundKind.CLICK,
            now,
            action=message.get("EventKey", ""),
            fields=json.loads(message.get("SelectedItems") or "{}") if form else {},
            reply_token=message.get("ResponseCode", ""),
            card=card_ref(message.get("TaskId", "")),
        )
    return None


def fit_bytes(text: str, limit: int) -> str:
    """``text`` cut (with an ellipsis) to at most ``limit`` UTF-8 bytes: WeCom refuses longer."""
    if len(text.encode("utf-8")) <= limit:
        return text
    cut = text.encode("utf-8")[: limit - 3].decode("utf-8", errors="ignore")
    return cut + "…"


def render(recipient: str, agent_id: int, message: Outgoing, ref: str) -> dict[str, Any]:
    """The message/send body for one person."""
    body: dict[str, Any] = {
        "touser": recipient,
        "agentid": agent_id,
        # WeCom drops an identical message to the same person within the interval: a resend
        # after a crash between "sent" and "marked sent" never reaches the phone twice. Not for
        # words meant to be said again (a form question asked again).
        "enable_duplicate_check": 0 if message.repeatable else 1,
        # Long enough to cover a resend after a sender's claim expires, short enough that a
        # person asking the same thing again a little later is answered again.
        "duplicate_check_interval": 180,
    }
    if message.kind == "text":
        body.update(msgtype="text", text={"content": message.text})
    elif message.kind == "markdown":
        body.update(
            msgtype="markdown", markdown={"content": fit_bytes(message.text, MAX_MARKDOWN_BYTES)}
        )
    elif message.kind == "link":
        body.update(
            msgtype="textcard",
            textcard={
                "title": message.title,
                "description": message.text,
                "url": message.url,
            },
        )
    elif message.kind == "choice" and message.choice is not None:
        body.update(msgtype="template_card", template_card=_vote_card(message.choice, ref))
    else:
        body.update(
            msgtype="template_card",
            template_card={
                "card_type": "button_interaction",
                "main_title": {"title": message.title[:36]},
                "sub_title_text": message.text,
                # Stable per outbox row: a resend reuses it and WeCom refuses it (42014), so a
                # card is never delivered twice.
                "task_id": card_id(ref),
                "button_list": [{"text": b.label, "key": b.key} for b in message.buttons[:6]],
            },
        )
    return body


def _vote_card(choice: Choice, ref: str) -> dict[str, Any]:
    """A vote card (``vote_interaction``): the question as its title, how to answer under it,
    the options to tick (each option's id its number) and the submit button, whose key and the
    question's key both name the question. A vote card has no room for more words: the
    question's own message follows it (see WeComClient.send)."""
    return {
        "card_type": "vote_interaction",
        "main_title": {"title": choice.heading[:36], "desc": choice.hint},
        "task_id": card_id(ref),  # stable per outbox row, as for a button card
        "checkbox": {
            "question_key": choice.key,
            "mode": 1 if choice.multiple else 0,
            "option_list": [
                {"id": str(number), "text": option, "is_checked": number in choice.checked}
                for number, option in enumerate(choice.options, 1)
            ],
        },
        "submit_button": {"text": choice.submit, "key": choice.key},
    }


def render_update(recipient: str, agent_id: int, message: Outgoing) -> dict[str, Any]:
    """The update_template_card body that greys out a card's buttons with a word (the outcome),
    spending the card's response_code."""
    return {
        "userids": [recipient],
        "agentid": agent_id,
        "response_code": message.token,
        "button": {"replace_name": message.text[:16]},
    }


class WeComClient:
    """The sending API of one app, over a shared aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_base: str,
        corp_id: str,
        secret: str,
        agent_id: int,
        timeout: float = 10.0,
    ) -> None:
        self.session, self.api_base = session, api_base.rstrip("/")
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.handle_lifetime: dt.timedelta | None = RESPONSE_CODE_LIFETIME
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self.session.request(
                method, f"{self.api_base}{path}", timeout=self.timeout, **kwargs
            ) as response:
                if response.status >= 500:
                    raise SendFailed(f"http {response.status}", retry=True)
                if response.status >= 400:
                    raise SendFailed(f"http {response.status}", retry=False)
                data = json.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
            raise SendFailed(f"network: {type(exc).__name__}", retry=True) from exc
        if not isinstance(data, dict):
            raise SendFailed("unexpected answer", retry=True)
        return data

    async def token(self, refresh: bool = False) -> str:
        async with self._lock:
            if self._token and not refresh and self._token[1] > time.monotonic():
                return self._token[0]
            data = await self._call(
                "GET",
                "/cgi-bin/gettoken",
                params={"corpid": self.corp_id, "corpsecret": self.secret},
            )
            if data.get("errcode", 0) != 0 or "access_token" not in data:
                retry = data.get("errcode") in RETRYABLE
                raise SendFailed(
                    f"gettoken {data.get('errcode')}: {data.get('errmsg')}", retry=retry
                )
            # Renew a little early: the token can also be invalidated before it expires.
            lifetime = max(60, int(data.get("expires_in", 7200)) - 300)
            self._token = (str(data["access_token"]), time.monotonic() + lifetime)
            return self._token[0]

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._api("POST", path, json=body)

    async def _api(
        self, method: str, path: str, query: dict[str, str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        for attempt in (1, 2):
            token = await self.token(refresh=attempt == 2)
            params = {**(query or {}), "access_token": token}
            data = await self._call(method, path, params=params, **kwargs)
            code = data.get("errcode", 0)
            if code in TOKEN_ERRORS and attempt == 1:
                continue  # refresh the token and try once more
            if code != 0:
                # A token refused right after a refresh is WeCom's side: try again later.
                retry = code in RETRYABLE or code in TOKEN_ERRORS
                raise SendFailed(f"{path} {code}: {data.get('errmsg')}", retry=retry)
            return data
        raise AssertionError("the second attempt returns or raises")

    async def send(self, recipient: str, message: Outgoing, ref: str) -> Receipt:
        if message.kind == "update":
            try:
                await self._post(
                    "/cgi-bin/message/update_template_card",
                    render_update(recipient, self.agent_id, message),
                )
            except SendFailed as failure:
                if failure.retry:
                    raise
                # A response_code spent or expired: the card stays as it is, which is no
                # reason to try again (nor for a dead letter).
                return Receipt(note=f"card not changed: {failure.reason}")
            return Receipt()
        try:
            data = await self._post(
                "/cgi-bin/message/send", render(recipient, self.agent_id, message, ref)
            )
        except SendFailed as failure:
            if f" {TASK_ID_USED}:" not in failure.reason:
                raise
            data = {}  # this card went out before a crash (or a failure after it): not again
        if message.kind == "choice":
            # The question in words, after its vote card, which has no room for them. Second,
            # so that a retry after a failure here finds the card sent (42014) and sends only
            # the words, never a second card.
            words = replace(message, kind="markdown", choice=None)
            await self._post("/cgi-bin/message/send", render(recipient, self.agent_id, words, ref))
        return Receipt(handle=str(data.get("response_code") or ""))

    async def user_of_code(self, code: str) -> str | None:
        """Who opened a page, from the one-time ``code`` WeCom's OAuth2 (snsapi_base) gave it:
        their userid, or None for a code spent, expired or not a member's (40029, or an
        ``openid`` answer). SendFailed when WeCom cannot be asked now."""
        try:
            data = await self._api("GET", "/cgi-bin/auth/getuserinfo", {"code": code})
        except SendFailed as failure:
            if failure.retry:
                raise
            return None
        userid = data.get("userid") or data.get("UserId")
        return str(userid).lower() if userid else None

    async def fetch(self, media_id: str, max_bytes: int) -> bytes:
        """A picture a person sent (``media/get``; temporary media live three days). The file,
        or SendFailed: a JSON ``errcode`` answer, a network fault, or ``too_big``."""
        for attempt in (1, 2):
            token = await self.token(refresh=attempt == 2)
            try:
                async with self.session.get(
                    f"{self.api_base}/cgi-bin/media/get",
                    params={"access_token": token, "media_id": media_id},
                    timeout=self.timeout,
                ) as response:
                    if response.status >= 400:
                        raise SendFailed(f"http {response.status}", retry=response.status >= 500)
                    kind = response.headers.get("Content-Type", "")
                    data = await read_capped(response, max_bytes)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise SendFailed(f"network: {type(exc).__name__}", retry=True) from exc
            if not (kind.startswith(("application/json", "text/")) and data.startswith(b"{")):
                return data  # the file itself
            try:
                code = json.loads(data).get("errcode", -1)
            except (ValueError, AttributeError):
                code = -1
            if code in TOKEN_ERRORS and attempt == 1:
                continue
            raise SendFailed(f"media/get {code}", retry=code in RETRYABLE or code in TOKEN_ERRORS)
        raise AssertionError("the second attempt returns or raises")
