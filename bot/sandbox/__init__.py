"""The sandbox: fake WeCom and DingTalk servers speaking the real wire format (``fakes``), and a
web page that shows each person's chat like a phone (``page``). ``suiji demo`` and the
end-to-end tests use these same fakes.

May import ``server`` (the demo runs the real app), ``workflows``, the libraries, ``base`` and
``storage``; only the CLI imports it (and the tests).
"""
