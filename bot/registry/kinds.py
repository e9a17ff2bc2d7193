"""The registry kinds (units, officers, entities, items, recusals) as sheets.

Owns, per kind: the typed columns in sheet order, the natural key, the fields that must be unique
within one file, the rules that tie cells of one row together, and the fields that say who a
record is (changed only on request). Pure: storage lives in ``storage.registries``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.base.texts import table
from bot.registry.fields import (
    CellError,
    Field,
    choice_field,
    choices_field,
    count_field,
    date_field,
    identifier_field,
    percent_field,
    text_field,
    uscc_field,
    words_field,
    yes_no_field,
)

Record = dict[str, Any]
# What WeCom and DingTalk accept in a userid; WeCom ignores case in them.
ACCOUNT = r"[A-Za-z0-9_.@-]+"
RowProblem = tuple[str, CellError]  # (field name, what is wrong)


@dataclass(frozen=True)
class Kind:
    """One registry as a sheet."""

    name: str
    fields: tuple[Field, ...]
    key: Callable[[Record], str]
    unique_in_file: tuple[str, ...]
    row_rules: Callable[[Record], list[RowProblem]] = lambda record: []
    # Fields that say who a record is: a change to them on a stored record may be someone else
    # taking that record over, so it is never made without being asked for.
    identity: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        """Field name → Chinese header, in sheet order."""
        words: dict[str, str] = table("registry/columns.toml")[self.name]
        return {f.name: words[f.name] for f in self.fields}

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def example_row(self) -> list[Any]:
        """The template's example row, as cells (templates/registry/examples.toml)."""
        example: dict[str, Any] = table("registry/examples.toml")[self.name]
        return [example.get(f.name) for f in self.fields]


def officer_key(record: Record) -> str:
    """Certificate number, or for people without one (admins, witnesses) a platform account."""
    if record["certificate_no"]:
        return str(record["certificate_no"])
    if record["wecom_userid"]:
        return f"wecom:{record['wecom_userid']}"
    return f"dingtalk:{record['dingtalk_userid']}"


def _officer_rules(record: Record) -> list[RowProblem]:
    problems: list[RowProblem] = []
    certificate_fields = ("certificate_authority", "certificate_valid_until", "certificate_status")
    if record["certificate_no"]:
        for name in certificate_fields:
            if record[name] is None:
                problems.append((name, CellError("required_with_certificate")))
    else:
        if "officer" in (record["roles"] or ()):
            problems.append(("certificate_no", CellError("officer_needs_certificate")))
        for name in certificate_fields:
            if record[name] is not None:
                problems.append((name, CellError("certificate_field_without_number")))
        if not record["wecom_userid"] and not record["dingtalk_userid"]:
            problems.append(("wecom_userid", CellError("needs_key")))
    return problems


def _item_rules(record: Record) -> list[RowProblem]:
    valid_from: dt.date | None = record["valid_from"]
    valid_to: dt.date | None = record["valid_to"]
    if valid_from and valid_to and valid_to < valid_from:
        return [("valid_to", CellError("ends_before_start"))]
    return []


UNITS = Kind(
    "units",
    (
        text_field("name", 100),
        choice_field("kind", "unit_kind"),
    ),
    key=lambda r: str(r["name"]),
    unique_in_file=("name",),
)

OFFICERS = Kind(
    "officers",
    (
        identifier_field("certificate_no", 50, required=False),
        text_field("name", 50),
        text_field("unit", 100),
        choices_field("roles", "role"),
        yes_no_field("team_leader_eligible"),
        text_field("certificate_authority", 100, required=False),
        date_field("certificate_valid_until", required=False),
        choice_field("certificate_status", "certificate_status", required=False),
        words_field("specialties", 20),
        identifier_field("wecom_userid", 64, required=False, pattern=ACCOUNT, fold_case=True),
        identifier_field("dingtalk_userid", 64, required=False, pattern=ACCOUNT),
    ),
    key=officer_key,
    unique_in_file=("certificate_no", "wecom_userid", "dingtalk_userid"),
    row_rules=_officer_rules,
    identity=("name", "wecom_userid", "dingtalk_userid"),
)

ENTITIES = Kind(
    "entities",
    (
        uscc_field("uscc"),
        text_field("name", 200),
        text_field("address", 300),
        text_field("district", 50),
        text_field("grid", 50),
        text_field("industry", 100),
        count_field("employee_count"),
        choice_field("credit_grade", "credit_grade", required=False),
        count_field("complaints_12m"),
        yes_no_field("serious_violation"),
        choice_field("status", "entity_status"),
        date_field("last_inspected", required=False),
    ),
    key=lambda r: str(r["uscc"]),
    unique_in_file=("uscc",),
)

ITEMS = Kind(
    "items",
    (
        identifier_field("code", 50, required=True),
        text_field("name", 200),
        text_field("subject", 200),
        text_field("legal_basis", 2000),
        text_field("content", 2000),
        choices_field("method", "check_method"),
        percent_field("default_ratio"),
        count_field("frequency_per_year"),
        date_field("valid_from"),
        date_field("valid_to", required=False),
    ),
    key=lambda r: str(r["code"]),
    unique_in_file=("code",),
    row_rules=_item_rules,
)

RECUSALS = Kind(
    "recusals",
    (
        identifier_field("certificate_no", 50, required=True),
        uscc_field("uscc"),
        text_field("reason", 500),
        date_field("declared_on"),
    ),
    key=lambda r: f"{r['certificate_no']}/{r['uscc']}",
    unique_in_file=(),
)

KINDS: dict[str, Kind] = {k.name: k for k in (UNITS, OFFICERS, ENTITIES, ITEMS, RECUSALS)}
