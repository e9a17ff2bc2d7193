"""Which database errors mean "cannot write now, try again" (a callback answered 503, so the
platform sends it again) and which mean "this row is refused" (retrying would fail again)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from storage.engine import cannot_write_now


class DriverError(Exception):
    """A driver's exception with its SQLSTATE, as asyncpg reports every server error."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"error {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(kind: type[DBAPIError], sqlstate: str | None = None) -> DBAPIError:
    orig = DriverError(sqlstate) if sqlstate else Exception("driver error")
    return kind("INSERT …", None, orig)


CANNOT_WRITE_NOW = {
    "sqlite read-only or locked": wrapped(OperationalError),
    "mariadb gone away": wrapped(OperationalError),
    "connection closed": wrapped(InterfaceError),
    "postgresql read-only transaction": wrapped(DBAPIError, "25006"),
    "postgresql shutting down": wrapped(DBAPIError, "57P01"),
    "postgresql too many connections": wrapped(DBAPIError, "53300"),
    "writes not granted": wrapped(ProgrammingError, "42501"),
    "connection refused": ConnectionRefusedError(111, "Connect call failed"),
    "no answer in time": TimeoutError(),
    "no pooled connection in time": PoolTimeout(),
}
REFUSED_ROW = {
    "a value the column cannot hold": wrapped(DataError),
    "a broken constraint": wrapped(IntegrityError),
    "postgresql: untranslatable character": wrapped(DBAPIError, "22P05"),
    "postgresql: not null violation": wrapped(DBAPIError, "23502"),
    "not the database's at all": ValueError("bad value"),
}


@pytest.mark.parametrize("error", CANNOT_WRITE_NOW.values(), ids=CANNOT_WRITE_NOW.keys())
def test_a_database_out_of_reach_read_only_or_locked_cannot_write_now(error: Exception) -> None:
    assert cannot_write_now(error)


@pytest.mark.parametrize("error", REFUSED_ROW.values(), ids=REFUSED_ROW.keys())
def test_a_row_the_database_refuses_is_not_a_database_that_cannot_write(error: Exception) -> None:
    assert not cannot_write_now(error)
