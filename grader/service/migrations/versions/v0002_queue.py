"""The queue's side of the gradebook: a student's unguessable link, a push graded at most once
per commit, the runs' jobs and attempts.

- `grader_students`: one row per (assignment, student), with the token of the student's page
  (the link put on their commit) and the repository the student pushes to, pinned by GitHub's
  number for it (a repository renamed to another student's name is not that student).
- A commit is stored once per assignment and repository: a push delivered again under another
  X-GitHub-Delivery (a replayed body: the header is not signed) adds nothing.
- `grader_pushes.attempts` counts the runs a push took (an `incomplete` run is tried again, a
  few times, later); `superseded_by` names the newer push that replaced one still waiting.
- `grader_runs.job` is the queue's job; a run whose worker died is `lost`, one an instructor
  stopped `cancelled`.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE grader_students (
            assignment text NOT NULL,
            student text NOT NULL,
            repository text NOT NULL,
            repository_id bigint,  -- GitHub's number of the repository first pushed from: pinned
            token text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (assignment, student)
        );

        ALTER TABLE grader_pushes
            ADD COLUMN attempts integer NOT NULL DEFAULT 0,
            ADD COLUMN superseded_by bigint REFERENCES grader_pushes (id),
            -- GitHub's check runs of the push (a GitHub App's): one, or two when the webhook and a
            -- worker each made one at once (both are kept up to date)
            ADD COLUMN check_runs bigint[] NOT NULL DEFAULT '{}',
            ADD CONSTRAINT grader_pushes_commit_once UNIQUE (assignment, repository, sha);
        ALTER TABLE grader_pushes DROP CONSTRAINT grader_pushes_status_check;
        ALTER TABLE grader_pushes ADD CONSTRAINT grader_pushes_status_check
            CHECK (status IN ('queued', 'superseded', 'running', 'graded', 'incomplete', 'error', 'cancelled'));
        CREATE INDEX grader_pushes_waiting ON grader_pushes (assignment, student) WHERE status = 'queued';

        ALTER TABLE grader_runs
            ADD COLUMN job bigint,
            ADD COLUMN exit_code integer,
            ADD COLUMN fault text NOT NULL DEFAULT '',
            ADD COLUMN rubric text NOT NULL DEFAULT '';  -- the rubric's fingerprint the run graded with
        ALTER TABLE grader_runs DROP CONSTRAINT grader_runs_status_check;
        ALTER TABLE grader_runs ADD CONSTRAINT grader_runs_status_check
            CHECK (status IN ('graded', 'incomplete', 'error', 'lost', 'cancelled'));
        CREATE INDEX grader_runs_open ON grader_runs (job) WHERE finished_at IS NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX grader_runs_open;
        ALTER TABLE grader_runs DROP CONSTRAINT grader_runs_status_check;
        ALTER TABLE grader_runs ADD CONSTRAINT grader_runs_status_check
            CHECK (status IN ('graded', 'incomplete', 'error'));
        ALTER TABLE grader_runs DROP COLUMN job, DROP COLUMN exit_code, DROP COLUMN fault, DROP COLUMN rubric;
        DROP INDEX grader_pushes_waiting;
        ALTER TABLE grader_pushes DROP CONSTRAINT grader_pushes_status_check;
        ALTER TABLE grader_pushes ADD CONSTRAINT grader_pushes_status_check
            CHECK (status IN ('queued', 'superseded', 'running', 'graded', 'incomplete', 'error'));
        ALTER TABLE grader_pushes DROP CONSTRAINT grader_pushes_commit_once,
            DROP COLUMN superseded_by, DROP COLUMN attempts, DROP COLUMN check_runs;
        DROP TABLE grader_students;
        """
    )
