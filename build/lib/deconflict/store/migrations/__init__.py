"""Alembic migrations of the store's schema, run automatically when a store is opened."""
