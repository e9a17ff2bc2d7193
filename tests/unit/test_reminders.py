"""The reminder policy (issue 16 §3), pure: which (deadline, step) are due at a time, to whom;
quiet hours and non-working days; one step after downtime; escalation up the chain."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from bot.base.calendar import NO_OVERRIDES
from bot.base.config import ReminderSettings
from handlers.reminders import (
    OWNER,
    TEAM_LEADER,
    UNIT_LEADER,
    Due,
    Item,
    Open,
    days_left,
    digest,
    due_reminders,
    window,
)

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
RULES = ReminderSettings()
OWNER_ID, LEADER_ID, UNIT_ID = 1, 2, 3
CHAIN = ((OWNER_ID,), (LEADER_ID,), (UNIT_ID,))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


def due(
    when: str,
    due_on: dt.date,
    last_step: int | None = None,
    kind: str = "findings_due",
    chain: tuple[tuple[int, ...], ...] = CHAIN,
    rules: ReminderSettings = RULES,
) -> list[Due]:
    return due_reminders(
        [Open(7, kind, due_on, last_step, chain)], at(when), rules, TZ, NO_OVERRIDES
    )


THURSDAY = dt.date(2026, 12, 10)


def test_reminders_come_three_and_one_working_days_before_and_on_the_day_at_nine() -> None:
    assert due("2026-12-07 08:59", THURSDAY) == []
    assert due("2026-12-07 09:00", THURSDAY) == [Due(7, -3, OWNER, (OWNER_ID,))]
    assert due("2026-12-07 15:00", THURSDAY, last_step=-3) == []
    assert due("2026-12-09 09:00", THURSDAY, last_step=-3) == [Due(7, -1, OWNER, (OWNER_ID,))]
    assert due("2026-12-10 09:30", THURSDAY, last_step=-1) == [Due(7, 0, OWNER, (OWNER_ID,))]


def test_nothing_goes_out_in_quiet_hours_or_on_a_non_working_day() -> None:
    assert due("2026-12-10 21:00", THURSDAY) == []
    assert due("2026-12-11 07:59", THURSDAY, last_step=0) == []
    assert due("2026-12-12 10:00", THURSDAY, last_step=0) == []  # Saturday
    assert due("2026-10-05 10:00", dt.date(2026, 10, 5)) == []  # National Day holiday


def test_after_a_weekend_or_three_days_down_only_the_latest_step_goes() -> None:
    # Nothing sent since three working days before: Monday brings one reminder, the latest.
    assert due("2026-12-14 09:00", THURSDAY, last_step=-3) == [
        Due(7, 2, TEAM_LEADER, (OWNER_ID, LEADER_ID))
    ]
    # Before nine on Monday, Friday's overdue step is the latest that has come.
    assert due("2026-12-14 08:30", THURSDAY, last_step=0) == [Due(7, 1, OWNER, (OWNER_ID,))]


def test_overdue_escalates_to_the_team_leader_then_the_unit_leaders() -> None:
    assert due("2026-12-11 09:00", THURSDAY, 0)[0].recipients == (OWNER_ID,)
    assert due("2026-12-14 09:00", THURSDAY, 1)[0].recipients == (OWNER_ID, LEADER_ID)
    found = due("2026-12-17 09:00", THURSDAY, 4)
    assert found == [Due(7, 5, UNIT_LEADER, (OWNER_ID, LEADER_ID, UNIT_ID))]


def test_an_owner_without_an_account_is_passed_over_for_the_next_in_the_chain() -> None:
    chain: tuple[tuple[int, ...], ...] = ((), (LEADER_ID,), (UNIT_ID,))
    assert due("2026-12-07 09:00", THURSDAY, chain=chain) == [Due(7, -3, OWNER, (LEADER_ID,))]
    nobody: tuple[tuple[int, ...], ...] = ((), (), ())
    assert due("2026-12-07 09:00", THURSDAY, chain=nobody) == [Due(7, -3, OWNER, ())]


def test_a_due_day_on_a_holiday_is_reminded_the_working_day_before() -> None:
    holiday = dt.date(2026, 10, 3)
    assert due("2026-09-30 09:00", holiday, last_step=-1) == [Due(7, 0, OWNER, (OWNER_ID,))]


def test_a_start_is_never_overdue_and_overdue_reminders_follow_their_interval() -> None:
    assert due("2026-12-11 09:00", THURSDAY, last_step=0, kind="campaign_start") == []
    every_two = ReminderSettings(overdue_every_days=2)
    assert due("2026-12-11 09:00", THURSDAY, 0, rules=every_two) == []
    assert due("2026-12-14 09:00", THURSDAY, 0, rules=every_two)[0].step == 2


def test_disabled_reminders_send_nothing() -> None:
    assert due("2026-12-07 09:00", THURSDAY, rules=ReminderSettings(enabled=False)) == []


def test_days_left_count_working_days() -> None:
    assert days_left(THURSDAY, THURSDAY, NO_OVERRIDES) == 0
    assert days_left(THURSDAY, dt.date(2026, 12, 7), NO_OVERRIDES) == 3
    assert days_left(THURSDAY, dt.date(2026, 12, 14), NO_OVERRIDES) == -2
    assert days_left(dt.date(2026, 10, 3), dt.date(2026, 10, 2), NO_OVERRIDES) == 1


def test_a_digest_counts_what_is_due_today_and_overdue_in_one_message() -> None:
    items = [
        Item(1, "findings_due", "二季度抽查", 1, THURSDAY, False, 0, button="fill"),
        Item(2, "report_due", "二季度抽查", 1, THURSDAY, True, 0, button="progress"),
        Item(
            3, "approval", "", None, dt.date(2026, 12, 8), False, -2, button="approve", subject_id=9
        ),
    ]
    message = digest("张三", items)
    assert "今天到期 2 项、逾期 1 项" in message.text
    assert "（估算）" in message.text and "审批9" in message.text
    assert [b.label for b in message.buttons] == ["审批", "填写", "进度"]
    assert message.buttons[0].key == "查看审批9"


def test_the_window_a_tick_reads_by_holds_exactly_the_deadlines_with_a_step_due() -> None:
    """A tick reads only the deadlines the window lets through (storage.deadlines
    .open_behind); over three weeks of due days around National Day, every kind of last
    step and moments from before nine to quiet hours, that is exactly what is due."""
    days = [dt.date(2026, 9, 20) + dt.timedelta(days=n) for n in range(24)]
    opened = [
        Open(n, kind, day, last, CHAIN)
        for n, (kind, day, last) in enumerate(
            (kind, day, last)
            for kind in ("findings_due", "campaign_start")
            for day in days
            for last in (None, -3, -1, 0, 1, 2, 4)
        )
    ]
    for moment in ("2026-09-29 08:30", "2026-09-30 09:00", "2026-10-09 10:00", "2026-10-12 21:30"):
        found = window(days, at(moment), RULES, TZ, NO_OVERRIDES)
        steps = {"findings_due": found.steps, "campaign_start": found.start_steps}
        through = {
            d.id
            for d in opened
            if d.due_on in steps[d.kind]
            and (d.last_step is None or d.last_step < steps[d.kind][d.due_on])
        }
        due_now = due_reminders(opened, at(moment), RULES, TZ, NO_OVERRIDES)
        assert through == {d.deadline_id for d in due_now}
        assert found.empty == (moment.endswith("21:30") or not due_now)


def test_a_digest_has_at_most_four_buttons_one_per_approval() -> None:
    items = [
        Item(n, "approval", "", None, THURSDAY, False, 0, button="approve", subject_id=n)
        for n in (1, 2, 2, 3, 4, 5)
    ]
    keys = [b.key for b in digest("张三", items).buttons]
    assert keys == ["查看审批1", "查看审批2", "查看审批3", "查看审批4"]
