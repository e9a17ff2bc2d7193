"""The registry kinds: headers, example rows, row rules and natural keys."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from bot.base.texts import table
from bot.registry.fields import CellError
from bot.registry.kinds import KINDS, Kind, Record, officer_key

CJK = re.compile("[\u4e00-\u9fff]")
KIND_PARAMS = [pytest.param(kind, id=name) for name, kind in KINDS.items()]


def parse_row(kind: Kind, cells: list[Any]) -> Record:
    return {f.name: f.parse(c) for f, c in zip(kind.fields, cells, strict=True)}


def officer(**overrides: Any) -> Record:
    """A valid officer record (canonical values), changed by ``overrides``."""
    record: Record = {
        "certificate_no": "豫41142200123",
        "name": "张伟",
        "unit": "劳动保障监察大队",
        "roles": ("officer",),
        "team_leader_eligible": True,
        "certificate_authority": "河南省人民政府",
        "certificate_valid_until": dt.date(2028, 12, 31),
        "certificate_status": "valid",
        "specialties": (),
        "wecom_userid": None,
        "dingtalk_userid": None,
    }
    record.update(overrides)
    return record


def without_certificate(**overrides: Any) -> Record:
    """A valid record of someone without a certificate (an admin with a WeCom account)."""
    changes: dict[str, Any] = {
        "certificate_no": None,
        "certificate_authority": None,
        "certificate_valid_until": None,
        "certificate_status": None,
        "roles": ("admin",),
        "wecom_userid": "lisi",
    }
    return officer(**{**changes, **overrides})


def problems(kind: str, record: Record) -> list[tuple[str, str]]:
    return [(name, error.key) for name, error in KINDS[kind].row_rules(record)]


def test_there_are_exactly_the_five_registry_kinds() -> None:
    assert list(KINDS) == ["units", "officers", "entities", "items", "recusals"]
    assert all(kind.name == name for name, kind in KINDS.items())


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_headers_cover_exactly_the_fields_in_order(kind: Kind) -> None:
    headers = kind.headers()
    assert list(headers) == [f.name for f in kind.fields]
    # columns.toml documents its order as the column order: no stale or missing entries.
    assert list(table("registry/columns.toml")[kind.name]) == [f.name for f in kind.fields]


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_headers_are_distinct_chinese_strings(kind: Kind) -> None:
    headers = list(kind.headers().values())
    assert len(set(headers)) == len(headers)
    for header in headers:
        assert isinstance(header, str)
        assert header == header.strip() and header
        assert CJK.search(header), header


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_field_names_are_distinct(kind: Kind) -> None:
    names = [f.name for f in kind.fields]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_key_and_unique_columns_name_real_fields(kind: Kind) -> None:
    names = {f.name for f in kind.fields}
    assert set(kind.unique_in_file) <= names


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_example_row_parses_and_passes_the_row_rules(kind: Kind) -> None:
    row = kind.example_row()
    assert len(row) == len(kind.fields)
    record = parse_row(kind, row)  # raises CellError if any example cell is invalid
    assert kind.row_rules(record) == []
    assert kind.key(record)


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_example_row_fills_every_required_column(kind: Kind) -> None:
    for field, cell in zip(kind.fields, kind.example_row(), strict=True):
        if field.required:
            assert cell not in (None, ""), field.name


def test_example_entity_has_a_valid_uscc() -> None:
    record = parse_row(KINDS["entities"], KINDS["entities"].example_row())
    assert record["uscc"] == KINDS["entities"].example_row()[0]
    assert len(record["uscc"]) == 18


def test_example_officer_roles_are_codes_in_group_order() -> None:
    record = parse_row(KINDS["officers"], KINDS["officers"].example_row())
    assert record["roles"] == ("officer", "leader")


def test_valid_officer_has_no_problems() -> None:
    assert problems("officers", officer()) == []
    assert problems("officers", without_certificate()) == []


def test_officer_role_without_certificate_is_a_problem_on_certificate_no() -> None:
    record = without_certificate(roles=("officer", "leader"))
    assert problems("officers", record) == [("certificate_no", "officer_needs_certificate")]


@pytest.mark.parametrize(
    "missing", ["certificate_authority", "certificate_valid_until", "certificate_status"]
)
def test_certificate_number_needs_its_authority_date_and_status(missing: str) -> None:
    assert problems("officers", officer(**{missing: None})) == [
        (missing, "required_with_certificate")
    ]


def test_certificate_number_alone_is_a_problem_on_each_certificate_field() -> None:
    record = officer(
        certificate_authority=None, certificate_valid_until=None, certificate_status=None
    )
    assert problems("officers", record) == [
        ("certificate_authority", "required_with_certificate"),
        ("certificate_valid_until", "required_with_certificate"),
        ("certificate_status", "required_with_certificate"),
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("certificate_authority", "河南省人民政府"),
        ("certificate_valid_until", dt.date(2028, 1, 1)),
        ("certificate_status", "valid"),
    ],
)
def test_certificate_details_without_a_number_are_a_problem(name: str, value: Any) -> None:
    assert problems("officers", without_certificate(**{name: value})) == [
        (name, "certificate_field_without_number")
    ]


def test_no_certificate_and_no_platform_account_is_a_problem_on_wecom_userid() -> None:
    record = without_certificate(wecom_userid=None)
    assert problems("officers", record) == [("wecom_userid", "needs_key")]


def test_dingtalk_account_alone_is_enough_without_a_certificate() -> None:
    record = without_certificate(wecom_userid=None, dingtalk_userid="0123456789")
    assert problems("officers", record) == []


def test_row_rule_problems_have_chinese_messages() -> None:
    record = without_certificate(roles=("officer",), wecom_userid=None, certificate_status="valid")
    found = KINDS["officers"].row_rules(record)
    assert len(found) == 3
    for _, error in found:
        assert isinstance(error, CellError)
        assert CJK.search(error.message())


def item(**overrides: Any) -> Record:
    record = parse_row(KINDS["items"], KINDS["items"].example_row())
    record.update(overrides)
    return record


def test_item_ending_before_it_starts_is_a_problem_on_valid_to() -> None:
    record = item(valid_from=dt.date(2026, 3, 1), valid_to=dt.date(2026, 2, 28))
    assert problems("items", record) == [("valid_to", "ends_before_start")]


@pytest.mark.parametrize("valid_to", [None, dt.date(2026, 3, 1), dt.date(2027, 1, 1)])
def test_item_open_ended_or_ending_on_or_after_start_is_fine(valid_to: dt.date | None) -> None:
    assert problems("items", item(valid_from=dt.date(2026, 3, 1), valid_to=valid_to)) == []


def test_kinds_without_row_rules_accept_their_example() -> None:
    for name in ("units", "entities", "recusals"):
        kind = KINDS[name]
        assert kind.row_rules(parse_row(kind, kind.example_row())) == []


def test_officer_key_is_the_certificate_number_when_there_is_one() -> None:
    assert officer_key(officer(wecom_userid="zhangwei")) == "豫41142200123"


def test_officer_key_falls_back_to_the_wecom_account() -> None:
    assert officer_key(without_certificate(dingtalk_userid="0123")) == "wecom:lisi"


def test_officer_key_falls_back_to_the_dingtalk_account() -> None:
    record = without_certificate(wecom_userid=None, dingtalk_userid="0123")
    assert officer_key(record) == "dingtalk:0123"


def test_recusal_key_joins_certificate_and_uscc() -> None:
    kind = KINDS["recusals"]
    record = parse_row(kind, kind.example_row())
    assert kind.key(record) == f"{record['certificate_no']}/{record['uscc']}"
