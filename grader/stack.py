"""One submission's compose stack on the engine: config, build, up, down, teardown.

testcontainers' DockerCompose drives every compose command. It runs them without a timeout and
with the whole host environment, so GradingCompose adds a deadline to each call, a fixed project
name, and a scrubbed environment.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import docker
from testcontainers.compose import ComposeContainer, DockerCompose

from grader.cleanup import RUN_LABEL, RunRecord, remove_labelled
from grader.engine import compose_command, compose_env
from grader.errors import CommandTimeout
from grader.policy import MAX_SERVICES, RESET_BUILD_KEYS, RESET_SERVICE_KEYS, findings, scoped_name
from grader.proc import run_bounded

PROJECT_LABEL = "com.docker.compose.project"
VOLUME_LABEL = "com.docker.compose.volume"
POSTGRES_PORT = 5432
_INTERMEDIATE = re.compile(r"---> Running in ([0-9a-f]{12,64})")
_STEP_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$", re.MULTILINE)  # the classic builder's layers


class GateClosed(RuntimeError):
    """Something tried to build or start a stack the security gate has not passed."""


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


@dataclass(frozen=True)
class Limits:
    """What one service of a submission may use, whatever its compose file says. Generous for a
    Node/NestJS API and PostgreSQL (about 100-500 MB each); a fork bomb, a memory hog or a log
    flood hits these walls instead of the grading machine."""

    memory: str = "1g"  # per service; swap is not extra (memswap = memory)
    cpus: float = 1.0  # per service
    pids: int = 512  # processes and threads per service: Node uses ~15, PostgreSQL ~10
    services: int = MAX_SERVICES  # the homework has 2-3; the security gate refuses more than this
    log_size: str = "1m"  # per log file, two files per service (json-file, which `logs` reads)
    stop_grace_app: int = 2  # seconds after SIGTERM before SIGKILL; node as PID 1 ignores SIGTERM
    stop_grace_db: int = 20  # PostgreSQL shuts down cleanly in about a second

    @property
    def memory_bytes(self) -> int:
        """`memory` in bytes, read the way compose reads it (b, k, m, g; 1024-based)."""
        text = self.memory.lower().rstrip("b")
        scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:], 1)
        return int(float(text.rstrip("kmg")) * scale)


def _scalar(value: Any) -> str:
    return json.dumps(value)  # JSON scalars and flow collections are valid YAML


def render_override(
    config: dict[str, Any],
    project: str,
    db_service: str | None,
    limits: Limits | None = None,
    db_port: int = POSTGRES_PORT,
) -> str:
    """An override file that makes a stranger's stack safe to run next to others (what it rewrites
    is listed by grader.policy.rewrites for the student):
    every published port becomes an ephemeral port on 127.0.0.1 (never a public interface, never a
    collision); the database is published the same way so the grader can reach it; fixed
    container names are dropped (kept as network aliases, so other services still reach them by
    that name); built images get a run-specific name so nothing local is
    overwritten and teardown knows what to delete. Every service gets the grader's limits (memory
    without extra swap, CPUs, processes, bounded logs, a short stop grace); the student's own
    limits, replicas and OOM-killer settings are replaced, so a service runs once, inside them."""
    limits = limits or Limits()
    lines = ["services:"]
    for name, service in (config.get("services") or {}).items():
        grace = limits.stop_grace_db if name == db_service else limits.stop_grace_app
        log = {"driver": "json-file", "options": {"max-size": limits.log_size, "max-file": "2"}}
        lines += [
            f"  {_scalar(name)}:",
            f"    mem_limit: {_scalar(limits.memory)}",
            f"    memswap_limit: {_scalar(limits.memory)}",
            f"    cpus: {limits.cpus:g}",
            f"    pids_limit: {limits.pids}",
            "    oom_kill_disable: false",
            "    deploy: !reset null",
            "    scale: !reset null",
            f"    logging: !override {_scalar(log)}",
            f"    stop_grace_period: {grace}s",
        ]
        lines += [f"    {key}: !reset null" for key in RESET_SERVICE_KEYS if key in service]
        if service.get("build"):
            lines.append(f"    image: {_scalar(built_image_name(project, name))}")
            lines += [
                "    build:",
                *(f"      {key}: !reset null" for key in RESET_BUILD_KEYS if key in service["build"]),
                f"      labels: {{{_scalar(RUN_LABEL)}: {_scalar(project)}}}",  # `grader cleanup` finds it by this
            ]
        if service.get("container_name"):
            lines.append("    container_name: !reset null")
            # Other containers may reach it by that name (`DB_HOST=products_db`): kept as an alias on
            # each of its networks, which are the run's own.
            if not service.get("network_mode"):
                alias = str(service["container_name"])
                networks = {
                    net: {**(settings or {}), "aliases": [*((settings or {}).get("aliases") or []), alias]}
                    for net, settings in (service.get("networks") or {"default": None}).items()
                }
                lines.append(f"    networks: !override {_scalar(networks)}")
        targets = [(int(p["target"]), p.get("protocol") or "tcp") for p in service.get("ports") or []]
        if name == db_service and (db_port, "tcp") not in targets:
            targets.append((db_port, "tcp"))
        if targets or service.get("ports"):
            ports = [{"target": t, "host_ip": "127.0.0.1", "protocol": proto} for t, proto in dict.fromkeys(targets)]
            lines.append(f"    ports: !override {_scalar(ports)}")
    # Every volume and network gets the run's own name: a `name:` of an object that exists on the
    # engine would otherwise be mounted (and `down --volumes` deletes volumes by name).
    for kind in ("volumes", "networks"):
        keys = list(config.get(kind) or {})
        if keys:
            lines.append(f"{kind}:")
            lines += [f"  {_scalar(k)}: {{name: {_scalar(scoped_name(project, k))}}}" for k in keys]
    return "\n".join(lines) + "\n"


def db_port(environment: dict[str, str]) -> int:
    """Where PostgreSQL listens inside its container: 5432, or the image's PGPORT."""
    value = environment.get("PGPORT", "").strip()
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses
    return int(value) if re.fullmatch(r"[0-9]{1,5}", value) and 0 < int(value) < 65536 else POSTGRES_PORT


def frozen_model(config: dict[str, Any]) -> dict[str, Any]:
    """The resolved model as compose runs it again: `config --format json` already wrote every
    path absolute, every env file and label file into `environment` and `labels`, and every `$`
    as `$$`; the file references are dropped so nothing is read from the copy a second time."""
    services = {
        name: {k: v for k, v in svc.items() if k not in ("env_file", "label_file")}
        for name, svc in (config.get("services") or {}).items()
    }
    return {**config, "services": services}


def covers_path(folder: str, path: Path) -> bool:
    top = Path(folder)
    return path == top or top in path.parents


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


def built_image_name(project: str, service: str) -> str:
    return f"{project}-{service}:graded".lower()


@dataclass
class Stack:
    """Everything the grader starts for one run, and the guarantee that it all goes away."""

    root: Path
    compose_files: list[Path]  # the student's: the main file, then compose's own override file if any
    project: str
    client: docker.DockerClient
    anonymous_volumes: set[str] = field(default_factory=set)
    built_images: set[str] = field(default_factory=set)
    layers: list[str] = field(default_factory=list)  # image ids the run's builds created, in order
    _override_dir: tempfile.TemporaryDirectory[str] | None = None
    _compose: GradingCompose | None = None
    limits: Limits = field(default_factory=Limits)  # set by prepare(); the stop graces come from it
    started: bool = False
    _joined: list[str] = field(default_factory=list)

    @cached_property
    def grader_container(self) -> str | None:
        """The id of the container the grader itself runs in (its image), or None on the host."""
        return own_container(self.client)

    @property
    def in_container(self) -> bool:
        return self.grader_container is not None

    def _make(self, files: list[str], env_file: str | None = None) -> GradingCompose:
        return GradingCompose(
            context=str(self.root),
            compose_file_name=files,
            env_file=env_file,
            build=False,
            wait=False,
            project_name=self.project,
            base_command=compose_command(),
        )

    # -- static ------------------------------------------------------------------------------
    def resolve_config(self, env_files: bool = True, timeout: float = 60) -> tuple[dict[str, Any], str]:
        """(resolved model, compose's warnings) of the student's files alone; raises
        CalledProcessError with compose's message when the file is invalid. Without `env_files`
        compose reads no env file: the gate sees where they are before any is read."""
        compose = self._make([str(f) for f in self.compose_files])
        args = ["config", "--format", "json"] + ([] if env_files else ["--no-env-resolution"])
        result = compose.run(compose.command(*args), timeout)
        return json.loads(result.stdout), result.stderr.decode(errors="replace")

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
        self._override_dir = tempfile.TemporaryDirectory(prefix="grader-override-")
        folder = Path(self._override_dir.name)
        (folder / "model.json").write_text(json.dumps(frozen_model(config)))
        override = render_override(config, self.project, db_service, self.limits, db_port)
        (folder / "grader.override.yaml").write_text(override)
        (folder / "empty.env").write_text("")
        self._compose = self._make(
            [str(folder / "model.json"), str(folder / "grader.override.yaml")], env_file=str(folder / "empty.env")
        )
        self.built_images = {
            built_image_name(self.project, n) for n, s in (config.get("services") or {}).items() if s.get("build")
        }

    @property
    def compose(self) -> GradingCompose:
        if self._compose is None:
            raise GateClosed("Stack.prepare() has not passed the security gate: nothing may build or start")
        return self._compose

    # -- lifecycle ---------------------------------------------------------------------------
    def _record(self) -> None:
        """Note this run on disk while it has something on the engine, so `grader cleanup` can
        remove it even if this process is killed (SIGKILL runs no `finally`)."""
        self.started = True
        with suppress(OSError):
            RunRecord(
                self.project,
                anonymous_volumes=sorted(self.anonymous_volumes),
                built_images=sorted(self.built_images),
                layers=list(self.layers),
            ).save()

    def build(self, timeout: float) -> subprocess.CompletedProcess[bytes]:
        compose = self.compose  # GateClosed before anything is recorded or built
        before = self._image_ids(), {str(c.id) for c in self.client.containers.list(all=True)}
        self._record()  # a build leaves images behind even when it fails
        try:
            result = compose.run(compose.command("--progress", "plain", "build"), timeout, check=False)
        except CommandTimeout as exc:
            self._after_build(exc.output, *before)
            raise
        self._after_build((result.stdout + result.stderr).decode(errors="replace"), *before)
        return result

    def _image_ids(self) -> set[str]:
        """Short ids of every image on the engine, layers included."""
        return {str(i.id).split(":")[-1][:12] for i in self.client.images.list(all=True)}

    def _after_build(self, output: str, images_before: set[str], containers_before: set[str]) -> None:
        """Note the layers this build created (the classic builder prints each step's image id;
        a cached step prints one that existed before and is not ours), so teardown removes them
        even when the build failed and left no tagged image; remove a failed step's container.
        The output is the student's too (`RUN echo ' ---> Running in <id>'`): an id counts only
        for an object that did not exist before the build."""
        created = [i[:12] for i in _STEP_IMAGE.findall(output) if i[:12] not in images_before]
        self.layers += [i for i in created if i not in self.layers]
        self._record()
        for short_id in set(_INTERMEDIATE.findall(output)):
            with suppress(docker.errors.NotFound, docker.errors.APIError):
                container = self.client.containers.get(short_id)
                if str(container.id) not in containers_before:
                    container.remove(force=True)

    def up(self, timeout: float) -> None:
        compose = self.compose  # GateClosed before anything is recorded or started
        self._record()
        with compose.bounded(timeout):
            try:
                # The images were built by `build` before; `--no-build` so that a missing one is an
                # error, never a build from the copy a container may have changed since.
                compose._run_command(compose.command("up", "--detach", "--no-build"))
            finally:
                self.track_anonymous_volumes()
                self.join_networks()

    def containers(self) -> list[ComposeContainer]:
        with self.compose.bounded(30):
            return list(self.compose.get_containers(include_all=True))

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
        `container_id`, when the caller has it, saves a `compose ps`."""
        container_id = container_id or self._container_id(service)
        if container_id is None:
            return False
        with suppress(docker.errors.NotFound, docker.errors.APIError, KeyError, TypeError):
            stats = self.client.api.stats(container_id, stream=False, one_shot=True)["memory_stats"]
            detail = stats.get("stats") or {}
            cache = detail.get("total_inactive_file", detail.get("inactive_file", detail.get("cache", 0)))
            return bool(stats["usage"] - cache >= 0.95 * limit)
        return False

    def endpoint(self, service: str, target: int) -> Endpoint | None:
        """Where the grader reaches a service's container port. On the engine's host: the ephemeral
        port published on 127.0.0.1. Inside a container (the grader's image), published ports are
        on the host, not here: the grader joins the stack's networks and uses the service
        container's address and the container port itself."""
        if not self.in_container:
            port = self.published_port(service, target)
            return Endpoint("127.0.0.1", port) if port is not None else None
        container = self.container(service)
        if container is None or not container.ID:
            return None
        networks = self.client.containers.get(container.ID).attrs["NetworkSettings"]["Networks"] or {}
        for name in self._joined:
            address = (networks.get(name) or {}).get("IPAddress")
            if address:
                return Endpoint(address, target)
        return None

    def engine_sees(self, path: Path) -> bool:
        """Whether a bind mount of `path` would mount these very files: always on the engine's host;
        inside the grader's container only when `path` lies in a folder mounted at the same path
        (e.g. -v /tmp/compose-grader:/tmp/compose-grader), else the engine would create an empty
        folder on the host."""
        if self.grader_container is None:
            return True
        mounts = self.client.containers.get(self.grader_container).attrs.get("Mounts") or []
        return any(
            m.get("Type") == "bind" and m.get("Source") == m.get("Destination") and covers_path(m["Destination"], path)
            for m in mounts
        )

    def join_networks(self) -> None:
        if self.grader_container is None:
            return
        me = self.grader_container
        for network in self.client.networks.list(filters=self._project_filter()):
            if network.name and network.name not in self._joined:
                network.connect(me)
                self._joined.append(network.name)

    def leave_networks(self) -> None:
        """Before `down`: a network with the grader still attached cannot be removed."""
        me = self.grader_container or ""
        for name in self._joined:
            with suppress(docker.errors.NotFound, docker.errors.APIError):
                self.client.networks.get(name).disconnect(me, force=True)
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
        result = self.compose.run(
            self.compose.command("logs", "--no-color", "--no-log-prefix", "--tail", str(tail), service),
            30,
            check=False,
        )
        return (result.stdout + result.stderr).decode(errors="replace")

    def exec(self, service: str, command: list[str], timeout: float = 20) -> tuple[str, int]:
        """(output, exit code) of a command in the service's container; a command the submission
        makes hang (a FIFO to `cat`) ends at `timeout` with code 124, like timeout(1)."""
        with self.compose.bounded(timeout):
            try:
                out, err, code = self.compose.exec_in_container(command, service)
            except subprocess.CalledProcessError as exc:
                return (exc.stdout or b"").decode(errors="replace"), exc.returncode
            except CommandTimeout as exc:
                return exc.output, 124
        return out + err, code

    def stop_gracefully(self, db_services: list[str], timeout: float = 60) -> None:
        """Stop the app side fast (node as PID 1 ignores SIGTERM: SIGKILL after the limits' app
        grace, 2 s), then the database with time for a clean shutdown, so `down` never waits 10 s
        per container."""
        others = [c.Service for c in self.containers() if c.Service and c.Service not in db_services]
        if others:
            grace = str(self.limits.stop_grace_app)
            self.compose.run(self.compose.command("stop", "--timeout", grace, *others), timeout, check=False)
        if db_services:
            grace = str(self.limits.stop_grace_db)
            self.compose.run(self.compose.command("stop", "--timeout", grace, *db_services), timeout, check=False)

    def down(self, db_services: list[str], remove_volumes: bool, timeout: float = 90) -> None:
        self.track_anonymous_volumes()
        self.leave_networks()
        self.stop_gracefully(db_services, timeout)
        args = ["down", "--remove-orphans", "--timeout", "2"] + (["--volumes"] if remove_volumes else [])
        self.compose.run(self.compose.command(*args), timeout)

    # -- cleanup -----------------------------------------------------------------------------
    def _project_filter(self) -> dict[str, str | list[str] | bool]:
        return {"label": f"{PROJECT_LABEL}={self.project}"}

    def track_anonymous_volumes(self) -> None:
        """Anonymous volumes carry no compose labels and survive `down`: remember them by the
        containers that mount them, so teardown can delete them."""
        for container in self.client.containers.list(all=True, filters=self._project_filter()):
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

    def teardown(self) -> list[str]:
        """Remove containers, networks, named and anonymous volumes and built images of this run.
        Never raises; returns what could not be removed (for the report)."""
        problems: list[str] = []
        with suppress(Exception):
            self.leave_networks()
        if self.started and self._compose is not None:
            with suppress(Exception):
                self.track_anonymous_volumes()
            try:
                args = ["down", "--volumes", "--remove-orphans", "--timeout", "1"]
                self.compose.run(self.compose.command(*args), 120, check=False)
            except Exception as exc:
                problems.append(f"compose down: {exc}")
        # Whatever `down` missed (timeouts, orphans, a crashed run) is found by label; then what the
        # run recorded (grader.cleanup does the same for a run that could not tear down itself).
        problems += remove_labelled(self.client, self.project, self.anonymous_volumes, self.built_images, self.layers)
        if self._override_dir is not None:
            self._override_dir.cleanup()
        if not problems:
            with suppress(OSError):
                RunRecord(self.project).delete()
        return problems
