"""What the bot does, one module per use case; pure decisions, no HTTP, SDK or platform names."""
