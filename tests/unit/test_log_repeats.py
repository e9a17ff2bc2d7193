"""`suiji serve`'s log lets the first of a run of like warnings and errors through, then one
line per window saying how many were left out: an error repeated for every connection (out of
file descriptors, say) must not write hundreds of thousands of lines. The clock is injected."""

from __future__ import annotations

import logging

from bot.server.edge import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(
    message: str, *args: object, level: int = logging.ERROR, name: str = "suiji.x"
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


def test_a_repeated_error_is_let_through_once_per_window_with_how_many_were_left_out() -> None:
    clock = Clock()
    repeats = RepeatFilter(window=60, clock=clock)
    shown = []
    for _ in range(400):
        clock.now += 0.25  # four a second, for 100 s
        line = record("cannot accept a connection (%s)", "Too many open files")
        if repeats.filter(line):
            shown.append(line.getMessage())
    assert len(shown) == 2
    assert shown[0] == "cannot accept a connection (Too many open files)"
    assert shown[1].startswith("cannot accept a connection (Too many open files)")
    assert "239 more like this" in shown[1]


def test_different_errors_and_ordinary_lines_are_not_held_back() -> None:
    repeats = RepeatFilter(window=60, clock=Clock())
    assert repeats.filter(record("one thing failed: %s", 1))
    assert repeats.filter(record("another thing failed: %s", 1))
    assert repeats.filter(record("one thing failed: %s", 2, name="suiji.y"))  # another logger
    assert repeats.filter(record("one thing failed: %s", 2, level=logging.WARNING))
    assert not repeats.filter(record("one thing failed: %s", 3))
    for n in range(100):  # INFO, such as the access log's refused requests, passes untouched
        assert repeats.filter(record('%s "%s" %d', "127.0.0.1", "/x", n, level=logging.INFO))
