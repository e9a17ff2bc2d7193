"""Times people read: the configured zone, to the minute; machines keep UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.base.texts import environment
from bot.base.times import local_time

MOMENT = dt.datetime(2026, 12, 3, 7, 19, 38, 465686, tzinfo=dt.UTC)


def test_a_utc_moment_reads_in_shanghai_time_to_the_minute() -> None:
    assert local_time(MOMENT, "Asia/Shanghai") == "2026-12-03 15:19"


def test_the_iso_text_of_a_record_reads_the_same_as_the_moment() -> None:
    assert local_time("2026-12-03T07:19:38.465686Z", "Asia/Shanghai") == "2026-12-03 15:19"
    assert local_time(MOMENT.isoformat(), "Asia/Shanghai") == "2026-12-03 15:19"


def test_another_zone_and_a_day_boundary() -> None:
    assert local_time(MOMENT, "UTC") == "2026-12-03 07:19"
    late = dt.datetime(2026, 12, 31, 20, 5, tzinfo=dt.UTC)
    assert local_time(late, "Asia/Shanghai") == "2027-01-01 04:05"


def test_a_naive_moment_is_taken_as_utc_as_storage_keeps_it() -> None:
    assert local_time(MOMENT.replace(tzinfo=None), "Asia/Shanghai") == "2026-12-03 15:19"


def test_no_moment_reads_as_nothing() -> None:
    assert local_time(None, "Asia/Shanghai") == ""


@pytest.mark.parametrize("value", ["2026-12-03T07:19:38Z", MOMENT])
def test_every_template_can_use_it_as_a_filter(value: object) -> None:
    page = environment.from_string("{{ at | local_time(tz) }}")
    assert page.render(at=value, tz="Asia/Shanghai") == "2026-12-03 15:19"
