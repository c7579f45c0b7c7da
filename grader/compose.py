"""Every compose command the grader runs, bounded and in a scrubbed environment.

testcontainers' DockerCompose drives them. It runs them without a timeout and with the whole host
environment, so GradingCompose adds a deadline to each call, a fixed project name, and
`grader.engine`'s minimal environment.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from testcontainers.compose import DockerCompose

from grader.engine import compose_command, compose_env
from grader.proc import run_bounded


@dataclass
class GradingCompose(DockerCompose):
    project_name: str = "grader"
    timeout: float = 120.0
    base_command: tuple[str, ...] = ("docker", "compose")

    @cached_property
    def compose_command_property(self) -> list[str]:
        # Named on the command line, so the project's `.env` (COMPOSE_FILE, COMPOSE_PROJECT_NAME)
        # cannot change which files and which project compose works on.
        cmd = [*self.base_command, "--project-name", self.project_name, "--project-directory", str(self.context)]
        for file in self.compose_file_name or []:
            cmd += ["-f", str(file)]
        env_files = [self.env_file] if isinstance(self.env_file, str) else self.env_file or []
        for env_file in env_files:  # instead of the project's `.env`
            cmd += ["--env-file", str(env_file)]
        return cmd

    def _run_command(self, cmd: str | list[str], context: str | None = None) -> subprocess.CompletedProcess[bytes]:
        return self.run(list(cmd) if not isinstance(cmd, str) else cmd.split(), self.timeout)

    def run(self, cmd: list[str], timeout: float, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        # Bounded: a submission controls what builds and logs print.
        return run_bounded(cmd, timeout, cwd=str(self.context), env=compose_env(), check=check)

    @contextmanager
    def bounded(self, seconds: float) -> Iterator[None]:
        """Every compose command inside takes at most `seconds` (testcontainers calls run() itself)."""
        previous, self.timeout = self.timeout, seconds
        try:
            yield
        finally:
            self.timeout = previous

    def command(self, *args: str) -> list[str]:
        return [*self.compose_command_property, *args]


def grading_compose(root: Path, files: list[str], project: str, env_file: str | None = None) -> GradingCompose:
    """Compose for `files`, with `root` as the project directory and `project` as its name."""
    return GradingCompose(
        context=str(root),
        compose_file_name=files,
        env_file=env_file,
        build=False,
        wait=False,
        project_name=project,
        base_command=compose_command(),
    )


def resolve_config(
    root: Path, files: list[Path], project: str, env_files: bool = True, timeout: float = 60
) -> tuple[dict[str, Any], str]:
    """(resolved model, compose's warnings) of the student's files alone; raises
    CalledProcessError with compose's message when the file is invalid. Without `env_files`
    compose reads no env file: the gate sees where they are before any is read."""
    compose = grading_compose(root, [str(f) for f in files], project)
    args = ["config", "--format", "json"] + ([] if env_files else ["--no-env-resolution"])
    result = compose.run(compose.command(*args), timeout)
    return json.loads(result.stdout), result.stderr.decode(errors="replace")
