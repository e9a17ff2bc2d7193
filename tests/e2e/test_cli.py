"""The suiji command as the staff use it: init, registries in and out, audit verification."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.base.config import load_settings
from bot.cli.main import cli
from bot.registry.uscc import uscc_problem
from tests.helpers import (
    SAMPLE_DIR,
    admin_row,
    entity_row,
    new_workbook,
    patch_xlsx,
    read_csv,
    write_csv,
)


def run(*args: str, config: Path | None = None, env: dict[str, str] | None = None) -> Result:
    prefix = ["--config", str(config)] if config else []
    runner = CliRunner()
    return runner.invoke(
        cli, [*prefix, *args], env={"SUIJI_CONFIG": None, "SUIJI_AS": None, **(env or {})}
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory made by `suiji init --sample`; tests that change it copy it first."""
    directory = tmp_path_factory.mktemp("sample") / "bureau"
    result = run("init", str(directory), "--sample")
    assert result.exit_code == 0, result.output
    return directory / "suiji.toml"


OPERATOR = "王芳"  # nobody is registered in a fresh bureau: the name is taken as given


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    result = run("init", str(tmp_path / "bureau"))
    assert result.exit_code == 0, result.output
    config = tmp_path / "bureau" / "suiji.toml"
    text = config.read_text("utf-8")
    config.write_text(text.replace('operator = ""', f'operator = "{OPERATOR}"'), "utf-8")
    return config


def test_init_sample_reports_what_it_loaded(sample: Path) -> None:
    assert sample.is_file()
    assert (sample.parent / "suiji.db").is_file()
    assert 'url = "sqlite:///suiji.db"' in sample.read_text("utf-8")
    # The sample bureau decides penalties out of the box: its name and a valid code are set.
    bureau = load_settings(str(sample), environ={}).bureau
    assert bureau.name and uscc_problem(bureau.uscc) is None


def test_init_refuses_to_overwrite(sample: Path) -> None:
    result = run("init", str(sample.parent))
    assert result.exit_code == 1
    assert "已存在" in result.output


def test_officers_list_as_json_carries_platform_ids(sample: Path) -> None:
    result = run("registry", "list", "officers", "--format", "json", config=sample)
    assert result.exit_code == 0, result.output
    officers = json.loads(result.output)
    assert len(officers) == 44
    first = officers[0]
    assert set(first) == {
        "certificate_no",
        "name",
        "unit",
        "roles",
        "team_leader_eligible",
        "certificate_authority",
        "certificate_valid_until",
        "certificate_status",
        "specialties",
        "wecom_userid",
        "dingtalk_userid",
    }
    assert all(o["wecom_userid"] and o["dingtalk_userid"] for o in officers)
    assert sum("officer" in o["roles"] for o in officers) == 40


def test_list_as_table_uses_chinese_headers(sample: Path) -> None:
    result = run("registry", "list", "items", config=sample)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("事项编码")
    assert result.output.rstrip().endswith("共 9 条抽查事项")


def test_import_with_a_bad_row_exits_nonzero_names_it_and_writes_nothing(
    fresh: Path, tmp_path: Path
) -> None:
    rows = [entity_row(n) for n in range(30)]
    rows[11][0] = "91411422MA00000000"
    path = write_csv(tmp_path / "企业.csv", "entities", rows)
    result = run("registry", "import", "entities", str(path), config=fresh)
    assert result.exit_code == 1
    assert "企业.csv 第13行 统一社会信用代码: 「91411422MA00000000」校验位不对" in result.output
    assert "没有写入任何数据" in result.output
    listed = run("registry", "list", "entities", "--format", "json", config=fresh)
    assert json.loads(listed.output) == []


def test_skip_invalid_imports_good_rows_and_still_exits_nonzero(
    fresh: Path, tmp_path: Path
) -> None:
    rows = [entity_row(n) for n in range(10)]
    rows[4][9] = "也许"
    path = write_csv(tmp_path / "e.csv", "entities", rows)
    result = run(
        "registry", "import", "entities", str(path), "--skip-invalid", "--as", "王芳", config=fresh
    )
    assert result.exit_code == 1
    assert "e.csv 第6行 有严重违法" in result.output
    assert "新增 9 / 更新 0 / 未变 0" in result.output
    again = run("registry", "import", "entities", str(path), "--skip-invalid", config=fresh)
    assert "新增 0 / 更新 0 / 未变 9" in again.output


PREREQUISITES = {"officers": ["units"], "recusals": ["units", "officers", "entities"]}


@pytest.mark.parametrize("kind", ["units", "officers", "entities", "items", "recusals"])
def test_template_example_row_imports_into_a_new_database(
    kind: str, tmp_path: Path, fresh: Path
) -> None:
    # An officer's unit, and a recusal's officer and employer, must be registered first;
    # the templates' examples are written to fit together.
    for prerequisite in PREREQUISITES.get(kind, []):
        path = tmp_path / f"{prerequisite}.csv"
        assert run("registry", "template", prerequisite, str(path)).exit_code == 0
        assert run("registry", "import", prerequisite, str(path), config=fresh).exit_code == 0
        if prerequisite == "units":  # the first people imported must include their admin
            admin = write_csv(tmp_path / "admin.csv", "officers", [admin_row(OPERATOR, "wf")])
            assert run("registry", "import", "officers", str(admin), config=fresh).exit_code == 0
    path = tmp_path / f"{kind}.xlsx"
    result = run("registry", "template", kind, str(path))
    assert result.exit_code == 0, result.output
    imported = run("registry", "import", kind, str(path), config=fresh)
    assert imported.exit_code == 0, imported.output
    assert "新增 1 / 更新 0 / 未变 0" in imported.output


def test_export_round_trip_through_the_cli(sample: Path, tmp_path: Path) -> None:
    for suffix in ("csv", "xlsx"):
        path = tmp_path / f"officers.{suffix}"
        exported = run("registry", "export", "officers", str(path), config=sample)
        assert exported.exit_code == 0, exported.output
        again = run("registry", "import", "officers", str(path), config=sample)
        assert "新增 0 / 更新 0 / 未变 44" in again.output


def test_export_to_an_unsupported_format_is_refused(sample: Path, tmp_path: Path) -> None:
    result = run("registry", "export", "entities", str(tmp_path / "e.xls"), config=sample)
    assert result.exit_code == 1
    assert ".xls 请在 Excel 里另存为 .xlsx" in result.output


def test_audit_verify_catches_a_row_edited_in_the_database(fresh: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", "entities", [entity_row(n) for n in range(8)])
    run("registry", "import", "entities", str(path), config=fresh)
    ok = run("audit", "verify", config=fresh)
    assert (ok.exit_code, ok.output.strip()) == (0, "OK, 8 条")
    with sqlite3.connect(fresh.parent / "suiji.db") as db:
        db.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 6")
    broken = run("audit", "verify", config=fresh)
    assert broken.exit_code == 1
    assert "第 6 条" in broken.output


def test_config_error_names_the_key(fresh: Path) -> None:
    result = run("audit", "verify", config=fresh, env={"SUIJI_DATABASE__ECHO": "perhaps"})
    assert result.exit_code == 1
    assert "SUIJI_DATABASE__ECHO" in result.output
    fresh.write_text(fresh.read_text("utf-8") + "\n[wecom]\ncorpid = 1\n", "utf-8")
    result = run("audit", "verify", config=fresh)
    assert result.exit_code == 1
    assert "wecom" in result.output


def test_unmigrated_database_asks_for_db_upgrade(tmp_path: Path) -> None:
    env = {"SUIJI_DATABASE__URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = run("registry", "list", "units", env=env)
    assert result.exit_code == 1
    assert "suiji db upgrade" in result.output
    assert run("db", "upgrade", env=env).exit_code == 0
    assert run("registry", "list", "units", env=env).exit_code == 0


def test_python_dash_m_bot_is_the_suiji_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True
    )
    assert "registry" in result.stdout and "audit" in result.stdout


def test_row_with_an_unquoted_comma_is_refused_not_shifted(sample: Path, tmp_path: Path) -> None:
    lines = (
        (Path(__file__).resolve().parents[2] / "storage/sample/officers.csv")
        .read_text("utf-8-sig")
        .splitlines()
    )
    header, first = lines[0], lines[1].split(",")
    first[8] = "工资支付,社会保险"  # 专长 with a bare comma: one cell too many
    path = tmp_path / "o.csv"
    path.write_text(header + "\n" + ",".join(first) + "\n", "utf-8")
    result = run("registry", "import", "officers", str(path), config=sample)
    assert result.exit_code == 1
    assert "o.csv 第2行: 这一行有 12 格，表头只有 11 列" in result.output


def test_bad_as_name_is_refused(fresh: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", "entities", [entity_row(1)])
    result = run("registry", "import", "entities", str(path), "--as", "x" * 101, config=fresh)
    assert result.exit_code == 1
    assert "--as" in result.output


def test_unreachable_database_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    env = {"SUIJI_DATABASE__URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = run("registry", "list", "units", env=env)
    assert result.exit_code == 1
    assert "连不上数据库" in result.output
    assert "Traceback" not in result.output


def test_a_synchronous_driver_is_a_config_error() -> None:
    result = run("registry", "list", "units", env={"SUIJI_DATABASE__URL": "sqlite+pysqlite://"})
    assert result.exit_code == 1
    assert "database.url" in result.output and "不是异步驱动" in result.output


def test_init_where_nothing_can_be_written_is_a_message() -> None:
    result = run("init", "/proc/suiji-cannot-be-here")
    assert result.exit_code == 1
    assert "无法在 /proc/suiji-cannot-be-here 建立文件" in result.output


def test_test_database_variable_does_not_confuse_the_config(fresh: Path) -> None:
    result = run("audit", "verify", config=fresh, env={"SUIJI_TEST_DATABASE_URL": "x://y"})
    assert result.exit_code == 0, result.output


def test_audit_head_anchors_verification(fresh: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", "entities", [entity_row(n) for n in range(3)])
    run("registry", "import", "entities", str(path), config=fresh)
    head = run("audit", "head", config=fresh).output.strip()
    assert head.startswith("3:") and len(head) == 2 + 64
    assert run("audit", "verify", "--anchor", head, config=fresh).exit_code == 0
    wrong = f"3:{'0' * 64}"
    result = run("audit", "verify", "--anchor", wrong, config=fresh)
    assert result.exit_code == 1 and "链头不符" in result.output


def add_event(config: Path, key: str, received_at: str, state: str, attempts: int,
              last_error: str | None = None) -> None:  # fmt: skip
    """An inbound event row as the intake and dispatcher would have left it (UTC, naive)."""
    with sqlite3.connect(config.parent / "suiji.db") as db:
        db.execute(
            "INSERT INTO inbound_events (platform, dedup_key, sender, payload, received_at,"
            " state, attempts, last_error) VALUES ('wecom', ?, 'zhangkai', '{}', ?, ?, ?, ?)",
            (key, received_at, state, attempts, last_error),
        )


def test_failed_events_can_be_listed_and_retried(fresh: Path) -> None:
    add_event(fresh, "k1", "2026-11-26 01:00:00.000000", "failed", 5, "RuntimeError: handler bug")
    listed = run("events", "list", "--state", "failed", "--format", "json", config=fresh)
    [event] = json.loads(listed.output)
    assert (event["sender"], event["attempts"]) == ("zhangkai", 5)
    assert "handler bug" in run("events", "list", config=fresh).output
    assert run("events", "retry", str(event["id"]), config=fresh).exit_code == 0
    again = run("events", "retry", str(event["id"]), config=fresh)
    assert again.exit_code == 1 and "不是「已放弃」" in again.output
    [pending] = json.loads(run("events", "list", "--format", "json", config=fresh).output)
    assert (pending["state"], pending["attempts"]) == ("pending", 0)


def test_events_list_reads_the_received_time_in_the_bureaus_zone(fresh: Path) -> None:
    add_event(fresh, "k2", "2026-11-26 01:00:38.465686", "done", 1)
    listed = run("events", "list", config=fresh)
    assert listed.exit_code == 0, listed.output
    assert "2026-11-26 09:00" in listed.output and "01:00:38" not in listed.output
    [event] = json.loads(run("events", "list", "--format", "json", config=fresh).output)
    assert event["received_at"] == "2026-11-26T01:00:38.465686+00:00"


def test_events_list_says_what_else_there_is_and_how_many_more(fresh: Path) -> None:
    add_event(fresh, "k2", "2026-11-26 01:00:38.465686", "done", 1)
    none_failed = run("events", "list", "--state", "failed", config=fresh)
    assert none_failed.output.strip() == "没有已放弃的事件（已处理 1 条）"
    add_event(fresh, "k3", "2026-11-26 01:01:00.000000", "pending", 0)
    cut = run("events", "list", "--limit", "1", config=fresh)
    assert "还有 1 条更早的没有列出" in cut.output


@pytest.mark.parametrize("command", [["plan", "create", "2026"], ["db", "upgrade"]])
def test_without_a_config_a_command_says_where_it_looked_and_creates_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*command)
    assert result.exit_code == 1
    for place in ("--config", "SUIJI_CONFIG", "suiji.toml", "suiji init"):
        assert place in result.output
    assert list(tmp_path.iterdir()) == []  # no suiji.db made on the way


def test_a_missing_sqlite_database_is_named_and_not_created(fresh: Path) -> None:
    database = fresh.parent / "suiji.db"
    database.unlink()
    result = run("registry", "list", "units", config=fresh)
    assert result.exit_code == 1
    assert str(database) in result.output and "suiji" in result.output
    assert "db upgrade" in result.output
    assert not database.exists()


def test_database_errors_name_the_database_without_its_password() -> None:
    env = {"SUIJI_DATABASE__URL": "postgresql://nobody:s3cret@127.0.0.1:1/none"}
    result = run("registry", "list", "units", env=env)
    assert result.exit_code == 1
    assert "127.0.0.1:1/none" in result.output and "nobody" in result.output
    assert "s3cret" not in result.output


def test_init_says_how_to_go_on_with_the_config_or_cd_and_who_acts(tmp_path: Path) -> None:
    plain = run("init", str(tmp_path / "new"))
    assert f"cd {tmp_path / 'new'}" in plain.output and "--as" in plain.output
    assert "operator" in plain.output
    sample = run("init", str(tmp_path / "sample"), "--sample")
    assert f"--config {tmp_path / 'sample' / 'suiji.toml'}" in sample.output
    assert "陈红军" in sample.output


def _copy(sample: Path, tmp_path: Path) -> Path:
    """The sample bureau, copied so that a test may change it."""
    shutil.copytree(sample.parent, tmp_path / "bureau")
    return tmp_path / "bureau" / sample.name


def test_identity_change_needs_confirmation_and_the_summary_shows_before_and_after(
    sample: Path, tmp_path: Path
) -> None:
    config = _copy(sample, tmp_path)
    rows = read_csv(SAMPLE_DIR / "officers.csv")
    header, officer = rows[0], list(rows[1])
    officer[header.index("姓名")] = "冒充张凯"
    officer[header.index("企业微信账号")] = "maochong"
    path = write_csv(tmp_path / "o.csv", "officers", [officer])
    refused = run("registry", "import", "officers", str(path), config=config)
    assert refused.exit_code == 1
    assert "o.csv 第2行: 会改掉这个人的身份信息：姓名「张凯」→「冒充张凯」" in refused.output
    assert "--confirm-identity-changes" in refused.output
    confirmed = run(
        "registry", "import", "officers", str(path), "--confirm-identity-changes", config=config
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert "新增 0 / 更新 1 / 未变 0" in confirmed.output
    assert (
        "第2行 豫41142200229：姓名「张凯」→「冒充张凯」，企业微信账号「zhangkai」→「maochong」"
        in confirmed.output
    )


def test_workbook_whose_shown_sheet_is_hidden_is_refused_naming_it(
    fresh: Path, tmp_path: Path
) -> None:
    workbook, _ = new_workbook([["单位名称", "单位类型"], ["办公室", "股室"]], title="单位")
    workbook.save(tmp_path / "units.xlsx")
    # openpyxl will not save a hidden sheet as the one shown; a hand-edited file can.
    patch_xlsx(
        tmp_path / "units.xlsx",
        "xl/workbook.xml",
        lambda xml: xml.replace('state="visible"', 'state="hidden"'),
    )
    result = run("registry", "import", "units", str(tmp_path / "units.xlsx"), config=fresh)
    assert result.exit_code == 1
    assert "「单位」是隐藏的" in result.output
    listed = run("registry", "list", "units", "--format", "json", config=fresh)
    assert json.loads(listed.output) == []


@pytest.mark.parametrize(
    "args",
    [
        ["campaign", "show", "N"],
        ["deadlines", "list", "--campaign", "N"],
        ["findings", "list", "N"],
        ["report", "export", "N", "--team", "1", "x.docx"],
        ["publish", "prepare", "N"],
        ["publish", "export", "results", "N", "x.csv"],
        ["penalty", "prepare", "N"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_number_too_large_for_the_database_is_a_message_not_a_traceback(
    sample: Path, tmp_path: Path, args: list[str]
) -> None:
    """Record numbers are 32-bit in the database: a bigger one typed is refused by the option,
    before SQLite's OverflowError (or PostgreSQL's) could print a traceback."""
    typed = [str(tmp_path / a) if a.endswith((".docx", ".csv")) else a for a in args]
    result = run(*[a.replace("N", "99999999999999999999") for a in typed], config=sample)
    assert result.exit_code == 2, result.output
    assert "不在 1<=x<=2147483647 的范围内" in result.output
    assert not isinstance(result.exception, OverflowError)


def test_a_site_folder_that_cannot_be_written_is_named_not_blamed_on_the_database(
    sample: Path,
) -> None:
    inside_a_file = sample.parent / "suiji.toml" / "site"  # a folder cannot be made there
    result = run("publish", "site", str(inside_a_file), config=sample)
    assert result.exit_code == 1, result.output
    assert "无法写入" in result.output and str(inside_a_file) in result.output
    assert "数据库" not in result.output
