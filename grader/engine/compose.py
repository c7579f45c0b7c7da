"""The compose command line the grader runs, and `compose config` (no engine needed).

Named on the command line: the project's `.env` (COMPOSE_FILE, COMPOSE_PROJECT_NAME) cannot change
which files and which project compose works on. Every command runs bounded (grader.engine.proc: a timeout,
a memory cap, output kept within bounds) in `grader.engine.connect`'s minimal environment.

`ComposeCLI` is the one adapter grader.engine.stack drives compose through (build, up, exec, logs, down).
It is the grader's own, typed, rather than testcontainers' `DockerCompose`: that class runs every
command with no timeout and the whole host environment through a private `_run_command`, and
decodes `exec` output as strict UTF-8 (a student's container printing one invalid byte raised);
overriding the private method tied every student's CI run to testcontainers' internals.
testcontainers stays where its public API serves: the container description
(`testcontainers.compose.ComposeContainer`, which grader.engine.stack fills from the engine) and
PostgresContainer in the tests.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.engine.connect import CONNECTION, compose_command, compose_env
from grader.engine.proc import COMPOSE_MEMORY, run_bounded
from grader.errors import CommandTimeout
from grader.intake import jail

# The resolved model as JSON: the screen keeps a file's expansion under 4 MiB, but JSON escapes
# some characters six times over (`<` is `\u003c`): a model past this is refused, not parsed.
MODEL_BYTES = 32 << 20


class ModelTooLarge(ValueError):
    """`compose config` printed more than MODEL_BYTES."""


def base_args(
    root: Path | str, files: list[str], project: str, env_files: list[str], base: tuple[str, ...] | None = None
) -> list[str]:
    """`docker compose --project-name P --project-directory ROOT -f ... --env-file ...`."""
    cmd = [*(compose_command() if base is None else base), "--project-name", project, "--project-directory", str(root)]
    for file in files:
        cmd += ["-f", str(file)]
    for env_file in env_files:  # instead of the project's `.env`
        cmd += ["--env-file", str(env_file)]
    return cmd


def resolve_config(
    root: Path, files: list[Path], project: str, env_files: bool = True, timeout: float = 60
) -> tuple[dict[str, Any], str]:
    """(resolved model, compose's warnings) of the student's files alone; raises
    CalledProcessError with compose's message when the file is invalid. Without `env_files`
    compose reads no env file: the gate sees where they are before any is read."""
    args = ["config", "--format", "json"] + ([] if env_files else ["--no-env-resolution"])
    env = compose_env()
    if jail.available() is None:  # compose reads nothing but the copy (grader.intake.jail)
        inside = {k: v for k, v in env.items() if k not in ("PATH", "HOME", "DOCKER_CONFIG", *CONNECTION)}
        cmd = jail.command(base_args(root, [str(f) for f in files], project, [], base=()) + args, root, inside)
        env = {}
    else:
        cmd = base_args(root, [str(f) for f in files], project, []) + args
    result = run_bounded(
        cmd, timeout, cwd=str(root), env=env, check=True, address_space=COMPOSE_MEMORY, head=MODEL_BYTES, tail=1
    )
    try:
        return json.loads(result.stdout), result.stderr.decode(errors="replace")
    except ValueError as exc:  # cut at MODEL_BYTES: what the screen let through expanded further
        raise ModelTooLarge(MODEL_BYTES) from exc


@dataclass(frozen=True)
class ComposeCLI:
    """`docker compose` for one project: its files, its name, its project directory, and the env
    files named instead of the project's `.env`. Every method has a timeout."""

    root: Path  # the project directory compose resolves relative paths from (the graded copy)
    files: tuple[str, ...]
    project: str
    env_files: tuple[str, ...] = ()
    base: tuple[str, ...] | None = None  # the compose command; None: grader.engine.connect.compose_command()

    def command(self, *args: str) -> list[str]:
        return [*base_args(self.root, list(self.files), self.project, list(self.env_files), self.base), *args]

    def run(
        self,
        args: Sequence[str],
        timeout: float,
        *,
        check: bool = True,
        watch: Callable[[bytes], None] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """`docker compose ... ARGS`; CalledProcessError with `check` when it fails, CommandTimeout
        (with the output so far) past `timeout`. Bounded: a submission controls what builds and
        logs print."""
        return run_bounded(
            self.command(*args),
            timeout,
            cwd=str(self.root),
            env=compose_env(),
            check=check,
            address_space=COMPOSE_MEMORY,
            watch=watch,
        )

    def build(self, timeout: float, watch: Callable[[bytes], None] | None = None) -> subprocess.CompletedProcess[bytes]:
        """Every service's build, with the classic builder's plain lines (the layers are read from them)."""
        return self.run(["--progress", "plain", "build"], timeout, check=False, watch=watch)

    def up(self, timeout: float) -> None:
        """Start every service in the background from the images `build` made. `--no-build`: a
        missing image is an error, never a build from a copy a container may have changed since."""
        self.run(["up", "--detach", "--no-build"], timeout)

    def exec(self, service: str, command: Sequence[str], timeout: float) -> tuple[str, int]:
        """(stdout and stderr, exit code) of a command in the service's container. One the
        submission makes hang (a FIFO to `cat`) ends at `timeout` with code 124, like timeout(1)."""
        try:
            result = self.run(["exec", "-T", service, *command], timeout, check=False)
        except CommandTimeout as exc:
            return exc.output, 124
        # A failed command's stdout alone, as the checks' feedback has always quoted it (its stderr
        # is compose's and the engine's wording around it).
        output = result.stdout + result.stderr if result.returncode == 0 else result.stdout
        return output.decode(errors="replace"), result.returncode

    def logs(self, service: str, tail: int, timeout: float = 30) -> str:
        result = self.run(["logs", "--no-color", "--no-log-prefix", "--tail", str(tail), service], timeout, check=False)
        return (result.stdout + result.stderr).decode(errors="replace")

    def down(self, remove_volumes: bool, timeout: float) -> None:
        """Remove the project's containers and networks (`--volumes`: its volumes too)."""
        self.run(["down", "--remove-orphans", "--timeout", "2", *(["--volumes"] if remove_volumes else [])], timeout)
