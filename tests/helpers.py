"""Small helpers shared by the storage and end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import os
import signal
import socket
import sys
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.registry.importer import import_sample
from bot.registry.kinds import KINDS
from bot.registry.uscc import ALPHABET, check_character
from bot.workflows.campaign_spec import example_campaign

ROOT = Path(__file__).resolve().parents[1]  # this checkout
SAMPLE_DIR = ROOT / "storage" / "sample"


async def count_rows(factory: async_sessionmaker[AsyncSession], table: str) -> int:
    async with factory() as session:
        return int((await session.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())


def make_uscc(n: int) -> str:
    """A valid USCC numbered n, in Sui county (411422)."""
    body = ""
    for _ in range(8):
        n, digit = divmod(n, len(ALPHABET))
        body = ALPHABET[digit] + body
    first17 = f"91411422{body}0"
    return first17 + check_character(first17)


def entity_row(n: int, **overrides: Any) -> list[Any]:
    values = {
        "统一社会信用代码": make_uscc(n),
        "单位名称": f"睢县测试企业{n}有限公司",
        "地址": f"睢县城关镇测试路{n}号",
        "所属乡镇": "城关镇",
        "网格": "城关镇第1网格",
        "行业": "制造业",
        "职工人数": str(10 + n % 300),
        "守法诚信等级": "ABC"[n % 3] if n % 7 else "",
        "近12个月投诉数": str(n % 4),
        "有严重违法": "是" if n % 50 == 0 else "否",
        "经营状态": "存续",
        "最近检查日期": "" if n % 2 else "2025-05-06",
    }
    values.update(overrides)
    return [values[h] for h in KINDS["entities"].headers().values()]


def admin_row(name: str, account: str, roles: str = "管理员") -> list[str]:
    """An officers-sheet row for someone without a certificate (an admin, say), in the unit
    of the units template's example."""
    return ["", name, "劳动保障监察大队", roles, "否", "", "", "", "", account, ""]


def write_csv(
    path: Path, kind: str, rows: Sequence[Sequence[Any]], encoding: str = "utf-8-sig"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(KINDS[kind].headers().values())
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def new_workbook(rows: Sequence[Sequence[Any]], title: str = "") -> tuple[Workbook, Worksheet]:
    """A workbook whose one sheet holds ``rows``, to change further before saving."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title:
        sheet.title = title
    for row in rows:
        sheet.append(list(row))
    return workbook, sheet


def patch_xlsx(path: Path, part: str, change: Callable[[str], str]) -> Path:
    """Rewrite one XML part of an .xlsx, as a hand-edited or foreign-made file would have it."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[part] = change(parts[part].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in parts.items():
            target.writestr(name, content)
    return path


async def load_sample(factory: async_sessionmaker[AsyncSession], clock: Any) -> None:
    """Import the bundled sample registries, as `suiji init --sample` does."""
    await import_sample(factory, clock)


async def sqlite_database(path: Path, *, sample: bool = False) -> str:
    """The URL of a new SQLite database at ``path``, migrated, with the sample registries if
    asked for."""
    from storage import migrate
    from storage.engine import make_engine, make_session_factory

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        await migrate.upgrade(engine)
        if sample:
            await load_sample(make_session_factory(engine), lambda: dt.datetime.now(dt.UTC))
    finally:
        await engine.dispose()
    return url


def bot_environ(
    keys: dict[str, str], database_url: str, wecom_base: str = "", dingtalk_base: str = ""
) -> dict[str, str]:
    """Config overrides for a bot talking to fake platforms (keys from ``new_secrets()``)."""
    environ = {"SUIJI_DATABASE__URL": database_url}
    if wecom_base:
        environ |= {
            "SUIJI_WECOM__CORP_ID": keys["corp_id"],
            "SUIJI_WECOM__SECRET": keys["secret"],
            "SUIJI_WECOM__AGENT_ID": "1000002",
            "SUIJI_WECOM__TOKEN": keys["token"],
            "SUIJI_WECOM__ENCODING_AES_KEY": keys["encoding_aes_key"],
            "SUIJI_WECOM__API_BASE": wecom_base,
        }
    if dingtalk_base:
        environ |= {
            "SUIJI_DINGTALK__APP_KEY": keys["app_key"],
            "SUIJI_DINGTALK__APP_SECRET": keys["app_secret"],
            "SUIJI_DINGTALK__ROBOT_CODE": keys["robot_code"],
            "SUIJI_DINGTALK__API_BASE": dingtalk_base,
        }
    return environ


# The example campaign as `campaign example` prints it on 2026-11-10: from 2026-12-01 to 12-31.
EXAMPLE = example_campaign(dt.date(2026, 12, 1))
ENTROPY = {"监督人刘艳丽": [7, 42, 88], "福彩3D": [3, 9, 1]}


def spec(extra: str = "", **changes: str) -> str:
    """The example campaign with some top-level lines replaced (key = new TOML value), and
    ``extra`` TOML appended."""
    lines = []
    for line in EXAMPLE.splitlines():
        key = line.split("=", 1)[0].strip()
        lines.append(f"{key} = {changes.pop(key)}" if key in changes else line)
    assert not changes, changes
    return "\n".join(lines) + "\n" + extra


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_environ(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of suiji run as a process of its own: this checkout's code (not
    whatever suiji is installed), configured by ``extra``, not by SUIJI_ variables of
    whoever runs the tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUIJI_")} | dict(extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


async def until_healthy(
    port: int, running: Callable[[], bool], why: Callable[[], str], timeout: float = 60
) -> None:
    """Until the server on ``port`` answers /healthz with 200; fails with ``why()`` once its
    process is no longer ``running``, or at ``timeout``."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            assert running(), why()
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            assert time.monotonic() < deadline, why()
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def serving(
    environ: Mapping[str, str],
    log: Path,
    *args: str,
    stop: signal.Signals = signal.SIGKILL,
    timeout: float = 60,
) -> AsyncIterator[int]:
    """``suiji serve`` (with ``args``) as a process of its own, configured by ``environ``,
    its output in ``log``: its port, once /healthz answers. On leaving it is sent ``stop``
    (killed, by default) and, if it has not exited within ``timeout``, killed."""
    port = free_port()
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port),
            *args, env=child_environ(environ), cwd=log.parent, stdout=output, stderr=output,
        )  # fmt: skip
    try:
        await until_healthy(
            port, lambda: process.returncode is None, lambda: log.read_text("utf-8"), timeout
        )
        yield port
    finally:
        if process.returncode is None:
            process.send_signal(stop)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()


# A made-up notice for 2027, a year no release of chinesecalendar covers (the real one is not
# out yet): National Day from Friday 1 to Thursday 7 October, Sunday 26 September and Saturday
# 9 October worked.
MADE_UP_2027 = """\
year = 2027
notice = "测试用：虚构的 2027 年节假日安排"

[[holiday]]
name = "元旦"
from = 2027-01-01
to = 2027-01-03

[[holiday]]
name = "春节"
from = 2027-02-06
to = 2027-02-14
workdays = [2027-02-20]

[[holiday]]
name = "国庆节"
from = 2027-10-01
to = 2027-10-07
workdays = [2027-09-26, 2027-10-09]
"""
