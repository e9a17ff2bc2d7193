"""A headless Chromium for page tests, driven over the DevTools protocol with aiohttp's
websockets: no browser-automation package, and nothing downloaded. Tests that use it skip
where no Chromium is installed (``.ci/run`` installs Debian's where it can).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

START_SECONDS = 30.0
CALL_SECONDS = 15.0
VISIBLE = """(selector => {
  const found = document.querySelector(selector);
  if (!found) return false;
  const box = found.getBoundingClientRect();
  return box.width > 0 && box.height > 0 && box.left >= 0 && box.right <= innerWidth + 1;
})"""


def chromium() -> str | None:
    """The Chromium (or Chrome) on this machine, if any."""
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next((found for name in names if (found := shutil.which(name))), None)


class Page:
    """One tab: navigate, evaluate JavaScript, click, take a screenshot."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        await self.socket.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        async with asyncio.timeout(CALL_SECONDS):
            while True:  # events come in between: skip them
                answer = json.loads((await self.socket.receive()).data)
                if answer.get("id") == call_id:
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return dict(answer.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited if it is a promise)."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def visible(self, selector: str) -> bool:
        """Whether the first element ``selector`` finds is on screen: it has a size and lies
        within the width of the viewport."""
        return bool(await self.evaluate(f"{VISIBLE}({json.dumps(selector)})"))

    async def until(self, expression: str, timeout: float = 15) -> Any:
        """The value of ``expression`` once it is truthy."""
        deadline = time.monotonic() + timeout
        while not (value := await self.evaluate(expression)):
            assert time.monotonic() < deadline, f"never true: {expression}"
            await asyncio.sleep(0.1)
        return value

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def phone_page(url: str, width: int = 390, height: int = 844) -> AsyncIterator[Page]:
    """``url`` open in a headless Chromium the size of a phone (390 × 844 CSS pixels, as an
    iPhone 14), touch and all."""
    binary = chromium()
    assert binary is not None
    # Chromium's helper processes may still be writing to the profile as it goes away.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",  # CI runs as root
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + START_SECONDS
            while not port_file.exists() or not port_file.read_text().strip():
                assert process.poll() is None, "chromium exited"
                assert time.monotonic() < deadline, "chromium never opened its DevTools port"
                await asyncio.sleep(0.1)
            port = port_file.read_text().split()[0]
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                    targets = await response.json(content_type=None)
                [target] = [t for t in targets if t["type"] == "page"]
                async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    page = Page(ws)
                    await page.call(
                        "Emulation.setDeviceMetricsOverride",
                        width=width,
                        height=height,
                        deviceScaleFactor=2,
                        mobile=True,
                    )
                    await page.call("Emulation.setTouchEmulationEnabled", enabled=True)
                    await page.call("Page.navigate", url=url)
                    await page.until("document.readyState === 'complete'")
                    yield page
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
