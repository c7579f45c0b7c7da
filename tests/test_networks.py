"""Where the grader runs and how it reaches a stack, over a stand-in for the engine's client."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker
import pytest

from grader.engine import networks
from grader.engine.networks import Endpoint


class FakeClient:
    """The few calls grader.engine.networks makes, recorded."""

    def __init__(self, mounts: list[dict[str, str]], addresses: dict[str, str]) -> None:
        self.calls: list[tuple[str, str, str]] = []
        attrs = {"Mounts": mounts, "NetworkSettings": {"Networks": {n: {"IPAddress": a} for n, a in addresses.items()}}}
        self.containers = SimpleNamespace(get=lambda _id: SimpleNamespace(attrs=attrs, id=_id))
        self.networks = SimpleNamespace(list=self._list, get=self._get)

    def _network(self, name: str) -> Any:
        return SimpleNamespace(
            name=name,
            connect=lambda c: self.calls.append(("connect", name, c)),
            disconnect=lambda c, force: self.calls.append(("disconnect", name, c)),
        )

    def _list(self, filters: dict[str, str]) -> list[Any]:
        assert filters == {"label": "com.docker.compose.project=grader-p"}  # only the run's own
        return [self._network("grader-p_default"), self._network("grader-p_back")]

    def _get(self, name: str) -> Any:
        if name == "gone":
            raise docker.errors.NotFound("gone")
        return self._network(name)


@pytest.mark.parametrize(
    "mounts, path, seen",
    [
        pytest.param([], "/tmp/x/s", False, id="nothing-mounted"),
        pytest.param([{"Type": "bind", "Source": "/tmp/cg", "Destination": "/tmp/cg"}], "/tmp/cg/s", True, id="same"),
        pytest.param([{"Type": "bind", "Source": "/srv/cg", "Destination": "/tmp/cg"}], "/tmp/cg/s", False, id="moved"),
        pytest.param([{"Type": "volume", "Source": "/tmp/cg", "Destination": "/tmp/cg"}], "/tmp/cg/s", False, id="vol"),
        pytest.param([{"Type": "bind", "Source": "/tmp/c", "Destination": "/tmp/c"}], "/tmp/cg/s", False, id="prefix"),
    ],
)
def test_the_engine_sees_a_path_only_through_a_same_path_bind(mounts: Any, path: str, seen: bool) -> None:
    client: Any = FakeClient(mounts, {})
    assert networks.engine_sees(client, "me", Path(path)) is seen
    assert networks.engine_sees(client, None, Path(path)) is True  # on the engine's host


def test_joins_the_run_s_networks_once_and_leaves_them() -> None:
    client: Any = FakeClient([], {"grader-p_back": "172.20.0.3"})
    joined = networks.join(client, "me", "grader-p", ["grader-p_default"])
    assert joined == ["grader-p_default", "grader-p_back"]
    assert client.calls == [("connect", "grader-p_back", "me")]  # the one not joined yet
    assert networks.address(client, "api-id", joined) == "172.20.0.3"
    assert networks.address(client, "api-id", ["grader-p_default"]) is None
    networks.leave(client, "me", [*joined, "gone"])  # one already removed is no error
    assert client.calls[1:] == [("disconnect", "grader-p_default", "me"), ("disconnect", "grader-p_back", "me")]


def test_an_ipv6_endpoint_is_bracketed_in_a_url() -> None:
    assert Endpoint("fd00::3", 3000).url_host == "[fd00::3]"
    assert Endpoint("127.0.0.1", 3000).url_host == "127.0.0.1"
