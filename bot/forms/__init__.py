"""The form engine: findings forms as data, and filling them one question at a time.

Lives here: a definition's format and its checks (``definition``), where definitions come from
(``catalog``), which questions are asked given the answers (``engine``), reading one answer
(``answers``), and the draft with the moves that change it (``session``). Pure, apart from
``catalog`` reading definition files: no database, no chat, no clock of its own.

A library: may import ``base`` (texts) and nothing above it; workflows and the server use it.
"""
