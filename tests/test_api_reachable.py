"""api.reachable on a stand-in stack (no engine): what it says when the API has stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest

from checks.api_reachable import run
from grader.intake.dockerfile import DockerfileSource
from grader.intake.project import ComposeProject
from grader.intake.resolve import Resolution
from grader.intake.rubric import Rubric
from grader.model import Status
from grader.run.context import Options, StackContext


class _Container(NamedTuple):
    ID: str


class _Stopped:
    """A stack whose API has exited: for the disk watch, or not."""

    def __init__(self, for_disk: bool) -> None:
        self.for_disk = for_disk

    def state(self, service: str) -> str:
        return "exited"

    def logs(self, service: str, tail: int = 60) -> str:
        return "API escuchando en el puerto 3000"

    def oom_killed(self, service: str) -> bool:
        return False

    def container(self, service: str) -> _Container:
        return _Container("c0ffee")

    def disk_full(self, container_id: str) -> bool:
        return self.for_disk and container_id == "c0ffee"


def _ctx(stack: _Stopped) -> StackContext:
    config = {"services": {"api": {"build": {"context": "."}, "ports": [{"target": 3000, "published": "3000"}]}}}
    model = ComposeProject(Path("compose.yaml"), Path("."), config, "")
    stand_in: Any = stack
    return StackContext(
        root=Path("."),
        options=Options(),
        project_name="p",
        rubric=Rubric(),
        resolution=Resolution((), project=model, analysis=model),
        dockerfile=DockerfileSource(Path("."), Path("Dockerfile"), "the build of `api`"),
        project=model,
        stack=stand_in,
    )


@pytest.mark.parametrize("for_disk", [pytest.param(True, id="disk-watch"), pytest.param(False, id="its-own-exit")])
def test_an_api_the_disk_watch_stopped_after_startup_is_told_so(for_disk: bool) -> None:
    """A slow writer passes startup and is stopped during this check: the feedback names the
    disk, as startup.up's does, instead of a bare "the API stopped"."""
    outcome = run(_ctx(_Stopped(for_disk)))
    assert outcome.status is Status.FAILED
    said = "was stopped by the grader: the stack wrote more to disk than it may" in outcome.feedback
    assert said is for_disk and ("a graded run may write 2g" in outcome.feedback) is for_disk
