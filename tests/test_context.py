"""The screen before compose reads anything (no engine: Context._screen reads files only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.context import ComposeInvalid, Context, Options
from grader.rubric import parse


def screen(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    ctx = Context(tmp_path, tmp_path, Options(), client=None, project="grader-screen-test")  # type: ignore[arg-type]
    ctx._screen([tmp_path / "compose.yaml"])


@pytest.mark.parametrize(
    "files, needle",
    [
        pytest.param(
            {"compose.yaml": 'services: {a: {image: x, environment: {A: "\\x24{DOCKER_HOST}"}}}'},
            "`${DOCKER_HOST}`",
            id="yaml-escaped-dollar",
        ),
        pytest.param(
            {
                "compose.yaml": "include: [{path: sub/inc.yaml, env_file: sub/inc.env}]\nservices: {}",
                "sub/inc.yaml": "services: {b: {image: x}}",
                "sub/inc.env": "X=${DOCKER_CERT_PATH}\n",
            },
            "`${DOCKER_CERT_PATH}`",
            id="include-env-file",
        ),
        pytest.param(
            {
                "compose.yaml": "include: [sub/inc.yaml]\nservices: {}",
                "sub/inc.yaml": "services: {b: {image: x}}",
                "sub/.env": "PATH\n",
            },
            "`${PATH}`",
            id="dotenv-beside-an-include",
        ),
        pytest.param({"compose.yaml": "services: {a: {image: x}}", ".env": "A=$HOME/x\n"}, "`${HOME}`", id="dotenv"),
        pytest.param(
            {"compose.yaml": "services: {a: {image: x}}\n---\ninclude: [/etc/x.yaml]\n"},
            "2 YAML documents",
            id="two-docs",
        ),
        pytest.param(
            {"compose.yaml": 'services: {a: {image: x}}\n"\\x69nclude": [../x.yaml\n'},
            "not valid YAML",
            id="invalid-yaml",
        ),
    ],
)
def test_refused_before_compose_runs(tmp_path: Path, files: dict[str, str], needle: str) -> None:
    with pytest.raises(ComposeInvalid) as caught:
        screen(tmp_path, files)
    assert caught.value.refused and needle in caught.value.message, caught.value.message


def test_a_comment_is_not_a_reference(tmp_path: Path) -> None:
    screen(tmp_path, {"compose.yaml": "# run with ${HOME}/bin/docker\nservices: {a: {image: x, command: echo $$HOME}}"})


def test_a_service_env_file_takes_nothing_from_the_grader(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("PORT=3000\nDOCKER_CERT_PATH\n")
    ctx = Context(tmp_path, tmp_path, Options(), client=None, project="grader-screen-test")  # type: ignore[arg-type]
    with pytest.raises(ComposeInvalid, match=r"app\.env uses .*`\$\{DOCKER_CERT_PATH\}`"):
        ctx._screen_env_files([str(tmp_path / "app.env")])
    (tmp_path / "app.env").write_text("PORT=3000\n")
    ctx._screen_env_files([str(tmp_path / "app.env")])


def test_a_missing_env_file_leaves_a_model_to_analyse_and_none_to_run(tmp_path: Path) -> None:
    """compose rejects the file, but `config --no-env-resolution` reads it: the static checks grade
    that model (as if the env file were empty); `compose` and the stack still refuse it."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n  api: {build: ., env_file: .env.development, ports: ['3000:3000']}\n"
        "  db: {image: postgres, env_file: .env.development, volumes: ['pgdata:/var/lib/postgresql/data']}\n"
        "volumes: {pgdata: {}}\n"
    )
    (tmp_path / "Dockerfile").write_text("FROM node\n")
    rubric = parse("images: {postgres: 'postgres:16'}\n")
    ctx = Context(tmp_path, tmp_path, Options(), None, "grader-analysis-test", rubric)  # type: ignore[arg-type]
    with pytest.raises(ComposeInvalid) as caught:
        _ = ctx.compose
    assert caught.value.missing_env_file and caught.value.missing_env_file.endswith(".env.development")
    project = ctx.analysis()
    assert project is not None and (project.app_service(), project.db_service()) == ("api", "db")
    assert project.services["db"]["image"] == "postgres:16"  # the rubric's pin, recorded once
    assert [s.used for s in ctx.substitutions] == ["postgres:16"]
    assert ctx.missing_env_file() == caught.value.missing_env_file
    with pytest.raises(ComposeInvalid):
        _ = ctx.stack  # nothing is ever built or started from the lenient model
