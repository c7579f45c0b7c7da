"""The gradebook: every push received (graded, superseded, ignored, late) and every run of one.

A push is stored once per assignment it belongs to; a redelivery of the same delivery is stored
once. Times are the server's: `received_at` is what deadlines use, never a commit's date.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE grader_pushes (
            id bigserial PRIMARY KEY,
            delivery text NOT NULL,
            assignment text NOT NULL,
            student text NOT NULL,
            repository text NOT NULL,
            branch text NOT NULL,
            sha char(40) NOT NULL CHECK (sha ~ '^[0-9a-f]{40}$'),
            pusher text NOT NULL DEFAULT '',
            received_at timestamptz NOT NULL DEFAULT now(),
            late boolean NOT NULL DEFAULT false,
            status text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'superseded', 'running', 'graded', 'incomplete', 'error')),
            UNIQUE (delivery, assignment)
        );
        CREATE INDEX grader_pushes_student ON grader_pushes (assignment, student, received_at DESC);

        CREATE TABLE grader_ignored (
            delivery text PRIMARY KEY,
            received_at timestamptz NOT NULL DEFAULT now(),
            reason text NOT NULL
        );

        CREATE TABLE grader_runs (
            id bigserial PRIMARY KEY,
            push_id bigint NOT NULL REFERENCES grader_pushes (id),
            worker text NOT NULL,
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            status text CHECK (status IN ('graded', 'incomplete', 'error')),
            score double precision,
            max_score double precision,
            report jsonb,
            markdown text,
            timings jsonb
        );
        CREATE INDEX grader_runs_push ON grader_runs (push_id);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE grader_runs; DROP TABLE grader_ignored; DROP TABLE grader_pushes;")
