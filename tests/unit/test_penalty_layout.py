"""The pure parts of penalty decisions: one decision's values read as a sheet row is read,
yuan as 万元 without rounding a fen away, the party's category from its USCC, the publicity
period, and the 信用中国 行政处罚 row (personal columns always empty)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from bot.base.texts import text
from bot.registry.penalties import (
    COLUMNS,
    PERSONAL_COLUMNS,
    RecordError,
    export_row,
    in_wan,
    parse_record,
    party_kind,
    publicity_ends,
)

RAW = {
    "number": "睢人社监罚〔2026〕1号",
    "uscc": "91411422makd1pu93k",  # typed in lower case: read as the code
    "violation": "未按时足额支付劳动者工资",
    "facts": "拖欠工资",
    "legal_basis": "《劳动保障监察条例》第二十六条",
    "categories": "警告、罚款",
    "content": "警告并罚款",
    "amount": "1,500.5",
    "decided_on": "2026/9/30",
    "finding": "",
}


def test_a_decision_is_read_as_its_sheet_row_would_be() -> None:
    record = parse_record(RAW)
    assert record["uscc"] == "91411422MAKD1PU93K"
    assert record["categories"] == ("warning", "fine")
    assert record["amount"] == Decimal("1500.50")
    assert record["decided_on"] == dt.date(2026, 9, 30)
    assert record["finding"] is None


@pytest.mark.parametrize(
    ("changed", "header", "said"),
    [
        ({"amount": "-1"}, "罚款金额（元）", "不小于 0"),
        ({"amount": "abc"}, "罚款金额（元）", "不小于 0"),
        ({"amount": "NaN"}, "罚款金额（元）", "不小于 0"),
        ({"amount": "0.001"}, "罚款金额（元）", "最多到分"),
        ({"amount": ""}, "罚款金额（元）", "请填写大于 0 的罚款金额"),
        ({"categories": "警告", "amount": "100"}, "罚款金额（元）", "没有「罚款」"),
        ({"uscc": "91411422MAKD1PU930"}, "统一社会信用代码", "校验"),
        ({"decided_on": "2026-02-30"}, "处罚决定日期", "2026-02-30"),
        ({"number": ""}, "处罚决定书文号", "不能为空"),
        ({"finding": "-3"}, "检查结果编号", "-3"),
    ],
)
def test_each_bad_value_is_named_by_its_column(
    changed: dict[str, str], header: str, said: str
) -> None:
    with pytest.raises(RecordError) as refused:
        parse_record(RAW | changed)
    ((where, reason),) = refused.value.problems
    assert where == header and said in reason, reason


def test_yuan_become_wan_to_six_places_so_no_fen_is_lost() -> None:
    assert in_wan(Decimal("2000")) == "0.200000"
    assert in_wan(Decimal("0.01")) == "0.000001"
    assert in_wan(Decimal("123456789.99")) == "12345.678999"
    assert in_wan(None) == in_wan(Decimal("0")) == ""


def test_a_92_code_is_an_individual_business_else_an_organisation() -> None:
    assert party_kind("92411422818686838W") == "individual_business"
    assert party_kind("91411422MAKD1PU93K") == "organisation"
    assert party_kind("52411422MA00000000") == "organisation"


def test_the_publicity_period_is_a_year_even_from_29_february() -> None:
    assert publicity_ends(dt.date(2026, 9, 30)) == dt.date(2027, 9, 30)
    assert publicity_ends(dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)


def decision(**changed: Any) -> dict[str, Any]:
    return {
        "party": "睢县城郊乡博远便利店",
        "uscc": "92411422818686838W",
        "number": "睢人社监罚〔2026〕2号",
        "violation": "违法",
        "facts": "事实",
        "legal_basis": "依据",
        "categories": ["warning", "fine"],
        "content": "内容",
        "amount": Decimal("300"),
        "decided_on": dt.date(2026, 10, 9),
        "organ": "睢县人力资源和社会保障局",
        "organ_uscc": "11411422MB0000000X",
        **changed,
    }


def test_the_export_row_follows_the_layout_and_leaves_personal_columns_empty() -> None:
    headers = [text("penalty.column", name=c) for c in COLUMNS]
    row = dict(zip(headers, export_row(decision()), strict=True))
    assert len(set(headers)) == len(COLUMNS) == 30
    assert row["行政相对人名称"] == "睢县城郊乡博远便利店"
    assert row["行政相对人类别"] == "个体工商户"
    assert row["行政相对人代码_1（统一社会信用代码）"] == "92411422818686838W"
    assert row["处罚类别"] == "警告；罚款"
    assert row["罚款金额（万元）"] == "0.030000"
    assert row["处罚决定日期"] == "2026-10-09"
    assert row["公示截止期"] == row["处罚有效期"] == "2027-10-09"
    assert row["数据来源单位"] == row["处罚机关"] == "睢县人力资源和社会保障局"
    assert row["数据来源单位统一社会信用代码"] == "11411422MB0000000X"
    for column in PERSONAL_COLUMNS:
        assert row[text("penalty.column", name=column)] == ""
