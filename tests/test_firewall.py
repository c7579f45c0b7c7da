"""The firewall rules' shape and the override that makes a run's networks internal (the docker
fixture hostile-knocks-on-the-gateway proves both on the engine)."""

from __future__ import annotations

import pytest
import yaml

from grader.engine import firewall
from grader.engine.override import render_override
from grader.intake.untrusted import ComposeLoader


def test_bridge_names_are_the_run_s_own_and_fit_linux() -> None:
    names = {firewall.bridge_name(p, n) for p in ("grader-a-1", "grader-b-2") for n in ("default", "back")}
    assert len(names) == 4 and all(len(n) <= 15 and n.startswith("grd") for n in names)
    assert firewall.bridge_name("grader-a-1", "default") == firewall.bridge_name("grader-a-1", "default")


def test_the_rule_drops_only_what_the_containers_start_and_names_its_run() -> None:
    rule = firewall._rule("grd0123456789ab", "grader-x-1")
    assert rule[:3] == ["INPUT", "-i", "grd0123456789ab"] and rule[-2:] == ["-j", "DROP"]
    assert "!" in rule and "ESTABLISHED,RELATED" in rule  # answers to the grader's own connections pass
    assert "compose-grader:grader-x-1" in rule


def test_not_root_is_said_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(firewall.os, "geteuid", lambda: 1000)
    firewall.unavailable.cache_clear()
    try:
        assert firewall.unavailable() == "the grader is not root, so it cannot add firewall rules"
        assert firewall.rules() == []
    finally:
        monkeypatch.undo()
        firewall.unavailable.cache_clear()


def test_an_isolated_override_makes_every_network_internal_and_publishes_nothing() -> None:
    config = {
        "services": {"api": {"ports": [{"target": 3000}]}, "db": {"image": "postgres:16"}},
        "networks": {"default": {}, "back": {"internal": False}},
    }
    text = render_override(config, "grader-x-1", "db", isolated=True)
    override = yaml.load(text, Loader=ComposeLoader)
    for key in ("default", "back"):
        network = override["networks"][key]
        assert network["internal"] is True
        assert network["driver_opts"] == {firewall.BRIDGE_OPTION: firewall.bridge_name("grader-x-1", key)}
    assert override["services"]["api"]["ports"] == []
    assert "ports" not in override["services"]["db"]  # nothing published for the grader either
