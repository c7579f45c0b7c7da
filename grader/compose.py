"""The compose command line the grader runs, and `compose config` (no engine needed).

Named on the command line: the project's `.env` (COMPOSE_FILE, COMPOSE_PROJECT_NAME) cannot change
which files and which project compose works on. Run bounded (grader.proc) in `grader.engine`'s
minimal environment. grader.stack drives the rest (build, up, down) through testcontainers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader import jail
from grader.engine import CONNECTION, compose_command, compose_env
from grader.proc import COMPOSE_MEMORY, run_bounded

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
    if jail.available() is None:  # compose reads nothing but the copy (grader.jail)
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
