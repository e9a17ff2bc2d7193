"""The results publication's rows (issue 17 §1): only the named columns, from the approved
reports' content; the measure only where the campaign's 「结果运用」 says so; a hit of the scan
named by row, employer and column."""

from __future__ import annotations

from typing import Any

import pytest

from bot.registry.personal import People, Person
from bot.workflows import publish
from tests.unit.test_personal import ID


def content(problems: str) -> dict[str, Any]:
    result = {"item": "A1", "item_name": "工资支付情况", "finding": 7, "answers_sha256": "x",
              "checked_on": "2026-12-02", "check_method": "实地检查",
              "result_category": "发现问题已责令改正", "measure": "责令改正",
              "problems": problems, "rectify_by": "2026-12-20", "photos": ["ab"]}  # fmt: skip
    second = dict(result, item="A2", item_name="社会保险参保缴费情况", checked_on="2026-12-01",
                  result_category="未发现问题", measure=None, problems=None)  # fmt: skip
    return {
        "team": {
            "number": 1,
            "members": [{"name": "张凯", "role": "leader", "certificate": "豫1"}],
        },
        "employers": [
            {
                "name": "睢县永兴家具有限公司",
                "uscc": "91411422MA69UX1J1W",
                "address": "文化路260号",
                "problem": True,
                "results": [result, second],
            },
        ],
    }


def test_a_row_holds_the_named_columns_only_never_free_text_or_officers() -> None:
    (row,) = publish.results_rows([content(f"职工 {ID} 被拖欠")], "12月抽查", "监察大队", False)
    assert row == {
        "name": "睢县永兴家具有限公司",
        "uscc": "91411422MA69UX1J1W",
        "campaign": "12月抽查",
        "items": "工资支付情况 / 社会保险参保缴费情况",
        "checked_on": "2026-12-01 / 2026-12-02",
        "unit": "监察大队",
        "result_category": "发现问题已责令改正 / 未发现问题",
    }
    assert ID not in str(row) and "张凯" not in str(row) and "文化路" not in str(row)


def test_the_measure_only_where_the_campaign_says_so() -> None:
    assert not publish.shows_measure("抽查结果在抽查结束后20个工作日内公示。")
    assert publish.shows_measure("抽查结果及后续处置在20个工作日内公示。")
    (row,) = publish.results_rows([content("")], "12月抽查", "监察大队", True)
    assert row["measure"] == "责令改正"


def test_personal_data_in_a_row_is_refused_naming_the_employer_and_column() -> None:
    rows = publish.results_rows([content("")], "12月抽查", "监察大队", False)
    rows[0]["result_category"] = f"见 {ID}"
    people = People(persons=(Person("张凯", ("zhangkai",)),))
    with pytest.raises(publish.PublishError) as refused:
        publish._scanned(rows, publish.COLUMNS, people)
    said = str(refused.value)
    assert "第 1 条（睢县永兴家具有限公司）「抽查结果」" in said and "身份证号" in said
    assert ID not in said
    rows[0]["result_category"] = "未发现问题"
    publish._scanned(rows, publish.COLUMNS, people)  # clean: nothing raised
