"""The results pages on their own (pure): what the index and a campaign's page show of the
published rows — the measure column only where a campaign publishes it, the search form
hidden until its script runs, late ones marked, text escaped."""

from __future__ import annotations

import datetime as dt

from bot.workflows.publish import MEASURE
from bot.workflows.site import results
from bot.workflows.site.pages import SiteContext
from bot.workflows.site.results import Published
from tests.e2e.site_pages import Page

CONTEXT = SiteContext(today=dt.date(2026, 12, 3), zone="Asia/Shanghai")
# A campaign's own page: its rows without the campaign column.
CAMPAIGN_COLUMNS = ["名称", "统一社会信用代码", "抽查事项", "检查日期", "检查单位", "抽查结果"]
AT = dt.datetime(2026, 12, 3, 7, 19, tzinfo=dt.UTC)


def row(name: str, uscc: str, category: str, **more: str) -> dict[str, str]:
    return {
        "name": name,
        "uscc": uscc,
        "campaign": "2026年工资支付抽查",
        "items": "工资支付情况",
        "checked_on": "2026-11-20",
        "unit": "劳动保障监察大队",
        "result_category": category,
        **more,
    }


def entries() -> list[Published]:
    plain = Published(
        7,
        "2026年工资支付抽查",
        [row("睢县<甲>公司", "91411422MA00000001", "未发现问题")],
        False,
        AT,
        False,
    )
    measured = [
        row("睢县乙公司", "91411422MA00000002", "发现问题已责令改正", **{MEASURE: "责令改正"})
    ]
    return [plain, Published(8, "2026年社保抽查", measured, True, AT, True)]


def rendered(path: str) -> tuple[str, Page]:
    html = next(f for f in results.pages(entries(), CONTEXT) if f.path == path).content.decode()
    return html, Page(html)


def rendered_index() -> tuple[str, Page]:
    return rendered(results.INDEX)


def test_the_index_lists_every_row_with_the_measure_only_where_published() -> None:
    html, index = rendered_index()
    header, first, second = index.rows
    assert header[-1] == "后续处置"
    assert first[0] == "睢县<甲>公司" and first[-1] == ""  # its campaign publishes no measure
    assert second[-2:] == ["发现问题已责令改正", "责令改正"]
    assert "睢县&lt;甲&gt;公司" in html  # escaped, never markup
    assert {"../results/7.html", "../results/8.html"} <= set(index.links)
    assert index.late == ["逾期公示"]
    assert "2026-12-03 15:19 公示" in html  # the bureau's local time


def test_without_javascript_the_search_form_stays_hidden_and_the_table_whole() -> None:
    html, index = rendered_index()
    assert '<form role="search" id="search-form" hidden' in html
    assert 'data-search="睢县乙公司 91411422MA00000002"' in html
    assert index.scripts == ["../search.js"]


def test_a_campaigns_page_has_its_rows_its_approval_and_its_links() -> None:
    html, shown = rendered(entries()[1].path)
    assert shown.rows[0] == [*CAMPAIGN_COLUMNS, "后续处置"]
    assert "经局领导审批，于 2026-12-03 15:19 公示" in html
    assert shown.late == ["逾期公示：本次结果晚于规定的公示期限才公示。"]
    assert {"../campaigns/8.html", "../draws/8/index.html", "../results/index.html"} <= set(
        shown.links
    )
