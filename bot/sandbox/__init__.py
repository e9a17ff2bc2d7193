"""The sandbox: fake WeCom and DingTalk servers speaking the real wire format, and a web page
that shows each person's chat like a phone. ``suiji demo`` and the end-to-end tests use these
same fakes."""
