"""Alembic's entry for the service's schema (grader.service.store.migrate runs it)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url")
assert url is not None  # grader.service.store.migrate sets it
engine = create_engine(url)
with engine.connect() as connection:
    # A table of its own: the database may hold other applications' alembic versions.
    context.configure(connection=connection, version_table="grader_schema_version")
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
