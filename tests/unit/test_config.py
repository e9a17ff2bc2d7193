"""Configuration: where the file is found, environment overrides, and errors naming the key."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.base.config import ConfigError, load_settings

CJK = re.compile("[\u4e00-\u9fff]")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, so ./suiji.toml is whatever the test puts there."""
    cwd = (tmp_path / "cwd").resolve()
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, "utf-8")
    return path


def database_of(url: str) -> str | None:
    return make_url(url).database


def config_error(explicit: str | None = None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(explicit, environ or {})
    message = str(caught.value)
    assert CJK.search(message), message
    return message


# --- defaults and where the file is found ---------------------------------------------------


def test_defaults_apply_when_there_is_no_file(workdir: Path) -> None:
    settings = load_settings(None, {})
    assert settings.source is None
    assert settings.database.echo is False
    assert make_url(settings.database.url).get_backend_name() == "sqlite"
    # With no file, the default relative database lives in the current directory.
    assert database_of(settings.database.url) == str(workdir / "suiji.db")
    assert settings.app.timezone == "Asia/Shanghai"
    assert dt.datetime(2026, 3, 1, tzinfo=settings.app.tz).utcoffset() == dt.timedelta(hours=8)


def test_file_in_current_directory_is_read(workdir: Path) -> None:
    write(workdir / "suiji.toml", '[app]\ntimezone = "Asia/Urumqi"\n')
    settings = load_settings(None, {})
    assert settings.source is not None
    assert settings.source.resolve() == workdir / "suiji.toml"
    assert settings.app.timezone == "Asia/Urumqi"


def test_suiji_config_wins_over_the_current_directory(workdir: Path, tmp_path: Path) -> None:
    write(workdir / "suiji.toml", '[app]\ntimezone = "Asia/Urumqi"\n')
    named = write(tmp_path / "etc" / "named.toml", '[app]\ntimezone = "Asia/Hong_Kong"\n')
    settings = load_settings(None, {"SUIJI_CONFIG": str(named)})
    assert settings.source == named
    assert settings.app.timezone == "Asia/Hong_Kong"


def test_explicit_path_wins_over_suiji_config(workdir: Path, tmp_path: Path) -> None:
    write(workdir / "suiji.toml", '[app]\ntimezone = "Asia/Urumqi"\n')
    named = write(tmp_path / "etc" / "named.toml", '[app]\ntimezone = "Asia/Hong_Kong"\n')
    explicit = write(tmp_path / "explicit.toml", '[app]\ntimezone = "Asia/Taipei"\n')
    settings = load_settings(str(explicit), {"SUIJI_CONFIG": str(named)})
    assert settings.source == explicit
    assert settings.app.timezone == "Asia/Taipei"


def test_explicit_file_that_does_not_exist_is_an_error(workdir: Path) -> None:
    write(workdir / "suiji.toml", "")  # must not be used instead
    message = config_error(str(workdir / "nope.toml"))
    assert str(workdir / "nope.toml") in message


def test_suiji_config_naming_a_missing_file_is_an_error(workdir: Path) -> None:
    message = config_error(None, {"SUIJI_CONFIG": str(workdir / "gone.toml")})
    assert str(workdir / "gone.toml") in message


def test_empty_suiji_config_falls_back_to_the_current_directory(workdir: Path) -> None:
    write(workdir / "suiji.toml", '[app]\ntimezone = "Asia/Urumqi"\n')
    assert load_settings(None, {"SUIJI_CONFIG": ""}).app.timezone == "Asia/Urumqi"


def test_malformed_toml_is_an_error_naming_the_file(workdir: Path) -> None:
    path = write(workdir / "bad.toml", "[database\nurl = \n")
    assert str(path) in config_error(str(path))


def test_real_environment_is_not_consulted_when_environ_is_given(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUIJI_DATABASE__ECHO", "true")
    monkeypatch.setenv("SUIJI_NOT__A_KEY", "x")
    assert load_settings(None, {}).database.echo is False


# --- environment overrides -------------------------------------------------------------------


def test_environment_overrides_the_file(workdir: Path) -> None:
    path = write(workdir / "suiji.toml", '[database]\nurl = "sqlite:////srv/a.db"\necho = false\n')
    settings = load_settings(
        str(path),
        {
            "SUIJI_DATABASE__URL": "postgresql+asyncpg://suiji:pw@db.example/suiji",
            "SUIJI_DATABASE__ECHO": "true",
        },
    )
    assert settings.database.url == "postgresql+asyncpg://suiji:pw@db.example/suiji"
    assert settings.database.echo is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("No", False),
        ("off", False),
    ],
)
def test_boolean_environment_values(workdir: Path, raw: str, expected: bool) -> None:
    assert load_settings(None, {"SUIJI_DATABASE__ECHO": raw}).database.echo is expected


def test_unparseable_boolean_in_the_environment_names_the_variable(workdir: Path) -> None:
    message = config_error(None, {"SUIJI_DATABASE__ECHO": "maybe"})
    assert "SUIJI_DATABASE__ECHO" in message


@pytest.mark.parametrize("name", ["SUIJI_FOO__BAR", "SUIJI_DATABASE__PORT", "SUIJI_DATABASE_URL"])
def test_unknown_suiji_variable_is_an_error_naming_it(workdir: Path, name: str) -> None:
    message = config_error(None, {name: "x"})
    assert name in message


def test_unrelated_environment_variables_are_ignored(workdir: Path) -> None:
    settings = load_settings(None, {"PATH": "/bin", "SUIJIX": "1", "HOME": "/root"})
    assert settings.database.echo is False


# --- the file's contents ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("[foo]\nbar = 1\n", "foo"),
        ("[database]\nport = 5432\n", "database.port"),
        ('[app]\ntimezone = "Asia/Shanghai"\nlocale = "zh"\n', "app.locale"),
        ("debug = true\n", "debug"),
    ],
)
def test_unknown_section_or_key_in_the_file_is_an_error_naming_it(
    workdir: Path, content: str, named: str
) -> None:
    path = write(workdir / "suiji.toml", content)
    assert named in config_error(str(path))


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[database]\necho = "yes"\n', "database.echo"),
        ("[database]\nurl = 5\n", "database.url"),
        ("[app]\ntimezone = 8\n", "app.timezone"),
    ],
)
def test_wrong_type_in_the_file_is_an_error_naming_the_key(
    workdir: Path, content: str, named: str
) -> None:
    path = write(workdir / "suiji.toml", content)
    assert named in config_error(str(path))


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[wecom]\nencoding_aes_key = "short"\n', "wecom.encoding_aes_key"),
        ('[dingtalk]\naes_key = "short"\n', "dingtalk.aes_key"),
        (f'[dingtalk]\naes_key = "{"k" * 44}"\n', "dingtalk.aes_key"),
        (f'[dingtalk]\naes_key = "{"k" * 42}!"\n', "dingtalk.aes_key"),  # not base64
    ],
)
def test_an_aes_key_not_43_characters_long_is_an_error_naming_the_key(
    workdir: Path, content: str, named: str
) -> None:
    path = write(workdir / "suiji.toml", content)
    assert named in config_error(str(path))


@pytest.mark.parametrize("url", ["oracle://scott:tiger@db/orcl", "mssql+pyodbc://db/x"])
def test_unsupported_database_backend_is_an_error_naming_the_key(workdir: Path, url: str) -> None:
    path = write(workdir / "suiji.toml", f'[database]\nurl = "{url}"\n')
    message = config_error(str(path))
    assert "database.url" in message
    assert make_url(url).get_backend_name() in message


def test_malformed_database_url_is_an_error_naming_the_key(workdir: Path) -> None:
    assert "database.url" in config_error(None, {"SUIJI_DATABASE__URL": "not a url"})


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "Beijing", "../../etc/passwd", ""])
def test_unknown_timezone_is_an_error_naming_the_key(workdir: Path, timezone: str) -> None:
    path = write(workdir / "suiji.toml", f'[app]\ntimezone = "{timezone}"\n')
    message = config_error(str(path))
    assert "app.timezone" in message


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///x.db",
        "sqlite+aiosqlite:///x.db",
        "postgresql://u@h/d",
        "postgresql+asyncpg://u@h/d",
        "mysql+asyncmy://h/d",
        "mariadb+asyncmy://h/d",
    ],
)
def test_supported_backends_are_accepted(workdir: Path, url: str) -> None:
    assert load_settings(None, {"SUIJI_DATABASE__URL": url}).database.url


# --- SQLite paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("driver", ["sqlite", "sqlite+aiosqlite"])
def test_relative_sqlite_path_is_relative_to_the_config_file_not_the_cwd(
    workdir: Path, tmp_path: Path, driver: str
) -> None:
    conf_dir = (tmp_path / "srv" / "suiji").resolve()
    path = write(conf_dir / "suiji.toml", f'[database]\nurl = "{driver}:///data/suiji.db"\n')
    settings = load_settings(str(path), {})
    assert make_url(settings.database.url).drivername == driver
    assert database_of(settings.database.url) == str(conf_dir / "data" / "suiji.db")


def test_relative_config_path_still_resolves_sqlite_against_its_directory(
    workdir: Path,
) -> None:
    write(workdir / "conf" / "suiji.toml", '[database]\nurl = "sqlite:///suiji.db"\n')
    settings = load_settings("conf/suiji.toml", {})
    assert database_of(settings.database.url) == str(workdir / "conf" / "suiji.db")


def test_relative_sqlite_path_in_a_chinese_directory(workdir: Path, tmp_path: Path) -> None:
    conf_dir = (tmp_path / "睢县人社局 数据").resolve()
    path = write(conf_dir / "suiji.toml", '[database]\nurl = "sqlite:///抽查.db"\n')
    settings = load_settings(str(path), {})
    assert database_of(settings.database.url) == str(conf_dir / "抽查.db")


@pytest.mark.parametrize(
    "url", ["sqlite:////var/lib/suiji/suiji.db", "sqlite:///:memory:", "sqlite://"]
)
def test_absolute_and_in_memory_sqlite_urls_are_left_alone(workdir: Path, url: str) -> None:
    path = write(workdir / "conf" / "suiji.toml", f'[database]\nurl = "{url}"\n')
    assert load_settings(str(path), {}).database.url == url


def test_non_sqlite_urls_are_left_alone(workdir: Path) -> None:
    url = "postgresql+asyncpg://suiji:p%40ss@db:5432/suiji"
    path = write(workdir / "suiji.toml", f'[database]\nurl = "{url}"\n')
    assert load_settings(str(path), {}).database.url == url


def test_a_card_template_needs_stream_mode(workdir: Path) -> None:
    environ = {"SUIJI_DINGTALK__CARD_TEMPLATE_ID": "tpl.schema"}
    with pytest.raises(ConfigError, match=r"dingtalk\.card_template_id"):
        load_settings(environ=environ)
    streamed = load_settings(environ={**environ, "SUIJI_DINGTALK__MODE": "stream"})
    assert streamed.dingtalk.card_template_id == "tpl.schema"


def test_assignment_rules_are_read_and_must_not_be_negative(workdir: Path) -> None:
    settings = load_settings(environ={"SUIJI_ASSIGNMENTS__REMIND_AFTER_HOURS": "8"})
    assert settings.assignments.remind_after_hours == 8
    assert settings.assignments.decline_closes_days_before_start == 0
    with pytest.raises(ConfigError, match=r"assignments\.decline_closes_days_before_start"):
        load_settings(environ={"SUIJI_ASSIGNMENTS__DECLINE_CLOSES_DAYS_BEFORE_START": "-1"})


def test_only_a_file_or_the_environment_chooses_a_database(workdir: Path) -> None:
    assert not load_settings(None, {}).database.chosen  # the built-in default: not chosen
    assert load_settings(None, {"SUIJI_DATABASE__URL": "sqlite:///x.db"}).database.chosen
    write(workdir / "suiji.toml", "[app]\ntimezone = 'UTC'\n")
    assert load_settings(None, {}).database.chosen  # a file read names it, by default or not


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("", ""),
        ("https://suiji.example.gov.cn/", "https://suiji.example.gov.cn"),
        ("http://10.0.0.5:8080/suiji/", "http://10.0.0.5:8080/suiji"),
    ],
)
def test_the_public_address_is_kept_without_a_final_slash(
    workdir: Path, raw: str, kept: str
) -> None:
    settings = load_settings(environ={"SUIJI_SERVER__PUBLIC_URL": raw})
    assert settings.server.public_url == kept


@pytest.mark.parametrize("raw", ["suiji.example.gov.cn", "ftp://x", "https://", "https://a b"])
def test_a_public_address_that_is_no_web_address_is_an_error_naming_the_key(
    workdir: Path, raw: str
) -> None:
    with pytest.raises(ConfigError, match=r"server\.public_url"):
        load_settings(environ={"SUIJI_SERVER__PUBLIC_URL": raw})


@pytest.mark.parametrize("key", ["header_timeout_seconds", "max_connections"])
def test_the_servers_header_timeout_and_connection_cap_are_read_and_must_be_positive(
    workdir: Path, key: str
) -> None:
    defaults = load_settings(environ={}).server
    assert (defaults.header_timeout_seconds, defaults.max_connections) == (10, 1000)
    assert getattr(load_settings(environ={f"SUIJI_SERVER__{key.upper()}": "3"}).server, key) == 3
    with pytest.raises(ConfigError, match=rf"server\.{key}"):
        load_settings(environ={f"SUIJI_SERVER__{key.upper()}": "0"})


def test_reminder_rules_are_read_and_bad_ones_name_their_key(workdir: Path) -> None:
    settings = load_settings(
        environ={"SUIJI_REMINDERS__BEFORE_DAYS": "1, 5", "SUIJI_REMINDERS__AT": "8:30"}
    )
    assert settings.reminders.before_days == (5, 1)
    assert settings.reminders.at == dt.time(8, 30)
    assert settings.reminders.quiet_from == dt.time(21, 0)
    assert settings.reminders.tick_seconds == 300
    assert load_settings(environ={"SUIJI_REMINDERS__TICK_SECONDS": "1"}).reminders.tick_seconds == 1
    for key, value in [
        ("AT", "25:00"),
        ("QUIET_FROM", "nine"),
        ("BEFORE_DAYS", "3,x"),
        ("BEFORE_DAYS", "0"),
        ("OVERDUE_EVERY_DAYS", "0"),
        ("REPORT_DAYS", "-1"),
        ("ESCALATE_UNIT_LEADER_DAYS", "1"),
        ("TICK_SECONDS", "0"),
        ("TICK_SECONDS", "3601"),
    ]:
        message = config_error(environ={f"SUIJI_REMINDERS__{key}": value})
        assert f"reminders.{key.lower()}" in message, (key, message)
