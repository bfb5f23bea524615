"""Alembic migrations for the rare-earth-news schema."""
