from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from checks.dockerfile_build import failing_step, run, unreachable_registry
from grader.errors import CommandTimeout
from grader.intake.dockerfile import DockerfileSource
from grader.intake.project import ComposeProject
from grader.intake.resolve import Resolution
from grader.intake.rubric import Rubric
from grader.model import Status, bound
from grader.run.context import Options, StackContext
from grader.run.deadline import deadline

CLASSIC = (
    "Step 5/9 : COPY . .\n ---> 1a2b\nStep 6/9 : RUN npm run build\n ---> Running in e67d\n"
    '\x1b[91mnpm\x1b[0m\x1b[91m ERR!\x1b[0m Missing script: "build"\n'
    'time="2026-11-28T05:01:26Z" level=warning msg="buildx Docker CLI plugin not found: falling back"\n'
    " Image grader-x-api:graded Building \n"
    "The command '/bin/sh -c npm run build' returned a non-zero code: 1\n"
)


def test_failing_step_starts_at_the_last_step_without_noise() -> None:
    step = failing_step(CLASSIC)
    assert step.splitlines()[0] == "Step 6/9 : RUN npm run build"
    assert 'npm ERR! Missing script: "build"' in step
    assert "buildx" not in step and "Building" not in step
    assert step.endswith("returned a non-zero code: 1")


def test_failing_step_without_steps_keeps_everything() -> None:
    assert failing_step("failed to read dockerfile\n") == "failed to read dockerfile"


def test_bound_strips_terminal_codes_and_keeps_the_end() -> None:
    text = "\x1b[31mred\x1b[0m\r\n" + "a" * 5000 + "END"
    out = bound(text, 100)
    assert len(out) <= 100 and out.endswith("END") and "\x1b" not in out
    assert bound("\x1b[91mnpm\x1b[0m ERR!\x07") == "npm ERR!"


def test_only_the_builder_s_words_and_a_missing_base_make_a_build_the_machine_s_fault() -> None:
    pull = (
        "Step 1/8 : FROM registry.invalid/node:18\n"
        "Get https://registry.invalid/v2/: dial tcp: lookup registry.invalid: no such host"
    )
    assert unreachable_registry(pull, ["registry.invalid/node:18"])
    printed = "Step 5/8 : RUN echo fail\n ---> Running in 0123456789ab\ndial tcp: lookup x: no such host\n"
    assert not unreachable_registry(printed, ["node:18"])  # the student's step printed it: their failed build
    # a step printing a fake header of its own (second review): every base is on the engine
    assert not unreachable_registry(pull, [])


class _Builds:
    """A stack whose builds end as listed (returncode, output), one per call."""

    def __init__(self, *results: tuple[int, str]) -> None:
        self.results = list(results)
        self.calls = 0

    def build(self, timeout: float) -> subprocess.CompletedProcess[bytes]:
        code, output = self.results[self.calls]
        self.calls += 1
        if code < 0:  # the build ran out of its time
            raise CommandTimeout(["build"], timeout, output)
        return subprocess.CompletedProcess([], code, output.encode(), b"")


def _building(builds: _Builds) -> StackContext:
    """A context whose stack is `builds`, for a compose file with one service built from `.`."""
    model = ComposeProject(Path("compose.yaml"), Path("."), {"services": {"api": {"build": {"context": "."}}}}, "")
    stack: Any = builds  # only build() is called
    return StackContext(
        root=Path("."),
        options=Options(),
        project_name="p",
        rubric=Rubric(),
        resolution=Resolution((), project=model),
        dockerfile=DockerfileSource(Path("."), Path("Dockerfile"), "the build of `api`"),
        project=model,
        stack=stack,
    )


ENGINE_FAULT = (
    "Step 3/5 : COPY package*.json ./\n"
    "failed to export image: failed to set parent sha256:ab: unknown parent image ID\n"
)


@pytest.mark.parametrize(
    ("results", "status", "calls"),
    [
        pytest.param([(1, ENGINE_FAULT), (0, "ok")], Status.PASSED, 2, id="the-engine-s-fault-goes-on-a-second-build"),
        pytest.param(
            [(1, ENGINE_FAULT), (1, ENGINE_FAULT)], Status.FAILED, 2, id="a-fault-that-repeats-is-the-build-s"
        ),
        pytest.param([(1, CLASSIC)], Status.FAILED, 1, id="the-student-s-failure-is-built-once"),
        pytest.param([(1, ENGINE_FAULT), (-1, "")], Status.FAILED, 2, id="a-second-build-out-of-time-fails"),
    ],
)
def test_an_engine_fault_earns_one_more_build_never_a_pass(
    results: list[tuple[int, str]], status: Status, calls: int
) -> None:
    """`RUN echo "unknown parent image ID"; exit 1` only costs its author a second build."""
    builds = _Builds(*results)
    outcome = run(_building(builds))
    assert (outcome.status, builds.calls) == (status, calls)
    if status is Status.PASSED:
        assert "failed to set parent" in outcome.feedback and "built again" in outcome.feedback


def test_no_second_build_without_the_time_for_it() -> None:
    """A step that sleeps most of the check's time, then prints the engine's words: the check
    stays within its deadline and the failure is the build's, never an `error`."""
    builds = _Builds((1, ENGINE_FAULT), (0, "ok"))
    with deadline(60):  # less than the margin and the shortest second build
        outcome = run(_building(builds))
    assert (outcome.status, builds.calls) == (Status.FAILED, 1)
