"""The use cases, each with its transactions: the annual plan (``plans``), campaigns and their
draw (``campaigns``, written as ``campaign_spec``), assignments and substitution
(``assignments``), the shared approval engine (``approvals``), the working-day calendar's
imported years (``calendar``), findings (``findings``, ``finding_page``), the team's report
(``reports``), 「进度」 (``progress``), deadlines and reminders (``deadlines``), publication of
results (``publish``) and penalty decisions (``penalties``), and the public site (``site/``).
``step`` is what every step shares: the transaction, the clock, the rules in force and the
outbox.

Workflows ask ``handlers`` for decisions and ``storage`` for rows, and may use the libraries and
``base``. They never import the server or the CLI.
"""
