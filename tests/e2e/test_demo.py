"""``suiji demo`` as a newcomer runs it: the command itself, in its own process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bot.cli.serve import MOVED, port_taken
from tests.helpers import free_port


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _post(url: str, body: dict[str, Any]) -> Any:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _start_demo(port: int, folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--no-browser", "--port", str(port),
         "--dir", str(folder)],
        env={k: v for k, v in os.environ.items() if not k.startswith("SUIJI_")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def _wait_for_page(base: str, demo: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/sandbox/", timeout=2) as response:
                assert response.status == 200
                return
        except OSError:
            assert demo.poll() is None, demo.communicate()[0]
            assert time.monotonic() < deadline, "suiji demo did not come up"
            time.sleep(0.2)


def _stop(demo: subprocess.Popen[str]) -> str:
    demo.send_signal(signal.SIGINT)  # Ctrl+C, as the demo tells its user
    try:
        output, _ = demo.communicate(timeout=20)
    finally:
        if demo.poll() is None:
            demo.kill()
    return output


def _ask_for_help(base: str, user: str) -> list[dict[str, Any]]:
    """Send 「帮助」 as ``user`` and return their chat once the bot has answered."""
    assert _post(f"{base}/sandbox/api/say", {"user": user, "text": "帮助"})["status"] == 200
    deadline = time.monotonic() + 30
    while True:
        chat: list[dict[str, Any]] = _get(f"{base}/sandbox/api/messages?user={user}")
        if (chat and chat[-1]["from"] == "bot") or time.monotonic() > deadline:
            return chat
        time.sleep(0.1)


def test_newcomer_runs_suiji_demo_sends_help_and_can_start_it_again(tmp_path: Path) -> None:
    port, folder = free_port(), tmp_path / "demo"
    base = f"http://127.0.0.1:{port}"
    demo = _start_demo(port, folder)
    try:
        _wait_for_page(base, demo)
        officer = next(p for p in _get(f"{base}/sandbox/api/people") if p["officer"])
        chat = _ask_for_help(base, officer["user"])
        assert _get(f"{base}/sandbox/api/clock")["days"] == 0
        assert _post(f"{base}/sandbox/api/clock", {"days": 3})["days"] == 3
    finally:
        output = _stop(demo)
    assert demo.returncode == 0, output
    assert f"{base}/sandbox/" in output and "Traceback" not in output
    assert "调到开始日" in output and "发送示例照片" in output  # how to try findings
    assert f"{base}/public/" in output  # and where the public site is
    assert [m["from"] for m in chat] == ["me", "bot"]
    assert f"{officer['name']}您好" in chat[1]["text"]

    # The same folder and port again at once, as the demo's own hint suggests: the
    # sandbox's time goes on from where it was moved to, never back.
    again = _start_demo(port, folder)
    try:
        _wait_for_page(base, again)
        assert [m["from"] for m in _ask_for_help(base, officer["user"])] == ["me", "bot"]
        clock = _get(f"{base}/sandbox/api/clock")
    finally:
        output = _stop(again)
    assert again.returncode == 0, output
    assert clock["days"] == 3 and "已调快 3 天" in clock["shown"]
    assert "快 3 天" in output


def test_demo_refuses_a_clock_file_it_cannot_read(tmp_path: Path) -> None:
    """A demo folder whose clock file says nothing sensible: a Chinese refusal that names the
    file, before the sandbox starts on a time behind what it stored."""
    port, folder = free_port(), tmp_path / "demo"
    demo = _start_demo(port, folder)
    try:
        _wait_for_page(f"http://127.0.0.1:{port}", demo)
    finally:
        assert _stop(demo) and demo.returncode == 0
    (folder / MOVED).write_text("three\n", "utf-8")
    again = _start_demo(port, folder)
    output, _ = again.communicate(timeout=60)
    assert again.returncode == 1
    assert str(folder / MOVED) in output and "Traceback" not in output


def test_demo_refuses_a_port_someone_listens_on_but_not_one_left_in_time_wait() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_taken(port)
        with socket.create_connection(("127.0.0.1", port)) as client:
            served, _ = listener.accept()
            served.close()  # the server closes first, as after a page: its end waits in TIME-WAIT
            client.recv(1)
    with socket.socket() as plain:  # the state the probe must see past
        assert plain.connect_ex(("127.0.0.1", port)) != 0
    with socket.socket() as plain:
        try:
            plain.bind(("127.0.0.1", port))
            in_time_wait = False
        except OSError:
            in_time_wait = True
    assert in_time_wait, "the set-up left no connection in TIME-WAIT"
    assert not port_taken(port)


def test_demo_says_in_chinese_that_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        demo = _start_demo(port, tmp_path / "demo")
        output, _ = demo.communicate(timeout=60)
    assert demo.returncode != 0
    assert str(port) in output and "Traceback" not in output
    assert not (tmp_path / "demo").exists()  # refused before anything was written
