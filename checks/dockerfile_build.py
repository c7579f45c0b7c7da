"""ACTIVIDAD 01: the images build. A failure shows the failing step and its output."""

from __future__ import annotations

import re

from grader.context import Context
from grader.diagnose import network_failure
from grader.errors import CommandTimeout
from grader.model import Category, Check, Outcome

_STEP = re.compile(r"^(Step \d+/\d+ : .*|#\d+ \[.*\].*)$", re.MULTILINE)


def failing_step(output: str) -> str:
    """From the last build step on: the step that failed and what it printed."""
    steps = list(_STEP.finditer(output))
    return output[steps[-1].start() :] if steps else output


def run(ctx: Context) -> Outcome:
    project = ctx.compose
    services = project.build_services()
    if not services:
        return Outcome.skipped("Not graded: no service in the compose file is built from the repository.")
    timeout = ctx.options.build_timeout
    try:
        result = ctx.stack.build(timeout)
    except CommandTimeout as exc:
        return Outcome.failed(
            f"The build did not finish within {timeout:.0f} s. Look for a step that waits forever (a server "
            "started in RUN, an interactive prompt).",
            failing_step(exc.output),
        )
    output = (result.stdout + result.stderr).decode(errors="replace")
    if result.returncode == 0:
        return Outcome.passed(f"Built {', '.join(f'`{s}`' for s in services)} from your Dockerfile.")
    step = failing_step(output)
    if network_failure(step):
        return Outcome.error(
            "The build failed because the grading machine could not download something (registry or network "
            "unreachable). This is not a problem with your work.",
            step,
        )
    first_line = step.splitlines()[0] if step else "the build"
    return Outcome.failed(
        f"The image does not build: `{first_line.strip()}` failed. Its output is below; try "
        "`docker compose build` on your machine to reproduce it.",
        step,
    )


CHECK = Check(
    id="dockerfile.build",
    category=Category.DOCKERFILE,
    title="Image builds",
    max_points=13,
    run=run,
    requires=("dockerfile.present", "security.policy"),
)
