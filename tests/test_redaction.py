"""Redaction masks the instructor's secrets and nothing a student needs to read."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.redaction import redact, secrets, submission_text

FEEDBACK = (
    "`postgres` stopped: /var/lib/postgresql/18/docker is not on a volume; pin `postgres:17`. "
    "The API logged: connecting to postgres://postgres:{pw}@db:5432/products as admin"
)


@pytest.mark.parametrize(
    "values, submission, masked",
    [
        # The course's most common value: masking it garbled every sentence naming the image.
        pytest.param(["postgres"], "", (), id="common-value-never-masked"),
        pytest.param(["admin", "1234"], "", (), id="other-common-values"),
        pytest.param(["abc"], "", (), id="too-short"),
        pytest.param(["grading-secret-pw"], "", ("grading-secret-pw",), id="rubric-only-secret"),
        # A password the student committed is theirs: nothing of the instructor's to hide.
        pytest.param(["s3creto"], "DB_PASSWORD=s3creto\n", (), id="already-in-the-submission"),
    ],
)
def test_which_values_are_secret(values: list[str], submission: str, masked: tuple[str, ...]) -> None:
    assert secrets(values, submission) == masked


def test_a_rubric_secret_is_masked_and_the_rest_stays_readable() -> None:
    text = FEEDBACK.format(pw="grading-secret-pw")
    out = redact(text, secrets(["grading-secret-pw", "postgres"], ""))
    assert "grading-secret-pw" not in out
    assert out == FEEDBACK.format(pw="***")


def test_short_secrets_are_masked_as_whole_words_only() -> None:
    assert redact("pw=mate7 and mate7s; xmate7", ("mate7",)) == "pw=*** and mate7s; xmate7"
    # a long one, which no word contains, wherever it is
    assert redact("tokengrading-secret-pw2", ("grading-secret-pw",)) == "token***2"


def test_the_submission_text_skips_dependencies_and_large_files(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("DB_PASSWORD=cambiar\n")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "index.js").write_text("grading-secret-pw")
    (tmp_path / "big.bin").write_bytes(b"grading-secret-pw" + b"0" * (2 << 20))
    text = submission_text(tmp_path)
    assert "cambiar" in text and "grading-secret-pw" not in text


def test_every_format_keeps_names_and_paths_and_never_shows_a_rubric_only_secret(tmp_path: Path) -> None:
    from grader import formats
    from grader.context import Context, Options
    from grader.model import Category, Check, Outcome, Report
    from grader.report import to_dict, to_json
    from grader.rubric import parse
    from grader.runner import run_checks

    (tmp_path / ".env").write_text("POSTGRES_USER=postgres\nPOSTGRES_DB=products\n")  # the student's own
    rubric = parse("environment:\n  variables: {POSTGRES_PASSWORD: postgres, JWT_SECRET: rubric-only-jwt-4711}\n")
    hidden = secrets(rubric.secret_values(), submission_text(tmp_path))
    assert hidden == ("rubric-only-jwt-4711",)
    said = (
        "`postgres` stopped: /var/lib/postgresql/18/docker is empty; pin `postgres:17`. "
        "The app logged JWT_SECRET=rubric-only-jwt-4711 and password postgres."
    )
    check = Check(
        "startup.up", Category.STARTUP, "Stack starts", 10, lambda _: Outcome.failed(said, said, hints=(said,))
    )
    ctx = Context(tmp_path, tmp_path, Options(), None, "grader-redaction-test", rubric, hidden)  # type: ignore[arg-type]
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
