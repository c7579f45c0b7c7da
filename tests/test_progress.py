"""What a person watching a run sees: a line per check as it is judged, the running phase."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from grader.model import Category, Outcome, Stage
from grader.run.context import AnyCheck, Check, Prepared, StackCheck
from grader.run.execute import run_checks
from grader.run.progress import LiveTerminal, PlainLines, for_stream
from tests.conftest import on_a_stand_in_stack


def _registry() -> dict[str, AnyCheck]:
    def check(id: str, run: Any, **kw: Any) -> Check:
        return Check(id=id, category=Category.COMPOSE, title=f"title.{id}", max_points=5, run=run, **kw)

    build = StackCheck(
        id="dockerfile.build",
        category=Category.DOCKERFILE,
        title="title.dockerfile.build",
        max_points=5,
        run=lambda _: Outcome.failed("step 3 failed " + "x" * 200),
        stage=Stage.BUILD,
    )
    return {
        "compose.file": check("compose.file", lambda _: Outcome.passed("docker-compose.yml is valid")),
        "dockerfile.build": build,
        "startup.up": check("startup.up", lambda _: Outcome.passed("up"), requires=("dockerfile.build",)),
    }


def _ctx(tmp_path: Path) -> Prepared:
    return on_a_stand_in_stack(tmp_path)


def test_plain_lines_say_each_check_as_it_ends_and_the_slow_phases_as_they_start(tmp_path: Path) -> None:
    out = io.StringIO()
    run_checks(_ctx(tmp_path), _registry(), PlainLines(out))
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # the build announced, then three results; a skipped check is not "started"
    assert "Image builds: building the images ..." in lines[1]
    assert lines[0].endswith("PASS      5/5  Compose file valid - docker-compose.yml is valid")
    assert "FAIL      0/5  Image builds - step 3 failed" in lines[2] and lines[2].endswith("...")
    assert "SKIP" in lines[3] and "Stack starts" in lines[3]
    assert all(line.startswith("[") and " s] " in line for line in lines)


def test_a_terminal_gets_the_live_view(tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    progress = for_stream(out)
    assert isinstance(progress, LiveTerminal)
    run_checks(_ctx(tmp_path), _registry(), progress)
    progress.close()
    text = out.getvalue()
    assert "Compose file valid - docker-compose.yml is valid" in text and "Stack starts" in text
    assert isinstance(for_stream(io.StringIO()), PlainLines)  # a pipe, a CI log
