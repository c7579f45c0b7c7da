"""One submission's stack on the engine: prepared behind the security gate, built, started,
watched, taken down, and always removed with everything it created (teardown)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import docker
from dockerfile_parse import DockerfileParser
from testcontainers.compose import ComposeContainer, PublishedPortModel

from grader.engine import firewall, networks
from grader.engine.cleanup import RunRecord, building, images, references, remove_images, remove_pulled, remove_stack
from grader.engine.compose import ComposeCLI
from grader.engine.connect import compose_command
from grader.engine.firewall import BRIDGE_OPTION, bridge_name
from grader.engine.limits import Limits
from grader.engine.networks import PROJECT_LABEL, Endpoint
from grader.engine.override import POSTGRES_PORT, build_network_name, built_image_name, frozen_model, render_override
from grader.errors import CommandTimeout, GateClosed, InfrastructureError
from grader.intake.dockerfile import MAX_DOCKERFILE_BYTES, without_bom
from grader.intake.policy import findings
from grader.intake.untrusted import inside

VOLUME_LABEL = "com.docker.compose.volume"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"  # `compose run`: not one of the services (never graded)
MEMORY_SAMPLE_S = 1.0  # a container's memory is sampled again this long after the last sample started
NOT_ISOLATED = (
    "the run's networks were not isolated (Docker Desktop: container addresses are inside its VM); "
    "its containers could reach this machine and its network"
)
GATEWAY_OPEN = "the run's containers could reach this machine through their network's gateway"
_INTERMEDIATE = re.compile(r"---> Running in ([0-9a-f]{12,64})")
_STEP_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$", re.MULTILINE)  # the classic builder's layers


class _StepLines:
    """The lines of a build's output that name a layer or a step's container, kept as they come
    (never the whole output: a build prints what it likes), once each: what a build made, even
    past what the bounded output keeps, even when it was interrupted. Both output streams write
    here, from their own threads."""

    MAX_LINES = 100_000  # of each kind, a few MB at most: fakes printed first do not crowd real ids out soon

    def __init__(self) -> None:
        self._carry = b""
        self._layers: dict[str, None] = {}
        self._containers: dict[str, None] = {}
        self._lock = threading.Lock()

    def output(self, chunk: bytes) -> None:
        with self._lock:
            text = self._carry + chunk
            complete, _, carry = text.rpartition(b"\n")
            self._carry = carry[-200:]  # a line split between two chunks, and no more
            for line in complete.decode(errors="replace").splitlines():
                if _STEP_IMAGE.match(line) and len(self._layers) < self.MAX_LINES:
                    self._layers[line.rstrip()] = None
                elif _INTERMEDIATE.search(line) and len(self._containers) < self.MAX_LINES:
                    self._containers[line.strip()] = None

    def text(self) -> str:
        with self._lock:
            return "\n".join([*self._layers, *self._containers, self._carry.decode(errors="replace")])


def _described(attrs: dict[str, Any]) -> ComposeContainer:
    """A container the engine inspected, in the shape `compose ps --format json` gives it (with
    the full id where compose prints 12 characters; published ports only)."""
    labels = attrs.get("Config", {}).get("Labels") or {}
    state = attrs.get("State") or {}
    publishers = [
        PublishedPortModel(URL=b.get("HostIp"), TargetPort=int(port), PublishedPort=int(b["HostPort"]), Protocol=proto)
        for key, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items()
        for port, proto in [key.split("/", 1)]
        for b in bindings or []
        if b.get("HostPort")
    ]
    return ComposeContainer(
        ID=attrs["Id"],
        Name=str(attrs.get("Name") or "").lstrip("/"),
        Project=labels.get(PROJECT_LABEL),
        Service=None if labels.get(ONEOFF_LABEL) == "True" else labels.get(SERVICE_LABEL),
        State=state.get("Status"),
        # As compose ps reports them: the engine calls a stopped container with a healthcheck
        # `unhealthy` (a one-shot that exited 0 is no crash), and keeps the last exit code of a
        # running one (a restarted service).
        Health=(state.get("Health") or {}).get("Status", "") if state.get("Status") == "running" else "",
        ExitCode=state.get("ExitCode") if state.get("Status") in ("exited", "dead") else 0,
        Publishers=publishers,
    )


def normal_reference(reference: str) -> str:
    """An image reference as the engine lists its tags: `postgres` is `postgres:latest`,
    `docker.io/library/node:18` is `node:18`."""
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        reference = reference.removeprefix(prefix)
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last or "@" in last else f"{reference}:latest"


class BuildLimiter:
    """The run's limits on every build step, as on its services. Compose has no memory, CPU or
    process limit for a build, and the classic builder runs each `RUN` in a container of its own
    with none: a fork loop or a memory hog in a step owned the machine until the build deadline.

    A step's container is one the engine reports created during the build (its events), that did
    not exist before and that no compose project labels, and whose id the build prints as
    `---> Running in <id>`: both, since the engine is shared (another user's container is created
    meanwhile) and the output is the student's (a step can print a hundred thousand fake ids: only
    ids the engine created are ever looked at, so they cost nothing). It gets the run's memory
    (no extra swap), CPU and process limits at once through the engine's update API, tens of
    milliseconds after it started; the kernel enforces them on what it already started too. One
    that cannot be limited (cgroup v1 refuses a memory limit below what the step already uses) is
    killed: the step fails, and the build's feedback names the limits."""

    RECENT = 65_536  # output ids kept for an engine event that arrives after its line (about 6 MB)

    def __init__(self, client: docker.DockerClient, limits: Limits, containers_before: set[str]) -> None:
        self.client, self.limits, self.before = client, limits, containers_before
        self.limited: set[str] = set()  # full ids
        self._created: set[str] = set()  # full ids the engine created during the build, not compose's
        self._recent: deque[str] = deque(maxlen=self.RECENT)
        self._lock = threading.Lock()
        self._carry = b""
        self._pool = ThreadPoolExecutor(2, "build-limits")
        self._events: Any = client.events(decode=True, filters={"type": "container", "event": "create"})
        self._listener = threading.Thread(target=self._listen, name="build-events", daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        with suppress(Exception):  # the stream closed by close(), or the engine went away
            for event in self._events:
                actor = event.get("Actor") or {}
                full = str(actor.get("ID") or event.get("id") or "")
                if not full or full in self.before or PROJECT_LABEL in (actor.get("Attributes") or {}):
                    continue
                with self._lock:
                    self._created.add(full)
                    printed = any(full.startswith(short) for short in self._recent)
                if printed:
                    self._submit(full)

    def created(self) -> set[str]:
        """The full ids of the containers the engine created during the build (its events)."""
        with self._lock:
            return set(self._created)

    def output(self, chunk: bytes) -> None:
        text = self._carry + chunk
        self._carry = text[-100:]  # an id split between two chunks
        for short_id in set(_INTERMEDIATE.findall(text.decode(errors="replace"))):
            with self._lock:
                created = [full for full in self._created if full.startswith(short_id)]
                if not created:
                    self._recent.append(short_id)
            for full in created:
                self._submit(full)

    def _submit(self, full: str) -> None:
        with self._lock:
            if full in self.limited:
                return
            self.limited.add(full)
        self._pool.submit(self._limit, full)

    def close(self) -> None:
        with suppress(Exception):
            self._events.close()
        self._listener.join(5)
        self._pool.shutdown(wait=True)

    def _limit(self, container_id: str) -> None:
        memory, quota = self.limits.memory_bytes, int(self.limits.cpus * 100_000)
        resources = {
            "Memory": memory,
            "MemorySwap": memory,
            "CpuPeriod": 100_000,
            "CpuQuota": quota,
            "PidsLimit": self.limits.pids,
        }
        api: Any = self.client.api  # docker-py's update() has no PidsLimit; the engine's API does
        try:
            api._result(api._post_json(api._url("/containers/{0}/update", container_id), data=resources), True)
        except docker.errors.NotFound:
            return  # the step is over
        except docker.errors.APIError as exc:
            # Over the limit already (cgroup v1: "device or resource busy"): a step the grader
            # cannot bound does not run on. Any other refusal (a kernel without a controller) is
            # the machine's, and stopping every student's build for it would be worse.
            if "busy" in str(exc).lower() or "memory" in str(exc).lower():
                with suppress(docker.errors.NotFound, docker.errors.APIError):
                    self.client.api.kill(container_id)


class DiskWatch:
    """Stops the run's containers once the run wrote more than its disk limit: its containers'
    writable layers (the engine's SizeRw), its volumes, named and anonymous (their folders on this
    machine, where the grader can read them), and the copy (bind mounts write there). overlay2 on
    ext4, as here, cannot cap a layer (`storage_opt: size` needs xfs with project quotas), and a
    container that fills the machine's disk stops every other run and the engine itself. A stopped
    container gets no restart; the services' states then say why (ServiceState.disk_full)."""

    INTERVAL_S = 1.0

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.stopped: set[str] = set()  # containers stopped for disk
        self._steps: dict[str, int] = {}  # build step container -> its size at the last look
        self.blind_to_volumes = False  # a volume's folder it could not read (the report says so)
        self.used = 0  # bytes at the last look
        self._over = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="disk-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._over.set()
        if self._thread is not None:
            self._thread.join(10)

    def _watch(self) -> None:
        while not self._over.wait(self.INTERVAL_S):
            with suppress(Exception):  # the engine busy, a container gone: look again next time
                self.used = self.usage()
                if self.used > self.stack.limits.disk_bytes:
                    self._stop_all()

    def usage(self) -> int:
        stack, api = self.stack, cast(Any, self.stack.client.api)  # docker-py's inspect has no size=1
        label: dict[str, str | list[str] | bool] = {"label": f"{PROJECT_LABEL}={stack.project}"}
        budget = stack.limits.disk_bytes
        total = _blocks(stack.root, budget)
        steps = set(stack.build_steps)
        containers = {
            str(c.id) for c in stack.client.containers.list(all=True, filters=label, ignore_removed=True)
        } | steps
        # A build step's container goes once its layer is committed; the layer stays until
        # teardown, so a step's last size still counts after it is gone.
        total += sum(size for step, size in self._steps.items() if step not in containers)
        for container_id in containers:
            with suppress(docker.errors.NotFound):
                before = total
                info: Any = api.inspect_container(container_id)
                upper = Path(str(((info.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir") or ""))
                if upper.is_absolute() and os.access(upper, os.R_OK | os.X_OK):
                    total += _blocks(upper, budget - total)  # empty files and folders count too
                else:  # not readable here (not root): the engine's count, which skips empty files
                    sized = api._result(
                        api._get(api._url("/containers/{0}/json", container_id), params={"size": 1}), True
                    )
                    total += int(sized.get("SizeRw") or 0)
                if container_id in steps:
                    self._steps[container_id] = total - before
        names = {str(v.name) for v in stack.client.volumes.list(filters=label)} | stack.anonymous_volumes
        for name in names:
            with suppress(docker.errors.NotFound, docker.errors.APIError):
                mountpoint = Path(str(stack.client.volumes.get(name).attrs.get("Mountpoint") or "/nonexistent"))
                if not os.access(mountpoint, os.R_OK | os.X_OK):  # not root, or the grader's container
                    self.blind_to_volumes = True
                total += _blocks(mountpoint, budget - total)
        return total

    def _stop_all(self) -> None:
        label: dict[str, str | list[str] | bool] = {"label": f"{PROJECT_LABEL}={self.stack.project}"}
        containers = self.stack.client.containers.list(filters=label, ignore_removed=True)
        # All marked first: a check reading the states meanwhile sees the whole run stopped for
        # disk (one cause, deducted once by startup), not one service now and another later.
        self.stopped |= {str(c.id) for c in containers}
        for container in containers:
            with suppress(docker.errors.NotFound, docker.errors.APIError):
                container.update(restart_policy={"Name": "no", "MaximumRetryCount": 0})  # type: ignore[arg-type]  # the stub omits "no"
                container.kill()
        for step in set(self.stack.build_steps):  # a build step writing: the build fails
            with suppress(docker.errors.NotFound, docker.errors.APIError):
                self.stack.client.api.kill(step)


def _bases(path: Path, root: Path, args: dict[str, str]) -> tuple[str, ...]:
    """The images a build of this Dockerfile pulls: its FROMs (stages excluded, the service's
    `build.args` over the ARG defaults, as the builder reads them) and `COPY --from=<image>`.
    A link inside the repository is followed, as the builder does; none when it cannot be read."""
    try:
        real = path.resolve()
        if not inside(real, root) or not real.is_file() or real.stat().st_size > MAX_DOCKERFILE_BYTES:
            return ()
        parser = DockerfileParser(fileobj=io.BytesIO(without_bom(real.read_text(errors="replace")).encode()))
        parser.build_args = {str(k): str(v) for k, v in args.items()}
        stages = {
            str(p.split()[-1]).lower()
            for p in (i["value"] for i in parser.structure if i["instruction"] == "FROM")
            if len(p.split()) >= 3
        }
        found = [i for i in parser.parent_images if i.lower() not in stages and i != "scratch"]
        for item in parser.structure:
            if item["instruction"] in ("COPY", "ADD"):
                for word in str(item["value"]).split():
                    source = word.split("=", 1)[1] if word.lower().startswith("--from=") else ""
                    if source and source.lower() not in stages and not source.isdigit():
                        found.append(source)
        return tuple(found)
    except (OSError, ValueError):
        return ()


ENTRY_BYTES = 4096  # what a file or folder costs at least: an inode, a directory entry


def _blocks(folder: Path, budget: int) -> int:
    """Bytes a folder takes on disk: allocated blocks (a sparse file costs what it holds), and at
    least ENTRY_BYTES an entry (a million empty files exhaust the inodes). Stops counting past
    `budget`, so a folder of millions of entries cannot make each look take minutes."""
    total = 0
    for top, dirs, names in os.walk(folder):
        for name in [*names, *dirs]:
            with suppress(OSError):
                total += max(os.lstat(os.path.join(top, name)).st_blocks * 512, ENTRY_BYTES)
        if total > budget:
            break
    return total


@dataclass
class Stack:
    """Everything the grader starts for one run, and the guarantee that it all goes away."""

    root: Path  # the graded copy: the project directory compose resolves relative paths from
    project: str
    client: docker.DockerClient
    # The id of the container the grader itself runs in (its image), or None on the engine's host
    # (grader.engine.networks.own_container, looked up once when the run is prepared).
    grader_container: str | None = None
    # That container shares the host's network (`network_mode: host`, the grading service's
    # worker): the grader reaches stacks and guards bridges as on the host; only its files are a
    # container's (engine_sees).
    host_network: bool = False
    anonymous_volumes: set[str] = field(default_factory=set)
    built_images: set[str] = field(default_factory=set)
    layers: list[str] = field(default_factory=list)  # image ids the run's builds created, in order
    _override_dir: tempfile.TemporaryDirectory[str] | None = None
    _compose: ComposeCLI | None = None
    limits: Limits = field(default_factory=Limits)  # set by prepare(); the stop graces come from it
    started: bool = False
    _joined: list[str] = field(default_factory=list)
    _memory: dict[str, tuple[float, bool]] = field(default_factory=dict)  # container -> (when, full)
    _sampling: set[str] = field(default_factory=set)  # containers with a memory sample under way
    _memory_lock: threading.Lock = field(default_factory=threading.Lock)
    _sampler: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, "memory-sample"))
    _sampling_over: bool = False  # no more samples: the stack is being removed
    # Networks internal on bridges of the run's own, probes by container address (grader.engine.firewall);
    # `bridges` are guarded by the machine's firewall once `up` starts, `notes` say what could not be.
    isolated: bool = False
    bridges: list[str] = field(default_factory=list)
    build_network: str | None = None  # the grader's network for build steps, when it can guard it
    # Images a run pulls (a FROM its build needed, a service's `image:`) that were not on the engine
    # before it are removed at teardown, unless the rubric pins them (course images, kept warm).
    keep_images: frozenset[str] = frozenset()
    wanted_images: set[str] = field(default_factory=set)  # references the run needed, normalised
    _tags_before: set[str] | None = None
    _dockerfiles: list[tuple[Path, dict[str, str]]] = field(default_factory=list)  # (path, build.args) it builds
    notes: list[str] = field(default_factory=list)
    _guarded: bool = False
    disk: DiskWatch | None = None  # from the first build or `up` to teardown
    build_steps: set[str] = field(default_factory=set)  # the build's step containers (BuildLimiter)

    @property
    def in_container(self) -> bool:
        """Whether the grader's network is a container's: it joins the stack's networks to reach
        them, and cannot guard the host's INPUT chain."""
        return self.grader_container is not None and not self.host_network

    def prepare(
        self, config: dict[str, Any], db_service: str | None, limits: Limits | None = None, db_port: int = POSTGRES_PORT
    ) -> None:
        """After the security gate, write the model the gate saw and the grader's override to a
        folder of the grader's; every later compose command (build, up, down, logs, exec) reads
        those two, never the student's files again: a container that can write to the copy (a
        bind mount of `.`) cannot rewrite the compose file, `.env` or an env file between the
        gate and the second `up`. A refused model raises GateClosed and leaves nothing that can
        build or start (`compose` stays unset)."""
        self.limits = limits or Limits()
        refused = findings(config, self.root, self.limits.services)
        if refused:
            raise GateClosed("; ".join(refused))
        self._isolate(config)
        self._override_dir = tempfile.TemporaryDirectory(prefix="grader-override-")
        folder = Path(self._override_dir.name)
        (folder / "model.json").write_text(json.dumps(frozen_model(config)))
        override = render_override(
            config, self.project, db_service, self.limits, db_port, self.isolated, self.build_network
        )
        (folder / "grader.engine.override.yaml").write_text(override)
        (folder / "empty.env").write_text("")
        self._compose = ComposeCLI(
            self.root,
            (str(folder / "model.json"), str(folder / "grader.engine.override.yaml")),
            self.project,
            env_files=(str(folder / "empty.env"),),
            base=tuple(compose_command()),
        )
        self.built_images = {
            built_image_name(self.project, n) for n, s in (config.get("services") or {}).items() if s.get("build")
        }
        self.wanted_images = {
            normal_reference(str(s["image"]))
            for s in (config.get("services") or {}).values()
            if s.get("image") and not s.get("build")
        }
        self._dockerfiles = [
            (
                Path(s["build"].get("context") or self.root) / str(s["build"].get("dockerfile") or "Dockerfile"),
                {str(k): str(v) for k, v in (s["build"].get("args") or {}).items() if v is not None},
            )
            for s in (config.get("services") or {}).values()
            if isinstance(s.get("build"), dict) and not s["build"].get("dockerfile_inline")
        ]

    def _isolate(self, config: dict[str, Any]) -> None:
        """Whether the run's networks are internal (the grader reaches its containers at their
        addresses: on the engine's Linux host, or from inside the grader's container, which joins
        them), and which bridges the firewall guards. Docker Desktop keeps container addresses
        inside its VM: there the grader publishes ports on 127.0.0.1 as before, and says so."""
        desktop = "Docker Desktop" in str(self.client.info().get("OperatingSystem", ""))
        self.isolated = self.in_container or (sys.platform.startswith("linux") and not desktop)
        if not self.isolated:
            self.notes.append(NOT_ISOLATED)
            return
        self.bridges = [bridge_name(self.project, key) for key in config.get("networks") or {}]
        why = "the grader runs in a container" if self.in_container else firewall.unavailable()
        if why is not None and self.bridges:
            self.notes.append(f"{GATEWAY_OPEN} ({why})")
        if why is None and any(s.get("build") for s in (config.get("services") or {}).values()):
            # Build steps fetch packages, so their network is not internal; guarded all the same.
            self.build_network = build_network_name(self.project)

    def guard(self) -> None:
        """Before anything builds or starts: the machine's firewall drops what the run's
        containers and build steps start towards it (grader.engine.firewall), and the build network
        exists. Once: the rules name the bridges, which `up` recreates."""
        if self._guarded or self.in_container or firewall.unavailable() is not None:
            return
        self._guarded = True
        self._record()
        build_bridge = bridge_name(self.project, "grader-build")
        problems = firewall.guard(self.project, self.bridges, [build_bridge] if self.build_network else [])
        if problems:
            raise InfrastructureError(f"the firewall rules of the run could not be added: {'; '.join(problems)}")
        if self.build_network:
            self.client.networks.create(
                self.build_network,
                driver="bridge",
                options={BRIDGE_OPTION: build_bridge},
                labels={PROJECT_LABEL: self.project},  # removed with the run's networks
            )

    @property
    def compose(self) -> ComposeCLI:
        if self._compose is None:  # defensive: the runner never hands out a stack prepare() refused
            raise GateClosed("Stack.prepare() has not passed the security gate: nothing may build or start")
        return self._compose

    def discard(self) -> None:
        """Forget a prepared stack nothing was started from: its override folder only."""
        self._stop_sampling()
        if self._override_dir is not None:
            self._override_dir.cleanup()
        self._compose = None

    # -- lifecycle ---------------------------------------------------------------------------
    def _record(self, building: bool = False) -> None:
        """Note this run on disk while it has something on the engine, so `grader cleanup` can
        remove it even if this process is killed (SIGKILL runs no `finally`). `building`: for
        `grader cleanup`'s listing; what keeps layers from removal is grader.engine.cleanup.building."""
        self.started = True
        with suppress(OSError):
            RunRecord(
                self.project,
                anonymous_volumes=sorted(self.anonymous_volumes),
                built_images=sorted(self.built_images),
                layers=list(self.layers),
                building=building,
            ).save()

    def _snapshot_tags(self) -> None:
        """The image tags on the engine before the run's first build or `up` (which pull)."""
        if self._tags_before is None:
            self._tags_before = {t for i in images(self.client) for t in references(i)}

    def build(self, timeout: float) -> subprocess.CompletedProcess[bytes]:
        compose = self.compose  # GateClosed before anything is recorded or built
        self._snapshot_tags()
        # The bases the builder will pull, from the Dockerfiles as they are now (pins applied),
        # never from the build's output, which a step can fill with any `FROM` line.
        self.wanted_images |= {normal_reference(ref) for ref in self.bases()}
        self.guard()
        # one call each (docker-py's list asks again per container: another run's teardown removing
        # one in between was a 404, this run's `error`)
        before = self._image_ids(), {str(c["Id"]) for c in self.client.api.containers(all=True)}
        self._record(building=True)  # a build leaves images behind even when it fails
        self.watch_disk()
        limiter = BuildLimiter(self.client, self.limits, before[1])
        self.build_steps = limiter.limited  # the same set: the disk watch sees each step as it is limited
        steps = _StepLines()

        def watch(chunk: bytes) -> None:
            limiter.output(chunk)
            steps.output(chunk)

        # The layers are read from the output as it streamed (steps), never only from the bounded
        # output a command keeps: a build printing more than that would leave its middle layers.
        try:
            with building():  # no run of this machine removes a layer this build may stand on
                result = compose.build(timeout, watch=watch)
        except CommandTimeout as exc:
            self._after_build(exc.output + "\n" + steps.text(), before[0], limiter.created())
            raise
        except BaseException:  # Ctrl-C, SIGTERM: the layers made so far are recorded, so teardown removes them
            with suppress(Exception):
                self._after_build(steps.text(), before[0], limiter.created())
            raise
        finally:
            limiter.close()
        output = (result.stdout + result.stderr).decode(errors="replace")
        self._after_build(output + "\n" + steps.text(), before[0], limiter.created())
        return result

    def _image_ids(self) -> set[str]:
        """Short ids of every image on the engine, layers included."""
        return {str(i["Id"]).split(":")[-1][:12] for i in images(self.client, all=True)}

    def _after_build(self, output: str, images_before: set[str], step_containers: set[str]) -> None:
        """Note the layers this build created (the classic builder prints each step's image id;
        a cached step prints one that existed before and is not ours), so teardown removes them
        even when the build failed and left no tagged image; remove a failed step's container.
        The output is the student's too (`RUN echo ' ---> <id>'`, a hundred thousand `Running in`
        lines): a layer counts only if it did not exist before the build and does now, a
        container only if the engine's events showed it created during the build (no engine
        call per printed id)."""
        printed = [i[:12] for i in _STEP_IMAGE.findall(output) if i[:12] not in images_before]
        if printed:
            now = self._image_ids()
            self.layers += [i for i in dict.fromkeys(printed) if i in now and i not in self.layers]
        self._record()
        by_prefix = {full[:12]: full for full in step_containers}
        for short_id in {i[:12] for i in _INTERMEDIATE.findall(output)} & set(by_prefix):
            with suppress(docker.errors.NotFound, docker.errors.APIError):
                self.client.containers.get(by_prefix[short_id]).remove(force=True)

    def up(self, timeout: float) -> None:
        compose = self.compose  # GateClosed before anything is recorded or started
        self._snapshot_tags()
        self._record()
        self.guard()
        self.watch_disk()
        try:
            compose.up(timeout)
        finally:
            self.track_anonymous_volumes()
            self.join_networks()

    def containers(self) -> list[ComposeContainer]:
        """The project's containers, stopped ones included, as `compose ps --all` describes them,
        read from the engine by the project's label: a poll costs a few milliseconds where the
        compose command costs 0.12 s, and the watch, the API and the data checks poll often."""
        found = self.client.api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"})
        described: list[ComposeContainer] = []
        for summary in found:
            with suppress(docker.errors.NotFound):  # removed between the list and the inspect
                described.append(_described(self.client.api.inspect_container(summary["Id"])))
        return sorted((c for c in described if c.Service), key=lambda c: (str(c.Service), str(c.Name)))

    def container(self, service: str) -> ComposeContainer | None:
        return next((c for c in self.containers() if c.Service == service), None)

    def state(self, service: str) -> str:
        """running, exited, restarting, ... or "" when the service has no container."""
        container = self.container(service)
        return str(container.State or "") if container is not None else ""

    def _container_id(self, service: str) -> str | None:
        container = self.container(service)
        return str(container.ID) if container is not None and container.ID else None

    def _engine_state(self, service: str) -> dict[str, Any]:
        """The engine's `State` of the service's container ({} when it has none): what compose's
        `ps` does not tell (OOM kill, the healthcheck's log)."""
        container_id = self._container_id(service)
        if container_id is not None:
            with suppress(docker.errors.NotFound, docker.errors.APIError):
                return dict(self.client.containers.get(container_id).attrs["State"])
        return {}

    def restarts(self, container_id: str) -> int:
        """How often the engine restarted the container (0 when it is gone)."""
        with suppress(docker.errors.NotFound, docker.errors.APIError, KeyError, TypeError, ValueError):
            return int(self.client.api.inspect_container(container_id)["RestartCount"])
        return 0

    def health_output(self, service: str) -> str:
        """What the service's healthcheck printed last, and its exit code ("" without one)."""
        last = ((self._engine_state(service).get("Health") or {}).get("Log") or [{}])[-1]
        return f"exit {last.get('ExitCode')}: {str(last.get('Output') or '').strip()}" if last else ""

    def oom_killed(self, service: str) -> bool:
        """Whether the kernel killed the service's container for exceeding its memory limit."""
        return bool(self._engine_state(service).get("OOMKilled"))

    def memory_full(self, service: str, limit: int, container_id: str | None = None) -> bool:
        """Whether the service's working set (memory minus reclaimable file cache) fills its
        limit. A memory hog is not always killed: at the limit the kernel may keep reclaiming the
        program's own code pages and the process stalls, running but useless, for minutes.
        `container_id`, when the caller has it, saves a look-up.

        The engine answers a stats request at its collector's next tick (up to a second): samples
        are taken in the background, one per container at a time, a new one once the last was
        started MEMORY_SAMPLE_S ago; the last one answers meanwhile (False before the first).
        A poll never waits for a sample; memory_sampled_since() tells whether one is recent."""
        container_id = container_id or self._container_id(service)
        if container_id is None:
            return False
        with self._memory_lock:
            seen = self._memory.get(container_id)
            stale = seen is None or time.monotonic() - seen[0] >= MEMORY_SAMPLE_S
            if stale and container_id not in self._sampling and not self._sampling_over:
                self._sampling.add(container_id)
                self._sampler.submit(self._sample_memory, container_id, limit, time.monotonic())
        return seen[1] if seen is not None else False

    def bases(self) -> set[str]:
        """The images the run's builds pull (grader.engine.stack._bases), from the Dockerfiles as they are."""
        return {ref for path, args in self._dockerfiles for ref in _bases(path, self.root, args)}

    def missing_bases(self) -> list[str]:
        """Images a build needs that are not on the engine: a pull that failed, if the build did."""
        missing = []
        for ref in sorted(self.bases()):
            try:
                self.client.images.get(ref)
            except docker.errors.ImageNotFound:
                missing.append(ref)
            except docker.errors.APIError:
                continue
        return missing

    def watch_disk(self) -> None:
        if self.disk is None:
            self.disk = DiskWatch(self)
            self.disk.start()

    def disk_full(self, container_id: str) -> bool:
        """Whether the disk watch stopped this container (the run wrote more than its limit)."""
        return self.disk is not None and container_id in self.disk.stopped

    def memory_sampled_since(self, since: float, container_ids: list[str]) -> bool:
        """Whether each of these containers has a memory sample started at `since` or later."""
        with self._memory_lock:
            return all((seen := self._memory.get(c)) is not None and seen[0] >= since for c in container_ids)

    def sample_memory_now(self, limit: int) -> None:
        """A fresh sample of every running container, waited for (all at once): for a verdict
        given from one look at the stack, when background samples had no time to come."""
        running = [str(c.ID) for c in self.containers() if c.ID and c.State == "running"]
        with ThreadPoolExecutor(max(1, len(running)), "memory-now") as pool:
            for container_id in running:
                pool.submit(self._sample_memory, container_id, limit, time.monotonic())

    def _stop_sampling(self) -> None:
        """No memory sample after this."""
        with self._memory_lock:
            self._sampling_over = True
        # Not waited for: a sample under way ends within the engine's tick, and what it records
        # is read by no one (a teardown must not wait a second on it).
        self._sampler.shutdown(wait=False, cancel_futures=True)

    def _sample_memory(self, container_id: str, limit: int, started: float) -> None:
        full = False
        try:
            # Whatever the engine answers instead (the container is gone, a timeout, an API too old
            # for one-shot stats): no sample says no hog, as the synchronous check always did.
            with suppress(Exception):
                stats = self.client.api.stats(container_id, stream=False, one_shot=True)["memory_stats"]
                detail = stats.get("stats") or {}
                cache = detail.get("total_inactive_file", detail.get("inactive_file", detail.get("cache", 0)))
                full = bool(stats["usage"] - cache >= 0.95 * limit)
        finally:
            with self._memory_lock:
                self._memory[container_id] = (started, full)
                self._sampling.discard(container_id)

    def endpoint(self, service: str, target: int) -> Endpoint | None:
        """Where the grader reaches a service's container port: the container's address and the
        port itself (the run's networks are internal and publish nothing; inside the grader's
        image, on a network it joined). On Docker Desktop (not isolated): the ephemeral port
        published on 127.0.0.1."""
        if not self.isolated:
            port = self.published_port(service, target)
            return Endpoint("127.0.0.1", port) if port is not None else None
        container = self.container(service)
        if container is None or not container.ID:
            return None
        # On the host: any of its networks (each bridge has an address here); in the grader's
        # container: one it joined.
        found = networks.address(self.client, container.ID, self._joined if self.in_container else None)
        return Endpoint(found, target) if found else None

    def engine_sees(self, path: Path) -> bool:
        """Whether a bind mount of `path` mounts these very files (grader.engine.networks.engine_sees)."""
        return networks.engine_sees(self.client, self.grader_container, path)

    def join_networks(self) -> None:
        if self.in_container:
            assert self.grader_container is not None
            self._joined = networks.join(self.client, self.grader_container, self.project, self._joined)

    def leave_networks(self) -> None:
        """Before `down`: a network with the grader still attached cannot be removed."""
        if self.in_container:
            assert self.grader_container is not None
            networks.leave(self.client, self.grader_container, self._joined)
        self._joined = []

    def published_port(self, service: str, target: int) -> int | None:
        container = self.container(service)
        if container is None:
            return None
        for publisher in container.Publishers or []:
            if publisher.TargetPort == target and publisher.PublishedPort:
                return int(publisher.PublishedPort)
        return None

    def logs(self, service: str, tail: int = 60) -> str:
        return self.compose.logs(service, tail)

    def exec(self, service: str, command: list[str], timeout: float = 20) -> tuple[str, int]:
        """(output, exit code) of a command in the service's container; a command the submission
        makes hang (a FIFO to `cat`) ends at `timeout` with code 124, like timeout(1)."""
        return self.compose.exec(service, command, timeout)

    def stop_gracefully(self, db_services: list[str]) -> None:
        """Stop the app side fast (node as PID 1 ignores SIGTERM: SIGKILL after the limits' app
        grace, 1 s) and, at the same time, the database with time for a clean shutdown, so `down`
        never waits 10 s per container. By container, through the engine: `compose stop db` would
        first stop what depends on the database, with the database's grace."""
        graces = [
            (str(c.ID), self.limits.stop_grace_db if c.Service in db_services else self.limits.stop_grace_app)
            for c in self.containers()
            if c.ID and c.State in ("running", "restarting", "paused")
        ]

        def stop(container: tuple[str, int]) -> None:
            with suppress(docker.errors.NotFound, docker.errors.APIError):
                self.client.api.stop(container[0], timeout=container[1])

        with ThreadPoolExecutor(max(1, len(graces)), "stop") as pool:
            list(pool.map(stop, graces))

    def down(self, db_services: list[str], remove_volumes: bool, timeout: float = 90) -> None:
        self.track_anonymous_volumes()
        self.leave_networks()
        self.stop_gracefully(db_services)
        self.compose.down(remove_volumes, timeout)

    # -- cleanup -----------------------------------------------------------------------------
    def _project_filter(self) -> dict[str, str | list[str] | bool]:
        return {"label": f"{PROJECT_LABEL}={self.project}"}

    def track_anonymous_volumes(self) -> None:
        """Anonymous volumes carry no compose labels and survive `down`: remember them by the
        containers that mount them, so teardown can delete them."""
        for container in self.client.containers.list(all=True, filters=self._project_filter(), ignore_removed=True):
            for mount in container.attrs.get("Mounts") or []:
                if mount.get("Type") != "volume" or not mount.get("Name"):
                    continue
                with suppress(docker.errors.NotFound):
                    volume = self.client.volumes.get(mount["Name"])
                    if (
                        VOLUME_LABEL not in (volume.attrs.get("Labels") or {})
                        and volume.name not in self.anonymous_volumes
                    ):
                        self.anonymous_volumes.add(volume.name)
                        self._record()

    def _pulled(self) -> list[str]:
        """Images this run needed that were not on the engine before it: it pulled them. Course
        images the rubric pins stay (every student needs them)."""
        if self._tags_before is None:
            return []
        now = {t for i in images(self.client) for t in references(i)}
        return sorted((self.wanted_images & now) - self._tags_before - self.keep_images - self.built_images)

    def teardown(self, background: bool = False) -> list[str]:
        """Remove containers, networks, named and anonymous volumes and built images of this run.
        Never raises; returns what could not be removed (for the report). With `background`, the
        images, layers and pulled images go to grader.engine.reaper once the stack is gone: the report
        and the next student do not wait for them."""
        problems: list[str] = []
        with suppress(Exception):
            self._stop_sampling()
        if self.disk is not None:
            with suppress(Exception):
                self.disk.stop()
            if self.disk.blind_to_volumes:
                self.notes.append("the disk watch could not read the run's volumes (not root): they were not counted")
        with suppress(Exception):
            self.leave_networks()
        if self.started and self._compose is not None:
            with suppress(Exception):
                self.track_anonymous_volumes()
        # Everything the engine labels with the project (containers killed and removed at once,
        # networks, volumes: what `compose down --volumes --timeout 0` removes, without waiting on
        # compose for what needs no clean shutdown), then what the run recorded (anonymous volumes,
        # images, layers); `grader cleanup` does the same for a run that could not tear down itself.
        problems += remove_stack(self.client, self.project, self.anonymous_volumes)
        pulled: list[str] = []
        with suppress(Exception):
            pulled = self._pulled()
        if self._override_dir is not None:
            self._override_dir.cleanup()
        if background and self.started and not problems:
            from grader.engine import reaper

            record = RunRecord(self.project, built_images=sorted(self.built_images), layers=list(self.layers))
            record.pulled = pulled
            try:
                reaper.start(record)
                return problems
            except OSError as exc:  # no process to spare: removed here, as without `background`
                self.notes.append(f"the image reaper could not start ({exc}): images removed before the report")
        removed = remove_images(self.client, self.built_images, self.layers)
        problems += removed
        from grader.engine import reaper

        if pulled and (removed or reaper.runs_under_way(self.project)):
            # Another run may stand on a pulled base (its build, its `up`), or this run's own
            # images still do: left to the reaper that runs next, the batch's drain or `grader
            # cleanup`, through a record whose process (this one) will be gone.
            with suppress(OSError):
                RunRecord(
                    self.project,
                    built_images=sorted(self.built_images) if removed else [],
                    layers=list(self.layers) if removed else [],
                    pulled=pulled,
                    reaping=True,
                ).save()
            return problems
        problems += remove_pulled(self.client, pulled)
        if not problems:
            with suppress(OSError):
                RunRecord(self.project).delete()
        return problems
