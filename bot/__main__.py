"""``python -m bot`` does what the ``suiji`` command does."""

from bot.cli import main

main()
