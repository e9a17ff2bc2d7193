"""The personal-data detectors (issue 17 §4): ID numbers, mobiles, bank cards, e-mail, the
registries' names and accounts; and what they must let stand: USCCs, employers' names."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.registry.personal import PROVINCES, Kind, People, Person, find, is_id_number, mask
from bot.registry.uscc import ALPHABET, check_character

ROOT = Path(__file__).resolve().parents[2]

# GB 11643-1999 §7.2: the weights of positions 1–17 as printed (2^(18-i) mod 11), and the
# check character for sums mod 11 of 0…10; written out, not taken from the module.
STANDARD_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
STANDARD_CHECKS = ("1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2")
STANDARD_EXAMPLE = "11010519491231002X"  # the worked example of GB 11643-1999


def reference_id(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, STANDARD_WEIGHTS, strict=True))
    return first17 + STANDARD_CHECKS[total % 11]


def reference_luhn(digits: str) -> bool:
    doubled = [int(d) * (1 + i % 2) for i, d in enumerate(reversed(digits))]
    return sum(d // 10 + d % 10 for d in doubled) % 10 == 0


def with_luhn(body: str) -> str:
    return next(body + d for d in "0123456789" if reference_luhn(body + d))


def kinds(value: str, people: People | None = None) -> list[tuple[Kind, str]]:
    return [(f.kind, f.text) for f in find(value, people or People())]


ID = reference_id("41142219850317004")
CARD = with_luhn("622202020011223")  # 16 digits, Luhn-valid
PHONE_LIKE = "13912345678"


# --- resident ID numbers ---------------------------------------------------------------------


def test_the_standards_example_and_a_made_up_number_are_found() -> None:
    assert kinds(f"身份证号：{STANDARD_EXAMPLE}。") == [(Kind.ID_NUMBER, STANDARD_EXAMPLE)]
    assert kinds(ID) == [(Kind.ID_NUMBER, ID)]
    assert kinds(STANDARD_EXAMPLE.lower()) == [(Kind.ID_NUMBER, STANDARD_EXAMPLE.lower())]


@pytest.mark.parametrize("wrong", "0123456789X")
def test_a_wrong_check_character_is_no_id_number(wrong: str) -> None:
    if wrong == ID[-1]:
        return
    assert not is_id_number(ID[:17] + wrong)
    assert all(kind is not Kind.ID_NUMBER for kind, _ in kinds(ID[:17] + wrong))


@pytest.mark.parametrize(
    "first17",
    [
        "41142219850230004",  # 30 February
        "41142218800101001",  # born 1880: valid check, not a living person
        "41142219851317004",  # month 13
        "99142219850317004",  # 99 is no province
        "00142219850317004",
    ],
)
def test_an_impossible_birth_date_or_province_is_no_id_number(first17: str) -> None:
    assert not is_id_number(reference_id(first17))


def test_old_15_digit_numbers_are_found_with_a_real_date() -> None:
    assert kinds("旧证 411422850317004 号") == [(Kind.ID_NUMBER, "411422850317004")]
    assert not is_id_number("411422851317004")  # month 13
    assert not is_id_number("411422850230004")  # 30 February
    assert not is_id_number("911422850317004")  # no province 91


def test_an_id_inside_a_longer_digit_run_is_not_one() -> None:
    assert all(kind is not Kind.ID_NUMBER for kind, _ in kinds("9" + ID))
    assert all(kind is not Kind.ID_NUMBER for kind, _ in kinds(ID + "1"))


@settings(max_examples=300, deadline=None)
@given(
    province=st.sampled_from(sorted(PROVINCES)),
    rest=st.text(alphabet="0123456789", min_size=4, max_size=4),
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
    seq=st.text(alphabet="0123456789", min_size=3, max_size=3),
)
def test_every_valid_id_number_is_found(province: int, rest: str, born: dt.date, seq: str) -> None:
    number = reference_id(f"{province}{rest}{born:%Y%m%d}{seq}")
    # ...even one that also happens to pass the USCC check: it is no registry employer's code.
    assert kinds(f"号码{number}") == [(Kind.ID_NUMBER, number)]


# --- USCCs are public ------------------------------------------------------------------------


def sample_codes() -> list[str]:
    with (ROOT / "storage/sample/entities.csv").open(encoding="utf-8-sig") as f:
        return [row["统一社会信用代码"] for row in csv.DictReader(f)]


def test_no_sample_employers_uscc_is_ever_a_hit() -> None:
    codes = sample_codes()
    assert len(codes) == 500 and any(c.isdigit() for c in codes)  # all-digit codes included
    for code in codes:
        # Nothing of the registry is known here: the codes stand by their structure alone.
        assert kinds(code) == [], code
        assert kinds(f"统一社会信用代码：{code}，") == [], code


registered_by_market_regulator = st.builds(
    lambda kind, body: "9" + kind + body,
    st.sampled_from("123"),  # 91 enterprise, 92 个体工商户, 93 farmers' cooperative
    st.text(alphabet=ALPHABET, min_size=15, max_size=15),
)
all_digit_codes = st.builds(
    lambda kind, body: "9" + kind + body,
    st.sampled_from("123"),
    st.text(alphabet="0123456789", min_size=15, max_size=15),
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(registered_by_market_regulator, all_digit_codes))
def test_uscc_like_codes_with_a_valid_check_are_never_personal_data(first17: str) -> None:
    code = first17 + check_character(first17)
    assert kinds(code) == []
    assert kinds(f"代码 {code} 结果合格") == []


def code_that_is_also_an_id_number() -> str:
    """An all-digit code of a non-market registrar (12: 事业单位) whose digits also pass the ID
    check: it cannot be told from an ID number by its characters."""
    for seq in range(1000):
        first17 = f"12410119900101{seq:03d}"
        if reference_id(first17)[-1] == check_character(first17):
            return reference_id(first17)
    raise AssertionError("none found")


def test_a_code_that_is_also_an_id_number_is_a_hit_unless_it_is_a_registry_employers() -> None:
    code = code_that_is_also_an_id_number()
    assert kinds(code) == [(Kind.ID_NUMBER, code)]
    assert kinds(code, People(public_codes=frozenset({code}))) == []


def test_digit_runs_inside_a_digest_are_no_numbers() -> None:
    digest = f"ab{ID[:-1]}c{PHONE_LIKE}e{CARD}" + "f" * 10
    assert len(digest) >= 32
    assert kinds(f"SHA-256: {digest}") == [] and kinds(digest.upper()) == []
    # Not a digest: too short, or not hexadecimal; then the numbers in it are found.
    assert [k for k, _ in kinds(f"ab{PHONE_LIKE}c")] == [Kind.MOBILE]
    assert [k for k, _ in kinds(f"{digest}g")] == [Kind.MOBILE, Kind.BANK_CARD]


# --- mobiles, cards, e-mail ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["13912345678", "电话:13912345678。", "+86 139 1234 5678", "199-1234-5678"]
)
def test_mobile_numbers_are_found(value: str) -> None:
    assert [k for k, _ in kinds(value)] == [Kind.MOBILE]


@pytest.mark.parametrize(
    "value",
    ["139123456789", "2013912345678", "12912345678", "1391234567", "订单号 020139123456789"],
)
def test_no_mobile_inside_longer_digit_runs_or_outside_1_3_to_9(value: str) -> None:
    assert Kind.MOBILE not in [k for k, _ in kinds(value)]


def test_luhn_valid_card_numbers_are_found_and_invalid_ones_not() -> None:
    assert kinds(f"卡号 {CARD}") == [(Kind.BANK_CARD, CARD)]
    grouped = " ".join(CARD[i : i + 4] for i in range(0, 16, 4))
    assert kinds(f"卡号 {grouped}") == [(Kind.BANK_CARD, grouped)]
    nineteen = with_luhn("621700123456789012")
    assert kinds(nineteen) == [(Kind.BANK_CARD, nineteen)]
    broken = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
    assert not reference_luhn(broken)
    assert kinds(broken) == []
    # Inside a run longer than any card's 19 digits, it is no card.
    assert kinds("1" * 4 + CARD) == [] and kinds(CARD + "0" * 4) == []


def test_e_mail_addresses_are_found() -> None:
    assert kinds("联系 zhang.san@example.com.cn 或") == [(Kind.EMAIL, "zhang.san@example.com.cn")]
    assert kinds("a@b") == [] and kinds("@example.com") == []


# --- the registries' people ------------------------------------------------------------------

PEOPLE = People(
    persons=(
        Person("张凯", ("zhangkai", "0516754045645063")),
        Person("苗明亮", ("miaomingliang",)),
        Person("华美"),  # a two-character name that is also part of an employer's name
        Person("王芳"),  # also a 个体工商户's registered name (below)
    ),
    public_names=frozenset({"睢县华美物流有限公司", "王芳", "睢县王芳便利店", "劳动关系股"}),
)


def test_names_are_found_in_running_text() -> None:
    assert kinds("检查人员苗明亮、张凯到场", PEOPLE) == [
        (Kind.NAME, "苗明亮"),
        (Kind.NAME, "张凯"),
    ]


def test_a_name_inside_an_allowed_employer_name_is_the_employer() -> None:
    assert kinds("睢县华美物流有限公司：合格", PEOPLE) == []
    assert kinds("华美", PEOPLE) == [(Kind.NAME, "华美")]
    assert kinds("华美到场检查", PEOPLE) == [(Kind.NAME, "华美")]
    assert kinds("睢县华美物流有限公司的华美", PEOPLE) == [(Kind.NAME, "华美")]


def test_a_person_named_like_a_sole_trader_is_public_only_as_the_whole_field() -> None:
    # 个体工商户 王芳 publishes its registered name; the same name in running text may be the
    # registry's 王芳 and is a hit.
    assert kinds("王芳", PEOPLE) == []
    assert kinds(" 王芳 ", PEOPLE) == []
    assert kinds("睢县王芳便利店", PEOPLE) == []
    assert kinds("由王芳检查", PEOPLE) == [(Kind.NAME, "王芳")]


def test_accounts_are_whole_words_of_any_case() -> None:
    assert kinds("userid=ZhangKai;", PEOPLE) == [(Kind.ACCOUNT, "ZhangKai")]
    assert kinds("zhangkaiwen xzhangkai", PEOPLE) == []
    # A DingTalk userid is an account, whatever else its digits might pass for.
    assert kinds("0516754045645063", PEOPLE) == [(Kind.ACCOUNT, "0516754045645063")]


def test_an_account_inside_an_e_mail_is_one_hit() -> None:
    assert kinds("zhangkai@example.com", PEOPLE) == [(Kind.EMAIL, "zhangkai@example.com")]


def test_too_short_names_and_accounts_are_not_looked_for() -> None:
    people = People(persons=(Person("王", ("ab",)),))
    assert kinds("王先生 ab", people) == []


def test_hits_are_masked() -> None:
    assert mask(Kind.ID_NUMBER, "410102198503170041") == "4101**********0041"
    assert mask(Kind.ID_NUMBER, STANDARD_EXAMPLE.lower()) == "1101**********002X"
    assert mask(Kind.ID_NUMBER, "411422850317004") == "4114*******7004"
    assert mask(Kind.MOBILE, "+86 139-1234-5678") == "139****5678"
    assert mask(Kind.BANK_CARD, "6222 0202 0011 2233") == "6222********2233"
    assert mask(Kind.EMAIL, "zhang.san@example.com") == "z***@example.com"
    assert mask(Kind.NAME, "苗明亮") == "苗**"
    assert mask(Kind.ACCOUNT, "zhangkai") == "zh******"
