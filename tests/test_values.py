"""grader.intake.values: what a repository expects from the files it keeps out of git, and which of it
nothing supplies (the instructor's to give, never the student's deduction)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.intake import values
from grader.intake.project import ComposeProject
from grader.intake.resolve import Resolution
from grader.intake.rubric import Rubric
from grader.intake.values import Expected, Gap
from grader.model import Outcome, Status
from grader.run.context import Options, StackContext
from grader.run.verdicts import STARTUP_CRASHED, STARTUP_FAILING, charged_to_values


@pytest.mark.parametrize(
    ("text", "names"),
    [
        pytest.param("${DB_PASSWORD}", {"DB_PASSWORD"}, id="braced"),
        pytest.param("$DB_PASSWORD", {"DB_PASSWORD"}, id="bare"),
        pytest.param("${PORT:-3000}:3000", set(), id="default"),
        pytest.param("${PORT-3000}", set(), id="default-unset-only"),
        pytest.param("${TLS:+on}", set(), id="alternative"),
        pytest.param("${SECRET:?set SECRET}", {"SECRET"}, id="required-with-message"),
        pytest.param("$$HOME and $${USER}", set(), id="escaped"),
        pytest.param("${A:-${B}}", set(), id="nested-default"),
    ],
)
def test_required_interpolations(text: str, names: set[str]) -> None:
    assert values.required_interpolations(text) == names


@pytest.mark.parametrize(
    ("source", "names"),
    [
        pytest.param("host: process.env.DB_HOST,", {"DB_HOST"}, id="process-env"),
        pytest.param("password: process.env['DB_PASSWORD'],", {"DB_PASSWORD"}, id="process-env-bracket"),
        pytest.param("port: Number(process.env.DB_PORT || 5432)", set(), id="or-fallback"),
        pytest.param("port: process.env.PORT ?? 3000", set(), id="nullish-fallback"),
        pytest.param("if (process.env.NODE_ENV === 'production')", set(), id="comparison"),
        pytest.param("ssl: process.env.DB_SSL ? {} : false", set(), id="ternary"),
        pytest.param("secret: configService.get('JWT_SECRET'),", {"JWT_SECRET"}, id="config-get"),
        pytest.param("this.configService.get<string>('DB_DATABASE')", {"DB_DATABASE"}, id="config-get-typed"),
        pytest.param("config.get('PORT', 3000)", set(), id="config-get-default"),
        pytest.param("config.getOrThrow('TOKEN_SECRET', 'x')", {"TOKEN_SECRET"}, id="get-or-throw"),
        pytest.param("cache.get('KEY')", set(), id="not-config"),
        pytest.param("process.env.lowercase", set(), id="not-a-variable-name"),
    ],
)
def test_required_in_source(source: str, names: set[str]) -> None:
    assert values.required_in_source(source) == names


def test_kept_out_of_git_by_name_or_by_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules\n/config/secrets.conf\n# settings.ini\n")
    assert values.kept_out_of_git(tmp_path, ".env")
    assert values.kept_out_of_git(tmp_path, "./.env.development")
    assert values.kept_out_of_git(tmp_path, "config/app.env")
    assert values.kept_out_of_git(tmp_path, "config/secrets.conf")
    assert not values.kept_out_of_git(tmp_path, "settings.ini")  # a comment, not a pattern
    assert not values.kept_out_of_git(tmp_path, "config/app.conf")  # a file the student forgot


COMPOSE = """
services:
  api:
    build: .
    env_file: .env.development
    ports: ["${API_PORT}:3000"]
  db:
    image: postgres:16
    env_file: [.env.development]
  pgadmin:
    image: dpage/pgadmin4
    environment:
      PGADMIN_DEFAULT_PASSWORD: ${PGADMIN_PASSWORD:-admin}
"""


def _repository(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.module.ts").write_text(
        "TypeOrmModule.forRoot({ host: process.env.DB_HOST, port: +process.env.DB_PORT || 5432 });\n"
        "JwtModule.register({ secret: configService.get('TOKEN_SECRET') });\n"
    )
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "index.js").write_text("process.env.NOT_THE_STUDENTS")
    (tmp_path / ".env.development.example").write_text("DB_DATABASE=\nUSERS_PASSWORD=changeme\n")
    return tmp_path


def test_what_a_repository_expects_from_the_files_it_does_not_commit(tmp_path: Path) -> None:
    root = _repository(tmp_path)
    missing = values.absent(root, COMPOSE)
    assert missing == {".env.development", ".env"}
    found = {(e.service, e.variable, e.source, e.interpolated) for e in values.expected(root, COMPOSE, missing)}
    assert found == {
        ("api", "API_PORT", ".env", True),
        # the example's keys, the names the source reads with no fallback
        ("api", "DB_DATABASE", ".env.development", False),
        ("api", "USERS_PASSWORD", ".env.development", False),
        ("api", "DB_HOST", ".env.development", False),
        ("api", "TOKEN_SECRET", ".env.development", False),
        # the postgres image refuses to start without it; it reads none of the API's keys
        ("db", "POSTGRES_PASSWORD", ".env.development", False),
    }


def test_a_committed_file_is_the_students_own(tmp_path: Path) -> None:
    root = _repository(tmp_path)
    (root / ".env.development").write_text("DB_HOST=db\n")
    (root / ".env").write_text("API_PORT=3000\n")
    assert values.absent(root, COMPOSE) == frozenset()
    assert values.expected(root, COMPOSE, values.absent(root, COMPOSE)) == []


def test_gaps_are_what_nothing_supplies() -> None:
    expectations = [
        Expected("api", "API_PORT", ".env", True),
        Expected("api", "TOKEN_SECRET", ".env.development"),
        Expected("api", "DB_HOST", ".env.development"),
        Expected("db", "POSTGRES_PASSWORD", ".env.development"),
    ]
    environments = {"api": {"DB_HOST": "db", "TOKEN_SECRET": ""}, "db": {}}
    assert values.gaps(expectations, {"API_PORT": "3000"}, environments) == (
        Gap("api", "TOKEN_SECRET", ".env.development"),  # empty is missing
        Gap("db", "POSTGRES_PASSWORD", ".env.development"),
    )
    trust = {"api": {"DB_HOST": "db", "TOKEN_SECRET": "t"}, "db": {"POSTGRES_HOST_AUTH_METHOD": "trust"}}
    assert values.gaps(expectations, {"API_PORT": "3000"}, trust) == ()


def _ctx(gaps: tuple[Gap, ...], failing: frozenset[str] = frozenset()) -> StackContext:
    config = {"services": {"api": {"build": ".", "depends_on": {"db": {}}}, "db": {"image": "postgres"}, "web": {}}}
    model = ComposeProject(Path("compose.yaml"), Path("."), config, "")
    stand_in: Any = None  # neither the Dockerfile nor the stack is read here
    ctx = StackContext(
        root=Path("."),
        options=Options(),
        project_name="p",
        rubric=Rubric(),
        resolution=Resolution((), project=model),
        dockerfile=stand_in,
        gaps=gaps,
        project=model,
        stack=stand_in,
    )
    ctx.stash[STARTUP_CRASHED] = ctx.stash[STARTUP_FAILING] = failing  # as startup.up leaves them
    return ctx


MISSING = (Gap("db", "POSTGRES_PASSWORD", ".env"),)


@pytest.mark.parametrize(
    ("gaps", "failing", "status"),
    [
        pytest.param(MISSING, frozenset({"db"}), Status.ERROR, id="the-service-that-lacks-it-crashed"),
        pytest.param(MISSING, frozenset({"db", "api"}), Status.ERROR, id="and-the-api-that-waits-on-it"),
        pytest.param(MISSING, frozenset({"db", "web"}), Status.FAILED, id="and-another-the-student-broke"),
        pytest.param(MISSING, frozenset({"api"}), Status.FAILED, id="only-another-service-failed"),
        pytest.param(MISSING, frozenset(), Status.FAILED, id="nothing-failed-to-start"),
        pytest.param((), frozenset({"db"}), Status.FAILED, id="nothing-missing"),
    ],
)
def test_a_startup_that_fails_for_a_missing_value_is_the_instructors(
    gaps: tuple[Gap, ...], failing: frozenset[str], status: Status
) -> None:
    outcome = charged_to_values(_ctx(gaps, failing), Outcome.failed("db stopped", "log"))
    assert outcome.status is status
    if status is Status.ERROR:
        assert "`POSTGRES_PASSWORD` (`db`, `.env`)" in outcome.feedback
        assert "`environment:`" in outcome.feedback
        assert outcome.evidence == "db stopped\nlog"  # what the student's stack said is kept


def test_a_pass_is_never_touched() -> None:
    assert charged_to_values(_ctx(MISSING, frozenset({"db"})), Outcome.passed("ok")).status is Status.PASSED


def test_a_survey_counts_what_the_compose_file_and_the_examples_supply(tmp_path: Path) -> None:
    from grader.classroom.survey import needs
    from grader.intake.rubric import parse

    (tmp_path / "Dockerfile").write_text("FROM node:18\n")
    (tmp_path / "index.js").write_text("connect(process.env.DB_HOST, process.env.TOKEN_SECRET)\n")
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n"
        "  api: {build: ., env_file: .env}\n"
        "  db:\n    image: postgres\n    env_file: .env\n    environment: {POSTGRES_PASSWORD: written-here}\n"
    )
    (tmp_path / ".env.example").write_text("DB_HOST=db\nTOKEN_SECRET=\n")
    # no grading values: the committed example stands in, with what it gives
    found = needs(tmp_path, parse(""))
    assert [(m.service, m.variable) for m in found.missing] == [("api", "TOKEN_SECRET")]
    # the instructor's values replace the example entirely (grader.run.prepare steps 0 and 2)
    found = needs(tmp_path, parse("environment: {variables: {TOKEN_SECRET: t}}"))
    assert [(m.service, m.variable) for m in found.missing] == [("api", "DB_HOST")]


def test_what_the_student_writes_is_theirs_and_what_compose_fills_from_dotenv_is_not(tmp_path: Path) -> None:
    (tmp_path / "index.js").write_text("listen(process.env.PORT); sign(process.env.DECOY); db(process.env.DB_HOST)\n")
    (tmp_path / "Dockerfile").write_text("FROM node:18\nENV PORT=3000 NODE_ENV=production\n")
    compose = (
        "services:\n"
        "  api: {build: ., env_file: .env, environment: {DECOY: ''}}\n"  # blanked on purpose: theirs
        "  db:\n    image: postgis/postgis:16-3.4\n    environment: [POSTGRES_PASSWORD]\n"  # filled from .env
        "  cache: {image: redis, env_file: .env}\n"
    )
    missing = values.absent(tmp_path, compose)
    assert missing == {".env"}  # no `$` in the file, but a name compose fills from .env
    found = {(e.service, e.variable, e.interpolated) for e in values.expected(tmp_path, compose, missing)}
    # PORT comes from the image's ENV, DECOY from the compose file: neither is the instructor's
    assert found == {("api", "DB_HOST", False), ("db", "POSTGRES_PASSWORD", True)}


def test_source_reads_outside_the_repository_or_past_a_fifo_are_never_made(tmp_path: Path) -> None:
    import os

    (tmp_path / "src").mkdir()
    os.mkfifo(tmp_path / "src" / "pipe.js")  # opening it would hang
    (tmp_path / "src" / "link.js").symlink_to("/etc/hostname")
    (tmp_path / "src" / "main.ts").write_text("process.env.REAL")
    assert values.source_names(tmp_path) == {"REAL"}
    outside = tmp_path.parent / "outside.Dockerfile"
    outside.write_text("ENV LEAK=1\n")
    assert values.image_env(tmp_path, str(outside)) == set()
    assert values.image_env(tmp_path / "src", "../../outside.Dockerfile") == set()
