"""Leftovers of runs that could not tear down (the grader killed with SIGKILL, the machine
rebooted, the engine stopped mid-teardown), and `grader cleanup` to remove them.

Every run records itself while it has something on the engine: its compose project, its PID, the
anonymous volumes it has seen (they carry no compose label, so only this record finds them once
their container is gone) and the images it builds. A normal teardown deletes the record.
`grader cleanup` removes every grader project whose run it knows has ended: what the engine
still labels with it, what its record names, and images named like its builds. A project with no
record here may be someone else's live run on a shared engine: it is kept unless named.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

PROJECT_LABEL = "com.docker.compose.project"
# grader.runner.project_name: grader-<slug>-<6 hex>. Nothing else on the engine is touched.
PROJECT_PATTERN = re.compile(r"grader-[a-z0-9-]*-[0-9a-f]{6}")
RUN_LABEL = "compose-grader.run"  # on every image a run builds (the grader's override sets it)


def runs_dir() -> Path:
    """Where runs record themselves: $XDG_STATE_HOME (or ~/.local/state)/compose-grader/runs,
    else the temporary folder when home is not writable (the grader's image as another user)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    for folder in (base / "compose-grader" / "runs", Path(tempfile.gettempdir()) / "compose-grader-runs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise OSError("no writable folder for the grader's run records")


@dataclass
class RunRecord:
    project: str
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    anonymous_volumes: list[str] = field(default_factory=list)
    built_images: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)  # image ids its builds created

    @property
    def path(self) -> Path:
        return runs_dir() / f"{self.project}.json"

    def save(self) -> None:
        """Written atomically: a crash mid-write must not lose the previous record."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=1))
        os.replace(tmp, self.path)

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)

    def alive(self) -> bool:
        """Whether the run that wrote this is still grading (same host, process exists)."""
        if self.host != socket.gethostname():
            return True  # another machine's run, on a shared engine: not ours to judge
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a zombie or a reused PID of another program is not a grader run
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return True
        return b"grader" in cmdline or b"pytest" in cmdline


def records() -> dict[str, RunRecord]:
    found: dict[str, RunRecord] = {}
    for path in runs_dir().glob("*.json"):
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            record = RunRecord(**data)
        except (OSError, ValueError, TypeError):
            continue
        found[record.project] = record
    return found


def projects_on_engine(client: docker.DockerClient) -> dict[str, set[str]]:
    """Grader projects the engine still has something of: project -> built image tags."""
    found: dict[str, set[str]] = {}
    labelled = [
        *client.containers.list(all=True, filters={"label": PROJECT_LABEL}),
        *client.networks.list(filters={"label": PROJECT_LABEL}),
        *client.volumes.list(filters={"label": PROJECT_LABEL}),
    ]
    for obj in labelled:
        labels = (obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels")) or {}
        project = labels.get(PROJECT_LABEL, "")
        if PROJECT_PATTERN.fullmatch(project):
            found.setdefault(project, set())
    # Images by the run label, not by a name pattern: a service name may contain `-a1b2c3-`, and
    # `grader-x-a1b2c3-web-d4e5f6-y:graded` must not be read as another project's image.
    for image in client.images.list(filters={"label": RUN_LABEL}):
        project = str((image.labels or {}).get(RUN_LABEL, ""))
        if PROJECT_PATTERN.fullmatch(project):
            found.setdefault(project, set()).update(image.tags)
    return found


@dataclass(frozen=True)
class Leftover:
    project: str
    # True: its run still grades; None: no record of it on this machine, so nothing tells (another
    # user's or another machine's run on a shared engine); both are left alone unless forced.
    alive: bool | None
    images: tuple[str, ...]
    anonymous_volumes: tuple[str, ...]
    layers: tuple[str, ...] = ()


def leftovers(client: docker.DockerClient) -> list[Leftover]:
    recorded = records()
    on_engine = projects_on_engine(client)
    found = []
    for project in sorted(set(recorded) | set(on_engine)):
        record = recorded.get(project)
        images = sorted(on_engine.get(project, set()) | set(record.built_images if record else []))
        found.append(
            Leftover(
                project,
                alive=record.alive() if record else None,
                images=tuple(images),
                anonymous_volumes=tuple(record.anonymous_volumes if record else []),
                layers=tuple(record.layers if record else []),
            )
        )
    return found


def remove(client: docker.DockerClient, leftover: Leftover) -> list[str]:
    """Remove one project's leftovers; what could not be removed."""
    from grader.stack import Stack  # late: stack records runs through this module

    stack = Stack(Path("."), [], leftover.project, client)
    stack.anonymous_volumes = set(leftover.anonymous_volumes)
    stack.built_images = set(leftover.images)
    stack.layers = list(leftover.layers)
    problems = stack.teardown()  # by label, then the recorded volumes and images
    if not problems:
        RunRecord(leftover.project).delete()
    return problems
