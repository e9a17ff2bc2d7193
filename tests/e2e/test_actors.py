"""Who acts: every command that records an actor names a registry person with a fitting role.

The name comes from --as, else SUIJI_AS, else app.operator in suiji.toml; none, an unknown name
or the wrong role is refused before anything is written.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import run
from tests.helpers import admin_row, entity_row, write_csv

SAMPLE_ADMIN = "陈红军"  # the sample's registry admin, the operator `init --sample` writes


def without_operator(config: Path) -> Path:
    text = config.read_text("utf-8")
    assert f'operator = "{SAMPLE_ADMIN}"' in text
    config.write_text(text.replace(f'operator = "{SAMPLE_ADMIN}"', 'operator = ""'), "utf-8")
    return config


@pytest.fixture
def bureau(tmp_path: Path) -> Path:
    """A sample bureau as `suiji init --sample` makes it."""
    assert run("init", str(tmp_path / "bureau"), "--sample").exit_code == 0
    return tmp_path / "bureau" / "suiji.toml"


def audit_head(config: Path) -> str:
    return run("audit", "head", config=config).output.strip()


def test_init_sample_names_a_sample_admin_as_the_operator(bureau: Path) -> None:
    assert run("plan", "create", "2027", config=bureau).exit_code == 0
    shown = json.loads(run("plan", "show", "2027", "--format", "json", config=bureau).output)
    assert shown["created_by"] == SAMPLE_ADMIN


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "create", "2027"],
        ["plan", "approve", "1"],
        ["draw", "commit", "1"],
        ["campaign", "notify", "1"],
    ],
)
def test_with_no_actor_a_command_refuses_and_says_how_to_give_one(
    bureau: Path, command: list[str]
) -> None:
    config = without_operator(bureau)
    before = audit_head(config)
    result = run(*command, config=config)
    assert result.exit_code == 1
    for way in ("--as", "SUIJI_AS", "operator"):
        assert way in result.output
    assert getpass.getuser() not in result.output.replace("SUIJI_AS", "")
    assert audit_head(config) == before


def test_an_unknown_actor_is_refused_and_nothing_is_written(bureau: Path) -> None:
    before = audit_head(bureau)
    result = run("plan", "create", "2027", "--as", "李四", config=bureau)
    assert result.exit_code == 1 and "李四" in result.output
    assert audit_head(bureau) == before
    assert run("plan", "show", "2027", config=bureau).exit_code == 1


@pytest.mark.parametrize(
    ("command", "who", "role"),
    [
        (["campaign", "create", "--file", "{example}"], "张凯", "管理员"),  # a leader
        (["plan", "create", "2027"], "刘艳丽", "管理员或领导"),  # a witness
        (["plan", "approve", "1"], SAMPLE_ADMIN, "领导"),
        (["registry", "import", "entities", "{entities}"], "张凯", "管理员"),
    ],
)
def test_an_actor_without_the_fitting_role_is_refused(
    bureau: Path, tmp_path: Path, command: list[str], who: str, role: str
) -> None:
    example = tmp_path / "campaign.toml"
    example.write_text(run("campaign", "example").output, "utf-8")
    entities = write_csv(tmp_path / "e.csv", "entities", [entity_row(1)])
    args = [a.format(example=example, entities=entities) for a in command]
    before = audit_head(bureau)
    result = run(*args, "--as", who, config=bureau)
    assert result.exit_code == 1
    assert f"{who} 不是{role}" in result.output
    assert audit_head(bureau) == before


def test_the_actor_is_as_then_suiji_as_then_the_operator(bureau: Path) -> None:
    for year, args, env, expected in (
        ("2027", [], {}, SAMPLE_ADMIN),
        ("2028", [], {"SUIJI_AS": "袁丽"}, "袁丽"),
        ("2029", ["--as", "yuanli"], {}, "袁丽"),  # an account names the person too
        ("2030", ["--as", "张凯"], {"SUIJI_AS": "袁丽"}, "张凯"),
    ):
        created = run("plan", "create", year, *args, config=bureau, env=env)
        assert created.exit_code == 0, created.output
        shown = run("plan", "show", year, "--format", "json", config=bureau)
        assert json.loads(shown.output)["created_by"] == expected


def test_the_certificate_names_the_registry_person_not_the_login(
    bureau: Path, tmp_path: Path
) -> None:
    example = tmp_path / "campaign.toml"
    example.write_text(run("campaign", "example").output, "utf-8")
    assert run("campaign", "create", "--file", str(example), config=bureau).exit_code == 0
    assert run("draw", "commit", "1", "--as", "yuanli", config=bureau).exit_code == 0
    ran = run("draw", "run", "1", "--entropy", "监督人刘艳丽=7,42,88",
              "--entropy", "福彩3D=3,9,1", config=bureau)  # fmt: skip
    assert ran.exit_code == 0, ran.output
    page = tmp_path / "certificate.html"
    assert run("draw", "certificate", "1", str(page), config=bureau).exit_code == 0
    html = page.read_text("utf-8")
    assert "（袁丽）" in html and f"，{SAMPLE_ADMIN}）" in html
    assert f"（{getpass.getuser()}）" not in html
    shown = run("campaign", "show", "1", config=bureau).output
    assert f"建立：{SAMPLE_ADMIN}" in shown


def test_the_first_import_bootstraps_the_first_admin_from_the_file_itself(
    tmp_path: Path,
) -> None:
    assert run("init", str(tmp_path / "new")).exit_code == 0
    config = tmp_path / "new" / "suiji.toml"
    units = tmp_path / "units.csv"
    assert run("registry", "template", "units", str(units)).exit_code == 0
    # Nobody is registered yet: the name is taken as given, since there is no one to check.
    first = run("registry", "import", "units", str(units), "--as", "王芳", config=config)
    assert first.exit_code == 0, first.output
    # The people file must make the one importing it an admin.
    officer_only = write_csv(
        tmp_path / "o1.csv", "officers", [admin_row("王芳", "wangfang", "监督人")]
    )
    refused = run("registry", "import", "officers", str(officer_only), "--as", "王芳",
                  config=config)  # fmt: skip
    assert refused.exit_code == 1 and "王芳" in refused.output and "管理员" in refused.output
    listed = run("registry", "list", "officers", "--format", "json", config=config)
    assert json.loads(listed.output) == []
    people = write_csv(tmp_path / "o2.csv", "officers", [admin_row("王芳", "wangfang")])
    made = run("registry", "import", "officers", str(people), "--as", "王芳", config=config)
    assert made.exit_code == 0, made.output
    # From now on the name must be a registered admin.
    entities = write_csv(tmp_path / "e.csv", "entities", [entity_row(1)])
    stranger = run("registry", "import", "entities", str(entities), "--as", "李四", config=config)
    assert stranger.exit_code == 1 and "李四" in stranger.output
    ok = run("registry", "import", "entities", str(entities), "--as", "wangfang", config=config)
    assert ok.exit_code == 0, ok.output
