"""Configuration: one TOML file plus environment overrides.

Owns where the file is found (``--config``, else ``SUIJI_CONFIG``, else ``./suiji.toml``), the
schema of every key with its default, the override naming (``SUIJI_<SECTION>__<KEY>``) and the
errors that name the key at fault. Secrets are never logged from here.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.base.texts import text
from storage.engine import normalize_url

ENV_PREFIX = "SUIJI_"
CONFIG_ENV = "SUIJI_CONFIG"
DEFAULT_FILE = "suiji.toml"
DEFAULT_TIMEZONE = "Asia/Shanghai"
SUPPORTED_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")

# section -> key -> (type, default). The commented file `suiji init` writes documents each key.
SCHEMA: dict[str, dict[str, tuple[type, Any]]] = {
    "database": {"url": (str, "sqlite:///suiji.db"), "echo": (bool, False)},
    # operator: who the command line acts as when neither --as nor SUIJI_AS names someone.
    "app": {"timezone": (str, DEFAULT_TIMEZONE), "operator": (str, "")},
    "server": {
        "host": (str, "127.0.0.1"),
        "port": (int, 8080),
        # Where people reach `suiji serve` from outside (https://…), for links in chat to its
        # read-only pages; empty: no links are given.
        "public_url": (str, ""),
        # A connection must finish its request head this long after opening or after its
        # previous answer; the platforms send theirs at once.
        "header_timeout_seconds": (int, 10),
        # Open connections at most (fewer if the file-descriptor limit leaves less room).
        "max_connections": (int, 1000),
        # Signs the findings page's login cookies: a long random string, kept secret. Empty:
        # no page (chat only). Changing it logs everyone out of the page.
        "session_secret": (str, ""),
        # A login to the findings page lasts this long; then the platform's login runs again.
        "session_hours": (int, 8),
    },
    "wecom": {
        "corp_id": (str, ""),
        "agent_id": (int, 0),
        "secret": (str, ""),
        "token": (str, ""),
        "encoding_aes_key": (str, ""),
        "api_base": (str, "https://qyapi.weixin.qq.com"),
        # Where WeCom's in-app browser says who is on the findings page (OAuth2 snsapi_base).
        "oauth_base": (str, "https://open.weixin.qq.com"),
    },
    "dingtalk": {
        "app_key": (str, ""),
        "app_secret": (str, ""),
        "robot_code": (str, ""),
        "token": (str, ""),
        "aes_key": (str, ""),
        "api_base": (str, "https://api.dingtalk.com"),
        "oapi_base": (str, "https://oapi.dingtalk.com"),
        "mode": (str, "http"),
        # An interactive card template made in the developer console (Stream mode only): cards
        # with buttons then answer through card callbacks instead of dtmd:// links.
        "card_template_id": (str, ""),
        # The organisation's CorpId: the findings page asks DingTalk who is on it (免登) with it.
        "corp_id": (str, ""),
        # DingTalk's JSAPI script, which gives the findings page its one-time login code.
        "jsapi_url": (str, "https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js"),
    },
    "assignments": {
        # An officer who has neither confirmed nor declined is reminded once after this long.
        "remind_after_hours": (int, 24),
        # 「无法参加」 closes this many days before the campaign starts (0: on its first day);
        # after that the officer is told to speak to the team leader.
        "decline_closes_days_before_start": (int, 0),
    },
    "reminders": {
        # Reminders of deadlines (a campaign's start, findings, reports, approvals,
        # rectification, publication). false: none are sent (「待办」 still lists them).
        "enabled": (bool, True),
        # Working days before the due day to remind on (and on the day itself), at this hour.
        "before_days": (str, "3,1"),
        "at": (str, "09:00"),
        # While overdue: again every this many working days.
        "overdue_every_days": (int, 1),
        # Working days overdue before the team leader, then the unit's leaders, are told too.
        "escalate_team_leader_days": (int, 2),
        "escalate_unit_leader_days": (int, 5),
        # Nothing goes out from quiet_from to quiet_until, nor on non-working days: what falls
        # due then goes at the next allowed time, in one message per person.
        "quiet_from": (str, "21:00"),
        "quiet_until": (str, "08:00"),
        # Findings are due this many working days after the campaign's end (0: on its last day);
        # the team's report this many; an approval should be decided within this many.
        "findings_days": (int, 0),
        "report_days": (int, 5),
        "approval_days": (int, 2),
        # Results are published within this many working days of the campaign's end.
        "publication_days": (int, 20),
        # A penalty decision is published within this many working days of the decision (the
        # decision day not counted).
        "penalty_publication_days": (int, 7),
        # How often each process looks for reminders due (assignments' and deadlines'): a
        # reminder goes out at most this late. Claims in the database keep it once however
        # many processes look.
        "tick_seconds": (int, 300),
    },
    "bureau": {
        # The deciding organ of penalty decisions and the source of what is published
        # (处罚机关, 数据来源单位): its name and unified social credit code.
        "name": (str, ""),
        "uscc": (str, ""),
    },
    "findings": {
        # Where evidence photos are kept, named by their SHA-256 (relative to this file).
        "files": (str, "files"),
        # A photo larger than this is refused, and the officer told.
        "photo_max_mib": (int, 10),
    },
    "outbox": {
        # Backoff doubles up to ten minutes: 20 tries outlast an outage of about two hours.
        "max_attempts": (int, 20),
        # WeCom silently drops more than 30 a minute to one member; stay well under.
        "per_recipient_per_minute": (int, 20),
        "per_minute": (int, 3000),
    },
}


MIN_SECRET = 32  # characters of server.session_secret: guessing it must be hopeless


class ConfigError(Exception):
    """A configuration problem, already worded for the person who must fix it."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    echo: bool
    # Whether someone chose this database (a config file was read, or SUIJI_DATABASE__URL set):
    # commands never create or open the built-in default on their own.
    chosen: bool = True


@dataclass(frozen=True)
class AppSettings:
    timezone: str
    operator: str = ""

    @property
    def tz(self) -> dt.tzinfo:
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True)
class WeComSettings:
    corp_id: str
    agent_id: int
    secret: str
    token: str
    encoding_aes_key: str
    api_base: str
    oauth_base: str = "https://open.weixin.qq.com"

    @property
    def enabled(self) -> bool:
        return bool(self.corp_id and self.token and self.encoding_aes_key)


@dataclass(frozen=True)
class DingTalkSettings:
    app_key: str
    app_secret: str
    robot_code: str
    token: str
    aes_key: str
    api_base: str
    oapi_base: str
    mode: str
    card_template_id: str = ""
    corp_id: str = ""
    jsapi_url: str = SCHEMA["dingtalk"]["jsapi_url"][1]

    @property
    def enabled(self) -> bool:
        return bool(self.app_key and self.app_secret)

    @property
    def page_login(self) -> bool:
        """Whether the findings page can ask DingTalk who is on it (免登 needs the CorpId)."""
        return self.enabled and bool(self.corp_id)


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    public_url: str = ""
    header_timeout_seconds: int = 10
    max_connections: int = 1000
    session_secret: str = ""
    session_hours: int = 8


@dataclass(frozen=True)
class OutboxSettings:
    max_attempts: int
    per_recipient_per_minute: int
    per_minute: int


@dataclass(frozen=True)
class AssignmentSettings:
    remind_after_hours: int
    decline_closes_days_before_start: int


@dataclass(frozen=True)
class ReminderSettings:
    enabled: bool = True
    before_days: tuple[int, ...] = (3, 1)
    at: dt.time = dt.time(9, 0)
    overdue_every_days: int = 1
    escalate_team_leader_days: int = 2
    escalate_unit_leader_days: int = 5
    quiet_from: dt.time = dt.time(21, 0)
    quiet_until: dt.time = dt.time(8, 0)
    findings_days: int = 0
    report_days: int = 5
    approval_days: int = 2
    publication_days: int = 20
    penalty_publication_days: int = 7
    tick_seconds: int = 300


def _clock_time(key: str, value: str) -> dt.time:
    found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not found:
        raise ConfigError(text("config.bad_value", key=key, detail="HH:MM"))
    return dt.time(int(found.group(1)), int(found.group(2)))


def _days_list(key: str, value: str) -> tuple[int, ...]:
    parts = [p.strip() for p in value.replace("，", ",").split(",") if p.strip()]
    if not all(p.isdigit() and 0 < int(p) <= 60 for p in parts):
        raise ConfigError(text("config.bad_value", key=key, detail="3,1"))
    return tuple(sorted({int(p) for p in parts}, reverse=True))


def _reminders(values: dict[tuple[str, str], Any]) -> ReminderSettings:
    found = _section(values, "reminders")
    for key in ("overdue_every_days", "escalate_team_leader_days", "escalate_unit_leader_days"):
        if found[key] < 1:
            raise ConfigError(text("config.bad_value", key=f"reminders.{key}", detail=">= 1"))
    for key in (
        "findings_days",
        "report_days",
        "approval_days",
        "publication_days",
        "penalty_publication_days",
    ):
        if not 0 <= found[key] <= 250:
            raise ConfigError(text("config.bad_value", key=f"reminders.{key}", detail="0–250"))
    if not 1 <= found["tick_seconds"] <= 3600:
        detail = "1–3600"
        raise ConfigError(text("config.bad_value", key="reminders.tick_seconds", detail=detail))
    if found["escalate_unit_leader_days"] < found["escalate_team_leader_days"]:
        detail = ">= escalate_team_leader_days"
        raise ConfigError(
            text("config.bad_value", key="reminders.escalate_unit_leader_days", detail=detail)
        )
    for key in ("at", "quiet_from", "quiet_until"):
        found[key] = _clock_time(f"reminders.{key}", found[key])
    found["before_days"] = _days_list("reminders.before_days", found["before_days"])
    return ReminderSettings(**found)


@dataclass(frozen=True)
class BureauSettings:
    name: str = ""
    uscc: str = ""


@dataclass(frozen=True)
class FindingSettings:
    files: Path  # the folder of the file store
    photo_max_mib: int

    @property
    def photo_max_bytes(self) -> int:
        return self.photo_max_mib * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    app: AppSettings
    source: Path | None  # the file read, if any
    server: ServerSettings = ServerSettings("127.0.0.1", 8080)
    wecom: WeComSettings = WeComSettings("", 0, "", "", "", "https://qyapi.weixin.qq.com")
    dingtalk: DingTalkSettings = DingTalkSettings(
        "", "", "", "", "", "https://api.dingtalk.com", "https://oapi.dingtalk.com", "http"
    )
    outbox: OutboxSettings = OutboxSettings(20, 20, 3000)
    assignments: AssignmentSettings = AssignmentSettings(24, 0)
    reminders: ReminderSettings = ReminderSettings()
    findings: FindingSettings = FindingSettings(Path("files"), 10)
    bureau: BureauSettings = BureauSettings()


def find_config_file(explicit: str | None, environ: Mapping[str, str]) -> tuple[Path | None, bool]:
    """The file to read and whether the user named it (a named file must exist)."""
    if explicit:
        return Path(explicit), True
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]), True
    default = Path(DEFAULT_FILE)
    return (default if default.exists() else None), False


def _coerce(key: str, kind: type, value: Any, from_env: bool) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if from_env and isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if from_env and isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(text("config.wrong_type", key=key, expected="bool"))
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_env and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ConfigError(text("config.wrong_type", key=key, expected="int"))
    if not isinstance(value, str):
        raise ConfigError(text("config.wrong_type", key=key, expected="str"))
    return value


def _env_overrides(environ: Mapping[str, str]) -> dict[tuple[str, str], str]:
    overrides = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        section, sep, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if not sep:
            # Not an override, unless it looks like a mistyped one (SUIJI_DATABASE_URL);
            # others, such as SUIJI_TEST_DATABASE_URL for the tests, are not ours to judge.
            if any(section.startswith(f"{known}_") for known in SCHEMA):
                raise ConfigError(text("config.unknown_env", name=name))
            continue
        if key not in SCHEMA.get(section, {}):
            raise ConfigError(text("config.unknown_env", name=name))
        overrides[(section, key)] = value
    return overrides


def _resolve_sqlite_path(url: str, base: Path) -> str:
    """Relative SQLite paths are relative to the config file, not to wherever suiji runs."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return url
    if Path(path).is_absolute():
        return url
    return parsed.set(database=str((base / path).resolve())).render_as_string(hide_password=False)


def _validate(values: dict[tuple[str, str], Any]) -> None:
    try:
        url = make_url(values[("database", "url")])
    except ArgumentError as exc:
        raise ConfigError(text("config.bad_value", key="database.url", detail=str(exc))) from exc
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigError(
            text("config.bad_backend", key="database.url", backend=url.get_backend_name())
        )
    _check_driver(normalize_url(values[("database", "url")]))
    if values[("dingtalk", "mode")] not in ("http", "stream"):
        raise ConfigError(text("config.bad_value", key="dingtalk.mode", detail="http | stream"))
    if values[("dingtalk", "card_template_id")] and values[("dingtalk", "mode")] != "stream":
        # Card callbacks need a registered route in HTTP mode; Stream mode brings them itself.
        raise ConfigError(
            text("config.bad_value", key="dingtalk.card_template_id", detail="mode = stream")
        )
    for section, key in (("wecom", "encoding_aes_key"), ("dingtalk", "aes_key")):
        value = values[(section, key)]  # both platforms: a 32-byte key as 43 base64 characters
        if value and not _is_aes_key(value):
            raise ConfigError(text("config.bad_value", key=f"{section}.{key}", detail="43"))
    if not 1 <= values[("findings", "photo_max_mib")] <= 100:
        raise ConfigError(text("config.bad_value", key="findings.photo_max_mib", detail="1–100"))
    for key in ("remind_after_hours", "decline_closes_days_before_start"):
        if values[("assignments", key)] < 0:
            raise ConfigError(text("config.bad_value", key=f"assignments.{key}", detail=">= 0"))
    public_url = values[("server", "public_url")]
    if public_url and not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", public_url):
        raise ConfigError(
            text("config.bad_value", key="server.public_url", detail="https://host[/path]")
        )
    values[("server", "public_url")] = public_url.rstrip("/")
    secret = values[("server", "session_secret")]
    if secret and len(secret) < MIN_SECRET:
        detail = f">= {MIN_SECRET}"
        raise ConfigError(text("config.bad_value", key="server.session_secret", detail=detail))
    for key in ("header_timeout_seconds", "max_connections", "session_hours"):
        if values[("server", key)] < 1:
            raise ConfigError(text("config.bad_value", key=f"server.{key}", detail=">= 1"))
    port = values[("server", "port")]
    if not 0 <= port <= 65535:
        raise ConfigError(text("config.bad_value", key="server.port", detail="0-65535"))
    try:
        zoneinfo.ZoneInfo(values[("app", "timezone")])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            text("config.bad_timezone", key="app.timezone", value=values[("app", "timezone")])
        ) from exc


def _is_aes_key(value: str) -> bool:
    if len(value) != 43:
        return False
    try:
        return len(base64.b64decode(value + "=", validate=True)) == 32
    except ValueError:  # binascii.Error is one
        return False


# The extra that installs each backend's async driver.
_EXTRAS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlite": ""}


def _check_driver(url: URL) -> None:
    """The URL must name an async driver that is installed, or nothing will connect."""
    backend = url.get_backend_name()
    try:
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(
            text(
                "config.missing_driver",
                key="database.url",
                driver=url.drivername,
                extra=_EXTRAS.get(backend, ""),
            )
        ) from exc
    if not dialect.is_async:
        raise ConfigError(text("config.sync_driver", key="database.url", driver=url.drivername))


def load_settings(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    path, named = find_config_file(explicit, environ)
    data: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            if named:
                raise ConfigError(text("config.missing_file", path=str(path)))
        else:
            try:
                with path.open("rb") as f:
                    data = tomllib.load(f)
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(text("config.bad_toml", path=str(path), detail=str(exc))) from exc
    values: dict[tuple[str, str], Any] = {
        (section, key): default
        for section, keys in SCHEMA.items()
        for key, (_, default) in keys.items()
    }
    for section, table in data.items():
        if section not in SCHEMA or not isinstance(table, dict):
            raise ConfigError(text("config.unknown_key", key=section))
        for key, value in table.items():
            if key not in SCHEMA[section]:
                raise ConfigError(text("config.unknown_key", key=f"{section}.{key}"))
            kind = SCHEMA[section][key][0]
            values[(section, key)] = _coerce(f"{section}.{key}", kind, value, from_env=False)
    overrides = _env_overrides(environ)
    for (section, key), raw in overrides.items():
        env_name = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
        values[(section, key)] = _coerce(env_name, SCHEMA[section][key][0], raw, from_env=True)
    _validate(values)
    base = path.parent if path is not None and path.is_file() else Path.cwd()
    return Settings(
        database=DatabaseSettings(
            url=_resolve_sqlite_path(values[("database", "url")], base),
            echo=values[("database", "echo")],
            chosen=(path is not None and path.is_file()) or ("database", "url") in overrides,
        ),
        app=AppSettings(**_section(values, "app")),
        source=path if path is not None and path.is_file() else None,
        server=ServerSettings(**_section(values, "server")),
        wecom=WeComSettings(**_section(values, "wecom")),
        dingtalk=DingTalkSettings(**_section(values, "dingtalk")),
        outbox=OutboxSettings(**_section(values, "outbox")),
        assignments=AssignmentSettings(**_section(values, "assignments")),
        reminders=_reminders(values),
        findings=FindingSettings(
            files=base / values[("findings", "files")],
            photo_max_mib=values[("findings", "photo_max_mib")],
        ),
        bureau=BureauSettings(**_section(values, "bureau")),
    )


def _section(values: dict[tuple[str, str], Any], section: str) -> dict[str, Any]:
    return {key: value for (name, key), value in values.items() if name == section}
