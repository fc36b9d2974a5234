"""Alembic migrations of the metadata database (run them with `zentrale.db.migrate`)."""
