"""Where the grader runs and how it reaches a stack: at the service containers' addresses, on the
engine's host directly (the run's bridges have an address there), inside its own container (the
grader's image with the engine's socket) by joining the stack's networks; on Docker Desktop,
through ports published on 127.0.0.1."""

from __future__ import annotations

import re
import socket
from contextlib import suppress
from pathlib import Path
from typing import NamedTuple

import docker

PROJECT_LABEL = "com.docker.compose.project"


class Endpoint(NamedTuple):
    host: str
    port: int

    @property
    def url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


def own_container(client: docker.DockerClient) -> str | None:
    """The id of the container the grader runs in, if it is a container of the engine it drives
    (the grader's image with the socket mounted); None on the engine's host. /.dockerenv alone
    proves nothing: a sandbox can have one and run its own engine inside.

    Docker mounts /etc/hostname from /var/lib/docker/containers/<id>/ (seen in mountinfo with
    cgroup v1 and v2); the hostname is the short id unless --hostname was given."""
    candidates: list[str] = []
    with suppress(OSError):
        candidates += re.findall(r"/containers/([0-9a-f]{64})/", Path("/proc/self/mountinfo").read_text())
    hostname = socket.gethostname()
    if re.fullmatch(r"[0-9a-f]{12}", hostname):
        candidates.append(hostname)
    for candidate in dict.fromkeys(candidates):
        with suppress(docker.errors.NotFound, docker.errors.APIError):
            container = client.containers.get(candidate)
            if container.id and container.id.startswith(candidate):
                return str(container.id)
    return None


def shares_host_network(client: docker.DockerClient, container_id: str) -> bool:
    """Whether the grader's container runs on the host's network (`network_mode: host`)."""
    with suppress(docker.errors.NotFound, docker.errors.APIError):
        return bool(client.containers.get(container_id).attrs.get("HostConfig", {}).get("NetworkMode") == "host")
    return False


def covers_path(folder: str, path: Path) -> bool:
    top = Path(folder)
    return path == top or top in path.parents


def engine_sees(client: docker.DockerClient, grader_container: str | None, path: Path) -> bool:
    """Whether a bind mount of `path` would mount these very files: always on the engine's host;
    inside the grader's container only when `path` lies in a folder mounted at the same path
    (e.g. -v /tmp/compose-grader:/tmp/compose-grader), else the engine would create an empty
    folder on the host."""
    if grader_container is None:
        return True
    mounts = client.containers.get(grader_container).attrs.get("Mounts") or []
    return any(
        m.get("Type") == "bind" and m.get("Source") == m.get("Destination") and covers_path(m["Destination"], path)
        for m in mounts
    )


def join(client: docker.DockerClient, grader_container: str, project: str, joined: list[str]) -> list[str]:
    """Connect the grader's container to the project's networks it has not joined yet; all joined."""
    for network in client.networks.list(filters={"label": f"{PROJECT_LABEL}={project}"}):
        if network.name and network.name not in joined:
            network.connect(grader_container)
            joined = [*joined, network.name]
    return joined


def leave(client: docker.DockerClient, grader_container: str, joined: list[str]) -> None:
    """Before `down`: a network with the grader still attached cannot be removed."""
    for name in joined:
        with suppress(docker.errors.NotFound, docker.errors.APIError):
            client.networks.get(name).disconnect(grader_container, force=True)


def address(client: docker.DockerClient, container_id: str, joined: list[str] | None) -> str | None:
    """The container's address on the first of the joined networks it is on (None: on any)."""
    networks = client.containers.get(container_id).attrs["NetworkSettings"]["Networks"] or {}
    for name in networks if joined is None else joined:
        found = (networks.get(name) or {}).get("IPAddress")
        if found:
            return str(found)
    return None


def host_routes(client: docker.DockerClient, grader_container: str) -> str | None:
    """The route table of the engine's machine (/proc/net/route), read by a throwaway container
    of the grader's own image on the host's network: from inside the grader's container, its own
    routes are all it sees. None when the engine cannot run it."""
    image = client.containers.get(grader_container).image
    if image is None:
        return None
    with suppress(docker.errors.DockerException):
        output = client.containers.run(
            str(image.id),
            ["cat", "/proc/net/route"],
            entrypoint=[],
            network_mode="host",
            remove=True,
            read_only=True,
            cap_drop=["ALL"],
            labels={"compose-grader.routes": "1"},
        )
        return output.decode(errors="replace") if isinstance(output, bytes) else None
    return None
