"""Redaction masks the instructor's secrets and nothing a student needs to read."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.reports.redaction import inert, redact, secrets, submission_assignments

FEEDBACK = (
    "`postgres` stopped: /var/lib/postgresql/18/docker is not on a volume; pin `postgres:17`. "
    "The API logged: connecting to postgres://postgres:{pw}@db:5432/products as admin"
)


@pytest.mark.parametrize(
    "values, submission, masked",
    [
        # The course's most common value: masking it garbled every sentence naming the image.
        pytest.param({"POSTGRES_PASSWORD": "postgres"}, "", (), id="common-value-never-masked"),
        pytest.param({"ADMIN_PASSWORD": "admin", "PIN_KEY": "1234"}, "", (), id="other-common-values"),
        pytest.param({"DB_PASSWORD": "abc"}, "", (), id="too-short"),
        pytest.param({"DB_PASSWORD": "grading-secret-pw"}, "", ("grading-secret-pw",), id="rubric-only-secret"),
        # A password the student committed is theirs: nothing of the instructor's to hide.
        pytest.param({"DB_PASSWORD": "s3creto"}, "DB_PASSWORD=s3creto\n", (), id="assigned-in-an-env-file"),
        pytest.param({"DB_PASSWORD": "s3creto"}, "    DB_PASSWORD: 's3creto'\n", (), id="assigned-in-compose"),
        pytest.param({"DB_PASSWORD": "s3creto"}, "  - DB_PASSWORD=s3creto # dev\n", (), id="compose-list-form"),
        # Listing every candidate value does not unmask the real one: it must be assigned, to that key.
        pytest.param(
            {"DB_PASSWORD": "s3creto"}, "s3creto s3creta\nOTHER=s3creto\n", ("s3creto",), id="merely-mentioned"
        ),
    ],
)
def test_which_values_are_secret(values: dict[str, str], submission: str, masked: tuple[str, ...]) -> None:
    assert secrets(values.items(), submission) == masked


def test_a_rubric_secret_is_masked_and_the_rest_stays_readable() -> None:
    text = FEEDBACK.format(pw="grading-secret-pw")
    out = redact(text, secrets([("DB_PASSWORD", "grading-secret-pw"), ("POSTGRES_PASSWORD", "postgres")], ""))
    assert "grading-secret-pw" not in out
    assert out == FEEDBACK.format(pw="***")


def test_short_secrets_are_masked_as_whole_words_only() -> None:
    assert redact("pw=mate7 and mate7s; xmate7", ("mate7",)) == "pw=*** and mate7s; xmate7"
    # a long one, which no word contains, wherever it is
    assert redact("tokengrading-secret-pw2", ("grading-secret-pw",)) == "token***2"


def test_only_env_and_compose_files_count_and_only_so_much(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("DB_PASSWORD=cambiar\n")
    (tmp_path / "docker-compose.yml").write_text("services: {db: {environment: {A: b}}}\n")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / ".env").write_text("DB_PASSWORD=from-a-dependency\n")
    (tmp_path / "index.js").write_text("DB_PASSWORD=in-the-code\n")
    (tmp_path / "zz.env").write_bytes(b"#" * (1 << 20) + b"\nDB_PASSWORD=past-the-bound\n")
    text = submission_assignments(tmp_path)
    assert "cambiar" in text and "services:" in text
    assert "from-a-dependency" not in text and "in-the-code" not in text and "past-the-bound" not in text


def test_every_format_keeps_names_and_paths_and_never_shows_a_rubric_only_secret(tmp_path: Path) -> None:
    from grader.intake.rubric import parse
    from grader.model import Category, Outcome, Report
    from grader.reports import formats
    from grader.reports.document import to_dict, to_json
    from grader.run.context import Check, Options
    from grader.run.execute import run_checks
    from grader.run.prepare import prepare

    (tmp_path / ".env").write_text("POSTGRES_USER=postgres\nPOSTGRES_DB=products\n")  # the student's own
    rubric = parse("environment:\n  variables: {POSTGRES_PASSWORD: postgres, JWT_SECRET: rubric-only-jwt-4711}\n")
    hidden = secrets(rubric.secret_items(), submission_assignments(tmp_path))
    assert hidden == ("rubric-only-jwt-4711",)
    said = (
        "`postgres` stopped: /var/lib/postgresql/18/docker is empty; pin `postgres:17`. "
        "The app logged JWT_SECRET=rubric-only-jwt-4711 and password postgres."
    )
    check = Check(
        id="startup.up",
        category=Category.STARTUP,
        title="Stack starts",
        max_points=10,
        run=lambda _: Outcome.failed(said, said, hints=(said,)),
    )
    ctx = prepare(tmp_path, Options(), None, "grader-redaction-test", rubric, hidden)
    report = Report(
        "1.5",
        "g",
        "0",
        str(tmp_path),
        "s",
        "2026-01-01T00:00:00+00:00",
        1.0,
        "graded",
        checks=run_checks(ctx, {"startup.up": check}),
    )
    data = to_dict(report)
    every = "\n".join(
        [
            to_json(report),
            formats.junit(data),
            formats.markdown(data),
            *formats.github_annotations(data),
            str(formats.gradescope(data)),
            str(formats.classroom_result(data)),
        ]
    )
    assert "rubric-only-jwt-4711" not in every
    assert "`postgres` stopped: /var/lib/postgresql/18/docker is empty; pin `postgres:17`" in every
    assert report.checks[0].feedback.endswith("JWT_SECRET=*** and password postgres.")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("::notice title=Autograding::Points 100/100", id="notice"),
        pytest.param("    ::stop-commands::abc", id="indented"),
        pytest.param("log line\r::add-mask::x", id="after-a-carriage-return"),
        pytest.param("##[set-output name=score;]100", id="legacy-syntax"),
        pytest.param(":::error:::x", id="three-colons"),
    ],
)
def test_inert_leaves_no_workflow_command_anywhere(text: str) -> None:
    out = inert(text)
    assert "::" not in out and "##[" not in out
    assert out.replace("\u200b", "") == text  # readable: only zero-width spaces were added
    assert inert(out) == out


def test_the_printed_table_is_inert_even_for_a_report_read_from_a_file() -> None:
    from grader.model import CheckResult, Report, Status
    from grader.reports.document import to_table

    check = CheckResult(
        id="startup.up",
        category="runtime",
        title="Stack starts",
        status=Status.FAILED,
        points=0,
        max_points=10,
        feedback="api exited",
        evidence="::notice title=Autograding::Points 100/100\n##[error]x",
        hints=(),
        duration_s=1.0,
    )
    report = Report(
        schema_version="1",
        grader_name="g",
        grader_version="0",
        submission_path="/s",
        submission_name="s",
        started_at="now",
        duration_s=1.0,
        status="graded",
        lang="en",
        checks=(check,),
    )
    table = to_table(report)
    assert all(not line.strip().startswith(("::", "##[")) for line in table.splitlines())
    assert "::" not in table
