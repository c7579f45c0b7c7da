"""compose-grader: grade Docker homework (Dockerfile, Compose with PostgreSQL, persistence)."""

from __future__ import annotations

__version__ = "0.1.0"
NAME = "compose-grader"
