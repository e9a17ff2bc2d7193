"""Chat platforms: the one platform-neutral message model (``messages``) and the adapters that
translate it, the only code that knows WeCom's and DingTalk's wire formats and APIs
(``wecom``, ``dingtalk``, ``dingtalk_stream``; ``safexml`` and ``errors`` they share), and
``fakes``: fake WeCom and DingTalk servers that speak the same wire formats, for the sandbox and
the tests.

A library: may import ``base`` and ``storage``, never a workflow, the server or the CLI.
"""
