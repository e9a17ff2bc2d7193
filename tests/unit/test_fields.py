"""Typed sheet columns: every canonical value survives format → parse, and bad cells say why."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.base.texts import table
from bot.registry.fields import (
    CellError,
    ExcelError,
    Field,
    cell_text,
    choice_field,
    choices_field,
    count_field,
    date_field,
    identifier_field,
    labels,
    parse_date,
    percent_field,
    text_field,
    words_field,
    yes_no_field,
)
from bot.registry.kinds import KINDS
from bot.registry.uscc import ALPHABET, check_character

CJK = re.compile("[\u4e00-\u9fff]")
SEPARATORS = ["、", ",", "，", ";", "；", "/", "／", " ", " 、 "]

# What each column of each kind is, as the sheets are documented: (factory, argument, required).
# The round-trip test draws cells from this description; a column added to kinds.py without an
# entry here fails test_every_field_has_a_cell_strategy.
SPEC: dict[str, dict[str, tuple[str, Any, bool]]] = {
    "units": {
        "name": ("text", 100, True),
        "kind": ("choice", "unit_kind", True),
    },
    "officers": {
        "certificate_no": ("identifier", 50, False),
        "name": ("text", 50, True),
        "unit": ("text", 100, True),
        "roles": ("choices", "role", True),
        "team_leader_eligible": ("yes_no", None, True),
        "certificate_authority": ("text", 100, False),
        "certificate_valid_until": ("date", None, False),
        "certificate_status": ("choice", "certificate_status", False),
        "specialties": ("words", 20, False),
        "wecom_userid": ("identifier", 64, False),
        "dingtalk_userid": ("identifier", 64, False),
    },
    "entities": {
        "uscc": ("uscc", None, True),
        "name": ("text", 200, True),
        "address": ("text", 300, True),
        "district": ("text", 50, True),
        "grid": ("text", 50, True),
        "industry": ("text", 100, True),
        "employee_count": ("count", None, True),
        "credit_grade": ("choice", "credit_grade", False),
        "complaints_12m": ("count", None, True),
        "serious_violation": ("yes_no", None, True),
        "status": ("choice", "entity_status", True),
        "last_inspected": ("date", None, False),
    },
    "items": {
        "code": ("identifier", 50, True),
        "name": ("text", 200, True),
        "subject": ("text", 200, True),
        "legal_basis": ("text", 2000, True),
        "content": ("text", 2000, True),
        "method": ("choices", "check_method", True),
        "default_ratio": ("percent", None, True),
        "frequency_per_year": ("count", None, True),
        "valid_from": ("date", None, True),
        "valid_to": ("date", None, False),
    },
    "recusals": {
        "certificate_no": ("identifier", 50, True),
        "uscc": ("uscc", None, True),
        "reason": ("text", 500, True),
        "declared_on": ("date", None, True),
    },
}

ALL_FIELDS = [
    pytest.param(kind, field, id=f"{kind.name}.{field.name}")
    for kind in KINDS.values()
    for field in kind.fields
]

# --- cell strategies -------------------------------------------------------------------------

# Characters that are never blanks or list separators (no Z*, no control, no surrogates).
solid_chars = st.characters(
    blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"), blacklist_characters="、,，;；/／"
)


def text_cells(max_length: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.text(max_size=min(max_length, 80)),
        st.text(alphabet="睢县人力资源和社会保障局 （）·-0123456789ab", max_size=max_length),
        st.integers(-(10**9), 10**9),
    )


def identifier_cells(max_length: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.text(solid_chars, max_size=max_length).map(lambda s: f" {s}\u3000"),
        st.from_regex(r"[A-Za-z0-9_.@-]{1,30}", fullmatch=True),
        st.integers(0, 10**17),
    )


def full_width(code: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in code)


uscc_cells = st.builds(
    lambda prefix, style: style(prefix + check_character(prefix)),
    st.text(alphabet=ALPHABET, min_size=17, max_size=17),
    st.sampled_from(
        [
            lambda c: c,
            str.lower,
            lambda c: f"  {c[:6]} {c[6:]} ",
            full_width,
        ]
    ),
)

_DATE_STYLES = [
    lambda d: d,
    lambda d: dt.datetime.combine(d, dt.time(13, 45, 7)),
    lambda d: dt.datetime.combine(d, dt.time()),
    lambda d: d.isoformat(),
    lambda d: f"{d.year:04d}-{d.month}-{d.day}",
    lambda d: f"{d.year:04d}/{d.month}/{d.day}",
    lambda d: f"{d.year:04d}.{d.month:02d}.{d.day}",
    lambda d: f"{d.year:04d}年{d.month}月{d.day}日",
    lambda d: f"{d.year:04d}年{d.month}月{d.day}",
    lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}",
    lambda d: f" {d.isoformat()} ",
]
date_cells = st.builds(
    lambda d, style: style(d),
    st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31)),
    st.sampled_from(_DATE_STYLES),
)

count_cells = st.integers(0, 10_000_000).flatmap(
    lambda n: st.sampled_from([n, float(n), str(n), f"{n:,}", f" {n} ", f"+{n}"])
)

percent_cells = st.integers(1, 10_000).flatmap(
    lambda hundredths: st.sampled_from(
        [
            f"{Decimal(hundredths) / 100}%",
            f"{Decimal(hundredths) / 100}",
            f"{Decimal(hundredths) / 100}％",
            f"{Decimal(hundredths) / 100} %",
            float(Decimal(hundredths) / 100),
            Decimal(hundredths) / 100,
        ]
    )
)

yes_no_cells = st.sampled_from(
    ["是", "否", "Y", "N", "y", "n", "Yes", "NO", "TRUE", "false", "1", "0", 1, 0, 1.0, True, False]
)


def choice_cells(group: str) -> st.SearchStrategy[str]:
    words = list(labels(group).values()) + list(labels(group)) + [c.upper() for c in labels(group)]
    return st.sampled_from(words)


def list_cells(items: st.SearchStrategy[str], min_size: int) -> st.SearchStrategy[str]:
    def join(parts: list[str], seps: list[str]) -> str:
        out = parts[0]
        for part, sep in zip(parts[1:], seps, strict=False):
            out += sep + part
        return out

    return st.lists(items, min_size=min_size, max_size=6).flatmap(
        lambda parts: st.lists(
            st.sampled_from(SEPARATORS), min_size=len(parts), max_size=len(parts)
        ).map(lambda seps: join(parts, seps) if parts else "")
    )


def words_cells(max_length: int) -> st.SearchStrategy[str]:
    word = st.one_of(
        st.text(solid_chars, min_size=1, max_size=max_length),
        st.sampled_from(["工资支付", "社会保险", "劳动合同", "工时"]),
    )
    return list_cells(word, 0)


blank_cells = st.sampled_from([None, "", "  ", "\u3000", "\u00a0"])


def cells_for(kind: str, name: str) -> st.SearchStrategy[Any]:
    factory, arg, required = SPEC[kind][name]
    builders: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
        "text": lambda: text_cells(arg),
        "identifier": lambda: identifier_cells(arg),
        "uscc": lambda: uscc_cells,
        "date": lambda: date_cells,
        "count": lambda: count_cells,
        "percent": lambda: percent_cells,
        "yes_no": lambda: yes_no_cells,
        "choice": lambda: choice_cells(arg),
        "choices": lambda: list_cells(choice_cells(arg), 1),
        "words": lambda: words_cells(arg),
    }
    strategy = builders[factory]()
    return strategy if required else st.one_of(blank_cells, strategy)


# --- round trip ------------------------------------------------------------------------------


def test_every_field_has_a_cell_strategy() -> None:
    assert set(SPEC) == set(KINDS)
    for kind in KINDS.values():
        assert list(SPEC[kind.name]) == [f.name for f in kind.fields], kind.name
        for field in kind.fields:
            assert field.required == SPEC[kind.name][field.name][2], f"{kind.name}.{field.name}"


@pytest.mark.parametrize(("kind", "field"), ALL_FIELDS)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_format_then_parse_returns_the_canonical_value(kind: Any, field: Field, data: Any) -> None:
    cell = data.draw(cells_for(kind.name, field.name), label="cell")
    try:
        value = field.parse(cell)
    except CellError as exc:
        # Only free text may be refused (blank, too long, inner blanks, invisible control
        # characters); nothing else should be.
        factory = SPEC[kind.name][field.name][0]
        refusable = (
            "required", "too_long", "inner_space", "control_character",
            # ids: a number cell has lost digits already; accounts allow few characters
            "id_number_cell", "id_characters",
        )  # fmt: skip
        assert factory in ("text", "identifier") and exc.key in refusable, (
            exc.key,
            exc.values,
        )
        assume(False)
        return
    formatted = field.format(value)
    assert field.parse(formatted) == value
    # The CSV form: what a CSV writer puts in the file is the cell as text.
    assert field.parse(cell_text(formatted)) == value
    # Canonical means stable: parsing the canonical value's cell gives the same cell again.
    assert field.format(field.parse(formatted)) == formatted


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "2026-03-01",
        "2026-3-1",
        "2026/3/1",
        "2026/03/01",
        "2026.3.1",
        "2026年3月1日",
        "2026年3月1",
        "20260301",
        " 2026-03-01 ",
        dt.date(2026, 3, 1),
        dt.datetime(2026, 3, 1),
        dt.datetime(2026, 3, 1, 23, 59, 59),
    ],
)
def test_dates_are_accepted_in_the_forms_staff_type(raw: Any) -> None:
    assert parse_date(raw) == dt.date(2026, 3, 1)


@pytest.mark.parametrize("raw", ["2026-02-30", "2026-13-01", "明天", "2026-03", "03/01/2026", "x"])
def test_invalid_dates_are_refused_with_the_value_in_a_chinese_message(raw: str) -> None:
    with pytest.raises(CellError) as caught:
        parse_date(raw)
    assert caught.value.key == "date"
    message = caught.value.message()
    assert raw in message
    assert CJK.search(message)


@pytest.mark.parametrize(("raw", "shown"), [(46082, "46082"), (46082.0, "46082"), (45.5, "45.5")])
def test_bare_numbers_are_refused_as_excel_serials(raw: float, shown: str) -> None:
    with pytest.raises(CellError) as caught:
        parse_date(raw)
    assert caught.value.key == "date_number"
    assert shown in caught.value.message()
    assert CJK.search(caught.value.message())


def test_date_field_required_blank_is_refused() -> None:
    field = date_field("valid_from")
    for blank in (None, "", "   "):
        with pytest.raises(CellError) as caught:
            field.parse(blank)
        assert caught.value.key == "required"


def test_optional_date_field_blank_is_none() -> None:
    assert date_field("valid_to", required=False).parse("") is None


# --- counts ----------------------------------------------------------------------------------

COUNT = count_field("employee_count")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12), (12, 12), (12.0, 12), ("1,200", 1200), ("0", 0), (" 7 ", 7)],
)
def test_counts_accept_whole_numbers_in_text_and_number_cells(raw: Any, expected: int) -> None:
    assert COUNT.parse(raw) == expected


@pytest.mark.parametrize("raw", [-1, "-1", 1.5, "1.5", "十二", True, False, "12.0", "abc"])
def test_counts_refuse_negative_fractional_words_and_booleans(raw: Any) -> None:
    with pytest.raises(CellError) as caught:
        COUNT.parse(raw)
    assert caught.value.key == "count"
    assert cell_text(raw) in caught.value.message()


# --- percent ---------------------------------------------------------------------------------

PERCENT = percent_field("default_ratio")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5%", Decimal("5")),
        ("5", Decimal("5")),
        ("0.5%", Decimal("0.5")),
        ("5％", Decimal("5")),
        ("100%", Decimal("100")),
        ("12.25%", Decimal("12.25")),
        (5, Decimal("5")),
    ],
)
def test_percent_accepts_numbers_with_or_without_a_percent_sign(
    raw: Any, expected: Decimal
) -> None:
    assert PERCENT.parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("0", "percent"),
        ("0%", "percent"),
        ("-5%", "percent"),
        ("101%", "percent"),
        ("abc", "percent"),
        ("NaN", "percent"),
        ("Infinity%", "percent"),
        ("1.234%", "percent_precision"),
    ],
)
def test_percent_refuses_out_of_range_non_numbers_and_excess_precision(raw: str, key: str) -> None:
    with pytest.raises(CellError) as caught:
        PERCENT.parse(raw)
    assert caught.value.key == key
    assert raw in caught.value.message()


def test_percent_is_written_without_trailing_zeros() -> None:
    assert PERCENT.format(Decimal("5.00")) == "5%"
    assert PERCENT.format(Decimal("0.50")) == "0.5%"
    assert PERCENT.format(Decimal("100.00")) == "100%"


# --- yes / no --------------------------------------------------------------------------------

YES_NO = yes_no_field("serious_violation")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("是", True),
        ("否", False),
        ("Y", True),
        ("N", False),
        ("1", True),
        ("0", False),
        ("y", True),
        ("n", False),
        (1, True),
        (0, False),
        (True, True),
        (False, False),
    ],
)
def test_yes_no_accepts_chinese_letters_and_digits(raw: Any, expected: bool) -> None:
    assert YES_NO.parse(raw) is expected


@pytest.mark.parametrize("raw", ["对", "有", "2", "maybe", "是否"])
def test_yes_no_refuses_anything_else(raw: str) -> None:
    with pytest.raises(CellError) as caught:
        YES_NO.parse(raw)
    assert caught.value.key == "yes_no"
    assert raw in caught.value.message()


def test_yes_no_is_written_in_chinese() -> None:
    assert YES_NO.format(True) == "是"
    assert YES_NO.format(False) == "否"


# --- choices ---------------------------------------------------------------------------------

ROLES = choices_field("roles", "role")
KIND = choice_field("kind", "unit_kind")


def test_choices_return_codes_in_the_groups_order() -> None:
    assert ROLES.parse("领导、执法人员") == ("officer", "leader")
    assert ROLES.parse("witness,officer") == ("officer", "witness")
    assert ROLES.parse("领导 / OFFICER；领导") == ("officer", "leader")


def test_choices_are_written_as_labels_joined_by_the_list_separator() -> None:
    assert ROLES.format(("officer", "leader")) == "执法人员、领导"


def test_choice_accepts_label_or_code() -> None:
    assert KIND.parse("二级机构") == "subunit"
    assert KIND.parse("Subunit") == "subunit"
    assert KIND.format("section") == "股室"


@pytest.mark.parametrize("field", [ROLES, KIND], ids=["choices", "choice"])
def test_unknown_choice_message_lists_the_allowed_labels(field: Field) -> None:
    with pytest.raises(CellError) as caught:
        field.parse("科员")
    assert caught.value.key == "choice"
    message = caught.value.message()
    assert "科员" in message
    group = "role" if field is ROLES else "unit_kind"
    for label in table("registry/values.toml")[group].values():
        assert label in message


def test_unknown_part_of_a_list_is_named_in_the_message() -> None:
    with pytest.raises(CellError) as caught:
        ROLES.parse("执法人员、科员")
    assert caught.value.values["value"] == "科员"


@pytest.mark.parametrize("raw", ["、", " , ", "／"])
def test_required_list_field_refuses_a_cell_of_separators_only(raw: str) -> None:
    # "、" parses to (), which exports as a blank cell that the same field then refuses as
    # required: the value is not canonical and export → import is not lossless.
    with pytest.raises(CellError) as caught:
        ROLES.parse(raw)
    assert caught.value.key == "required"


# --- blanks and lengths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        text_field("name", 10),
        identifier_field("code", 10, required=True),
        ROLES,
        KIND,
        COUNT,
        PERCENT,
        YES_NO,
    ],
    ids=lambda f: f.name,
)
@pytest.mark.parametrize("blank", [None, "", "   ", "\u3000", "\u00a0"])
def test_required_blank_is_refused_as_required(field: Field, blank: Any) -> None:
    with pytest.raises(CellError) as caught:
        field.parse(blank)
    assert caught.value.key == "required"
    assert CJK.search(caught.value.message())


@pytest.mark.parametrize(
    "field",
    [choices_field("roles", "role", required=False), words_field("specialties", 20)],
    ids=["choices", "words"],
)
def test_optional_blank_list_field_is_the_empty_tuple(field: Field) -> None:
    assert field.parse(None) == ()
    assert field.parse("") == ()
    assert field.format(()) is None


def test_optional_blank_scalar_field_is_none() -> None:
    assert text_field("x", 5, required=False).parse("  ") is None
    assert identifier_field("x", 5, required=False).parse(None) is None


def test_text_field_enforces_its_maximum_length() -> None:
    field = text_field("name", 5)
    assert field.parse("睢县人社局") == "睢县人社局"
    assert field.parse("  睢县人社局  ") == "睢县人社局"
    with pytest.raises(CellError) as caught:
        field.parse("睢县人社局长")
    assert caught.value.key == "too_long"
    assert caught.value.values == {"max_length": 5, "length": 6}
    assert "5" in caught.value.message() and "6" in caught.value.message()


def test_identifier_refuses_inner_blanks_and_excess_length() -> None:
    field = identifier_field("code", 5, required=True)
    assert field.parse(" ab12 ") == "ab12"
    with pytest.raises(CellError) as caught:
        field.parse("ab 12")
    assert caught.value.key == "inner_space"
    with pytest.raises(CellError) as caught:
        field.parse("abcdef")
    assert caught.value.key == "too_long"


def test_words_keep_order_and_drop_repeats_and_limit_each_word() -> None:
    field = words_field("specialties", 4)
    assert field.parse("工资支付、社会保险，工资支付 工时") == ("工资支付", "社会保险", "工时")
    with pytest.raises(CellError) as caught:
        field.parse("工资支付、劳动保障监察")
    assert caught.value.key == "too_long"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("91350100M000100Y4", "uscc_length"),
        ("91350100O000100Y43", "uscc_character"),
        ("91350100M000100Y44", "uscc_check"),
    ],
)
def test_uscc_field_names_the_problem_and_the_value(raw: str, key: str) -> None:
    field = KINDS["entities"].field("uscc")
    with pytest.raises(CellError) as caught:
        field.parse(raw)
    assert caught.value.key == key
    assert raw in caught.value.message()


def test_uscc_field_normalises_what_staff_type() -> None:
    field = KINDS["entities"].field("uscc")
    assert field.parse("９１３５０１００ｍ０００１００ｙ４３") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        (12.0, "12"),
        (1.5, "1.5"),
        (True, "TRUE"),
        (dt.date(2026, 3, 1), "2026-03-01"),
        (dt.datetime(2026, 3, 1), "2026-03-01"),
        (dt.datetime(2026, 3, 1, 8, 30), "2026-03-01 08:30:00"),
        ("\u00a0睢县\u3000", "睢县"),
    ],
)
def test_cell_text_is_the_trimmed_text_a_person_sees(raw: Any, expected: str) -> None:
    assert cell_text(raw) == expected


@pytest.mark.parametrize("raw", ["《劳动法》\x0b第五十条", "a\x00b", "x\x1fy"])
def test_text_field_refuses_invisible_control_characters(raw: str) -> None:
    with pytest.raises(CellError) as caught:
        text_field("legal_basis", 100).parse(raw)
    assert caught.value.key == "control_character"
    assert "控制字符" in caught.value.message()


def test_text_field_keeps_line_breaks_and_tabs() -> None:
    assert text_field("address", 100).parse("睢县城关镇\n北海路18号\t") == "睢县城关镇\n北海路18号"


@pytest.mark.parametrize("cell", [516754045645063, 12345678901234570.0, Decimal("123")])
def test_id_typed_as_a_number_in_excel_is_refused(cell: Any) -> None:
    field = identifier_field("dingtalk_userid", 64, required=False)
    with pytest.raises(CellError) as caught:
        field.parse(cell)
    assert caught.value.key == "id_number_cell"
    assert "文本格式" in caught.value.message()


def test_wecom_account_is_plain_and_lower_case() -> None:
    officers = {f.name: f for f in KINDS["officers"].fields}
    assert officers["wecom_userid"].parse("ＺｈａｎｇＫａｉ") == "zhangkai"
    assert officers["dingtalk_userid"].parse("Manager_01") == "Manager_01"
    for bad in ("张凯", "zhang\u200bkai", "a/b"):
        with pytest.raises(CellError) as caught:
            officers["wecom_userid"].parse(bad)
        assert caught.value.key == "id_characters"


def test_excel_error_value_is_refused_even_in_an_optional_column() -> None:
    with pytest.raises(CellError) as caught:
        text_field("grid", 50, required=False).parse(ExcelError("#N/A"))
    assert (caught.value.key, caught.value.values["value"]) == ("excel_error", "#N/A")
