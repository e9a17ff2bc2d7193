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
