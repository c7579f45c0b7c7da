from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from grader.engine.stack import GateClosed, Stack
from grader.intake import policy
from grader.intake.policy import findings, rewrites

ROOT = Path("/tmp/grader-x/submission")


def svc(**extra: Any) -> dict[str, Any]:
    return {"services": {"api": {"image": "node:18", **extra}}}


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        pytest.param(svc(privileged=True), "privileged", id="privileged"),
        pytest.param(svc(network_mode="host"), "network_mode: host", id="host-network"),
        pytest.param(svc(pid="host"), "pid: host", id="host-pid"),
        pytest.param(svc(ipc="host"), "ipc: host", id="host-ipc"),
        pytest.param(svc(cap_add=["SYS_ADMIN"]), "cap_add", id="cap-add"),
        pytest.param(svc(devices=[{"source": "/dev/kvm", "target": "/dev/kvm"}]), "devices", id="devices"),
        pytest.param(svc(security_opt=["seccomp=unconfined"]), "unconfined", id="seccomp"),
        pytest.param(
            svc(volumes=[{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}]),
            "Docker socket",
            id="socket",
        ),
        pytest.param(svc(volumes=[{"type": "bind", "source": "/", "target": "/host"}]), "bind mount of /", id="root"),
        pytest.param(
            svc(volumes=[{"type": "bind", "source": str(ROOT / ".." / ".."), "target": "/x"}]),
            "bind mount",
            id="dot-dot-escape",
        ),
        pytest.param(svc(build={"context": str(ROOT), "network": "host"}), "build.network", id="build-host-net"),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "none", "o": "bind", "device": "/etc"}}}},
            "driver_opts",
            id="volume-device",
        ),
        pytest.param({"services": {}, "volumes": {"v": {"external": True}}}, "external", id="external-volume"),
        pytest.param({"services": {}, "secrets": {"s": {"file": "/etc/shadow"}}}, "/etc/shadow", id="secret-file"),
        pytest.param(
            {"services": {f"s{i}": {"image": "node:18"} for i in range(11)}}, "11 services", id="too-many-services"
        ),
        # round two (issue 9): every key that names a host path, a host resource, another
        # container or an engine-wide name, as compose's resolved model writes it
        pytest.param(svc(volumes_from=["container:victim"]), "volumes_from: container:victim", id="volumes-from"),
        pytest.param(svc(external_links=["other_db:db"]), "external_links", id="external-links"),
        pytest.param(svc(network_mode="bridge"), "network_mode: bridge", id="default-bridge"),
        pytest.param(svc(network_mode="container:abc"), "network_mode: container:abc", id="container-network"),
        pytest.param(svc(cgroup="host"), "cgroup: host", id="host-cgroup"),
        pytest.param(svc(cgroup_parent="/system.slice"), "cgroup_parent", id="cgroup-parent"),
        pytest.param(svc(runtime="runsc"), "runtime", id="runtime"),
        pytest.param(svc(gpus="all"), "gpus", id="gpus"),
        pytest.param(svc(sysctls={"net.ipv4.ip_forward": "1"}), "sysctls", id="sysctls"),
        pytest.param(svc(extra_hosts=["host.docker.internal=host-gateway"]), "host-gateway", id="host-gateway"),
        pytest.param(svc(security_opt=["seccomp=./allow-all.json"]), "seccomp=./allow-all.json", id="seccomp-file"),
        pytest.param(svc(security_opt=["label=type:spc_t"]), "label=type:spc_t", id="selinux-spc"),
        pytest.param(svc(security_opt=["apparmor=unconfined"]), "apparmor", id="apparmor"),
        pytest.param(svc(security_opt=["systempaths=unconfined"]), "systempaths", id="systempaths"),
        pytest.param(svc(volume_driver="rexray"), "volume_driver: rexray", id="service-volume-driver"),
        pytest.param(svc(credential_spec={"file": "/etc/creds.json"}), "credential_spec", id="credential-spec"),
        pytest.param(svc(provider={"type": "awesomecloud"}), "provider", id="provider"),
        pytest.param(svc(models=["llm"]), "models", id="service-models"),
        pytest.param(svc(use_api_socket=True), "use_api_socket", id="api-socket"),
        pytest.param(svc(pre_start=[{"image": "alpine", "privileged": True}]), "pre_start", id="pre-start"),
        pytest.param(svc(post_start=[{"command": ["sh"], "privileged": True}]), "hook", id="privileged-hook"),
        pytest.param(svc(device_cgroup_rules=["c 1:3 mr"]), "devices", id="device-cgroup-rules"),
        pytest.param(svc(build={"context": str(ROOT), "privileged": True}), "privileged", id="build-privileged"),
        pytest.param(svc(build={"context": str(ROOT), "ssh": ["default"]}), "build.ssh", id="build-ssh"),
        pytest.param(
            svc(build={"context": str(ROOT), "entitlements": ["security.insecure"]}),
            "build.entitlements",
            id="build-entitlements",
        ),
        pytest.param(
            svc(build={"context": str(ROOT), "extra_hosts": ["h=host-gateway"]}), "host-gateway", id="build-gateway"
        ),
        pytest.param(
            svc(build={"context": str(ROOT), "network": "some_engine_net"}),
            "build.network: some_engine_net",
            id="build-engine-network",
        ),
        pytest.param(
            svc(build={"context": str(ROOT), "dockerfile": "/etc/passwd"}),
            "build.dockerfile: /etc/passwd",
            id="dockerfile-absolute",
        ),
        pytest.param(
            svc(build={"context": str(ROOT), "dockerfile": "../../../etc/passwd"}),
            "build.dockerfile",
            id="dockerfile-dot-dot",
        ),
        pytest.param(svc(build={"context": "/etc"}), "build context /etc", id="build-context"),
        pytest.param(
            svc(build={"context": str(ROOT), "additional_contexts": {"x": "/etc"}}), "x=/etc", id="additional-context"
        ),
        pytest.param(svc(env_file=[{"path": "/etc/passwd", "required": False}]), "/etc/passwd", id="env-file"),
        pytest.param(svc(label_file=["/etc/shadow"]), "/etc/shadow", id="label-file"),
        pytest.param(
            svc(volumes=[{"type": "image", "source": "postgres:15", "target": "/i"}]), "`image` mount", id="image-mount"
        ),
        pytest.param(
            svc(volumes=[{"type": "npipe", "source": "//./pipe/docker_engine", "target": "/p"}]), "npipe", id="npipe"
        ),
        pytest.param({"services": {}, "volumes": {"v": {"driver": "rexray/ebs"}}}, "volume plugin", id="plugin"),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "nfs", "o": "addr=10.0.0.1", "device": ":/"}}}},
            "type=nfs",
            id="nfs-volume",
        ),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "ext4", "device": "/dev/sda1"}}}},
            "type=ext4",
            id="host-disk",
        ),
        # the kernel ignores the type of a bind; the daemon resolves a relative device from its own folder
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "tmpfs", "o": "bind", "device": "/"}}}},
            "type=tmpfs, o=bind, device=/",
            id="tmpfs-typed-bind",
        ),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "none", "o": "rbind", "device": "."}}}},
            "device=.",
            id="relative-device",
        ),
        # a tmpfs volume lives outside every container's memory limit (issue 19: size=1000g refilled by restarts)
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "tmpfs", "device": "tmpfs"}}}},
            "without one `size=` above 0 and one `nr_inodes=`",
            id="tmpfs-without-size",
        ),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "tmpfs", "o": "size=50%"}}}},
            "without one `size=` above 0 and one `nr_inodes=`",
            id="tmpfs-sized-as-a-share-of-ram",
        ),
        # for tmpfs, size=0 is no limit at all; the kernel takes the last of two sizes (review)
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "tmpfs", "o": "size=0"}}}},
            "without one `size=` above 0 and one `nr_inodes=`",
            id="tmpfs-size-0",
        ),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "tmpfs", "o": "size=1m,size=64g"}}}},
            "without one `size=` above 0 and one `nr_inodes=`",
            id="tmpfs-size-twice",
        ),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "tmpfs", "o": "size=1m,nr_inodes=99999999"}}}},
            "without one `size=` above 0 and one `nr_inodes=`",
            id="tmpfs-unlimited-inodes",
        ),
        # empty files take kernel memory, not blocks: a size alone bounds no inode (second review)
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "tmpfs", "o": "size=1m"}}}},
            "without one `size=` above 0 and one `nr_inodes=`",
            id="tmpfs-without-nr-inodes",
        ),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "tmpfs", "o": "size=1000g,nr_inodes=10"}}}},
            "take 1024000 MB",
            id="tmpfs-1000g",
        ),
        pytest.param(
            {
                "services": {},
                "volumes": {
                    "a": {"driver_opts": {"type": "tmpfs", "o": "size=200m,nr_inodes=1"}},
                    "b": {"driver_opts": {"type": "tmpfs", "o": "size=209715200,nr_inodes=1"}},
                },
            },
            "`a`, `b` take 400 MB",
            id="tmpfs-volumes-add-up",
        ),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"type": "none", "o": "remount,bind", "device": "/"}}}},
            "o=remount,bind",
            id="remount",
        ),
        pytest.param(
            {"services": {}, "volumes": {"v": {"driver_opts": {"o": "bind", "device": str(ROOT)}}}},
            "driver_opts",
            id="bind-without-type",
        ),
        pytest.param(
            {"services": {}, "networks": {"n": {"ipam": {"config": [{"subnet": "8.8.8.0/24"}]}}}},
            "subnet 8.8.8.0/24 is not a private range",
            id="public-subnet",
        ),
        pytest.param(svc(networks={"n": {"link_local_ips": ["169.254.169.254"]}}), "link_local_ips", id="link-local"),
        pytest.param(
            {"services": {}, "networks": {"n": {"driver": "macvlan"}}},
            "macvlan",
            id="macvlan",
        ),
        pytest.param({"services": {}, "networks": {"n": {"driver": "ipvlan"}}}, "ipvlan", id="ipvlan"),
        pytest.param({"services": {}, "networks": {"n": {"external": True}}}, "network `n`", id="external-network"),
        pytest.param({"services": {}, "networks": {"n": {"driver": "host"}}}, "network `n`", id="host-network-driver"),
        pytest.param(
            {"services": {}, "networks": {"n": {"driver_opts": {"com.docker.network.bridge.name": "docker0"}}}},
            "driver_opts",
            id="bridge-name",
        ),
        pytest.param({"services": {}, "networks": {"n": {"ipam": {"driver": "dhcp"}}}}, "ipam", id="ipam-driver"),
        pytest.param({"services": {}, "secrets": {"s": {"external": True}}}, "external", id="external-secret"),
        pytest.param({"services": {}, "configs": {"c": {"file": "/etc/hosts"}}}, "/etc/hosts", id="config-file"),
        pytest.param(
            {"services": {}, "secrets": {"s": {"environment": "DOCKER_HOST"}}}, "DOCKER_HOST", id="secret-from-env"
        ),
        pytest.param({"services": {}, "models": {"m": {"model": "ai/llama"}}}, "models", id="top-level-models"),
        pytest.param({"services": {}, "jobs": {"j": {"image": "alpine"}}}, "jobs", id="jobs"),
        pytest.param(svc(annotations={"run.oci.hooks": "x"}), "annotations", id="annotations"),
        pytest.param(
            svc(networks={"default": {"driver_opts": {"com.docker.network.endpoint.sysctls": "x"}}}),
            "networks.default.driver_opts",
            id="endpoint-driver-opts",
        ),
        pytest.param(
            svc(volumes=[{"type": "volume", "source": "v", "target": "/d", "volume": {"subpath": "x"}}]),
            "subpath",
            id="volume-subpath",
        ),
        # a container that can write `.` can replace ./data with a link to / before another mount
        pytest.param(
            svc(
                volumes=[
                    {"type": "bind", "source": str(ROOT), "target": "/src"},
                    {"type": "bind", "source": str(ROOT / "data"), "target": "/host", "read_only": True},
                ]
            ),
            f"the bind mount `{ROOT / 'data'}` of service `api` is inside the bind mount `{ROOT}` of service `api`",
            id="bind-inside-a-writable-bind",
        ),
        pytest.param(
            {
                "services": {"a": {"volumes": [{"type": "bind", "source": str(ROOT), "target": "/src"}]}},
                "secrets": {"s": {"file": str(ROOT / "secrets" / "db.txt")}},
            },
            "secret `s` is inside",
            id="secret-inside-a-writable-bind",
        ),
        pytest.param(
            {
                "services": {"a": {"volumes": [{"type": "bind", "source": str(ROOT / "data"), "target": "/d"}]}},
                "volumes": {"v": {"driver_opts": {"type": "none", "o": "bind", "device": str(ROOT)}}},
            },
            "inside volume `v`",
            id="bind-inside-a-bind-volume",
        ),
    ],
)
def test_refused(config: dict[str, Any], needle: str) -> None:
    found = findings(config, ROOT, variables={"PATH": "/bin", "HOME": "/h", "DOCKER_HOST": "unix:///s"})
    assert len(found) == 1 and needle in found[0], found


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(svc(volumes=[{"type": "bind", "source": str(ROOT / "pgdata"), "target": "/d"}]), id="bind-inside"),
        pytest.param(svc(volumes=[{"type": "volume", "source": "pgdata", "target": "/d"}]), id="named-volume"),
        pytest.param(svc(network_mode="service:db"), id="network-of-a-sibling"),
        pytest.param(svc(cap_drop=["ALL"], security_opt=["no-new-privileges:true"]), id="hardening"),
        pytest.param(svc(volumes_from=["db"]), id="volumes-from-a-sibling"),
        pytest.param(svc(extra_hosts=["api.local=127.0.0.1"]), id="plain-extra-host"),
        pytest.param(svc(env_file=[{"path": str(ROOT / ".env"), "required": False}]), id="env-file-inside"),
        pytest.param(svc(build={"context": str(ROOT), "dockerfile": "docker/Dockerfile.prod"}), id="dockerfile-inside"),
        pytest.param(svc(build={"context": str(ROOT), "tags": ["postgres:15"]}), id="tags-are-rewritten"),
        pytest.param(svc(network_mode="none"), id="no-network"),
        pytest.param({"services": {}, "volumes": {"v": {"name": "victim"}}}, id="volume-name-is-rewritten"),
        pytest.param(
            {
                "services": {},
                "volumes": {"v": {"driver_opts": {"type": "none", "o": "bind", "device": str(ROOT / "d")}}},
            },
            id="bind-volume-inside",
        ),
        pytest.param(
            {
                "services": {},
                "volumes": {"v": {"driver_opts": {"type": "tmpfs", "device": "tmpfs", "o": "size=64m,nr_inodes=1000"}}},
            },
            id="sized-tmpfs",
        ),
        pytest.param({"services": {}, "secrets": {"s": {"environment": "DB_PASSWORD"}}}, id="secret-from-own-env"),
        pytest.param(
            svc(
                volumes=[
                    {"type": "bind", "source": str(ROOT), "target": "/app"},
                    {"type": "volume", "target": "/app/node_modules"},
                ]
            ),
            id="dev-setup-with-node-modules-volume",
        ),
        pytest.param(
            svc(
                volumes=[
                    {"type": "bind", "source": str(ROOT), "target": "/src", "read_only": True},
                    {"type": "bind", "source": str(ROOT / "data"), "target": "/d"},
                ]
            ),
            id="inside-a-read-only-bind",
        ),
        pytest.param(
            svc(
                volumes=[
                    {"type": "bind", "source": str(ROOT / "a"), "target": "/a"},
                    {"type": "bind", "source": str(ROOT / "ab"), "target": "/b"},
                ]
            ),
            id="siblings-with-a-common-prefix",
        ),
    ],
)
def test_allowed(config: dict[str, Any]) -> None:
    assert findings(config, ROOT, variables={"PATH": "/bin", "HOME": "/h"}) == []


def test_symlink_leaving_the_repo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").symlink_to("/etc")
    config = svc(volumes=[{"type": "bind", "source": str(tmp_path / "data"), "target": "/d"}])
    assert findings(config, tmp_path)


def test_ten_services_are_allowed_and_the_limit_is_the_rubric_s() -> None:
    ten = {"services": {f"s{i}": {"image": "node:18"} for i in range(10)}}
    assert findings(ten, ROOT) == []
    assert "10 services" in findings(ten, ROOT, max_services=3)[0]


def test_rewrites_name_what_the_override_changes() -> None:
    config = {
        "services": {
            "api": {"build": {"context": str(ROOT), "tags": ["postgres:15"]}, "image": "postgres:16"},
            "db": {"image": "postgres:15", "pull_policy": "always", "oom_score_adj": -1000},
        },
        "volumes": {"pgdata": {"name": "victim"}, "other": {"name": "p_other"}},
        "networks": {"default": {"name": "p_default"}},
    }
    assert rewrites(config, "p") == [
        "`image: postgres:16` of the built service `api` is not written (the grader names the image itself)",
        "`build.tags` of `api` left out",
        "`pull_policy`, `oom_score_adj` of `db` left out",
        "volume `pgdata` is `p_pgdata`, not `victim`",
    ]


def test_the_stack_builds_and_starts_nothing_the_gate_refuses(tmp_path: Path) -> None:
    """Enforced where things start, not by the check order: prepare refuses, and build/up of a
    stack that was never prepared raise before recording or running anything."""
    stack = Stack(tmp_path, "grader-gate-test", client=None)  # type: ignore[arg-type]
    with pytest.raises(GateClosed, match="privileged"):
        stack.prepare(svc(privileged=True), None)
    with pytest.raises(GateClosed):
        stack.build(60)
    with pytest.raises(GateClosed):
        stack.up(60)
    assert not stack.started


def test_the_stack_runs_the_model_the_gate_saw(tmp_path: Path) -> None:
    """After prepare, compose reads the gate's model and the override from the grader's folder:
    never the student's compose file, `.env` or env files again."""
    student = tmp_path / "compose.yaml"
    config = {
        "name": "p",
        "services": {
            "api": {"image": "node:18", "env_file": [{"path": str(tmp_path / ".env")}], "label_file": ["l"]},
        },
    }
    engine = SimpleNamespace(info=lambda: {"OperatingSystem": "Debian"})  # prepare asks only that
    stack = Stack(tmp_path, "grader-model-test", client=engine)  # type: ignore[arg-type]
    stack.prepare(config, None)
    command = stack.compose.command("up")
    files = [command[i + 1] for i, arg in enumerate(command) if arg in ("-f", "--env-file")]
    assert [Path(f).name for f in files] == ["model.json", "grader.engine.override.yaml", "empty.env"]
    assert str(student) not in command and not any(str(tmp_path) in f for f in files)
    model = json.loads(Path(files[0]).read_text())
    assert model["services"]["api"] == {"image": "node:18"}
    stack.teardown()


def test_a_subnet_over_the_machine_s_own_network_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cloud runner's VPC (here 172.31.0.0/16) taken by a student's bridge would cut the runner
    off from its resolver; a private subnet elsewhere, as tutorials write it, passes."""
    monkeypatch.setattr(policy, "machine_networks", lambda: [ipaddress.IPv4Network("172.31.0.0/16")])
    overlapping = {"services": {}, "networks": {"n": {"ipam": {"config": [{"subnet": "172.31.5.0/24"}]}}}}
    assert "covers 172.31.0.0/16" in findings(overlapping, ROOT)[0]
    elsewhere = {"services": {}, "networks": {"n": {"ipam": {"config": [{"subnet": "172.28.5.0/24"}]}}}}
    assert findings(elsewhere, ROOT) == []


def test_machine_networks_skip_the_default_route_and_docker_s_bridges() -> None:
    networks = policy.machine_networks()
    assert ipaddress.IPv4Network("0.0.0.0/0") not in networks
    assert ipaddress.IPv4Network("172.17.0.0/16") not in networks  # docker0


@pytest.mark.parametrize(
    "dockerfile, needle",
    [
        pytest.param(
            "FROM node:18\nADD http://127.0.0.1:2375/info /x\n", "`ADD http://127.0.0.1:2375/info`", id="add-url"
        ),
        pytest.param(
            "FROM node:18\nADD --chmod=644 https://example.test/a /b /c/\n",
            "`ADD https://example.test/a`",
            id="add-url-flags",
        ),
        pytest.param('FROM node:18\nADD ["git@host:x/y.git", "/src"]\n', "`ADD git@host:x/y.git`", id="add-git-json"),
        pytest.param("FROM node:18\nONBUILD ADD http://127.0.0.1/x /x\n", "`ADD http://127.0.0.1/x`", id="onbuild-add"),
        pytest.param("FROM --platform=linux/arm64 node:18\n", "`FROM --platform=linux/arm64`", id="other-platform"),
        pytest.param("FROM node:18\nARG U=http://127.0.0.1:2375/info\nADD $U /m\n", "`ADD $U`", id="add-a-variable"),
        pytest.param("FROM node:18\nENV H=http://x\nADD ${H}/a /c\n", "`ADD ${H}/a`", id="add-a-braced-variable"),
    ],
)
def test_a_dockerfile_that_makes_the_machine_fetch_is_refused(tmp_path: Path, dockerfile: str, needle: str) -> None:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    found = findings(svc(build={"context": str(tmp_path)}), tmp_path, variables=set())
    assert len(found) == 1 and needle in found[0], found


@pytest.mark.parametrize(
    "build",
    [
        pytest.param({"context": "http://127.0.0.1:8000/context.tar"}, id="url-context"),
        pytest.param({"context": "https://github.com/x/y.git#main"}, id="git-context"),
        pytest.param({"context": ".", "additional_contexts": {"x": "oci-layout:///var/lib/x"}}, id="oci-layout"),
        pytest.param({"context": ".", "additional_contexts": {"x": "http://127.0.0.1/x.tar"}}, id="url-additional"),
    ],
)
def test_remote_build_contexts_are_refused(tmp_path: Path, build: dict[str, Any]) -> None:
    (tmp_path / "Dockerfile").write_text("FROM node:18\n")
    if build["context"] == ".":
        build["context"] = str(tmp_path)
    found = findings(svc(build=build), tmp_path, variables=set())
    assert len(found) == 1 and "fetched from the network by the grading machine" in found[0], found


def test_a_plain_dockerfile_and_image_contexts_pass(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM --platform=$BUILDPLATFORM node:18 AS build\nADD package.json /app/\nCOPY --from=build /app /app\n"
    )
    build = {"context": str(tmp_path), "additional_contexts": {"base": "docker-image://node:18", "s": "service:db"}}
    assert findings(svc(build=build), tmp_path, variables=set()) == []


def test_a_route_table_from_the_engine_replaces_the_container_s_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the grader's image, /proc/net/route is the container's; the engine's machine's table
    (grader.engine.networks.host_routes) is what subnets are judged against."""
    monkeypatch.setattr(policy, "_ROUTES", [])
    table = (
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        "ens5\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"  # default via 10.0.0.1
        "ens5\t0000000A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"  # 10.0.0.0/16, the machine's VPC
    )
    policy.use_routes(table)
    assert policy.machine_networks() == [ipaddress.IPv4Network("10.0.0.0/16")]
    vpc = {"services": {}, "networks": {"n": {"ipam": {"config": [{"subnet": "10.0.8.0/24"}]}}}}
    assert "covers 10.0.0.0/16" in findings(vpc, ROOT)[0]


def test_a_subnet_over_the_machine_s_resolver_or_gateway_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reached through the default route, so in no route of their own: a bridge over the resolver
    (10.255.255.53 here) would take the machine's DNS queries into a student's container (review)."""
    monkeypatch.setattr(policy, "machine_next_hops", lambda: [ipaddress.ip_address("10.255.255.53")])
    resolver = {"services": {}, "networks": {"n": {"ipam": {"config": [{"subnet": "10.255.255.0/24"}]}}}}
    assert "covers 10.255.255.53" in findings(resolver, ROOT)[0]
    elsewhere = {"services": {}, "networks": {"n": {"ipam": {"config": [{"subnet": "10.254.0.0/24"}]}}}}
    assert findings(elsewhere, ROOT) == []


def test_a_dockerfile_behind_a_link_inside_the_repository_is_read_too(tmp_path: Path) -> None:
    # review: `Dockerfile -> build/real.Dockerfile` made the gate skip it; the builder follows it
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "real.Dockerfile").write_text("FROM node:18\nADD http://169.254.169.254/latest/ /m\n")
    (tmp_path / "Dockerfile").symlink_to("build/real.Dockerfile")
    found = findings(svc(build={"context": str(tmp_path)}), tmp_path, variables=set())
    assert len(found) == 1 and "`ADD http://169.254.169.254/latest/`" in found[0], found
