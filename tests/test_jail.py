"""compose config in the jail: it reads the submission's copy and nothing else of the machine."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine.compose import resolve_config
from grader.intake import jail
from grader.intake.resolve import screen
from grader.intake.untrusted import merge_sequence_line

MERGE = """\
x-machine: &machine
  label_file: {machine}
x-ours: &ours
  label_file: ./labels.txt
services:
  api:
    image: node:18
    <<: [*machine, *ours]
"""


@pytest.fixture
def no_jail(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GRADER_NO_JAIL", "1")
    jail.available.cache_clear()
    yield
    monkeypatch.undo()
    jail.available.cache_clear()


def _project(tmp_path: Path, machine: str = "/etc/os-release") -> Path:
    (tmp_path / "labels.txt").write_text("course=docker\n")
    (tmp_path / "compose.yml").write_text(MERGE.format(machine=machine))
    return tmp_path / "compose.yml"


def test_the_jail_runs_here() -> None:
    assert jail.available() is None  # make setup installs bubblewrap: CI grades in the jail


def test_compose_in_the_jail_cannot_read_the_machine_s_files(tmp_path: Path) -> None:
    # PyYAML gives the service ./labels.txt, compose /etc/os-release: the screen cannot see it.
    file = _project(tmp_path)
    assert screen(tmp_path, (file,)) is None
    with pytest.raises(subprocess.CalledProcessError) as caught:
        resolve_config(tmp_path, [file], "p")
    said = caught.value.stderr.decode()
    assert "/etc/os-release not found" in said and "debian" not in said.lower()


def test_compose_in_the_jail_reads_the_copy(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("course=docker\n")
    (tmp_path / "compose.yml").write_text("services:\n  api:\n    image: node:18\n    label_file: ./labels.txt\n")
    model, _ = resolve_config(tmp_path, [tmp_path / "compose.yml"], "p")
    assert model["services"]["api"]["labels"] == {"course": "docker"}


def test_the_jail_binds_only_the_binary_and_the_copy(tmp_path: Path) -> None:
    binary = jail.compose_binary()
    assert binary is not None
    probe = jail.command(["version"], tmp_path, {"COMPOSE_ANSI": "never"})
    sources = {probe[i + 1] for i, word in enumerate(probe) if word in ("--bind", "--ro-bind")}
    assert sources == {str(binary), str(tmp_path)}  # static: no /usr, no /etc, no engine socket
    assert "--unshare-all" in probe and "--clearenv" in probe and "--bind" not in probe
    assert probe[-2:] == [jail.INSIDE, "version"]


def test_without_the_jail_a_merge_of_several_anchors_is_refused(tmp_path: Path, no_jail: None) -> None:
    assert jail.available() == "GRADER_NO_JAIL=1"
    rejection = screen(tmp_path, (_project(tmp_path),))
    assert rejection is not None and rejection.refused and "line 8" in rejection.message


@pytest.mark.parametrize(
    "text, line",
    [
        pytest.param("a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n", 4, id="sequence"),
        pytest.param("a: &a {x: 1}\nc:\n  <<: *a\n", None, id="one-anchor"),
        pytest.param("c: {'<<': [1, 2]}\n", None, id="quoted-key-is-no-merge"),
    ],
)
def test_merge_sequence_line(text: str, line: int | None) -> None:
    assert merge_sequence_line(text) == line
