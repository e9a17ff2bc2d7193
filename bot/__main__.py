"""``python -m bot`` does what the ``suiji`` command does."""

from bot.cli.main import main

main()
