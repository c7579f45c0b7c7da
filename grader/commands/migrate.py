"""`grader migrate`: the grading service's gradebook schema, brought to its newest revision."""

from __future__ import annotations

import argparse
import os
import sys

from grader.commands.exits import EXIT_OK
from grader.errors import BadInput, InfrastructureError

DATABASE_ENV = "GRADER_DATABASE_URL"


def database_url(args: argparse.Namespace) -> str:
    """--database, else $GRADER_DATABASE_URL: a secret, so better in the environment than in `ps`."""
    url = args.database or os.environ.get(DATABASE_ENV, "")
    if not url:
        raise BadInput(f"no database: give --database postgresql://... or set {DATABASE_ENV}")
    if not url.startswith(("postgresql://", "postgres://")):
        raise BadInput("--database: a PostgreSQL URL, postgresql://user:password@host:5432/database")
    return url


def migrated(url: str) -> None:
    """The schema brought up to date; the machine's fault (exit 3) when the database cannot be
    reached. Every service command runs it first."""
    try:
        from grader.service.store import migrate
    except ImportError as exc:  # the service's extra is not installed
        raise BadInput(f"the grading service needs `pip install 'compose-grader[service]'` ({exc})") from exc
    import psycopg
    import sqlalchemy.exc

    try:
        migrate(url)
    except sqlalchemy.exc.OperationalError as exc:  # the database cannot be reached: the machine's fault
        raise InfrastructureError(f"cannot reach the database: {str(exc.orig).strip()}") from exc
    except psycopg.OperationalError as exc:
        raise InfrastructureError(f"cannot reach the database: {str(exc).strip()}") from exc


def run(args: argparse.Namespace) -> int:
    migrated(database_url(args))
    sys.stdout.write("the gradebook's schema is up to date\n")
    return EXIT_OK
