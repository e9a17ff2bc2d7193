"""Registry records as JSON: what audit entries store and ``registry list`` prints."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any


def json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple | list):
        return [json_value(v) for v in value]
    return value


def jsonable(record: dict[str, Any]) -> dict[str, Any]:
    return {name: json_value(value) for name, value in record.items()}
