"""WeCom callbacks: the official sample vectors, signatures checked before decryption, hostile
XML refused, sealing and opening agree, card clicks, and the message/send bodies we render."""

from __future__ import annotations

import base64
import datetime as dt
import os
import struct
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.platforms.errors import Rejected
from bot.platforms.fakes import FakeWeCom, new_secrets
from bot.platforms.messages import Button, InboundKind, Outgoing, Platform
from bot.platforms.safexml import flat_xml
from bot.platforms.wecom import WeComCodec, render, render_update, signature, to_inbound

NOW = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)

# WeCom's Python sample (callback/Sample.py), as recorded in PROTOCOLS.md.
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "ww1436e0e65a779aee"

URL_SIGNATURE = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
URL_TIMESTAMP = "1476416373"
URL_NONCE = "47744683"
URL_ECHOSTR = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)

MSG_SIGNATURE = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
MSG_TIMESTAMP = "1476422779"
MSG_NONCE = "1597212914"
MSG_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTk"
    "AgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJP"
    "QbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7Mhm"
    "EbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/"
    "oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
)

CODEC = WeComCodec(TOKEN, AES_KEY, CORP_ID)


def envelope(encrypt: str, agent_id: str = "1000002") -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt>"
        f"<AgentID><![CDATA[{agent_id}]]></AgentID></xml>"
    ).encode()


def tweak(value: str, at: int = 0) -> str:
    """``value`` with one character changed (a digit/letter swapped for another)."""
    old = value[at]
    new = "1" if old != "1" else "2"
    return value[:at] + new + value[at + 1 :]


def rejected(call: object, *args: object) -> Rejected:
    with pytest.raises(Rejected) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


@pytest.fixture
def no_decryption(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything is decrypted: signatures must be checked first."""

    def refuse(self: WeComCodec, encrypt: str) -> str:
        raise AssertionError("decrypted before the signature was checked")

    monkeypatch.setattr(WeComCodec, "_decrypt", refuse)


# --- the official vectors ---------------------------------------------------------------------


def test_signature_of_the_official_vectors() -> None:
    assert signature(TOKEN, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR) == URL_SIGNATURE
    assert signature(TOKEN, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT) == MSG_SIGNATURE


def test_official_url_check_vector_answers_the_echo_plaintext() -> None:
    answer = CODEC.verify_url(URL_SIGNATURE, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR)
    assert answer == "1288432023552776189"


def test_official_message_vector_opens_to_a_text_from_chenjiashun() -> None:
    message = CODEC.open(MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, envelope(MSG_ENCRYPT))
    assert message["MsgType"] == "text"
    assert message["FromUserName"] == "ChenJiaShun"
    assert message["MsgId"] == "1456453720"
    assert message["AgentID"] == "1000002"
    inbound = to_inbound(message, NOW)
    assert inbound is not None
    assert inbound.platform is Platform.WECOM
    assert inbound.kind is InboundKind.TEXT
    assert inbound.text == "你好"
    assert inbound.sender == "ChenJiaShun"
    assert inbound.dedup_key == "1456453720"
    assert inbound.received_at == NOW


def test_official_vectors_are_refused_under_another_token() -> None:
    other = WeComCodec("x" + TOKEN[1:], AES_KEY, CORP_ID)
    url = rejected(other.verify_url, URL_SIGNATURE, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR)
    msg = rejected(other.open, MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, envelope(MSG_ENCRYPT))
    assert url.status == msg.status == 403


def test_official_message_under_another_corp_id_cannot_be_opened() -> None:
    # The signature is right (same token) but the plaintext names another corp: 400.
    other = WeComCodec(TOKEN, AES_KEY, "ww0000000000000000")
    refusal = rejected(other.open, MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, envelope(MSG_ENCRYPT))
    assert refusal.status == 400


# --- one character changed: 403, before any decryption ----------------------------------------

URL_FIELDS = ("msg_signature", "timestamp", "nonce", "echostr")
URL_VALUES = (URL_SIGNATURE, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR)


@pytest.mark.parametrize("field", URL_FIELDS)
@pytest.mark.parametrize("at", [0, -1])
@pytest.mark.usefixtures("no_decryption")
def test_url_check_with_one_character_changed_is_refused_403(field: str, at: int) -> None:
    values = dict(zip(URL_FIELDS, URL_VALUES, strict=True))
    position = at if at >= 0 else len(values[field]) - 2  # the last echostr chars are "=="
    values[field] = tweak(values[field], position)
    refusal = rejected(CODEC.verify_url, *values.values())
    assert (refusal.status, refusal.reason) == (403, "bad signature")


MSG_FIELDS = ("msg_signature", "timestamp", "nonce", "encrypt")
MSG_VALUES = (MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT)


@pytest.mark.parametrize("field", MSG_FIELDS)
@pytest.mark.parametrize("at", [0, 7, -1])
@pytest.mark.usefixtures("no_decryption")
def test_message_with_one_character_changed_is_refused_403(field: str, at: int) -> None:
    values = dict(zip(MSG_FIELDS, MSG_VALUES, strict=True))
    position = at if at >= 0 else len(values[field]) - 1
    values[field] = tweak(values[field], position)
    body = envelope(values.pop("encrypt"))
    refusal = rejected(CODEC.open, *values.values(), body)
    assert (refusal.status, refusal.reason) == (403, "bad signature")


@pytest.mark.usefixtures("no_decryption")
def test_upper_case_signature_is_not_the_signature() -> None:
    refusal = rejected(
        CODEC.open, MSG_SIGNATURE.upper(), MSG_TIMESTAMP, MSG_NONCE, envelope(MSG_ENCRYPT)
    )
    assert refusal.status == 403


def test_signed_but_garbled_ciphertext_is_refused_400() -> None:
    # The attacker would need the token to sign it; if they had it, garbage is still a 400.
    for garbage in ("AAAA", "not base64 at all!", MSG_ENCRYPT[:-4], MSG_ENCRYPT[4:]):
        sig = signature(TOKEN, MSG_TIMESTAMP, MSG_NONCE, garbage)
        refusal = rejected(CODEC.open, sig, MSG_TIMESTAMP, MSG_NONCE, envelope(garbage))
        assert refusal.status == 400, garbage


# --- the timestamp and the AES padding -------------------------------------------------------

# Not numbers: letters, a float, signs, spaces, digits of other scripts (str.isdigit takes them).
NOT_NUMBERS = [
    "abc",
    "",
    "1e9",
    "-1476422779",
    "+1476422779",
    " 1476422779",
    "1476422779.0",
    "١٤٧٦",
]


@pytest.mark.parametrize("timestamp", NOT_NUMBERS)
def test_a_signed_callback_whose_timestamp_is_not_a_number_is_refused_400(timestamp: str) -> None:
    """WeCom documents no window for the timestamp (so none is enforced: MsgId or sender and
    time deduplicate replays), but it is a count of seconds: anything else is not WeCom."""
    sig = signature(TOKEN, timestamp, MSG_NONCE, MSG_ENCRYPT)
    assert rejected(CODEC.open, sig, timestamp, MSG_NONCE, envelope(MSG_ENCRYPT)).status == 400
    echo_sig = signature(TOKEN, timestamp, URL_NONCE, URL_ECHOSTR)
    refusal = rejected(CODEC.verify_url, echo_sig, timestamp, URL_NONCE, URL_ECHOSTR)
    assert refusal.status == 400


def encrypted_with_padding(xml: str, padding: Callable[[int], bytes]) -> str:
    """``xml`` framed as WeCom frames it (random 16 bytes, length, message, corp id), padded
    with ``padding(n)`` for the n bytes up to the next 32, and encrypted with the sample key."""
    framed = os.urandom(16) + struct.pack(">I", len(xml.encode())) + xml.encode() + CORP_ID.encode()
    n = 32 - len(framed) % 32
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(framed + padding(n)) + encryptor.finalize()).decode()


def open_encrypted(encrypt: str) -> dict[str, str]:
    sig = signature(TOKEN, MSG_TIMESTAMP, MSG_NONCE, encrypt)
    return CODEC.open(sig, MSG_TIMESTAMP, MSG_NONCE, envelope(encrypt))


WRONG_PADDINGS = {
    "zeros before the length": lambda n: bytes(n - 1) + bytes([n]),
    "one byte off": lambda n: bytes([n]) * (n - 1) + bytes([n - 1]),
    "a length beyond the block": lambda n: bytes([n]) * (n - 1) + bytes([33]),
    "a zero length": lambda n: bytes(n),
}


@pytest.mark.parametrize("padding", WRONG_PADDINGS.values(), ids=WRONG_PADDINGS.keys())
def test_padding_whose_bytes_are_not_all_the_pad_length_is_refused_400(
    padding: Callable[[int], bytes],
) -> None:
    xml = FakeWeCom.text_xml("ChenJiaShun", "你好", 1, 2)
    while (16 + 4 + len(xml.encode()) + len(CORP_ID)) % 32 > 30:  # at least two padding bytes
        xml += " "
    assert (
        open_encrypted(encrypted_with_padding(xml, lambda n: bytes([n]) * n))["Content"] == "你好"
    )
    with pytest.raises(Rejected) as refused:
        open_encrypted(encrypted_with_padding(xml, padding))
    assert refused.value.status == 400


# --- hostile and malformed XML ----------------------------------------------------------------

DOCTYPE_BODIES = [
    b"<!DOCTYPE x [<!ENTITY a 'b'>]><xml><Encrypt>&a;</Encrypt></xml>",
    b'<?xml version="1.0"?>\n<!doctype xml SYSTEM "file:///etc/passwd"><xml/>',
    b'<xml><!ENTITY a "b"><Encrypt>x</Encrypt></xml>',
    b"<!DocType x [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;'>]><xml>&lol2;</xml>",
]


@pytest.mark.parametrize("body", DOCTYPE_BODIES)
def test_doctype_and_entity_bodies_are_refused_400(body: bytes) -> None:
    assert rejected(CODEC.open, MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, body).status == 400
    assert rejected(flat_xml, body).status == 400


def test_utf16_doctype_is_refused_like_any_other_doctype() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE x [<!ENTITY a "expanded">]><xml><Encrypt>&a;</Encrypt></xml>'
    ).encode("utf-16")
    assert rejected(flat_xml, body).status == 400


def test_utf16_doctype_envelope_is_refused_400_before_the_signature() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE x [<!ENTITY a "expanded">]><xml><Encrypt>&a;</Encrypt></xml>'
    ).encode("utf-16")
    assert rejected(CODEC.open, MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, body).status == 400


@pytest.mark.parametrize(
    "body",
    [b"", b"<xml>", b"not xml", b"<xml><Encrypt>x</Encrypt>", b"\xff\xfe\x00", b"<a></b>"],
)
def test_malformed_xml_is_refused_400(body: bytes) -> None:
    assert rejected(CODEC.open, MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, body).status == 400


@pytest.mark.parametrize("body", [b"<xml/>", b"<xml><Encrypt></Encrypt></xml>", b"<xml><a/></xml>"])
def test_envelope_without_ciphertext_is_refused_400(body: bytes) -> None:
    assert rejected(CODEC.open, MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, body).status == 400


def test_signed_envelope_whose_plaintext_has_a_doctype_is_refused_400() -> None:
    inner = "<!DOCTYPE x [<!ENTITY a 'b'>]><xml><FromUserName>&a;</FromUserName></xml>"
    body, sig = CODEC.seal(inner, "1700000000", "42")
    refusal = rejected(CODEC.open, sig, "1700000000", "42", body.encode())
    assert refusal.status == 400


def test_flat_xml_reads_the_children_of_the_root() -> None:
    parsed = flat_xml("<xml><A><![CDATA[一]]></A><B>2</B><C/></xml>")
    assert parsed == {"A": "一", "B": "2", "C": ""}


# --- seal and open agree ----------------------------------------------------------------------

KEYS = new_secrets()
SANDBOX = WeComCodec(KEYS["token"], KEYS["encoding_aes_key"], KEYS["corp_id"])

chinese = st.lists(
    st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(list("，。！？：；「」（）—…、 \n\t\u3000")),
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.sampled_from(["]]>", "<![CDATA[", "&amp;", "<xml>", "]]]]><![CDATA[>"]),
    ),
    max_size=200,
).map("".join)
user_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=64)


@settings(max_examples=60, deadline=None)
@given(
    text=chinese,
    user=user_ids,
    msg_id=st.integers(0, 2**63 - 1),
    created=st.integers(0, 2**31),
    nonce=st.text(alphabet="0123456789abcdef", min_size=1, max_size=16),
)
def test_sealed_text_message_opens_to_the_same_text(
    text: str, user: str, msg_id: int, created: int, nonce: str
) -> None:
    timestamp = str(created)
    body, sig = SANDBOX.seal(FakeWeCom.text_xml(user, text, msg_id, created), timestamp, nonce)
    message = SANDBOX.open(sig, timestamp, nonce, body.encode())
    inbound = to_inbound(message, NOW)
    assert inbound is not None
    assert inbound.kind is InboundKind.TEXT
    assert inbound.text == text.strip()
    assert inbound.sender == user
    assert inbound.dedup_key == str(msg_id)


@settings(max_examples=30, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])))
def test_seal_echo_answers_what_verify_url_opens(text: str) -> None:
    encrypt, sig = SANDBOX.seal_echo(text, "1476416373", "nonce")
    assert SANDBOX.verify_url(sig, "1476416373", "nonce", encrypt) == text


def test_a_codec_with_another_aes_key_cannot_open_a_sealed_message() -> None:
    body, sig = SANDBOX.seal(FakeWeCom.text_xml("u", "你好", 1, 2), "2", "3")
    other = WeComCodec(KEYS["token"], new_secrets()["encoding_aes_key"], KEYS["corp_id"])
    assert rejected(other.open, sig, "2", "3", body.encode()).status == 400


# --- what a decrypted message means -----------------------------------------------------------


def test_card_click_is_a_click_with_the_button_key_and_response_code() -> None:
    inner = FakeWeCom.click_xml("lisi", "confirm:17", "suiji-m5", 1700000000, "rc1")
    body, sig = SANDBOX.seal(inner, "1700000000", "9")
    message = SANDBOX.open(sig, "1700000000", "9", body.encode())
    inbound = to_inbound(message, NOW)
    assert inbound is not None
    assert inbound.kind is InboundKind.CLICK
    assert inbound.action == "confirm:17"
    assert inbound.sender == "lisi"
    assert inbound.reply_token == message["ResponseCode"] != ""
    assert inbound.dedup_key == "lisi:1700000000:template_card_event:suiji-m5"
    assert inbound.card == "m5"  # the outbox ref the card was sent under


def test_a_press_on_a_card_not_sent_by_suiji_names_no_card() -> None:
    inner = FakeWeCom.click_xml("lisi", "confirm:17", "other-task", 1700000000, "rc1")
    body, sig = SANDBOX.seal(inner, "1700000000", "9")
    inbound = to_inbound(SANDBOX.open(sig, "1700000000", "9", body.encode()), NOW)
    assert inbound is not None and inbound.card == ""


def test_a_card_update_greys_the_buttons_out_with_the_outcome() -> None:
    update = Outgoing.card_update("rc-9", "已同意（张凯）")
    assert render_update("lisi", 1000002, update) == {
        "userids": ["lisi"],
        "agentid": 1000002,
        "response_code": "rc-9",
        "button": {"replace_name": "已同意（张凯）"},
    }


def test_a_multiple_choice_card_submitted_is_a_form_with_each_questions_options() -> None:
    chosen = {"result": ["pass"], "items": ["wage", "contract"], "skipped": []}
    inner = FakeWeCom.click_xml(
        "lisi", "submit:17", "suiji-m6", 1700000000, "rc2", "multiple_interaction", chosen
    )
    body, sig = SANDBOX.seal(inner, "1700000000", "9")
    inbound = to_inbound(SANDBOX.open(sig, "1700000000", "9", body.encode()), NOW)
    assert inbound is not None
    assert (inbound.kind, inbound.action) == (InboundKind.FORM, "submit:17")
    assert inbound.fields == chosen
    assert inbound.reply_token == "rc2"
    assert inbound.dedup_key == "lisi:1700000000:template_card_event:suiji-m6"


def test_a_vote_card_is_a_form_and_a_button_card_with_stray_choices_a_click() -> None:
    vote = FakeWeCom.click_xml("lisi", "v", "t1", 1, "rc", "vote_interaction", {"q": ["a"]})
    button = FakeWeCom.click_xml("lisi", "b", "t2", 1, "rc", "button_interaction", {"q": ["a"]})
    kinds = []
    for inner in (vote, button):
        body, sig = SANDBOX.seal(inner, "1700000000", "9")
        inbound = to_inbound(SANDBOX.open(sig, "1700000000", "9", body.encode()), NOW)
        assert inbound is not None
        kinds.append((inbound.kind, inbound.fields))
    assert kinds == [(InboundKind.FORM, {"q": ["a"]}), (InboundKind.CLICK, {})]


@pytest.mark.parametrize("question, option", [("", "a"), ("q", "a\x01b"), ("q" * 1025, "a")])
def test_malformed_choices_on_a_card_are_refused_400(question: str, option: str) -> None:
    inner = FakeWeCom.click_xml(
        "lisi", "k", "t", 1, "rc", "multiple_interaction", {question: [option]}
    )
    body, sig = SANDBOX.seal(inner, "1700000000", "9")
    assert rejected(SANDBOX.open, sig, "1700000000", "9", body.encode()).status == 400


def test_clicks_on_two_cards_in_the_same_second_have_different_keys() -> None:
    first = to_inbound(event("template_card_event", TaskId="suiji-m1", EventKey="a"), NOW)
    second = to_inbound(event("template_card_event", TaskId="suiji-m2", EventKey="a"), NOW)
    assert first is not None and second is not None
    assert first.dedup_key != second.dedup_key


def event(name: str, **extra: str) -> dict[str, str]:
    return {
        "FromUserName": "wangwu",
        "CreateTime": "1700000000",
        "MsgType": "event",
        "Event": name,
        **extra,
    }


def test_entering_the_app_is_an_enter_event_keyed_by_sender_and_time() -> None:
    inbound = to_inbound(event("enter_agent"), NOW)
    assert inbound is not None
    assert inbound.kind is InboundKind.ENTER
    assert inbound.dedup_key == "wangwu:1700000000:enter_agent"


@pytest.mark.parametrize(
    "message",
    [
        event("subscribe"),
        event("location"),
        {"FromUserName": "u", "CreateTime": "1", "MsgType": "image", "MsgId": "5"},
        {"MsgType": "text", "Content": "帮助", "MsgId": "5"},  # no sender
        {},
    ],
)
def test_what_suiji_does_not_handle_is_ignored(message: dict[str, str]) -> None:
    assert to_inbound(message, NOW) is None


def test_text_without_msgid_is_keyed_by_sender_and_time() -> None:
    message = {"FromUserName": "u", "CreateTime": "123", "MsgType": "text", "Content": " 帮助 "}
    inbound = to_inbound(message, NOW)
    assert inbound is not None
    assert (inbound.dedup_key, inbound.text) == ("u:123", "帮助")


# --- message/send bodies ----------------------------------------------------------------------

BUTTONS = tuple(Button(f"key{n}", f"按钮{n}") for n in range(1, 9))


def test_text_is_rendered_as_a_text_message_with_duplicate_check() -> None:
    body = render("zhangsan", 1000002, Outgoing.plain("你好"), "m1")
    assert body == {
        "touser": "zhangsan",
        "agentid": 1000002,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 180,
        "msgtype": "text",
        "text": {"content": "你好"},
    }


def test_markdown_is_rendered_as_markdown_content() -> None:
    body = render("u", 7, Outgoing("markdown", "**粗体**", title="标题"), "m2")
    assert body["msgtype"] == "markdown"
    assert body["markdown"] == {"content": "**粗体**"}
    assert body["enable_duplicate_check"] == 1


def test_link_is_rendered_as_a_textcard() -> None:
    message = Outgoing("link", "请填写检查报告", title="检查报告", url="https://x.test/r?a=1")
    body = render("u", 7, message, "m3")
    assert body["msgtype"] == "textcard"
    assert body["textcard"] == {
        "title": "检查报告",
        "description": "请填写检查报告",
        "url": "https://x.test/r?a=1",
    }


def test_card_is_rendered_as_a_button_interaction_template_card() -> None:
    message = Outgoing.card("抽查任务", "请确认是否参加", BUTTONS[:2])
    body = render("u", 7, message, "m42")
    assert body["msgtype"] == "template_card"
    card = body["template_card"]
    assert card["card_type"] == "button_interaction"
    assert card["main_title"] == {"title": "抽查任务"}
    assert card["sub_title_text"] == "请确认是否参加"
    assert card["task_id"] == "suiji-m42"
    assert card["button_list"] == [
        {"text": "按钮1", "key": "key1"},
        {"text": "按钮2", "key": "key2"},
    ]
    assert body["enable_duplicate_check"] == 1


def test_card_keeps_at_most_six_buttons() -> None:
    body = render("u", 7, Outgoing.card("t", "x", BUTTONS), "m1")
    assert [b["key"] for b in body["template_card"]["button_list"]] == [
        f"key{n}" for n in range(1, 7)
    ]


def test_card_task_id_is_stable_for_the_same_ref_and_differs_between_refs() -> None:
    first = render("u", 7, Outgoing.card("t", "x", BUTTONS[:1]), "m9")
    again = render("v", 7, Outgoing.card("other", "y", BUTTONS[1:3]), "m9")
    other = render("u", 7, Outgoing.card("t", "x", BUTTONS[:1]), "m10")
    task_id = first["template_card"]["task_id"]
    assert task_id == again["template_card"]["task_id"] == "suiji-m9"
    assert other["template_card"]["task_id"] != task_id
    assert len(task_id.encode()) <= 128


def test_card_title_is_cut_to_what_wecom_shows() -> None:
    body = render("u", 7, Outgoing.card("标" * 50, "x", BUTTONS[:1]), "m1")
    assert body["template_card"]["main_title"]["title"] == "标" * 36


def test_a_picture_is_an_image_event_with_its_media_id() -> None:
    message = {
        "FromUserName": "wangwu",
        "CreateTime": "1700000000",
        "MsgType": "image",
        "PicUrl": "http://x/p",
        "MediaId": "media-1",
        "MsgId": "77",
    }
    inbound = to_inbound(message, NOW)
    assert inbound is not None and inbound.kind is InboundKind.IMAGE
    assert (inbound.dedup_key, inbound.fields) == ("77", {"media": "media-1"})
