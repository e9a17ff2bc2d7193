"""A campaign (实施方案) as the staff write it: a TOML file, checked key by key.

Pure: text in, a typed :class:`CampaignSpec` out, or every problem found, each naming its key.
Whether the unit, items, leaders and plan need exist is for the database to say later.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.base.texts import render, text
from bot.draw.rfc3797 import RFC3797_SHA256
from bot.draw.strata import DEFAULT_RATIOS, STRATUM_ORDER
from bot.registry.fields import CellError, labels, percent_field

MIN_OFFICERS_PER_TEAM = 2  # 劳动保障监察条例 第十六条: at least two officers inspect together
PER_EMPLOYER = "per_employer"
# `campaign example` starts this far ahead: time to commit, publish and draw, and for officers
# to say 「无法参加」 before it starts.
EXAMPLE_LEAD = dt.timedelta(weeks=3)
EXAMPLE_LENGTH = dt.timedelta(days=30)


def example_campaign(start: dt.date) -> str:
    """The commented example campaign file (it works with the --sample data), from ``start``."""
    return render(
        "campaign/example.toml.j2",
        start=start,
        end=start + EXAMPLE_LENGTH,
        lottery_day=start - dt.timedelta(days=1),
    )


class SpecError(Exception):
    """The campaign file has problems; ``problems`` are ready-worded lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class StratumSpec:
    label: str
    ratio: Decimal  # percent
    minimum: int


@dataclass(frozen=True)
class EntropySource:
    name: str
    kind: str  # witness | lottery
    description: str


@dataclass(frozen=True)
class OfficerExclusion:
    officer: str  # a person reference: certificate number, account or name
    reason: str


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    unit: str
    items: tuple[str, ...]
    start: dt.date
    end: dt.date
    purpose: str
    methods: tuple[str, ...]
    officers_per_team: int
    teams: int | None  # None: one team per employer
    leaders: tuple[str, ...]
    use_of_results: str
    entropy: tuple[EntropySource, ...]
    confidential: bool = False
    absence_approver: str = "team_leader"
    exclusion_months: int = 12
    yearly_cap: int = 2
    algorithm: str = RFC3797_SHA256
    strata: tuple[StratumSpec, ...] = field(
        default_factory=lambda: tuple(StratumSpec(s, DEFAULT_RATIOS[s], 0) for s in STRATUM_ORDER)
    )
    plan_need: int | None = None
    exclude_officers: tuple[OfficerExclusion, ...] = ()


class _Reader:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []
        self.seen: set[str] = set()

    def problem(self, key: str, message_key: str, **values: Any) -> None:
        self.problems.append(
            text("campaign.spec_problem", key=key, reason=text(f"campaign.{message_key}", **values))
        )

    def get(
        self, key: str, kind: type | tuple[type, ...], default: Any = ..., where: Any = None
    ) -> Any:
        source = self.data if where is None else where
        self.seen.add(key) if where is None else None
        if key not in source:
            if default is ...:
                self.problem(key, "missing")
            return None if default is ... else default
        value = source[key]
        if isinstance(value, str) and _unquoted(kind, value.strip()):
            # TOML reads "2026-12-01" as text; saying "should be a date" would show just that.
            self.problem(key, "quoted", name=key, value=value.strip())
            return None if default is ... else default
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            self.problem(key, "wrong_type", expected=_type_name(kind))
            return None if default is ... else default
        return value

    def text(self, key: str, default: Any = ...) -> str | None:
        value = self.get(key, str, default)
        if isinstance(value, str) and not value.strip() and default is ...:
            self.problem(key, "missing")
        return value.strip() if isinstance(value, str) else value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list)
        if value is None:
            return ()
        if not value or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(key, "text_list")
            return ()
        return tuple(v.strip() for v in value)

    def count(self, key: str, default: Any, minimum: int, maximum: int = 10_000) -> int | None:
        value = self.get(key, int, default)
        if isinstance(value, int) and value < minimum:
            self.problem(key, "at_least", minimum=minimum)
        elif isinstance(value, int) and value > maximum:
            self.problem(key, "at_most", maximum=maximum)
        return value  # type: ignore[no-any-return]


def _unquoted(kind: type | tuple[type, ...], value: str) -> bool:
    """Whether ``value``, typed in quotes, would be the date or number ``kind`` wants."""
    if kind is dt.date:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return kind is int and value.isascii() and value.isdigit()


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return "/".join(k.__name__ for k in kinds)


def _unknown_keys(
    reader: _Reader, where: str, table: dict[str, Any], known: tuple[str, ...]
) -> None:
    for name in table:
        if name not in known:
            reader.problem(f"{where}.{name}", "unknown_key")


def _code(value: Any, group: str) -> str | None:
    """The code for a value given as its code or its Chinese label, else None."""
    for code, label in labels(group).items():
        if value in (code, label):
            return code
    return None


def _choice(reader: _Reader, key: str, group: str, default: str) -> str:
    value = reader.get(key, str, default)
    if not isinstance(value, str):
        return default
    code = _code(value, group)
    if code is None:
        reader.problem(key, "choice", value=value, allowed=list(labels(group).values()))
        return default
    return code


def _strata(reader: _Reader) -> tuple[StratumSpec, ...]:
    table = reader.get("strata", dict, {})
    ratio_field = percent_field("ratio")
    found = []
    for label in STRATUM_ORDER:
        entry = table.get(label, {})
        key = f"strata.{label}"
        if isinstance(entry, str):
            entry = {"ratio": entry}
        if not isinstance(entry, dict):
            reader.problem(key, "wrong_type", expected="table")
            continue
        _unknown_keys(reader, key, entry, ("ratio", "minimum"))
        ratio, minimum = DEFAULT_RATIOS[label], entry.get("minimum", 0)
        if "ratio" in entry:
            try:
                ratio = ratio_field.parse(entry["ratio"])
            except CellError as error:
                reader.problem(f"{key}.ratio", "cell", reason=error.message())
        if isinstance(minimum, bool) or not isinstance(minimum, int) or not 0 <= minimum < 10**7:
            reader.problem(f"{key}.minimum", "at_least", minimum=0)
            minimum = 0
        found.append(StratumSpec(label, ratio, minimum))
    for label in table:
        if label not in STRATUM_ORDER:
            reader.problem(f"strata.{label}", "unknown_stratum", allowed=list(STRATUM_ORDER))
    return tuple(found)


def _entropy(reader: _Reader) -> tuple[EntropySource, ...]:
    entries = reader.get("entropy", list)
    if entries is None:
        return ()
    sources, names = [], set()
    for n, entry in enumerate(entries, start=1):
        key = f"entropy[{n}]"
        if not isinstance(entry, dict):
            reader.problem(key, "wrong_type", expected="table")
            continue
        _unknown_keys(reader, key, entry, ("name", "kind", "description"))
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip() or "=" in name or "," in name:
            reader.problem(f"{key}.name", "source_name")
            continue
        name = name.strip()
        if name in names:
            reader.problem(f"{key}.name", "duplicate", value=name)
        names.add(name)
        kind = _code(entry.get("kind", "witness"), "entropy_kind")
        if kind is None:
            allowed = list(labels("entropy_kind").values())
            reader.problem(f"{key}.kind", "choice", value=entry.get("kind"), allowed=allowed)
        description = entry.get("description", "")
        if not isinstance(description, str):
            reader.problem(f"{key}.description", "wrong_type", expected="str")
            description = ""
        sources.append(EntropySource(name, kind or "witness", description.strip()))
    if not sources and entries is not None:
        reader.problem("entropy", "no_entropy")
    return tuple(sources)


def _exclusions(reader: _Reader) -> tuple[OfficerExclusion, ...]:
    entries = reader.get("exclude_officers", list, [])
    found = []
    for n, entry in enumerate(entries, start=1):
        where = f"exclude_officers[{n}]"
        if not isinstance(entry, dict):
            reader.problem(where, "exclusion")
            continue
        _unknown_keys(reader, where, entry, ("officer", "reason"))
        officer, reason = entry.get("officer"), entry.get("reason")
        if not isinstance(officer, str) or not isinstance(reason, str):
            reader.problem(where, "exclusion")
            continue
        if not officer.strip() or not reason.strip():
            reader.problem(where, "exclusion")
            continue
        found.append(OfficerExclusion(officer.strip(), reason.strip()))
    return tuple(found)


def parse_campaign(source: str) -> CampaignSpec:
    """Read a campaign TOML text; raise SpecError listing every problem."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([text("campaign.bad_toml", detail=str(exc))]) from exc
    r = _Reader(data)
    name, unit, purpose = r.text("name"), r.text("unit"), r.text("purpose")
    use_of_results = r.text("use_of_results")
    items, leaders = r.texts("items"), r.texts("leaders")
    start, end = r.get("start", dt.date), r.get("end", dt.date)
    for key, value in (("start", start), ("end", end)):
        if isinstance(value, dt.datetime):  # a datetime is a date too: refuse it by name
            r.problem(key, "date_only")
    dates = [v for v in (start, end) if type(v) is dt.date]
    if len(dates) == 2 and end < start:
        r.problem("end", "ends_before_start")
    method_labels = r.texts("method")
    methods = []
    lookup = {label: code for code, label in labels("check_method").items()}
    for label in method_labels:
        code = lookup.get(label, label if label in labels("check_method") else None)
        if code is None:
            r.problem("method", "choice", value=label, allowed=list(lookup))
        else:
            methods.append(code)
    per_team = r.count("officers_per_team", ..., MIN_OFFICERS_PER_TEAM, 50)
    teams_value = r.get("teams", (int, str))
    teams: int | None = None
    if isinstance(teams_value, str) and teams_value != PER_EMPLOYER:
        r.problem("teams", "teams")
    elif isinstance(teams_value, int):
        if isinstance(teams_value, bool) or not 1 <= teams_value <= 10_000:
            r.problem("teams", "teams")
        teams = teams_value
    confidential = r.get("confidential", bool, False)
    absence = _choice(r, "absence_approver", "absence_approver", "team_leader")
    months = r.count("exclusion_months", 12, 0, 120)
    cap = r.count("yearly_cap", 2, 1, 100)
    algorithm = r.get("algorithm", str, RFC3797_SHA256)
    if algorithm != RFC3797_SHA256:
        # RFC 3797's MD5 construction has no label: every stratum and the officers would
        # share one sequence of hashes. It stays available for plain selections.
        r.problem("algorithm", "algorithm_for_campaigns")
    plan_need = r.count("plan_need", None, 1, 2**31 - 1)
    strata, entropy, exclusions = _strata(r), _entropy(r), _exclusions(r)
    for key in data:
        known = r.seen | {"strata", "entropy", "exclude_officers"}
        if key not in known:
            r.problem(key, "unknown_key")
    if r.problems:
        raise SpecError(r.problems)
    assert name and unit and purpose and use_of_results and per_team is not None
    return CampaignSpec(
        name=name,
        unit=unit,
        items=items,
        start=start,
        end=end,
        purpose=purpose,
        methods=tuple(methods),
        officers_per_team=per_team,
        teams=teams,
        leaders=leaders,
        use_of_results=use_of_results,
        entropy=entropy,
        confidential=confidential,
        absence_approver=absence,
        exclusion_months=months or 0,
        yearly_cap=cap or 1,
        algorithm=algorithm,
        strata=strata,
        plan_need=plan_need,
        exclude_officers=exclusions,
    )
