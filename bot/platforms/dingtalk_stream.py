"""DingTalk Stream mode: robot messages over the official SDK's websocket, no public URL needed.

The SDK (``dingtalk-stream``) reads ``DINGTALK_OPENAPI_ENDPOINT`` when it is imported and makes
blocking ``requests`` calls inside its coroutines, so it runs on its own event loop in its own
thread: nothing it does can stall the bot's loop. Each robot message, and each press on an
interactive card, is handed to the bot's loop and acknowledged only once it is stored; if
storing fails, the SDK does not acknowledge and DingTalk delivers it again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from bot.platforms.dingtalk import card_to_inbound, robot_to_inbound
from bot.platforms.errors import Rejected
from bot.platforms.messages import Inbound

log = logging.getLogger("suiji.dingtalk.stream")
BOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
STORE_TIMEOUT = 10.0


class StreamListener:
    """Runs the SDK client in a thread and passes each robot message to ``accept``."""

    def __init__(
        self,
        api_base: str,
        app_key: str,
        app_secret: str,
        accept: Callable[[Inbound], Coroutine[Any, Any, None]],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.api_base, self.app_key, self.app_secret = api_base, app_key, app_secret
        self.accept, self.clock = accept, clock
        self._main: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    def _inbound(self, topic: str, callback: Any) -> Inbound | None:
        if topic == CARD_TOPIC:
            return card_to_inbound(callback.data, str(callback.headers.message_id), self.clock())
        body = json.dumps(callback.data, ensure_ascii=False).encode()
        return robot_to_inbound(body, self.clock())

    def _handler(self, topic: str) -> Any:
        import dingtalk_stream

        listener = self

        class Handler(dingtalk_stream.CallbackHandler):  # type: ignore[misc]
            async def process(self, callback: Any) -> tuple[int, str]:
                try:
                    inbound = listener._inbound(topic, callback)
                except Rejected as refused:  # acknowledged, so it is not sent again
                    log.warning("stream %s refused: %s", topic, refused.reason)
                    return dingtalk_stream.AckMessage.STATUS_OK, "refused"
                main = listener._main
                assert main is not None and inbound is not None
                # Stored on the bot's loop; this thread only waits for the outcome.
                future: Any = asyncio.run_coroutine_threadsafe(listener.accept(inbound), main)
                await asyncio.wrap_future(future)
                return dingtalk_stream.AckMessage.STATUS_OK, "OK"

        return Handler()

    def _run(self) -> None:
        # The SDK takes its endpoint from the environment, once, when first imported.
        os.environ["DINGTALK_OPENAPI_ENDPOINT"] = self.api_base.rstrip("/")
        import dingtalk_stream

        # …and keeps that first value in a class attribute: set it for this listener too.
        dingtalk_stream.DingTalkStreamClient.OPEN_CONNECTION_API = (
            self.api_base.rstrip("/") + "/v1.0/gateway/connections/open"
        )

        client = dingtalk_stream.DingTalkStreamClient(
            dingtalk_stream.Credential(self.app_key, self.app_secret)
        )
        client.register_callback_handler(BOT_TOPIC, self._handler(BOT_TOPIC))
        client.register_callback_handler(CARD_TOPIC, self._handler(CARD_TOPIC))
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._task = loop.create_task(client.start())
        self.ready.set()
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("dingtalk stream stopped")
        finally:
            # The SDK leaves a keepalive task per connection: end them with the loop.
            leftover = asyncio.all_tasks(loop)
            for task in leftover:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.close()

    def start(self) -> None:
        self._main = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="dingtalk-stream", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Cancel the SDK's loop (it swallows one cancellation, so until it ends)."""
        loop, task, thread = self._loop, self._task, self._thread
        if loop is None or task is None or thread is None:
            return
        for _ in range(50):
            if not thread.is_alive():
                return
            loop.call_soon_threadsafe(task.cancel)
            await asyncio.to_thread(thread.join, 0.1)
