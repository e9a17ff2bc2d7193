"""Penalty decisions as a sheet and as the 信用中国 (「双公示」) 行政处罚 publicity layout.

Owns, pure: the columns a decision is recorded with (the same fields for ``suiji penalty
record``'s options and for an imported sheet, so both are checked alike), the party's category
told from its USCC, yuan as 万元, the end of the publicity period, and the export's columns in
order. Knows nothing about storage or messages beyond their templates.

The layout followed is the 行政处罚 template (30 columns) of the 「双公示」 data standard as the
provincial credit-sharing platforms take it for 信用中国 (行政相对人名称, 行政相对人类别,
行政相对人代码_1–_6, 法定代表人 and its 证件类型 / 证件号码, 证件类型, 证件号码, 处罚决定书文号,
违法行为类型, 违法事实, 处罚依据, 处罚类别, 处罚内容, 罚款金额（万元）, 没收违法所得、没收非法财物的
金额（万元）, 暂扣或吊销证照名称及编号, 处罚决定日期, 处罚有效期, 公示截止期, 处罚机关, 处罚机关统一
社会信用代码, 数据来源单位, 数据来源单位统一社会信用代码, 备注). The official document could not be
fetched here; the column list was checked against a public table definition of that template
(see the README). Columns that would hold personal data (法定代表人 and every 证件号码) are kept,
as the platform's importer expects them, and left empty — see ``PERSONAL_COLUMNS``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from bot.registry.fields import (
    CellError,
    choices_field,
    count_field,
    date_field,
    identifier_field,
    labels,
    money_field,
    text_field,
    uscc_field,
)
from bot.registry.kinds import Kind, Record, RowProblem

FINE = "fine"
TEN_THOUSAND = Decimal(10_000)
# 万元 to six places: one fen is 0.000001 万元, so no amount recorded to the fen is rounded.
WAN_PLACES = Decimal("0.000001")
# How long a decision stays on the public list: the longest period for a general (not serious)
# breach under 《失信行为纠正后的信用信息修复管理办法（试行）》 (2023) is one year.
PUBLICITY_YEARS = 1


def _rules(record: Record) -> list[RowProblem]:
    fined = FINE in record["categories"]
    amount: Decimal | None = record["amount"]
    if fined and not amount:
        return [("amount", CellError("fine_needs_amount"))]
    if amount and not fined:
        return [("amount", CellError("amount_without_fine"))]
    return []


PENALTIES = Kind(
    "penalties",
    (
        identifier_field("number", 100, required=True),
        uscc_field("uscc"),
        text_field("violation", 200),
        text_field("facts", 2000),
        text_field("legal_basis", 1000),
        choices_field("categories", "penalty_category"),
        text_field("content", 2000),
        money_field("amount", required=False),
        date_field("decided_on"),
        dataclasses.replace(count_field("finding"), required=False),
    ),
    key=lambda r: str(r["number"]),
    unique_in_file=("number",),
    row_rules=_rules,
)


def party_kind(uscc: str) -> str:
    """行政相对人类别 from the USCC (GB 32100): registered by market regulation (9) as a
    个体工商户 (2), or else an organisation."""
    return "individual_business" if uscc[:2] == "92" else "organisation"


def in_wan(amount: Decimal | None) -> str:
    """Yuan as 万元 to six places (``2000`` → ``0.200000``); empty when there is no fine."""
    if not amount:
        return ""
    return f"{(amount / TEN_THOUSAND).quantize(WAN_PLACES):f}"


def publicity_ends(decided_on: dt.date) -> dt.date:
    try:
        return decided_on.replace(year=decided_on.year + PUBLICITY_YEARS)
    except ValueError:  # 29 February
        return decided_on.replace(year=decided_on.year + PUBLICITY_YEARS, day=28)


# The export's columns in order (headers in templates/text/penalty.txt.j2, ``column``).
COLUMNS = (
    "party",
    "party_kind",
    "code_uscc",
    "code_registration",
    "code_organisation",
    "code_tax",
    "code_institution",
    "code_social",
    "representative",
    "representative_id_kind",
    "representative_id",
    "id_kind",
    "id_number",
    "number",
    "violation",
    "facts",
    "legal_basis",
    "categories",
    "content",
    "fine_wan",
    "confiscated_wan",
    "licence",
    "decided_on",
    "valid_until",
    "publicity_until",
    "organ",
    "organ_uscc",
    "source",
    "source_uscc",
    "remarks",
)
# Left empty for every decision. 法定代表人 is a natural person's name and the 证件号码 columns
# personal ID numbers: issue 17 §4 publishes none (a 个体工商户 publishes its registered name and
# USCC only; for an organisation the platform has the representative from the market
# regulator's register by the USCC). The other party codes are superseded by the USCC.
PERSONAL_COLUMNS = frozenset(
    {"representative", "representative_id_kind", "representative_id", "id_kind", "id_number"}
)


def export_row(decision: dict[str, Any]) -> list[str]:
    """One decision in the layout's column order, from plain values: ``party``, ``uscc``,
    ``number``, ``violation``, ``facts``, ``legal_basis``, ``categories`` (codes), ``content``,
    ``amount`` (yuan), ``decided_on``, ``organ``, ``organ_uscc``."""
    decided: dt.date = decision["decided_on"]
    ends = publicity_ends(decided).isoformat()
    words = labels("penalty_category")
    values = {
        "party": decision["party"],
        "party_kind": labels("party_kind")[party_kind(decision["uscc"])],
        "code_uscc": decision["uscc"],
        "number": decision["number"],
        "violation": decision["violation"],
        "facts": decision["facts"],
        "legal_basis": decision["legal_basis"],
        "categories": "；".join(words[c] for c in decision["categories"]),
        "content": decision["content"],
        "fine_wan": in_wan(decision["amount"]),
        "decided_on": decided.isoformat(),
        "valid_until": ends,
        "publicity_until": ends,
        "organ": decision["organ"],
        "organ_uscc": decision["organ_uscc"],
        "source": decision["organ"],
        "source_uscc": decision["organ_uscc"],
    }
    return [values.get(column, "") for column in COLUMNS]


class RecordError(Exception):
    """Values given for one decision that cannot be read: (header, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems)
        self.problems = problems


def parse_record(raw: dict[str, Any]) -> Record:
    """One decision from typed values (``suiji penalty record``'s options), read by the same
    fields and rules as a sheet's row; every problem at once, by its column's header."""
    headers = PENALTIES.headers()
    record: Record = {}
    problems: list[tuple[str, str]] = []
    for f in PENALTIES.fields:
        try:
            record[f.name] = f.parse(raw.get(f.name))
        except CellError as error:
            problems.append((headers[f.name], error.message()))
    if not problems:
        problems = [(headers[n], e.message()) for n, e in PENALTIES.row_rules(record)]
    if problems:
        raise RecordError(problems)
    return record
