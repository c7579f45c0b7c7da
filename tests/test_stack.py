"""The stack wrapper on a real engine: the override, and teardown whatever happens."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest
from testcontainers.compose import ComposeContainer, DockerCompose

from checks import CHECKS
from grader.engine.cleanup import remove_pulled
from grader.engine.firewall import BRIDGE_OPTION, bridge_name
from grader.engine.limits import Limits
from grader.engine.override import render_override
from grader.engine.stack import Stack, normal_reference
from grader.model import Category, Outcome, Status
from grader.run.context import Check, Context, Options, Prepared
from grader.run.prepare import prepare
from grader.run.runner import grade, teardown
from tests.conftest import SUBMISSIONS, engine_counts

pytestmark = pytest.mark.docker


def _stack(prepared: Prepared) -> Stack:
    assert prepared.stack is not None, prepared.unprepared or "the gate refused the fixture"
    return prepared.stack


def test_override_publishes_nothing_and_makes_every_network_internal(
    engine: docker.DockerClient, tmp_path: Path
) -> None:
    root = tmp_path / "s"
    shutil.copytree(SUBMISSIONS / "complete", root)
    compose = root / "docker-compose.yml"
    compose.write_text(
        compose.read_text().replace("    image: postgres:15\n", "    image: postgres:15\n    container_name: db\n")
    )
    prepared = prepare(root, Options(), engine, "grader-override-test")
    stack = _stack(prepared)
    merged = json.loads(stack.compose.run(["config", "--format", "json"], 60).stdout)
    services = merged["services"]
    # The grader reaches the containers at their addresses (grader.engine.firewall): nothing is published,
    # not the student's 3000:3000 nor 5432:5432 (a port of the machine, open to its network).
    assert {name: svc.get("ports") for name, svc in services.items()} == {"api": None, "db": None}
    network = merged["networks"]["default"]
    assert network["internal"] is True and network["name"] == "grader-override-test_default"
    assert network["driver_opts"] == {BRIDGE_OPTION: bridge_name("grader-override-test", "default")}
    assert "container_name" not in services["db"]
    assert services["api"]["image"] == "grader-override-test-api:graded"
    teardown(prepared.stack)


def test_override_limits_every_service_whatever_the_student_wrote(engine: docker.DockerClient, tmp_path: Path) -> None:
    root = tmp_path / "s"
    shutil.copytree(SUBMISSIONS / "complete", root)
    compose = root / "docker-compose.yml"
    hostile = (
        "    mem_limit: 64g\n    memswap_limit: -1\n    oom_kill_disable: true\n"
        "    logging: {driver: none}\n    stop_grace_period: 1h\n"
        "    deploy: {replicas: 20, resources: {limits: {memory: 64g, cpus: '64', pids: 100000}}}\n"
    )
    compose.write_text(compose.read_text().replace("    image: postgres:15\n", "    image: postgres:15\n" + hostile))
    limits = Limits(memory="300m", cpus=0.5, pids=100)
    prepared = prepare(root, Options(limits=limits), engine, "grader-limits-test")
    stack = _stack(prepared)
    merged = stack.compose.run(["config", "--format", "json"], 60)
    services = json.loads(merged.stdout)["services"]
    for name, svc in services.items():
        assert svc["mem_limit"] == svc["memswap_limit"] == str(300 * 1024 * 1024), name
        assert (svc["cpus"], svc["pids_limit"]) == (0.5, 100), name
        assert svc.get("oom_kill_disable") in (None, False), name
        assert "deploy" not in svc and "scale" not in svc, name
        assert svc["logging"] == {"driver": "json-file", "options": {"max-size": "1m", "max-file": "2"}}, name
    assert (services["api"]["stop_grace_period"], services["db"]["stop_grace_period"]) == ("1s", "20s")
    teardown(prepared.stack)


def test_override_publishes_an_unpublished_database() -> None:
    text = render_override({"services": {"db": {"image": "postgres:15"}}}, "p", "db")
    assert '"target": 5432' in text and '"host_ip": "127.0.0.1"' in text


def _boom(exc: BaseException) -> Check:
    def run(_: Context) -> Outcome:
        raise exc

    return Check(id="zz.boom", category=Category.API, title="boom", max_points=1, run=run, requires=("startup.up",))


@pytest.mark.parametrize(
    "exc",
    [pytest.param(RuntimeError("grader bug"), id="exception"), pytest.param(KeyboardInterrupt(), id="ctrl-c")],
)
def test_teardown_runs_whatever_happens(engine: docker.DockerClient, exc: BaseException) -> None:
    # no-volume: postgres gets an anonymous volume, which carries no compose label.
    before = engine_counts(engine)
    wanted = ("dockerfile.present", "compose.file", "security.policy", "dockerfile.build", "startup.up")
    registry = {k: CHECKS[k] for k in wanted} | {"zz.boom": _boom(exc)}
    if isinstance(exc, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            grade(SUBMISSIONS / "no-volume", registry=registry)
    else:
        report = grade(SUBMISSIONS / "no-volume", registry=registry)
        statuses = {c.id: c.status for c in report.checks}
        assert statuses["startup.up"] is Status.PASSED
        assert statuses["zz.boom"] is Status.ERROR
    assert engine_counts(engine) == before


def test_compose_override_file_is_merged_like_compose_does(engine: docker.DockerClient, tmp_path: Path) -> None:
    root = tmp_path / "s"
    shutil.copytree(SUBMISSIONS / "no-volume", root)
    (root / "docker-compose.override.yml").write_text(
        "services:\n  db:\n    volumes:\n      - pgdata:/var/lib/postgresql/data\nvolumes:\n  pgdata: {}\n"
    )
    prepared = prepare(root, Options(), engine, "grader-merge-test")
    model = prepared.context.resolution.project
    assert model is not None
    volumes = model.services["db"]["volumes"]
    assert [(v["type"], v["source"], v["target"]) for v in volumes] == [
        ("volume", "pgdata", "/var/lib/postgresql/data")
    ]
    teardown(prepared.stack)


def test_a_run_removes_its_own_layers_and_no_one_else_s(engine: docker.DockerClient, tmp_path: Path) -> None:
    """Build cache that existed before the run (an untagged chain of layers, as the classic builder
    leaves them) is reused and left in place; the layers the run created itself are removed."""
    root = tmp_path / "s"
    shutil.copytree(SUBMISSIONS / "complete", root)
    with (root / ".dockerignore").open("a") as ignore:
        ignore.write("Dockerfile\n")  # so that changing it below leaves `COPY . .` a cache hit
    image, _ = engine.images.build(path=str(root), tag="compose-grader-test-cache:1", rm=True)
    ours = engine.images.get(str(image.id)).attrs["Parent"]
    engine.images.remove("compose-grader-test-cache:1", noprune=True)  # leaves an untagged chain
    cache = {str(i.id) for i in engine.images.list(all=True)}
    try:
        # every step is a cache hit, then one layer of the run's own on top of the cached chain
        (root / "Dockerfile").write_text((root / "Dockerfile").read_text() + 'LABEL graded="yes"\n')
        report = grade(root)
        assert {c.id: c.status for c in report.checks}["dockerfile.build"] is Status.PASSED
        assert {str(i.id) for i in engine.images.list(all=True)} == cache
    finally:
        for layer in [str(image.id), ours]:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                engine.images.remove(layer)  # the test's own chain, pruned up to the base image


def _seen(containers: list[ComposeContainer]) -> list[tuple[object, ...]]:
    return [
        (
            str(c.ID)[:12],  # compose prints 12 characters of the id, the engine gives all of it
            c.Name,
            c.Service,
            c.State,
            c.Health or "",
            c.ExitCode,
            sorted((p.TargetPort, p.PublishedPort) for p in c.Publishers or [] if p.PublishedPort),
        )
        for c in sorted(containers, key=lambda c: str(c.Service))
    ]


def test_the_engine_describes_the_stack_as_compose_ps_does(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stack.containers() reads the engine (milliseconds) where `compose ps` takes 0.12 s a call:
    both must see the same containers, states, exit codes and published ports, running or not.
    The reference is testcontainers' own reading of `compose ps` (its public DockerCompose API)."""
    root = tmp_path / "s"
    shutil.copytree(SUBMISSIONS / "no-volume", root)
    # A healthcheck: once its container stops, the engine calls it `unhealthy`, compose ps does not.
    (root / "docker-compose.override.yml").write_text(
        "services:\n  api:\n    healthcheck:\n      test: [CMD, 'true']\n      interval: 1s\n"
    )
    prepared = prepare(root, Options(), engine, "grader-ps-test")
    stack = _stack(prepared)
    try:
        assert stack.build(300).returncode == 0
        stack.up(120)
        compose = stack.compose
        monkeypatch.setenv("COMPOSE_PROJECT_NAME", stack.project)
        reference = DockerCompose(
            context=str(root), compose_file_name=list(compose.files), env_file=list(compose.env_files), wait=False
        )
        for _ in range(60):
            if [c.Health for c in stack.containers()] == ["healthy", ""]:
                break
            time.sleep(0.5)
        assert _seen(stack.containers()) == _seen(reference.get_containers(include_all=True))
        assert [(c.Service, c.State, c.Health) for c in stack.containers()] == [
            ("api", "running", "healthy"),
            ("db", "running", ""),
        ]
        compose.run(["kill", "api"], 60)  # exited, code 137
        assert _seen(stack.containers()) == _seen(reference.get_containers(include_all=True))
        assert [(c.Service, c.State, c.Health, c.ExitCode) for c in stack.containers()] == [
            ("api", "exited", "", 137),
            ("db", "running", "", 0),
        ]
        assert engine.api.inspect_container(stack.containers()[0].ID)["State"]["Health"]["Status"] == "unhealthy"
    finally:
        teardown(prepared.stack)


@pytest.mark.parametrize(
    "reference, normal",
    [
        pytest.param("postgres", "postgres:latest", id="untagged"),
        pytest.param("docker.io/library/node:18", "node:18", id="docker-hub-library"),
        pytest.param("docker.io/dpage/pgadmin4:8", "dpage/pgadmin4:8", id="docker-hub-user"),
        pytest.param("localhost:5000/api", "localhost:5000/api:latest", id="registry-port"),
        pytest.param("node@sha256:abc", "node@sha256:abc", id="digest"),
    ],
)
def test_normal_reference(reference: str, normal: str) -> None:
    assert normal_reference(reference) == normal


def test_teardown_removes_what_the_run_pulled_and_nothing_else() -> None:
    """Only images the run needed (a FROM, a service's image) that were not on the engine before
    it; never a course image the rubric pins, one that was there, or one another process pulled."""

    class Images:
        def __init__(self) -> None:
            self.tags = {"node:18", "postgres:15"}
            self.removed: list[str] = []

        def summaries(self, all: bool = False, filters: object = None) -> list[dict[str, object]]:
            # the engine's list (one call): an image pulled by digest has no tag, only a RepoDigest
            return [
                {
                    "Id": f"sha256:{n:064x}",
                    "RepoTags": None if "@" in t else [t],
                    "RepoDigests": [t] if "@" in t else [],
                }
                for n, t in enumerate(sorted(self.tags))
            ]

        def remove(self, tag: str) -> None:
            self.removed.append(tag)

    images = Images()
    client = SimpleNamespace(images=images, api=SimpleNamespace(images=images.summaries))
    stack = Stack(Path("/nowhere"), "grader-pull-test", client)  # type: ignore[arg-type]
    stack.keep_images = frozenset({"postgres:16"})
    stack._snapshot_tags()
    images.tags |= {"node:20", "postgres:16", "mongo:7", "redis:latest", "node@sha256:ab"}  # pulled during the run
    stack.wanted_images = {"node:20", "postgres:16", "postgres:15", "redis:latest", "node:18", "node@sha256:ab"}
    assert remove_pulled(stack.client, stack._pulled()) == []
    assert sorted(images.removed) == ["node:20", "node@sha256:ab", "redis:latest"]  # mongo:7: not the run's
