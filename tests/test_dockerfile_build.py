from __future__ import annotations

from checks.dockerfile_build import failing_step, unreachable_registry
from grader.model import bound

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
