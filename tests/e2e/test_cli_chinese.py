"""The command line speaks Chinese: every --help, and click's own usage and argument errors."""

from __future__ import annotations

import re

import click
import pytest

from bot.cli.main import cli
from tests.e2e.test_cli import run

CJK = re.compile("[\u4e00-\u9fff]")


def commands(group: click.Group = cli, path: str = "suiji") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = [(path, group)]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, f"{path} {name}")
        else:
            found.append((f"{path} {name}", command))
    return found


@pytest.mark.parametrize(("path", "command"), commands(), ids=lambda v: str(v))
def test_every_command_and_option_has_chinese_help(path: str, command: click.Command) -> None:
    assert command.help and CJK.search(command.help), path
    assert command.short_help and CJK.search(command.short_help), path
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help and CJK.search(param.help), f"{path} {param.opts}"


@pytest.mark.parametrize("args", [["--help"], ["registry", "import", "-h"], ["plan", "--help"]])
def test_help_is_chinese(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "用法：" in result.output and "选项" in result.output
    assert "显示这段帮助并退出" in result.output
    for english in ("Usage:", "Options:", "Show this message", "[OPTIONS]", "Commands:"):
        assert english not in result.output


def test_a_group_lists_its_commands_in_chinese() -> None:
    result = run("--help")
    assert "命令" in result.output and "registry" in result.output
    line = next(line for line in result.output.splitlines() if line.strip().startswith("audit"))
    assert CJK.search(line)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["regstry"], "没有「regstry」这个命令"),
        (["plan", "reject", "1"], "缺少选项"),
        (["outbox", "list", "--limit", "abc"], "「abc」不是整数"),
        (["outbox", "list", "--limit", "0"], "不在"),
        (["registry", "list", "people"], "「people」不是可选的值"),
        (["init"], "缺少参数"),
        (["audit", "list", "--colour"], "没有「--colour」这个选项"),
        (["draw", "verify", "a", "b"], "多了参数"),
    ],
)
def test_click_usage_errors_are_chinese(args: list[str], said: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert said in result.output, result.output
    assert "出错了：" in result.output and "用法：" in result.output
    assert "Error:" not in result.output and "Try '" not in result.output


def test_a_mistyped_command_is_offered_the_right_one() -> None:
    result = run("regstry")
    assert "registry" in result.output.split("没有「regstry」这个命令", 1)[1]
