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

import fcntl
import json
import os
import re
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import docker

from grader.engine import firewall
from grader.engine.override import RUN_LABEL

PROJECT_LABEL = "com.docker.compose.project"
# grader.intake.submission.project_name: grader-<slug>-<6 hex>. Nothing else on the engine is touched.
# Removals at once: each waits on the engine; more would only queue in docker-py's 10 connections.
REMOVERS = 8
PROJECT_PATTERN = re.compile(r"grader-[a-z0-9-]*-[0-9a-f]{6}")


def runs_dir() -> Path:
    """Where runs record themselves: $XDG_STATE_HOME (or ~/.local/state)/compose-grader/runs,
    else a folder of this user's in the temporary folder when home is not writable (the grader's
    image as another user). Only a folder this user owns and nobody else may write: the records
    name images to remove, and the builds lock beside them keeps layers alive."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    temporary = Path(tempfile.gettempdir()) / f"compose-grader-runs-{os.getuid()}"
    for folder in (base / "compose-grader" / "runs", temporary):
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = folder.lstat()
        except OSError:
            continue
        own = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022
        if own and os.access(folder, os.W_OK):
            return folder
    raise OSError("no writable folder of this user's for the grader's run records")


@dataclass
class RunRecord:
    project: str
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    anonymous_volumes: list[str] = field(default_factory=list)
    built_images: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)  # image ids its builds created
    pulled: list[str] = field(default_factory=list)  # tags it pulled that no rubric pins (removed last)
    # The run has ended and its stack is gone; `pid` is its reaper's (grader.engine.reaper), which
    # removes the images, layers and pulled tags above in the background.
    reaping: bool = False
    building: bool = False  # its build runs now (the lock that guards its layers: `building()`)

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
        *client.containers.list(all=True, filters={"label": PROJECT_LABEL}, ignore_removed=True),
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
    for _, _, rule in firewall.rules():  # a run killed with its rules still on the machine
        project = firewall.owner(rule)
        if PROJECT_PATTERN.fullmatch(project):
            found.setdefault(project, set())
    for image in images(client, filters={"label": RUN_LABEL}):
        project = str((image.get("Labels") or {}).get(RUN_LABEL, ""))
        if PROJECT_PATTERN.fullmatch(project):
            found.setdefault(project, set()).update(tags(image))
    return found


def images(
    client: docker.DockerClient, all: bool = False, filters: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The engine's image list in one call. Not `client.images.list()`, which asks for each image
    again after listing them: another run's reaper removing one in between made that a 404, a
    run's `error` (seen with three runs at once)."""
    found: list[dict[str, Any]] = client.api.images(all=all, filters=filters)
    return found


def tags(image: dict[str, Any]) -> list[str]:
    """An image summary's tags (`<none>:<none>` is no tag)."""
    return [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]


def references(image: dict[str, Any]) -> list[str]:
    """Its tags and the digests it was pulled by."""
    return [*tags(image), *(d for d in image.get("RepoDigests") or [] if not d.startswith("<none>@"))]


@dataclass(frozen=True)
class Leftover:
    project: str
    # True: its run still grades; None: no record of it on this machine, so nothing tells (another
    # user's or another machine's run on a shared engine); both are left alone unless forced.
    alive: bool | None
    images: tuple[str, ...]
    anonymous_volumes: tuple[str, ...]
    layers: tuple[str, ...] = ()
    pulled: tuple[str, ...] = ()
    reaping: bool = False  # the run has ended; `alive` tells whether its reaper still works


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
                pulled=tuple(record.pulled if record else []),
                reaping=bool(record and record.reaping),
            )
        )
    return found


def remove(client: docker.DockerClient, leftover: Leftover) -> list[str]:
    """Remove one project's leftovers; what could not be removed."""
    problems = remove_labelled(
        client, leftover.project, set(leftover.anonymous_volumes), set(leftover.images), list(leftover.layers)
    )
    if not problems:  # a pulled base its own images still stand on would only lose its tag
        problems += remove_pulled(client, leftover.pulled)
    if not problems:
        RunRecord(leftover.project).delete()
    return problems


def remove_labelled(
    client: docker.DockerClient,
    project: str,
    anonymous_volumes: set[str],
    built_images: set[str],
    layers: list[str],
) -> list[str]:
    """Remove what the engine labels with the project (containers, networks, volumes), then the
    anonymous volumes, images and build layers the run recorded. Never raises; returns what could
    not be removed, sorted. Used by `grader cleanup`; a run's teardown removes its stack
    (remove_stack) and leaves its images to grader.engine.reaper."""
    problems = remove_stack(client, project, anonymous_volumes)
    problems += remove_images(client, built_images, layers)
    return sorted(problems)


def remove_stack(client: docker.DockerClient, project: str, anonymous_volumes: set[str]) -> list[str]:
    """What the engine labels with the project (containers, networks, volumes), the anonymous
    volumes the run recorded and its firewall rules: what a next run or the machine could trip
    over. Never raises; what could not be removed, sorted."""
    problems: list[str] = []
    label: dict[str, str | list[str] | bool] = {"label": f"{PROJECT_LABEL}={project}"}
    # All at once: removing a running container kills it first, and each waits on the engine.
    containers = _listed(problems, lambda: client.containers.list(all=True, filters=label, ignore_removed=True))
    with ThreadPoolExecutor(max(1, min(len(containers), REMOVERS)), "remove") as pool:
        for c in containers:
            pool.submit(_attempt, problems, f"removing container {c.name}", partial(c.remove, force=True, v=True))
    # Then the networks and volumes they used, also at once (each removal waits on the engine).
    removals: list[tuple[str, Callable[[], object]]] = [
        *(
            (f"removing network {n.name}", n.remove)
            for n in _listed(problems, lambda: client.networks.list(filters=label))
        ),
        *(
            (f"removing volume {v.name}", partial(v.remove, force=True))
            for v in _listed(problems, lambda: client.volumes.list(filters=label))
        ),
        *((f"removing volume {name}", partial(_remove_volume, client, name)) for name in sorted(anonymous_volumes)),
    ]
    with ThreadPoolExecutor(max(1, min(len(removals), REMOVERS)), "remove") as pool:
        for what, action in removals:
            pool.submit(_attempt, problems, what, action)
    problems += firewall.release(project)  # the run's rules on the machine's INPUT chain
    return sorted(problems)  # in one order, whichever removal ran first


# A build on this machine holds the builds lock shared for its whole length; an image or layer
# is removed only under it held exclusive. A layer removed while another run's build stands on it
# as its cache fails that build with `unknown parent image ID`, the engine's fault charged to a
# student (issue 21: 40 points instead of 98). The kernel releases a lock with its process, so a
# killed build holds nothing, and there is no window between "no build runs" and the removal.
BUILD_WAIT_S = 900.0  # a reaper waits this long for the builds of others (600 s each by default)
TEARDOWN_WAIT_S = 120.0  # a run that removes its images itself (a signal, tests, `grader cleanup`)


def _builds_lock() -> Path:
    return runs_dir() / "builds.lock"


@contextmanager
def building() -> Iterator[None]:
    """Held while this process builds: no grader run of this machine removes an image meanwhile.
    Waits while one removes (seconds). Without a lock file to open, the build goes on unguarded."""
    try:
        handle = _builds_lock().open("a+")  # readable too: NFSv4 refuses a shared lock on a write-only file
    except OSError:
        yield
        return
    with handle:
        with suppress(OSError):  # a file system without locks (NFS with nolock): unguarded, as before the lock
            fcntl.flock(handle, fcntl.LOCK_SH)
        yield


@contextmanager
def no_build(timeout: float) -> Iterator[bool]:
    """True once no build of this machine runs, held until the block ends; False when builds kept
    running for `timeout` seconds (then nothing may be removed now)."""
    try:
        handle = _builds_lock().open("a+")
    except OSError:
        yield True  # no state folder at all: no other run of this machine can record a build either
        return
    with handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.2)
            except OSError:  # a file system without locks: no build can hold one either
                break
        yield True


def remove_images(
    client: docker.DockerClient, built_images: set[str], layers: list[str], wait: float = TEARDOWN_WAIT_S
) -> list[str]:
    """The images a run built and the layers its builds created, once no build of this machine
    runs (waiting up to `wait` seconds; else they stay recorded, a problem for the caller: the
    next reaper, a batch's drain or `grader cleanup` removes them). Never raises."""
    if not built_images and not layers:
        with no_build(0) as free:
            if free:
                sweep_handed_over(client)
        return []
    problems: list[str] = []
    with no_build(wait) as free:
        if not free:
            return [f"another run kept building for {wait:.0f} s: its images and layers are removed later"]
        # The run's images and every layer its builds created, and nothing else: a class would fill
        # the disk (about 1 GB per NestJS repository). noprune everywhere: pruning would also take
        # untagged parents that existed before the run (another build's cache). A layer another
        # image still builds on is not ours to remove (409 Conflict).
        for image in sorted(built_images):
            remove = partial(client.images.remove, image, force=True, noprune=True)
            _attempt(problems, f"removing image {image}", remove)
        for layer in reversed(layers):
            _attempt(problems, f"removing layer {layer}", partial(_remove_layer, client, layer))
        sweep_handed_over(client)
    return sorted(problems)


def remove_pulled(client: docker.DockerClient, tags: Iterable[str]) -> list[str]:
    """Images a run pulled (not on the engine before it, not pinned by the rubric), by tag: one
    another run uses now is left to it (the engine refuses: 409)."""
    problems: list[str] = []
    for tag in sorted(tags):
        try:
            client.images.remove(tag)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # another run uses it now: theirs to remove
            problems.append(f"removing pulled image {tag}: {exc.explanation or exc}")
    return problems


def _remove_layer(client: docker.DockerClient, layer: str) -> None:
    with suppress(docker.errors.NotFound):
        image = client.images.get(layer)
        if image.tags or image.attrs.get("RepoDigests"):
            # Tagged since: another build reused it as its image (a cache hit). Or pulled, never
            # built here: an id a build printed (anyone's output can name a public image's id).
            return
        try:
            client.images.remove(layer, noprune=True)
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise
            # Another image builds on it: a run that built the same steps while this one ran (a
            # batch's --jobs 2) reused it as its cache. That run did not create it, so will not
            # remove it: hand it over to whichever grader run tears down next (sweep_handed_over).
            with suppress(OSError):
                (handed_over_dir() / layer).touch()


def handed_over_dir() -> Path:
    """Layers grader runs created that another run's image still built on when they tore down."""
    folder = runs_dir() / "layers"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def handed_over(client: docker.DockerClient) -> list[str]:
    """The layers grader runs made and handed over (another image still built on them when they
    tore down) that are still on the engine: `grader cleanup` lists and sweeps them too."""
    try:
        names = sorted(p.name for p in handed_over_dir().iterdir())
    except OSError:
        return []
    found = []
    for name in names:
        with suppress(docker.errors.NotFound, docker.errors.APIError):
            client.images.get(name)
            found.append(name)
    return found


def sweep_handed_over(client: docker.DockerClient) -> None:
    """Remove the handed-over layers nothing builds on any more (a chain from its top: passes
    until one removes nothing); forget those that are gone. Only layers grader runs created are
    recorded there, so nothing else on the engine is touched. Never raises. Only under `no_build`."""
    try:
        records = list(handed_over_dir().iterdir())
    except OSError:
        return
    progress = True
    while records and progress:
        progress = False
        for record in list(records):
            try:
                image = client.images.get(record.name)
                if image.tags or image.attrs.get("RepoDigests"):
                    continue  # tagged since (some build's image is this very layer), or pulled: never by id
                client.images.remove(record.name, noprune=True)
            except docker.errors.NotFound:
                pass
            except Exception:
                continue  # still built on (409), or the engine is busy: a later run tries again
            record.unlink(missing_ok=True)
            records.remove(record)
            progress = True


def _remove_volume(client: docker.DockerClient, name: str) -> None:
    client.volumes.get(name).remove(force=True)


def _listed(problems: list[str], lister: Callable[[], list[Any]]) -> list[Any]:
    try:
        return lister()
    except Exception as exc:
        problems.append(f"listing leftovers: {exc}")
        return []


def _attempt(problems: list[str], what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except docker.errors.NotFound:
        pass  # already gone: that is the goal
    except Exception as exc:
        problems.append(f"{what}: {exc}")
