"""The lock files install what pyproject.toml asks for: every dependency pinned, within its
range, with hashes; the tools' lock holds the grader's exact versions. `make lock` writes them."""

from __future__ import annotations

import re

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", text, re.MULTILINE))
    blocks = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.MULTILINE)
    assert all("--hash=sha256:" in b for b in blocks if b.strip() and not b.startswith("#")), name
    return {canonicalize_name(k): v for k, v in pins.items()}


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        pytest.param("requirements.lock", PYPROJECT["dependencies"], id="runtime"),
        pytest.param(
            "requirements-dev.lock",
            PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["dev"],
            id="dev",
        ),
    ],
)
def test_every_dependency_is_pinned_within_its_range(lock: str, requirements: list[str]) -> None:
    pins = _pins(lock)
    for line in requirements:
        wanted = Requirement(line)
        name = canonicalize_name(wanted.name)
        assert name in pins, f"{lock}: {wanted.name} is not pinned: run `make lock`"
        assert wanted.specifier.contains(pins[name], prereleases=True), f"{lock}: {name}=={pins[name]} not in {wanted}"


def test_the_tools_lock_holds_the_grader_s_exact_versions() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {k: dev.get(k) for k in runtime} == runtime
