"""The use cases, each with its transactions: the annual plan (``plans``), campaigns and their
draw (``campaigns``, written as ``campaign_spec``), assignments and substitution
(``assignments``), the shared approval engine (``approvals``) and the working-day calendar's
imported years (``calendar``). ``step`` is what every step shares: the transaction, the clock,
the rules in force and the outbox. Later: findings, reports, deadlines, publication.

Workflows ask ``handlers`` for decisions and ``storage`` for rows, and may use the libraries and
``base``. They never import the server or the CLI.
"""
