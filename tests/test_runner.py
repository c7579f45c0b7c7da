from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from grader.errors import BadInput
from grader.intake.submission import copy_submission, project_name, validate_submission
from grader.model import Category, Outcome, Report, Stage, Status
from grader.run.context import Check, Context, Options, Prepared, StackCheck, StackContext
from grader.run.execute import run_checks
from grader.run.prepare import prepare
from tests.conftest import on_a_stand_in_stack


def ctx(tmp_path: Path) -> Prepared:
    client: Any = None  # these checks never touch the engine
    return prepare(tmp_path, Options(), client, "grader-test")


def check(id: str, run: Any, points: float = 10, **kw: Any) -> Check:
    return Check(id=id, category=Category.COMPOSE, title=id, max_points=points, run=run, **kw)


def boom(_: Context) -> Outcome:
    raise RuntimeError("the machine broke")


def test_a_crashing_check_is_an_error_and_the_run_goes_on(tmp_path: Path) -> None:
    registry = {
        "a.crash": check("a.crash", boom),
        "b.fine": check("b.fine", lambda _: Outcome.passed("ok")),
    }
    results = {r.id: r for r in run_checks(ctx(tmp_path), registry)}
    assert results["a.crash"].status is Status.ERROR
    assert results["a.crash"].points == 0
    assert "not a problem with your work" in results["a.crash"].feedback
    assert "RuntimeError" in results["a.crash"].evidence
    assert results["b.fine"].status is Status.PASSED and results["b.fine"].points == 10


@pytest.mark.parametrize(
    "hang",
    [
        pytest.param(lambda: time.sleep(60), id="sleep"),
        pytest.param(lambda: subprocess.run(["sleep", "60"]), id="subprocess-without-timeout"),
        pytest.param(lambda: threading.Event().wait(), id="blocked-wait"),
    ],
)
def test_a_hung_check_ends_at_its_deadline_as_error_and_the_run_goes_on(tmp_path: Path, hang: Any) -> None:
    def hung(_: StackContext) -> Outcome:
        hang()
        return Outcome.passed("never")

    options = Options(start_timeout=0.5, grace=0.5)  # a START check may take 2 x 0.5 + 0.5 s
    context = on_a_stand_in_stack(tmp_path, options)
    registry: dict[str, Any] = {
        "a.hung": StackCheck(
            id="a.hung", category=Category.STARTUP, title="a.hung", max_points=10, run=hung, stage=Stage.START
        ),
        "b.fine": check("b.fine", lambda _: Outcome.passed("ok")),
    }
    started = time.monotonic()
    results = {r.id: r for r in run_checks(context, registry)}
    assert 1.4 <= time.monotonic() - started < 3
    assert results["a.hung"].status is Status.ERROR and results["a.hung"].points == 0
    assert "after 2 s" in results["a.hung"].feedback
    assert results["b.fine"].status is Status.PASSED


def test_deadlines_follow_the_timeouts() -> None:
    options = Options(build_timeout=300, start_timeout=60, grace=10)
    assert [options.deadline(s) for s in Stage] == [70, 310, 130, 280]


def test_requires_and_after(tmp_path: Path) -> None:
    registry = {
        "a.fails": check("a.fails", lambda _: Outcome.failed("no", fraction=0.3)),
        "b.needs_pass": check("b.needs_pass", lambda _: Outcome.passed("ok"), requires=("a.fails",)),
        "c.needs_run": check("c.needs_run", lambda _: Outcome.passed("ok"), after=("a.fails",)),
        "d.after_skip": check("d.after_skip", lambda _: Outcome.passed("ok"), after=("b.needs_pass",)),
    }
    results = {r.id: r for r in run_checks(ctx(tmp_path), registry)}
    assert results["a.fails"].points == 3
    assert results["b.needs_pass"].status is Status.SKIPPED
    assert "a.fails" in results["b.needs_pass"].feedback
    assert results["c.needs_run"].status is Status.PASSED
    assert results["d.after_skip"].status is Status.SKIPPED


def test_a_skip_names_the_root_cause(tmp_path: Path) -> None:
    registry = {
        "a.root": check("a.root", lambda _: Outcome.failed("the real fault")),
        "b.build": check("b.build", lambda _: Outcome.passed("ok"), requires=("a.root",)),
        "c.start": check("c.start", lambda _: Outcome.passed("ok"), requires=("b.build",)),
        "d.api": check("d.api", lambda _: Outcome.passed("ok"), after=("c.start",)),
    }
    results = {r.id: r for r in run_checks(ctx(tmp_path), registry)}
    assert [results[i].cause for i in ("a.root", "b.build", "c.start", "d.api")] == [None, "a.root", "a.root", "a.root"]
    assert "root cause is 'a.root'" in results["d.api"].feedback
    assert "root cause" not in results["b.build"].feedback  # it names a.root already


def test_a_check_that_skips_itself_for_a_root_cause_does_not_block_what_only_needs_it_run(tmp_path: Path) -> None:
    registry = {
        "a.volume": check("a.volume", lambda _: Outcome.failed("wrong mount")),
        "b.start": check("b.start", lambda _: Outcome.skipped("the db refused: see a.volume", cause="a.volume")),
        "c.api": check("c.api", lambda _: Outcome.passed("answers"), after=("b.start",)),
        "d.data": check("d.data", lambda _: Outcome.passed("kept"), requires=("b.start",)),
    }
    results = {r.id: r for r in run_checks(ctx(tmp_path), registry)}
    assert results["b.start"].cause == "a.volume"
    assert results["c.api"].status is Status.PASSED  # the stack was started: the API can be judged
    assert results["d.data"].status is Status.SKIPPED and results["d.data"].cause == "a.volume"


def test_an_error_makes_the_run_incomplete_with_the_points_it_withheld(tmp_path: Path) -> None:
    registry = {
        "a.fine": check("a.fine", lambda _: Outcome.passed("ok"), points=5),
        "b.build": check("b.build", boom, points=13),
        "c.start": check("c.start", lambda _: Outcome.passed("ok"), requires=("b.build",)),
        "d.lint": check("d.lint", lambda _: Outcome.failed("no"), points=2),
    }
    results = run_checks(ctx(tmp_path), registry)
    report = Report("1.5", "g", "0", "/s", "s", "2026-01-01T00:00:00+00:00", 1.0, "graded", checks=results)
    assert [c.id for c in report.ungraded] == ["b.build", "c.start"]
    assert sum(c.max_points for c in report.ungraded) == 23
    failed_only = Report("1.5", "g", "0", "/s", "s", "x", 1.0, "graded", checks=results[3:])
    assert failed_only.ungraded == ()  # a failure is a verdict


@pytest.mark.parametrize(
    ("outcome", "points"),
    [
        pytest.param(Outcome.passed("ok"), 10, id="pass-full"),
        pytest.param(Outcome.failed("no"), 0, id="fail-zero"),
        pytest.param(Outcome.failed("partial", fraction=0.4), 4, id="fail-partial"),
        pytest.param(Outcome.failed("too many", fraction=9.9), 10, id="clamped"),
        pytest.param(Outcome.error("grader"), 0, id="error-zero"),
    ],
)
def test_points(tmp_path: Path, outcome: Outcome, points: float) -> None:
    (result,) = run_checks(ctx(tmp_path), {"x.y": check("x.y", lambda _: outcome)})
    assert result.points == points


def test_evidence_is_bounded_and_relative(tmp_path: Path) -> None:
    long = f"{tmp_path}/Dockerfile\n" + "x" * 10_000
    (result,) = run_checks(ctx(tmp_path), {"x.y": check("x.y", lambda _: Outcome.failed("no", long))})
    assert len(result.evidence) <= 4000
    assert str(tmp_path) not in result.evidence


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p / "missing", "no such file", id="missing"),
        pytest.param(lambda p: (p / "f.txt").write_text("x") and p / "f.txt", "not a directory", id="file"),
    ],
)
def test_bad_input(tmp_path: Path, make: Any, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        validate_submission(make(tmp_path))


def test_copy_skips_git_fifos_and_links_leaving_the_submission(tmp_path: Path) -> None:
    import os

    src = tmp_path / "src"
    (src / ".git").mkdir(parents=True)
    (src / "sub").mkdir()
    (src / "app.js").write_text("x")
    (src / "passwd").symlink_to("/etc/passwd")
    (src / "sub" / "up").symlink_to("../../outside.txt")
    (src / "sub" / "loop").symlink_to("loop")
    (src / "inside").symlink_to("app.js")
    (src / "sub" / "also-inside").symlink_to("../app.js")
    os.mkfifo(src / "pipe")
    dropped = copy_submission(src, tmp_path / "dst")
    dst = tmp_path / "dst"
    assert sorted(str(p.relative_to(dst)) for p in dst.rglob("*")) == [
        "app.js",
        "inside",
        "sub",
        "sub/also-inside",
        "sub/loop",  # a loop leads nowhere, in particular not out of the repository
    ]
    assert (dst / "inside").is_symlink() and (dst / "inside").read_text() == "x"
    assert sorted(dropped) == ["passwd -> /etc/passwd", "sub/up -> ../../outside.txt"]


def test_copy_of_paths_too_long_for_the_machine_is_bad_input(tmp_path: Path) -> None:
    src = tmp_path / "src"
    deep = src
    for _ in range(30):  # 30 levels of 200-character names: past PATH_MAX (4096) when copied
        deep = deep / ("d" * 200)
        try:
            deep.mkdir(parents=True)
        except OSError:
            break
    (src / ("n" * 255)).write_text("a name of 255 bytes is fine")
    with pytest.raises(BadInput, match="cannot copy the submission"):
        copy_submission(src, tmp_path / ("x" * 200) / "dst")


def test_project_names_are_unique_and_valid() -> None:
    names = {project_name(Path("/x/Juan Pérez_tarea-01")) for _ in range(20)}
    assert len(names) == 20
    assert all(n.startswith("grader-juan-p-rez-tarea-01-") for n in names)


def _stack_check(id: str, run: Any, **kw: Any) -> StackCheck:
    return StackCheck(id=id, category=Category.STARTUP, title=id, max_points=4, run=run, stage=Stage.START, **kw)


def test_a_stack_check_without_a_stack_is_an_error_and_never_runs(tmp_path: Path) -> None:
    """Only a stack that could not be prepared (or a registry built by hand, as here) leaves a
    stack check with nothing to run on: the grader's `error`, never the student's."""
    ran: list[str] = []

    def up(c: StackContext) -> Outcome:
        ran.append(c.project_name)
        return Outcome.passed("up")

    registry: dict[str, Any] = {
        "a.up": _stack_check("a.up", up),
        "b.fine": check("b.fine", lambda _: Outcome.passed("ok")),
    }
    results = {r.id: r for r in run_checks(ctx(tmp_path), registry)}
    assert ran == [] and results["a.up"].status is Status.ERROR
    assert "prepared no stack" in results["a.up"].feedback
    assert results["b.fine"].status is Status.PASSED
    unprepared = ctx(tmp_path)._replace(unprepared="The grader failed while preparing the stack (OSError: full).")
    (result, _) = run_checks(unprepared, registry)
    assert ran == [] and result.status is Status.ERROR and "OSError: full" in result.feedback


def test_what_a_check_leaves_reaches_later_checks_of_either_kind(tmp_path: Path) -> None:
    """One stash per run: a StackCheck's context shares it with the static context."""
    from grader.run.stash import StashKey

    seen: StashKey[str] = StashKey("seen")
    read: list[str] = []

    def leave(c: StackContext) -> Outcome:
        c.stash[seen] = f"{len(c.project.services)} services"
        return Outcome.passed("left")

    def take(c: Context) -> Outcome:
        read.append(c.stash.get(seen, "nothing"))
        return Outcome.passed("read")

    registry: dict[str, Any] = {
        "a.read": check("a.read", take),
        "b.leave": _stack_check("b.leave", leave),
        "c.read": check("c.read", take, after=("b.leave",)),
    }
    run_checks(on_a_stand_in_stack(tmp_path), registry)
    assert read == ["nothing", "2 services"]
