from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checks.security_policy import findings

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
    ],
)
def test_refused(config: dict[str, Any], needle: str) -> None:
    found = findings(config, ROOT)
    assert len(found) == 1 and needle in found[0], found


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(svc(volumes=[{"type": "bind", "source": str(ROOT / "pgdata"), "target": "/d"}]), id="bind-inside"),
        pytest.param(svc(volumes=[{"type": "volume", "source": "pgdata", "target": "/d"}]), id="named-volume"),
        pytest.param(svc(network_mode="service:db"), id="network-of-a-sibling"),
        pytest.param(svc(cap_drop=["ALL"], security_opt=["no-new-privileges:true"]), id="hardening"),
    ],
)
def test_allowed(config: dict[str, Any]) -> None:
    assert findings(config, ROOT) == []


def test_symlink_leaving_the_repo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").symlink_to("/etc")
    config = svc(volumes=[{"type": "bind", "source": str(tmp_path / "data"), "target": "/d"}])
    assert findings(config, tmp_path)


def test_ten_services_are_allowed_and_the_limit_is_the_rubric_s() -> None:
    ten = {"services": {f"s{i}": {"image": "node:18"} for i in range(10)}}
    assert findings(ten, ROOT) == []
    assert "10 services" in findings(ten, ROOT, max_services=3)[0]
