"""Alembic migrations; run through ``suiji db upgrade`` (see storage.migrate)."""
