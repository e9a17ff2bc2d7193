"""How a moment reads to a person: in the bureau's zone (``app.timezone``), to the minute.

Storage and machine-readable output (``--format json``, the draw record) keep UTC in ISO 8601;
everything rendered for people goes through :func:`local_time`, also the Jinja filter
``local_time`` of every template.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

FORMAT = "%Y-%m-%d %H:%M"


def local_time(moment: dt.datetime | str | None, zone: str | dt.tzinfo) -> str:
    """``2026-12-03 15:19`` for a UTC moment (or its ISO text) in ``zone``; "" for none."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:  # storage hands back UTC; a bare time is one of those
        moment = moment.replace(tzinfo=dt.UTC)
    tz = zoneinfo.ZoneInfo(zone) if isinstance(zone, str) else zone
    return moment.astimezone(tz).strftime(FORMAT)


def utc_iso(moment: dt.datetime) -> str:
    """The machine form kept in records and JSON: ``2026-12-03T07:19:38.465686Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def running_from(start: dt.datetime, real: Callable[[], dt.datetime]) -> Callable[[], dt.datetime]:
    """A clock that reads ``start`` now and runs on at the pace of ``real``: a drill's time
    (``suiji serve --clock``), so that what would happen then can be watched as it happens."""
    offset = start - real()
    return lambda: real() + offset
