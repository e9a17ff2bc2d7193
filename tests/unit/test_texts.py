"""Every message key used in code exists in templates/, and Python holds no Chinese of its own."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pytest

from bot.base.texts import TEMPLATES_DIR, environment, table, text

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("bot", "handlers", "storage")
CJK = re.compile("[\u4e00-\u9fff]")
GROUPS = sorted(p.name.removesuffix(".txt.j2") for p in (TEMPLATES_DIR / "text").glob("*.txt.j2"))
KEY_SHAPE = re.compile(rf"^({'|'.join(GROUPS)})\.([A-Za-z_]\w*)$")


def python_files(*, skip_migrations: bool = False) -> list[Path]:
    files = sorted(p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py"))
    if skip_migrations:
        migrations = ROOT / "storage" / "migrations"
        files = [p for p in files if not p.is_relative_to(migrations)]
    return files


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def macro(group: str, name: str) -> jinja2.runtime.Macro | None:
    module = environment.get_template(f"text/{group}.txt.j2").module
    found = getattr(module, name, None)
    return found if isinstance(found, jinja2.runtime.Macro) else None


@dataclass(frozen=True)
class Use:
    """One place in code that names a message: its key, the keyword names passed, and where."""

    key: str
    keywords: frozenset[str] | None  # None when some are passed with ** and cannot be known
    at: str


def literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def keywords_of(call: ast.Call) -> frozenset[str] | None:
    if any(k.arg is None for k in call.keywords):
        return None
    return frozenset(k.arg for k in call.keywords if k.arg is not None)


def scan() -> tuple[list[Use], list[tuple[str, str]]]:
    """(uses of message keys, f-string key prefixes as (prefix, where))."""
    uses: list[Use] = []
    prefixes: list[tuple[str, str]] = []
    for path in python_files():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = called_name(node)
            first = node.args[0] if node.args else None
            # bot.base.texts.text is always imported by name; sa.text(...) is SQL, not a message.
            if name == "text" and isinstance(node.func, ast.Name):
                if (key := literal(first)) is not None:
                    uses.append(Use(key, keywords_of(node), where(path, node)))
                elif isinstance(first, ast.JoinedStr) and first.values:
                    prefixes.append((literal(first.values[0]) or "", where(path, node)))
            elif name in ("CellError", "SheetError") and (key := literal(first)) is not None:
                uses.append(Use(f"registry.{key}", keywords_of(node), where(path, node)))
            elif name == "Conflict":
                reason = node.args[2] if len(node.args) > 2 else None
                for keyword in node.keywords:
                    if keyword.arg == "reason":
                        reason = keyword.value
                values = node.args[3] if len(node.args) > 3 else None
                for keyword in node.keywords:
                    if keyword.arg == "values":
                        values = keyword.value
                names: frozenset[str] | None = frozenset()
                if isinstance(values, ast.Dict):
                    keys = [literal(k) for k in values.keys]
                    names = None if None in keys else frozenset(k for k in keys if k)
                elif values is not None:
                    names = None
                if (key := literal(reason)) is not None:
                    uses.append(Use(f"registry.{key}", names, where(path, node)))
    return uses, prefixes


USES, PREFIXES = scan()


def test_the_scan_finds_the_message_keys_in_use() -> None:
    # Guards the scanner itself: if it found nothing, every test below would pass vacuously.
    keys = {use.key for use in USES}
    assert {"config.wrong_type", "cli.init_done", "registry.problem_line"} <= keys
    assert {"registry.required", "registry.unsupported_format", "registry.unknown_unit"} <= keys
    files = {at.partition(":")[0] for _, at in PREFIXES}
    assert {"bot/registry/fields.py", "bot/registry/importer.py"} <= files


@pytest.mark.parametrize("use", USES, ids=lambda use: f"{use.at}:{use.key}")
def test_every_message_key_in_code_has_a_macro(use: Use) -> None:
    group, _, name = use.key.partition(".")
    assert group in GROUPS, f"{use.at}: no templates/text/{group}.txt.j2"
    assert macro(group, name) is not None, f"{use.at}: no macro {name} in {group}.txt.j2"


@pytest.mark.parametrize(
    "use", [u for u in USES if u.keywords is not None], ids=lambda use: f"{use.at}:{use.key}"
)
def test_every_message_is_called_with_exactly_its_macros_arguments(use: Use) -> None:
    group, _, name = use.key.partition(".")
    found = macro(group, name)
    assert found is not None
    assert use.keywords == frozenset(found.arguments), use.at


@pytest.mark.parametrize(("prefix", "at"), PREFIXES)
def test_computed_message_keys_name_an_existing_group(prefix: str, at: str) -> None:
    group, dot, rest = prefix.partition(".")
    assert dot and not rest, f"{at}: f-string key should be 'group.{{...}}', got {prefix!r}"
    assert group in GROUPS, at


# Modules whose dotted strings are paths into a draw record (e.g. "campaign.teams"), not keys.
RECORD_PATHS = {"bot/draw/record.py"}


def test_every_key_shaped_string_in_code_is_a_real_message() -> None:
    # Catches keys chosen into a variable first, e.g. key = "cli.import_refused"; text(key).
    missing = []
    for path in python_files():
        if str(path.relative_to(ROOT)) in RECORD_PATHS:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            value = literal(node)
            match = KEY_SHAPE.match(value) if value is not None else None
            if match and macro(match[1], match[2]) is None:
                missing.append(f"{where(path, node)}: {value}")
    assert missing == []


def test_text_renders_a_macro_and_trims_it() -> None:
    assert text("registry.file_missing", path="/x.csv") == "找不到文件 /x.csv"
    assert text("cli.list_count", kind="units", count=3) == "共 3 条单位"


def test_text_refuses_an_unknown_macro_and_a_missing_value() -> None:
    with pytest.raises(KeyError):
        text("registry.no_such_message")
    with pytest.raises(jinja2.TemplateNotFound):
        text("nosuchgroup.required")
    with pytest.raises(TypeError):
        text("registry.file_missing", path="x", extra=1)
    with pytest.raises(jinja2.UndefinedError):
        text("registry.date")  # StrictUndefined: a forgotten value is an error, not a blank


def test_tables_are_read_from_templates() -> None:
    columns = table("registry/columns.toml")
    assert columns["units"]["name"] == "单位名称"
    assert table("registry/values.toml")["yes_no"] == {"yes": "是", "no": "否"}


# --- no user-facing Chinese in Python --------------------------------------------------------


def docstring_lines(tree: ast.Module) -> set[int]:
    """The lines on which docstrings (of the module, classes and functions) start."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                lines.add(body[0].value.lineno)
    return lines


def chinese_strings(path: Path, root: Path = ROOT) -> list[str]:
    """file:line of every string literal holding CJK that is not a docstring."""
    source = path.read_text("utf-8")
    skip = docstring_lines(ast.parse(source))
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        is_chinese = token.type == tokenize.STRING and CJK.search(token.string)
        if is_chinese and token.start[0] not in skip:
            found.append(f"{path.relative_to(root)}:{token.start[0]}: {token.string}")
    return found


def test_chinese_string_detector_skips_comments_and_docstrings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""模块说明。"""\n'
        "# 注释\n"
        "def f():\n"
        '    """函数说明。"""\n'
        "    return '中文'  # 注释\n"
        "x = f'第{1}行'\n",
        "utf-8",
    )
    assert chinese_strings(sample, tmp_path) == ["sample.py:5: '中文'", "sample.py:6: f'第{1}行'"]


# Files allowed to hold Chinese string literals, with why (none: words live in templates/).
KNOWN_VIOLATIONS: dict[str, str] = {}


def _file_param(path: Path) -> object:
    name = str(path.relative_to(ROOT))
    marks = []
    if name in KNOWN_VIOLATIONS:
        reason = f"BUG: Chinese literal in Python ({KNOWN_VIOLATIONS[name]})"
        marks.append(pytest.mark.xfail(strict=True, reason=reason))
    return pytest.param(path, id=name, marks=marks)


@pytest.mark.parametrize("path", [_file_param(p) for p in python_files(skip_migrations=True)])
def test_python_holds_no_chinese_outside_comments_and_docstrings(path: Path) -> None:
    assert chinese_strings(path) == []


# --- Chinese typography ----------------------------------------------------------------------

# Template expressions that print a person's name. Spaces set off numbers and Latin words in
# Chinese text, never a Chinese name: 「已由张凯同意」, not 「已由 张凯同意」.
PERSON = (
    r"(?:officer|substitute|by|leader|person|decider|a\.person|a\.replaces|a\.team\.leader|m\.name)"
)
HAN = "[\u3000-\u9fff\uff00-\uffef]"  # Chinese characters and full-width punctuation
SPACED_NAME = re.compile(rf"{HAN} \{{\{{ {PERSON} \}}\}}|\{{\{{ {PERSON} \}}\}} {HAN}")
CHAT_TEMPLATES = sorted(
    [*(TEMPLATES_DIR / "text").glob("*.txt.j2"), *(TEMPLATES_DIR / "chat").glob("*.j2")]
)


@pytest.mark.parametrize("path", CHAT_TEMPLATES, ids=lambda p: p.name)
def test_no_latin_space_sits_beside_a_persons_name(path: Path) -> None:
    spaced = [
        f"{path.name}:{number}: {match.group(0)}"
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        for match in SPACED_NAME.finditer(line)
    ]
    assert spaced == []


def test_a_substitute_and_a_decider_are_named_without_spaces() -> None:
    told = text(
        "assign.leader_told_substitute",
        team=1,
        officer="王磊",
        reason="出差",
        substitute="高丽",
        position=7,
    )
    assert "已由抽取顺序第 7 位的高丽递补" in told
    assert (
        text("plan.decided", id=3, state="approved", by="张凯")
        == "需求 3 已由张凯同意，不能重复审批"
    )
    assert text("assign.leader_confirmed", team=1, officer="高丽") == "第1组：高丽已确认参加。"
