"""Alembic migrations; every schema change goes through a revision here."""
