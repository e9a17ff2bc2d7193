"""Every word a person reads: chat messages, CLI output, pages, sheet headers (package data)."""
