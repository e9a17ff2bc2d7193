"""Outbox pacing and retry spacing: sliding one-minute windows per recipient and overall, and
exponential backoff capped at ten minutes."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.server.outbox import WINDOW, Pacer, backoff

T0 = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
# The pacing window: a minute, plus the margin bot.server.outbox keeps against clock skew.
MINUTE = WINDOW
TICK = dt.timedelta(microseconds=1)


def send(pacer: Pacer, recipient: str, at: dt.datetime) -> None:
    assert pacer.wait(recipient, at) is None, f"{recipient} refused at {at}"
    pacer.record(recipient, at)


def test_allows_exactly_n_per_recipient_then_names_when_the_first_ages_out() -> None:
    pacer = Pacer(per_recipient=3, overall=100)
    for second in (0, 10, 20):
        send(pacer, "zhangsan", T0 + dt.timedelta(seconds=second))
    assert pacer.wait("zhangsan", T0 + dt.timedelta(seconds=30)) == T0 + MINUTE
    assert pacer.wait("zhangsan", T0 + MINUTE - TICK) == T0 + MINUTE


def test_the_window_slides_one_message_at_a_time() -> None:
    pacer = Pacer(per_recipient=3, overall=100)
    for second in (0, 10, 20):
        send(pacer, "zhangsan", T0 + dt.timedelta(seconds=second))
    send(pacer, "zhangsan", T0 + MINUTE)  # the one sent at 0 s has left the window
    # Now 10 s, 20 s and one window later are in it: the next slot opens when 10 s ages out.
    later = T0 + MINUTE + dt.timedelta(seconds=1)
    ten = T0 + dt.timedelta(seconds=10) + MINUTE
    assert pacer.wait("zhangsan", later) == ten
    send(pacer, "zhangsan", ten)
    assert pacer.wait("zhangsan", ten) == T0 + dt.timedelta(seconds=20) + MINUTE


def test_one_recipient_at_the_limit_does_not_hold_up_another() -> None:
    pacer = Pacer(per_recipient=2, overall=100)
    send(pacer, "a", T0)
    send(pacer, "a", T0)
    assert pacer.wait("a", T0) == T0 + MINUTE
    send(pacer, "b", T0)
    send(pacer, "b", T0)
    assert pacer.wait("b", T0) == T0 + MINUTE


def test_overall_budget_stops_everyone_until_the_oldest_ages_out() -> None:
    pacer = Pacer(per_recipient=10, overall=3)
    send(pacer, "a", T0)
    send(pacer, "b", T0 + dt.timedelta(seconds=5))
    send(pacer, "c", T0 + dt.timedelta(seconds=9))
    for someone in ("a", "d", "new"):
        assert pacer.wait(someone, T0 + dt.timedelta(seconds=10)) == T0 + MINUTE
    send(pacer, "d", T0 + MINUTE)
    assert pacer.wait("e", T0 + MINUTE) == T0 + MINUTE + dt.timedelta(seconds=5)


def test_waiting_alone_does_not_use_up_the_budget() -> None:
    pacer = Pacer(per_recipient=1, overall=1)
    for _ in range(5):
        assert pacer.wait("a", T0) is None
    pacer.record("a", T0)
    assert pacer.wait("a", T0) == T0 + MINUTE


def test_wecom_limit_of_twenty_a_minute_to_one_member() -> None:
    pacer = Pacer(per_recipient=20, overall=3000)
    sent = 0
    at = T0
    while pacer.wait("lisi", at) is None:
        pacer.record("lisi", at)
        sent += 1
        at += dt.timedelta(seconds=1)
    assert sent == 20
    assert pacer.wait("lisi", at) == T0 + MINUTE


# A sequence of attempts: (recipient, seconds since the last attempt). Whole quarter minutes
# land attempts exactly on window edges, where an off-by-one would show.
gaps = st.one_of(
    st.sampled_from([0.0, 15.0, 30.0, 60.0]), st.integers(0, 40_000).map(lambda ms: ms / 1000)
)
attempts = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), gaps), max_size=120)


def allowed(log: list[tuple[str, dt.datetime]], who: str, at: dt.datetime, n: int, m: int) -> bool:
    recent = [(r, t) for r, t in log if at - MINUTE < t <= at]
    return len([1 for r, _ in recent if r == who]) < n and len(recent) < m


@settings(max_examples=200, deadline=None)
@given(steps=attempts, per_recipient=st.integers(1, 5), overall=st.integers(1, 8))
def test_pacer_agrees_with_a_plain_count_of_the_last_minute(
    steps: list[tuple[str, float]], per_recipient: int, overall: int
) -> None:
    pacer = Pacer(per_recipient, overall)
    log: list[tuple[str, dt.datetime]] = []
    at = T0
    for who, gap in steps:
        at += dt.timedelta(seconds=gap)
        later = pacer.wait(who, at)
        assert (later is None) == allowed(log, who, at, per_recipient, overall)
        if later is None:
            pacer.record(who, at)
            log.append((who, at))
            continue
        # The time named is the earliest at which the message may go, if nothing else is sent.
        assert later > at
        assert allowed(log, who, later, per_recipient, overall)
        assert not allowed(log, who, later - TICK, per_recipient, overall)
    for who in ("a", "b", "c"):
        sent = [t for r, t in log if r == who]
        for i, t in enumerate(sent):
            assert len([u for u in sent[i:] if u - t < MINUTE]) <= per_recipient
    times = [t for _, t in log]
    for i, t in enumerate(times):
        assert len([u for u in times[i:] if u - t < MINUTE]) <= overall


# --- backoff ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (8, 256), (9, 512), (10, 600), (11, 600)],
)
def test_backoff_doubles_from_two_seconds_up_to_ten_minutes(attempts: int, seconds: int) -> None:
    assert backoff(attempts) == dt.timedelta(seconds=seconds)


def test_backoff_doubles_each_time_until_the_cap() -> None:
    delays = [backoff(n) for n in range(1, 40)]
    for before, after in itertools.pairwise(delays):
        assert after == min(2 * before, dt.timedelta(minutes=10))
    assert max(delays) == dt.timedelta(seconds=600)


def test_backoff_stays_capped_for_absurd_attempt_counts() -> None:
    assert backoff(10_000) == dt.timedelta(seconds=600)
