"""The item list's history as the public site shows it (pure): what each version changed, and
the days the list changed — an item taking effect, one closed (removed from the list), a
same-day correction that was never in force."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bot.workflows.site.items import change_dates, item_path, versions_of
from storage.models import SpotCheckItem

D = dt.date


def item(
    code: str, version: int, start: dt.date, end: dt.date | None, **changes: Any
) -> SpotCheckItem:
    values: dict[str, Any] = {
        "name": "工资支付情况",
        "subject": "睢县人力资源和社会保障局",
        "legal_basis": "《劳动保障监察条例》第二十六条",
        "content": "检查是否按时足额支付工资。",
        "methods": ["onsite", "documents"],
        "default_ratio": Decimal("5.00"),
        "frequency_per_year": 1,
    } | changes
    return SpotCheckItem(code=code, version=version, valid_from=start, valid_to=end, **values)


def test_each_version_says_what_changed_since_the_one_before_of_the_same_item() -> None:
    versions = versions_of(
        [
            item("A", 1, D(2026, 1, 1), D(2026, 6, 30)),
            item("A", 2, D(2026, 7, 1), None, default_ratio=Decimal("8"), methods=["onsite"]),
            item("B", 1, D(2026, 1, 1), None, name="最低工资标准执行情况"),
        ]
    )
    assert [(v.code, v.version, v.changed, v.ratio) for v in versions] == [
        ("A", 1, (), "5%"),
        ("A", 2, ("检查方式", "默认抽查比例"), "8%"),
        ("B", 1, (), "5%"),  # another item's first version: nothing to compare
    ]
    assert versions[0].path == item_path("A") == "items/A.html"


def test_the_list_changes_when_a_version_starts_and_the_day_after_one_stops() -> None:
    versions = versions_of(
        [
            item("A", 1, D(2026, 1, 1), D(2026, 6, 30)),
            item("A", 2, D(2026, 7, 1), None),
            item("B", 1, D(2026, 1, 1), D(2026, 9, 30)),  # closed: off the list from 10-01
            item("C", 1, D(2026, 3, 1), D(2026, 2, 28)),  # corrected the same day: never in force
            item("C", 2, D(2026, 3, 1), None),
        ]
    )
    assert change_dates(versions) == [D(2026, 1, 1), D(2026, 3, 1), D(2026, 7, 1), D(2026, 10, 1)]
