"""DingTalk: the official event-subscription vector, the robot callback's sign and one-hour
window, malformed robot bodies refused 400, and the robot messages we render."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.platforms.dingtalk import (
    SIGN_WINDOW_MS,
    EventCodec,
    card_to_inbound,
    check_robot_headers,
    render,
    render_card_update,
    render_interactive,
    robot_sign,
    robot_to_inbound,
    send_text_link,
)
from bot.platforms.errors import Rejected
from bot.platforms.fakes import FakeDingTalk, new_secrets
from bot.platforms.messages import Button, InboundKind, Outgoing, Platform
from bot.platforms.wecom import signature

NOW = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)

# DingTalk's event-subscription sample, as recorded in PROTOCOLS.md.
TOKEN = "mryue"
AES_KEY = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"
APP_KEY = "ding6ccabc44d2c8d38b"
SIGNATURE = "03044561471240d4a14bb09372dfcfd4fd0e40cb"
TIMESTAMP = "1608001896814"
NONCE = "WL4PK6yA"
ENCRYPT = (
    "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDC"
    "YxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3"
)
CODEC = EventCodec(TOKEN, AES_KEY, APP_KEY)

SECRET = "gUvzZ1Gj3v0A9PwRNRbEnfd0vWxKtOR2S3qlLHm0mXW_fVxZcwxx9ZUnnKqpr1oG"
NOW_MS = 1_772_415_000_000


def body_of(encrypt: str) -> bytes:
    return json.dumps({"encrypt": encrypt}).encode()


def rejected(call: object, *args: object) -> Rejected:
    with pytest.raises(Rejected) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


# --- event subscription -----------------------------------------------------------------------


def test_official_event_vector_opens_to_check_url() -> None:
    assert signature(TOKEN, TIMESTAMP, NONCE, ENCRYPT) == SIGNATURE
    assert CODEC.open(SIGNATURE, TIMESTAMP, NONCE, body_of(ENCRYPT)) == {"EventType": "check_url"}


@pytest.mark.parametrize("field", ["signature", "timestamp", "nonce", "encrypt"])
def test_official_event_vector_with_one_character_changed_is_refused_403(field: str) -> None:
    values = {"signature": SIGNATURE, "timestamp": TIMESTAMP, "nonce": NONCE, "encrypt": ENCRYPT}
    old = values[field][3]
    # A digit for a digit: a timestamp that is not a number is refused before the signature.
    new = ("1" if old != "1" else "2") if old.isdigit() else ("A" if old != "A" else "B")
    values[field] = values[field][:3] + new + values[field][4:]
    body = body_of(values.pop("encrypt"))
    refusal = rejected(CODEC.open, values["signature"], values["timestamp"], values["nonce"], body)
    assert refusal.status == 403


def test_official_event_vector_is_refused_under_another_app_key() -> None:
    other = EventCodec(TOKEN, AES_KEY, "ding0000000000000000")
    assert rejected(other.open, SIGNATURE, TIMESTAMP, NONCE, body_of(ENCRYPT)).status == 400


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'"x"', b"{}", b'{"encrypt": ""}', b'{"encrypt": 5}', b"\xff\xfe"],
)
def test_event_body_without_a_ciphertext_is_refused_400(body: bytes) -> None:
    assert rejected(CODEC.open, SIGNATURE, TIMESTAMP, NONCE, body).status == 400


def test_answer_success_opens_again_and_its_signature_verifies() -> None:
    answer = CODEC.answer("success", TIMESTAMP, NONCE)
    assert set(answer) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert (answer["timeStamp"], answer["nonce"]) == (TIMESTAMP, NONCE)
    assert answer["msg_signature"] == signature(TOKEN, TIMESTAMP, NONCE, answer["encrypt"])
    plain = CODEC._codec.verify_url(answer["msg_signature"], TIMESTAMP, NONCE, answer["encrypt"])
    assert plain == "success"


def test_answer_of_a_json_event_round_trips_through_open() -> None:
    event = {"EventType": "user_add_org", "UserId": ["张三"], "TimeStamp": TIMESTAMP}
    answer = CODEC.answer(json.dumps(event, ensure_ascii=False), TIMESTAMP, NONCE)
    opened = CODEC.open(answer["msg_signature"], TIMESTAMP, NONCE, body_of(answer["encrypt"]))
    assert opened == event


@pytest.mark.parametrize("plain", ["success", "[1, 2]", "not json"])
def test_signed_event_that_is_not_a_json_object_is_refused_400(plain: str) -> None:
    answer = CODEC.answer(plain, TIMESTAMP, NONCE)
    refusal = rejected(
        CODEC.open, answer["msg_signature"], TIMESTAMP, NONCE, body_of(answer["encrypt"])
    )
    assert refusal.status == 400


# --- robot callback: sign and window ----------------------------------------------------------


def independent_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), "sha256")
    return base64.b64encode(mac.digest()).decode("ascii")


def test_robot_sign_is_base64_hmac_sha256_of_timestamp_newline_secret() -> None:
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), b"1608001896814\n" + SECRET.encode(), hashlib.sha256).digest()
    ).decode()
    assert robot_sign(SECRET, "1608001896814") == expected
    assert robot_sign("秘密", "1") == independent_sign("秘密", "1")


@settings(max_examples=50, deadline=None)
@given(
    secret=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1),
    timestamp=st.integers(0, 10**13).map(str),
)
def test_robot_sign_matches_an_independent_computation(secret: str, timestamp: str) -> None:
    assert robot_sign(secret, timestamp) == independent_sign(secret, timestamp)


@pytest.mark.parametrize("offset", [0, 1, -1, SIGN_WINDOW_MS, -SIGN_WINDOW_MS, 3_599_999])
def test_robot_headers_within_an_hour_either_way_are_accepted(offset: int) -> None:
    assert SIGN_WINDOW_MS == 3600 * 1000
    timestamp = str(NOW_MS + offset)
    check_robot_headers(SECRET, timestamp, independent_sign(SECRET, timestamp), NOW_MS)


@pytest.mark.parametrize("offset", [SIGN_WINDOW_MS + 1, -SIGN_WINDOW_MS - 1, 10**12, -NOW_MS])
def test_robot_headers_beyond_an_hour_are_refused_403(offset: int) -> None:
    timestamp = str(NOW_MS + offset)
    refusal = rejected(
        check_robot_headers, SECRET, timestamp, independent_sign(SECRET, timestamp), NOW_MS
    )
    assert refusal.status == 403


@pytest.mark.parametrize(
    "sign",
    ["", "x", "sign", robot_sign("other secret", str(NOW_MS)), robot_sign(SECRET, "1")],
)
def test_robot_headers_with_a_bad_sign_are_refused_403(sign: str) -> None:
    refusal = rejected(check_robot_headers, SECRET, str(NOW_MS), sign, NOW_MS)
    assert (refusal.status, refusal.reason) == (403, "bad sign")


def test_robot_sign_must_match_exactly_not_just_decode_alike() -> None:
    good = robot_sign(SECRET, str(NOW_MS))
    for near in (good.rstrip("="), good + "\n", " " + good, good.lower()):
        assert near != good
        assert rejected(check_robot_headers, SECRET, str(NOW_MS), near, NOW_MS).status == 403


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "-1", "+1772415000000", "1772415000000.0", " 1772415000000", "1e12"]
)
def test_robot_headers_with_a_non_digit_timestamp_are_refused_403(timestamp: str) -> None:
    refusal = rejected(
        check_robot_headers, SECRET, timestamp, independent_sign(SECRET, timestamp), NOW_MS
    )
    assert refusal.status == 403


def test_robot_headers_with_a_superscript_digit_timestamp_are_refused_403() -> None:
    assert rejected(check_robot_headers, SECRET, "²", "x", NOW_MS).status == 403


def test_robot_headers_with_a_5000_digit_timestamp_are_refused_403() -> None:
    assert rejected(check_robot_headers, SECRET, "1" * 5000, "x", NOW_MS).status == 403


# --- robot callback: the body -----------------------------------------------------------------

FAKE = FakeDingTalk(APP_KEY, SECRET, "dingrobot")


def test_robot_text_becomes_a_stripped_text_inbound() -> None:
    body = FAKE.robot_body("0516754045645063", "  我的任务 \n", msg_id="msgABC")
    inbound = robot_to_inbound(json.dumps(body).encode(), NOW)
    assert inbound is not None
    assert inbound.platform is Platform.DINGTALK
    assert inbound.kind is InboundKind.TEXT
    assert inbound.text == "我的任务"
    assert inbound.sender == "0516754045645063"
    assert inbound.dedup_key == "msgABC"
    assert inbound.reply_token == body["sessionWebhook"]
    assert inbound.received_at == NOW


def test_robot_body_without_text_is_an_empty_text() -> None:
    body = {"msgtype": "picture", "msgId": "m1", "senderStaffId": "s1", "sessionWebhook": 5}
    inbound = robot_to_inbound(json.dumps(body).encode(), NOW)
    assert inbound is not None
    assert (inbound.text, inbound.reply_token) == ("", "")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"\xff\xfe\xfd",
        b"null",
        b"[]",
        b'"senderStaffId"',
        b"{}",
        b'{"msgId": "m1"}',
        b'{"senderStaffId": "s1"}',
        b'{"senderStaffId": "", "msgId": "m1"}',
        b'{"senderStaffId": "s1", "msgId": ""}',
        b'{"senderStaffId": 5, "msgId": "m1"}',
        b'{"senderStaffId": "s1", "msgId": ["m1"]}',
        b'{"senderStaffId": null, "msgId": null}',
    ],
)
def test_malformed_robot_bodies_are_refused_400(body: bytes) -> None:
    assert rejected(robot_to_inbound, body, NOW).status == 400


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["senderStaffId", "msgId", "text", "content", "x"]),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_robot_body_parsing_never_raises_anything_but_rejected(body: bytes) -> None:
    try:
        inbound = robot_to_inbound(body, NOW)
    except Rejected as refusal:
        assert refusal.status == 400
    else:
        assert inbound is not None and inbound.sender and inbound.dedup_key


def test_deeply_nested_robot_body_is_refused_400() -> None:
    assert rejected(robot_to_inbound, b"[" * 100_000, NOW).status == 400


def test_robot_body_with_a_huge_integer_is_refused_400() -> None:
    assert rejected(robot_to_inbound, b'{"a": ' + b"9" * 5000 + b"}", NOW).status == 400


def test_deeply_nested_event_envelope_is_refused_400() -> None:
    assert rejected(CODEC.open, SIGNATURE, TIMESTAMP, NONCE, b"[" * 100_000).status == 400


def test_event_envelope_with_a_huge_integer_is_refused_400() -> None:
    body = b'{"encrypt": ' + b"9" * 5000 + b"}"
    assert rejected(CODEC.open, SIGNATURE, TIMESTAMP, NONCE, body).status == 400


# --- rendering --------------------------------------------------------------------------------

BUTTONS = tuple(Button(f"confirm:{n}", f"按钮{n}") for n in range(1, 8))

# The robot message templates (msgKey → msgParam fields) for the action cards.
ACTION_CARD_FIELDS: dict[str, set[str]] = {
    "sampleActionCard": {"title", "text", "singleTitle", "singleURL"},
    **{
        f"sampleActionCard{n}": {"title", "text"}
        | {f"actionTitle{i}" for i in range(1, n + 1)}
        | {f"actionURL{i}" for i in range(1, n + 1)}
        for n in range(2, 6)
    },
    # 横向二个按钮: a horizontal pair, with its own field names.
    "sampleActionCard6": {
        "title",
        "text",
        "buttonTitle1",
        "buttonUrl1",
        "buttonTitle2",
        "buttonUrl2",
    },
}


def content_of(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("dtmd", "dingtalkclient", "/sendMessage")
    [content] = urllib.parse.parse_qs(parsed.query, strict_parsing=True)["content"]
    return content


def test_text_and_markdown_render_as_sample_text_and_markdown() -> None:
    assert render(Outgoing.plain("你好")) == ("sampleText", {"content": "你好"})
    assert render(Outgoing("markdown", "**正文**", title="标题")) == (
        "sampleMarkdown",
        {"title": "标题", "text": "**正文**"},
    )


def test_markdown_without_a_title_takes_the_start_of_the_text() -> None:
    key, param = render(Outgoing("markdown", "一" * 30))
    assert (key, param["title"]) == ("sampleMarkdown", "一" * 20)


def test_link_renders_as_a_single_url_action_card() -> None:
    message = Outgoing("link", "请填写报告", title="检查报告", url="https://x.test/r?id=1")
    assert render(message) == (
        "sampleActionCard",
        {
            "title": "检查报告",
            "text": "请填写报告",
            "singleTitle": "检查报告",
            "singleURL": "https://x.test/r?id=1",
        },
    )


def test_one_button_renders_as_a_single_url_card_sending_its_key() -> None:
    key, param = render(Outgoing.card("任务", "请确认", BUTTONS[:1]))
    assert key == "sampleActionCard"
    assert set(param) == ACTION_CARD_FIELDS[key]
    assert param["singleTitle"] == "按钮1"
    assert content_of(param["singleURL"]) == "confirm:1"


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_buttons_render_as_the_numbered_action_card_with_dtmd_links(count: int) -> None:
    key, param = render(Outgoing.card("任务", "请确认", BUTTONS[:count]))
    assert key == f"sampleActionCard{count}"
    assert set(param) == ACTION_CARD_FIELDS[key]
    assert (param["title"], param["text"]) == ("任务", "请确认")
    for n in range(1, count + 1):
        assert param[f"actionTitle{n}"] == f"按钮{n}"
        assert content_of(param[f"actionURL{n}"]) == f"confirm:{n}"


@pytest.mark.parametrize("count", [6, 7])
def test_six_or_more_buttons_use_only_fields_their_template_has(count: int) -> None:
    key, param = render(Outgoing.card("任务", "请确认", BUTTONS[:count]))
    assert set(param) <= ACTION_CARD_FIELDS[key]


@settings(max_examples=100, deadline=None)
@given(key=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1))
def test_dtmd_link_content_round_trips_any_key(key: str) -> None:
    link = send_text_link(key)
    assert link.startswith("dtmd://dingtalkclient/sendMessage?content=")
    assert content_of(link) == key
    assert " " not in link and "#" not in link and "&" not in link.split("?", 1)[1]


def test_new_secrets_give_a_sign_the_robot_check_accepts() -> None:
    keys = new_secrets()
    fake = FakeDingTalk(keys["app_key"], keys["app_secret"], keys["robot_code"])
    headers = fake.robot_headers(NOW_MS)
    check_robot_headers(keys["app_secret"], headers["timestamp"], headers["sign"], NOW_MS)


# --- interactive cards (Stream mode, a template configured) ------------------------------------


def test_interactive_card_goes_to_the_persons_robot_chat_with_string_params() -> None:
    card = Outgoing.card("请确认", "**任务** 12", (Button("确认参加 任务12", "确认参加"),))
    body = render_interactive(card, "0516754045645063", "tpl.schema", "dingbot", "9-12")
    assert body["cardTemplateId"] == "tpl.schema" and body["outTrackId"] == "suiji-9-12"
    assert body["openSpaceId"] == "dtv1.card//IM_ROBOT.0516754045645063"
    assert body["imRobotOpenDeliverModel"] == {"spaceType": "IM_ROBOT", "robotCode": "dingbot"}
    assert body["callbackType"] == "STREAM"
    params = body["cardData"]["cardParamMap"]
    assert all(isinstance(v, str) for v in params.values())
    assert params["title"] == "请确认" and params["markdown"] == "**任务** 12"
    assert json.loads(params["buttons"]) == [{"key": "确认参加 任务12", "label": "确认参加"}]


def _callback(
    key: object, user: object = "0516754045645063", **inputs: object
) -> dict[str, object]:
    params = {"key": key, **inputs}
    content = {"cardPrivateData": {"actionIds": ["press"], "params": params}}
    return {"outTrackId": "suiji-9-12", "userId": user, "content": json.dumps(content)}


def test_a_card_press_becomes_a_click_with_the_buttons_key() -> None:
    now = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    inbound = card_to_inbound(_callback("无法参加 任务12"), "m1", now)
    assert inbound is not None
    assert (inbound.platform, inbound.kind) == (Platform.DINGTALK, InboundKind.CLICK)
    assert inbound.action == "无法参加 任务12" and inbound.sender == "0516754045645063"
    assert inbound.dedup_key == "card:m1"  # a redelivered frame keeps its message id
    assert inbound.card == "9-12"  # the outbox ref the card was sent under


def test_closing_an_interactive_card_empties_its_buttons_and_names_the_outcome() -> None:
    body = render_card_update(Outgoing.card_update("suiji-9-12", "已确认参加"))
    assert body == {
        "outTrackId": "suiji-9-12",
        "cardData": {"cardParamMap": {"buttons": "[]", "outcome": "已确认参加"}},
        "cardUpdateOptions": {"updateCardDataByKey": True},
    }


def test_a_card_pressed_with_its_inputs_filled_is_a_form_submission() -> None:
    now = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    data = _callback("提交 任务12", result="合格", items=["1", "3"], note="")
    inbound = card_to_inbound(data, "m2", now)
    assert inbound is not None
    assert (inbound.kind, inbound.action) == (InboundKind.FORM, "提交 任务12")
    assert inbound.fields == {"result": "合格", "items": ["1", "3"], "note": ""}
    assert inbound.dedup_key == "card:m2"


def test_numbers_and_switches_on_a_card_come_as_their_text() -> None:
    now = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    inbound = card_to_inbound(_callback("k", count=3, share=0.5, agreed=True), "m3", now)
    assert inbound is not None
    assert inbound.fields == {"count": "3", "share": "0.5", "agreed": "true"}


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"userId": "u1", "content": "not json"},
        {"userId": "u1", "content": "[1]"},
        {"userId": "u1"},
        _callback(""),
        _callback(7),
        _callback("k", user=""),
        _callback("k", user="a\nb"),
        _callback("x" * 2000),
        _callback("无法参加\x00"),
        _callback("k", result={"nested": "object"}),
        _callback("k", result=None),
        _callback("k", result="x" * 2001),
        _callback("k", result="half an emoji \ud83d"),
        _callback("k", result="nul\x00"),
        _callback("k", items=["1", ["2"]]),
        _callback("k", items=[str(n) for n in range(51)]),
        _callback("k", **{f"q{n}": "a" for n in range(51)}),
        _callback("k", **{"bad\nname": "a"}),
    ],
)
def test_malformed_card_callbacks_are_refused_400(data: object) -> None:
    with pytest.raises(Rejected) as refused:
        card_to_inbound(data, "m1", dt.datetime(2026, 11, 26, tzinfo=dt.UTC))
    assert refused.value.status == 400


def test_a_picture_is_an_image_event_with_its_download_code() -> None:
    body = {
        "msgtype": "picture",
        "content": {"downloadCode": "code-1"},
        "msgId": "m2",
        "senderStaffId": "s1",
    }
    inbound = robot_to_inbound(json.dumps(body).encode(), NOW)
    assert inbound is not None and inbound.kind is InboundKind.IMAGE
    assert inbound.fields == {"media": "code-1"}
