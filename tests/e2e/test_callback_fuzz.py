"""The callback endpoints under fuzzing: whatever arrives (bodies, query strings, headers, even
validly signed garbage), the bot answers 4xx or an empty 200, never 5xx, and writes nothing."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sql

from bot.base.config import load_settings
from bot.platforms.dingtalk import EventCodec, robot_sign
from bot.platforms.fakes import FakeDingTalk, FakeWeCom, new_secrets
from bot.platforms.safexml import MAX_BODY
from bot.platforms.wecom import WeComCodec, signature
from bot.server.app import FACTORY, create_app
from tests.helpers import bot_environ, sqlite_database

ZHANG_KAI = "zhangkai"  # a registered leader in the sample, on WeCom
# Every table a callback can write to: its event, the replies, and a DingTalk robot sign (spent
# once a signed body has been read and parsed; spent before that, a refused body would use it up).
WRITTEN = ("inbound_events", "outbox", "robot_signs")
NOTHING = dict.fromkeys(WRITTEN, 0)
PATHS = ("/wecom/callback", "/dingtalk/callback", "/dingtalk/events")

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class World:
    bot: TestServer
    wecom: FakeWeCom
    dingtalk: FakeDingTalk
    events: EventCodec
    http: aiohttp.ClientSession

    @property
    def wecom_codec(self) -> WeComCodec:
        return self.wecom.codec

    def url(self, path: str) -> str:
        return str(self.bot.make_url(path))

    async def rows(self) -> dict[str, int]:
        async with self.bot.app[FACTORY]() as session:
            counts = {}
            for table in WRITTEN:
                result = await session.execute(sql(f"SELECT COUNT(*) FROM {table}"))
                counts[table] = int(result.scalar_one())
            return counts

    async def status(self, method: str, path: str, **kwargs: Any) -> int:
        async with self.http.request(method, self.url(path), **kwargs) as response:
            await response.read()
            return response.status

    def platform_calls(self) -> int:
        return sum(self.wecom.calls.values()) + sum(self.dingtalk.calls.values())


@contextlib.asynccontextmanager
async def running_world(directory: Path) -> AsyncIterator[World]:
    url = await sqlite_database(directory / "bot.db", sample=True)

    keys = new_secrets()
    events_key = new_secrets()["encoding_aes_key"]
    wecom = FakeWeCom(
        keys["corp_id"], keys["secret"], keys["token"], keys["encoding_aes_key"], 1000002
    )
    dingtalk = FakeDingTalk(keys["app_key"], keys["app_secret"], keys["robot_code"])
    wecom_server, dingtalk_server = TestServer(wecom.app()), TestServer(dingtalk.app())
    await wecom_server.start_server()
    await dingtalk_server.start_server()
    settings = load_settings(
        environ={
            **bot_environ(
                keys,
                url,
                str(wecom_server.make_url("")).rstrip("/"),
                str(dingtalk_server.make_url("")).rstrip("/"),
            ),
            "SUIJI_DINGTALK__TOKEN": keys["token"] + "dt",
            "SUIJI_DINGTALK__AES_KEY": events_key,
        }
    )
    bot = TestServer(create_app(settings))
    await bot.start_server()
    wecom.bot_url = str(bot.make_url("/wecom/callback"))
    dingtalk.bot_url = str(bot.make_url("/dingtalk/callback"))
    events = EventCodec(keys["token"] + "dt", events_key, keys["app_key"])
    try:
        async with aiohttp.ClientSession() as http:
            yield World(bot, wecom, dingtalk, events, http)
    finally:
        await bot.close()
        await wecom_server.close()
        await dingtalk_server.close()


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """One bot for the whole module: every test here must leave its tables empty."""
    async with running_world(tmp_path_factory.mktemp("fuzz")) as built:
        yield built


@pytest.fixture
async def empty(world: World) -> AsyncIterator[World]:
    assert await world.rows() == NOTHING
    calls = world.platform_calls()
    yield world
    assert await world.rows() == NOTHING
    assert world.platform_calls() == calls, "nothing may be sent to WeCom or DingTalk"


# --- strategies -------------------------------------------------------------------------------

no_surrogates = st.characters(codec="utf-8", exclude_categories=["Cs"])
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("²³¹µ"),
    max_size=80,
)
now_ms = int(time.time() * 1000)
header_values = st.one_of(
    header_text,
    st.integers(now_ms - 7_200_000, now_ms + 7_200_000).map(str),
    st.sampled_from(["", "0", "-1", "1e12", "²", "1" * 5000, "=" * 44]),
)
headers = st.dictionaries(
    st.sampled_from(
        ["timestamp", "sign", "msg_signature", "Content-Type", "X-Forwarded-For", "Accept"]
    ),
    header_values,
    max_size=4,
)
query_values = st.one_of(
    st.text(alphabet=no_surrogates, max_size=60),
    st.integers(0, 2**63).map(str),
    st.sampled_from(["", "+", "%2B", "==", "a" * 4000]),
)
queries = st.one_of(
    # Shaped like a callback's query, so the body is read and parsed before the check fails.
    st.fixed_dictionaries(
        {"msg_signature": query_values, "timestamp": query_values, "nonce": query_values},
        optional={"echostr": query_values, "signature": query_values},
    ),
    st.dictionaries(
        st.one_of(
            st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr", "signature"]),
            st.text(alphabet=no_surrogates, min_size=1, max_size=10),
        ),
        query_values,
        max_size=5,
    ),
)
XML_PIECES = [
    "<xml>",
    "</xml>",
    "<Encrypt>",
    "</Encrypt>",
    "<ToUserName>",
    "</ToUserName>",
    "<![CDATA[",
    "]]>",
    "<!DOCTYPE x [",
    "<!ENTITY a 'aaaaaaaaaa'>",
    "<!ENTITY b '&a;&a;&a;&a;'>",
    "]>",
    "&a;",
    "&b;",
    "<?xml version='1.0'?>",
    '<!ENTITY e SYSTEM "file:///etc/passwd">',
    "&e;",
    "<MsgType>text</MsgType>",
    "<Content>帮助</Content>",
    "<MsgId>1</MsgId>",
]
xmlish_text = st.lists(
    st.one_of(st.sampled_from(XML_PIECES), st.text(alphabet=no_surrogates, max_size=12)),
    max_size=30,
).map("".join)
xmlish = st.tuples(xmlish_text, st.sampled_from(["utf-8", "utf-16", "utf-16-be"])).map(
    lambda pair: pair[0].encode(pair[1], "surrogatepass")
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["encrypt", "msgId", "senderStaffId", "text", "content", "msgtype"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=15,
)
jsonish = json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode())
huge = st.tuples(
    st.binary(min_size=1, max_size=16),
    st.one_of(st.integers(1, 300 * 1024), st.sampled_from([MAX_BODY - 1, MAX_BODY, MAX_BODY + 1])),
).map(lambda pair: (pair[0] * (pair[1] // len(pair[0]) + 1))[: pair[1]])
ciphertexts = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=1
) | st.text(alphabet=no_surrogates, min_size=1, max_size=100)
# Well-formed envelopes, so the signature check itself is reached (and fails).
envelopes = st.one_of(
    ciphertexts.map(lambda c: f"<xml><Encrypt><![CDATA[{c}]]></Encrypt></xml>".encode()),
    ciphertexts.map(lambda c: json.dumps({"encrypt": c}).encode()),
)
bodies = st.one_of(
    envelopes,
    st.binary(max_size=2048),
    xmlish,
    jsonish,
    huge,
    st.sampled_from([b"", b"[" * 50_000, b'{"encrypt": ' + b"9" * 5000 + b"}"]),
)


# --- fuzzing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@FUZZ
@given(body=bodies, query=queries, header=headers)
async def test_fuzzed_posts_are_refused_4xx_and_write_nothing(
    empty: World, path: str, body: bytes, query: dict[str, str], header: dict[str, str]
) -> None:
    status = await empty.status("POST", path, data=body, params=query, headers=header)
    assert 400 <= status < 500, status
    assert await empty.rows() == NOTHING


@FUZZ
@given(query=queries, header=headers)
async def test_fuzzed_url_checks_are_refused_4xx_and_write_nothing(
    empty: World, query: dict[str, str], header: dict[str, str]
) -> None:
    status = await empty.status("GET", "/wecom/callback", params=query, headers=header)
    assert 400 <= status < 500, status
    assert await empty.rows() == NOTHING


@FUZZ
@given(
    echostr=st.one_of(
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
            max_size=200,
        ),
        st.text(alphabet=no_surrogates, max_size=50),
    ).filter(bool),
    timestamp=st.text(alphabet="0123456789", min_size=1, max_size=12),
    nonce=st.text(alphabet=no_surrogates, min_size=1, max_size=20),
)
async def test_validly_signed_garbage_echostr_is_refused_400(
    empty: World, echostr: str, timestamp: str, nonce: str
) -> None:
    codec = empty.wecom_codec
    query = {
        "msg_signature": signature(codec.token, timestamp, nonce, echostr),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": echostr,
    }
    assert await empty.status("GET", "/wecom/callback", params=query) == 400


@FUZZ
@given(inner=st.one_of(xmlish_text, st.text(alphabet=no_surrogates, max_size=300)))
async def test_validly_sealed_wecom_garbage_is_400_or_ignored(empty: World, inner: str) -> None:
    # Without a sender nothing can be stored; with a DOCTYPE it must not even be parsed.
    assume("FromUserName" not in inner)
    envelope, query = empty.wecom.sealed(inner)
    status = await empty.status("POST", "/wecom/callback", data=envelope.encode(), params=query)
    assert status in (200, 400), status
    if "<!DOCTYPE" in inner or "<!ENTITY" in inner:
        assert status == 400


async def test_dingtalk_check_url_is_answered_with_an_encrypted_success(empty: World) -> None:
    """What DingTalk's console sends when the event URL is saved."""
    timestamp, nonce = str(int(time.time() * 1000)), "n0nce"
    sealed = empty.events.answer(json.dumps({"EventType": "check_url"}), timestamp, nonce)
    query = {"msg_signature": sealed["msg_signature"], "timestamp": timestamp, "nonce": nonce}
    async with empty.http.post(
        empty.url("/dingtalk/events"), json={"encrypt": sealed["encrypt"]}, params=query
    ) as response:
        assert response.status == 200
        answer = await response.json()
    opened = empty.events._codec.verify_url(
        answer["msg_signature"], answer["timeStamp"], answer["nonce"], answer["encrypt"]
    )
    assert opened == "success"


@FUZZ
@given(inner=st.one_of(json_values.map(json.dumps), st.text(alphabet=no_surrogates, max_size=300)))
async def test_validly_sealed_dingtalk_events_are_acknowledged_or_refused_400(
    empty: World, inner: str
) -> None:
    timestamp, nonce = str(int(time.time() * 1000)), "n0nce"
    sealed = empty.events.answer(inner, timestamp, nonce)
    query = {"msg_signature": sealed["msg_signature"], "timestamp": timestamp, "nonce": nonce}
    async with empty.http.post(
        empty.url("/dingtalk/events"), json={"encrypt": sealed["encrypt"]}, params=query
    ) as response:
        assert response.status in (200, 400), response.status
        try:
            event = json.loads(inner)
        except ValueError:
            event = None
        if isinstance(event, dict):
            assert response.status == 200
            answer = await response.json()
            assert (
                empty.events._codec.verify_url(
                    answer["msg_signature"], answer["timeStamp"], answer["nonce"], answer["encrypt"]
                )
                == "success"
            )
        else:
            assert response.status == 400


@FUZZ
@given(body=st.one_of(st.binary(max_size=2048), xmlish, jsonish, huge))
async def test_validly_signed_robot_garbage_is_refused_400_or_413(
    empty: World, body: bytes
) -> None:
    # These bodies cannot name both a sender and a message id, so none may be stored.
    assume(b"msgId" not in body or b"senderStaffId" not in body)
    headers = empty.dingtalk.robot_headers()
    status = await empty.status("POST", "/dingtalk/callback", data=body, headers=headers)
    assert status == (413 if len(body) > MAX_BODY else 400)
    assert await empty.rows() == NOTHING  # the sign, too, is still unspent


# --- targeted cases ---------------------------------------------------------------------------


async def test_signed_envelope_with_a_doctype_inside_is_refused_and_writes_nothing(
    empty: World,
) -> None:
    # Without its DOCTYPE this would be a valid 「帮助」 from a registered leader.
    inner = FakeWeCom.text_xml(ZHANG_KAI, "帮助", 777, int(time.time()))
    hostile = "<!DOCTYPE xml [<!ENTITY a '帮助'>]>" + inner.replace("帮助", "&a;")
    envelope, query = empty.wecom.sealed(hostile)
    assert (
        await empty.status("POST", "/wecom/callback", data=envelope.encode(), params=query) == 400
    )


async def test_signed_envelope_with_an_external_entity_inside_is_refused(empty: World) -> None:
    inner = (
        '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
        f"<xml><FromUserName>{ZHANG_KAI}</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>&e;</Content><MsgId>778</MsgId></xml>"
    )
    envelope, query = empty.wecom.sealed(inner)
    assert (
        await empty.status("POST", "/wecom/callback", data=envelope.encode(), params=query) == 400
    )


async def test_a_signed_wecom_callback_with_timestamp_abc_is_refused_400(empty: World) -> None:
    inner = FakeWeCom.text_xml(ZHANG_KAI, "帮助", 779, int(time.time()))
    envelope, query = empty.wecom.sealed(inner, timestamp="abc")
    assert (
        await empty.status("POST", "/wecom/callback", data=envelope.encode(), params=query) == 400
    )
    echo, sig = empty.wecom_codec.seal_echo("1288432023552776189", "abc", "47744683")
    query = {"msg_signature": sig, "timestamp": "abc", "nonce": "47744683", "echostr": echo}
    assert await empty.status("GET", "/wecom/callback", params=query) == 400


async def test_utf16_envelope_with_a_doctype_is_refused_like_a_utf8_one(empty: World) -> None:
    doc = "<!DOCTYPE x [<!ENTITY a 'b'>]><xml><Encrypt>&a;</Encrypt></xml>"
    query = {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "2"}
    utf8 = await empty.status("POST", "/wecom/callback", data=doc.encode(), params=query)
    declared = '<?xml version="1.0" encoding="UTF-16"?>' + doc
    utf16 = await empty.status(
        "POST", "/wecom/callback", data=declared.encode("utf-16"), params=query
    )
    assert utf8 == 400
    assert utf16 == utf8


async def test_the_fuzzed_world_accepts_what_the_platforms_sign(empty: World) -> None:
    """The fuzzing above proves something only if signed requests do get through here."""
    echo, sig = empty.wecom_codec.seal_echo("1288432023552776189", "1476416373", "47744683")
    query = {"msg_signature": sig, "timestamp": "1476416373", "nonce": "47744683", "echostr": echo}
    async with empty.http.get(empty.url("/wecom/callback"), params=query) as response:
        assert (response.status, await response.text()) == (200, "1288432023552776189")
    # A signed message suiji ignores (an image): accepted, nothing stored.
    image = (
        f"<xml><FromUserName>{ZHANG_KAI}</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>image</MsgType><MsgId>9</MsgId></xml>"
    )
    envelope, query = empty.wecom.sealed(image)
    assert (
        await empty.status("POST", "/wecom/callback", data=envelope.encode(), params=query) == 200
    )
    # A correctly signed robot callback gets past the sign: its missing msgId is what fails.
    headers = empty.dingtalk.robot_headers()
    body = {"senderStaffId": "x"}
    assert await empty.status("POST", "/dingtalk/callback", json=body, headers=headers) == 400
    headers["sign"] = robot_sign("wrong", headers["timestamp"])
    assert await empty.status("POST", "/dingtalk/callback", json=body, headers=headers) == 403


async def test_signed_messages_are_stored_so_the_row_counts_can_see_writes(
    tmp_path: Path,
) -> None:
    async with running_world(tmp_path) as fresh:
        assert await fresh.wecom.say(fresh.http, "stranger", "你好") == 200
        assert (await fresh.rows())["inbound_events"] == 1
        # A refused robot body leaves its sign unspent (the check above would see it spent):
        # the same sign then carries a good body, once.
        headers = fresh.dingtalk.robot_headers()
        garbage = {"senderStaffId": "stranger"}
        good = fresh.dingtalk.robot_body("stranger", "help")
        assert (
            await fresh.status("POST", "/dingtalk/callback", json=garbage, headers=headers) == 400
        )
        assert (await fresh.rows())["robot_signs"] == 0
        assert await fresh.status("POST", "/dingtalk/callback", json=good, headers=headers) == 200
        # The same callback again (the platform's retry) is the same event, stored once; any
        # other body under that sign is a replay.
        assert await fresh.status("POST", "/dingtalk/callback", json=good, headers=headers) == 200
        other = fresh.dingtalk.robot_body("stranger", "help")
        assert await fresh.status("POST", "/dingtalk/callback", json=other, headers=headers) == 403
        counts = await fresh.rows()
        assert (counts["inbound_events"], counts["robot_signs"]) == (2, 1)
