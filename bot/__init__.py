"""The suiji runtime: configuration, CLI, registries in and out, and (later) the chat bot."""
