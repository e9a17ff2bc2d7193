"""The ``suiji`` command line: arguments in, a workflow called, Chinese output and an exit code out.

Lives here: the command groups (``main`` is the ``suiji`` entry point; ``campaigns`` the plan,
campaign and draw commands; ``serve`` the server, demo, outbox and events commands), what they
share (``support``: settings, the database, errors) and terminal tables (``tables``).

May import every room below it: ``server``, ``workflows``, ``handlers``, the libraries, ``base``,
``storage``. Nothing imports the CLI.

Importing it puts click's own words in Chinese (``chinese``), before any command is built.
"""

from bot.cli.chinese import speak_chinese

speak_chinese()
