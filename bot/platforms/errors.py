"""What can go wrong at the edge and when sending, independent of the platform."""

from __future__ import annotations


class Rejected(Exception):
    """A callback refused before anything is written; ``status`` is the HTTP answer (4xx)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SendFailed(Exception):
    """A message the platform did not take. ``retry`` says whether trying later may help."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


def plain_id(value: object, longest: int) -> bool:
    """An id a platform could have sent: printable, encodable, not too long."""
    if not isinstance(value, str) or not value or len(value) > longest:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no database would store it
        return False
    return value.isprintable()
