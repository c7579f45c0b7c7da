"""The registry (checks/__init__.py): a check's code is one module plus one registry line, and
the run (order, skips, totals, every report format) follows from the registry. (Its sentences,
its README row and the fixtures' expected verdicts are the rest: README "Adding a check".)"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from checks import CHECKS, registry
from grader.errors import BadInput
from grader.intake.rubric import load, parse
from grader.model import Category, Outcome, Report, Stage, Status
from grader.reports import formats
from grader.reports.document import to_dict, to_json
from grader.run.context import AnyCheck, Check, Context, Options, StackCheck, StackContext
from grader.run.execute import run_checks
from grader.run.prepare import prepare
from grader.run.runner import SCHEMA_VERSION
from grader.run.verdicts import without_model
from tests.conftest import RUBRICS, SUBMISSIONS

STATIC = {k: v for k, v in CHECKS.items() if v.stage is Stage.STATIC}


# The whole of a new check, as `checks/<name>.py` would hold it: a function over the context and
# its record. (Its sentences would go in grader/messages.py; a title that is not a catalogue key
# is shown as written.)
def _depends_on(ctx: Context) -> Outcome:
    project = ctx.analysis  # the model as compose resolved it (None: compose.file says why)
    if project is None:
        return without_model()
    app, db = ctx.app_service(), project.db_service()
    if app and db and db in (project.services[app].get("depends_on") or {}):
        return Outcome.passed(f"`{app}` starts after `{db}`")
    return Outcome.failed(f"add `depends_on: [{db}]` to `{app}`")


SAMPLE = Check(
    id="compose.depends_on",
    category=Category.COMPOSE,
    title="API starts after the database",
    max_points=7,
    run=_depends_on,
    requires=("compose.file",),
)


def _grade(name: str, checks: dict[str, AnyCheck], tmp_path: Path) -> Report:
    root = tmp_path / name
    shutil.copytree(SUBMISSIONS / name, root, symlinks=True)
    ctx = prepare(root, Options(), None, "grader-sample-test")
    results = run_checks(ctx, checks)
    return Report(SCHEMA_VERSION, "g", "0", str(root), name, "2026-01-01T00:00:00+00:00", 1.0, "graded", checks=results)


def test_a_new_check_is_one_function_and_one_registry_line(tmp_path: Path) -> None:
    checks = {**STATIC, SAMPLE.id: SAMPLE}  # the registry line
    graded = _grade("complete", checks, tmp_path / "a")
    broken = _grade("invalid-compose", checks, tmp_path / "b")

    by_id = {c.id: c for c in graded.checks}
    assert list(by_id) == list(checks)  # run in registry order, after the others
    assert by_id[SAMPLE.id].status is Status.PASSED and by_id[SAMPLE.id].points == 7
    assert graded.max_score == sum(c.max_points for c in STATIC.values()) + 7  # totals follow
    skipped = {c.id: c for c in broken.checks}[SAMPLE.id]
    assert skipped.status is Status.SKIPPED and skipped.cause == "compose.file"  # `requires` did it

    data = json.loads(to_json(graded))
    assert data == to_dict(graded) and data["max_score"] == graded.max_score
    for text in (formats.markdown(data), formats.junit(data), json.dumps(formats.gradescope(data))):
        assert "API starts after the database" in text  # every format is written from the JSON report


def test_a_rubric_weighs_and_disables_the_registry_s_checks() -> None:
    rubric = parse("checks:\n  compose.volume: {points: 20}\n  persistence.data: {enabled: false}\n")
    checks = registry(rubric)
    assert "persistence.data" not in checks and checks["compose.volume"].max_points == 20
    assert list(checks) == [c for c in CHECKS if c != "persistence.data"]


def test_the_ids_verdicts_name_are_the_registry_s() -> None:
    """grader.run.verdicts names root causes by id (checks never import each other): a renamed check
    must not leave a skip's `cause` pointing at nothing."""
    from grader.run import verdicts

    assert {verdicts.COMPOSE_FILE, verdicts.COMPOSE_VOLUME, verdicts.STARTUP} <= set(CHECKS)


@pytest.mark.parametrize(
    ("requires", "after", "message"),
    [
        pytest.param(("compose.flie",), (), "'compose.flie', which is no check listed before it", id="misspelled"),
        pytest.param((), ("startup.up",), "'startup.up', which is no check listed before it", id="listed-later"),
    ],
)
def test_the_registry_refuses_a_check_that_waits_for_no_check_before_it(
    requires: tuple[str, ...], after: tuple[str, ...], message: str
) -> None:
    """A misspelled `requires` used to be read as if the rubric had disabled that check."""
    from checks import BadRegistry, ordered

    first, *_ = CHECKS.values()
    wrong = dataclasses.replace(first, id="x.new", requires=requires, after=after)
    with pytest.raises(BadRegistry, match=re.escape(message)):
        ordered([first, wrong, *list(CHECKS.values())[1:]])
    with pytest.raises(BadRegistry, match=re.escape("two checks are named 'dockerfile.present'")):
        ordered([first, first])


@pytest.mark.parametrize(
    ("disabled", "check", "requires", "after"),
    [
        pytest.param("dockerfile.present", "dockerfile.practices", (), (), id="nothing-before-it"),
        pytest.param(
            "dockerfile.present", "dockerfile.build", ("compose.file", "security.policy"), (), id="build-keeps-the-gate"
        ),
        pytest.param(
            "compose.file", "dockerfile.build", ("dockerfile.present", "security.policy"), (), id="no-model-check"
        ),
        pytest.param("compose.file", "compose.services", (), (), id="services-after-nothing"),
        pytest.param("api.reachable", "persistence.data", (), ("startup.up",), id="unchanged"),
    ],
)
def test_a_check_the_rubric_disables_is_replaced_by_what_it_waited_for(
    disabled: str, check: str, requires: tuple[str, ...], after: tuple[str, ...]
) -> None:
    """A disabled check does not block what waits for it, but what it waited for still does
    (the registry checks every stack check behind the gate again)."""
    checks = registry(parse(f"checks:\n  {disabled}: {{enabled: false}}\n"))
    assert disabled not in checks
    assert (checks[check].requires, checks[check].after) == (requires, after)


@pytest.mark.parametrize(
    ("checks", "refused"),
    [
        pytest.param(
            "startup.up: {enabled: false}",
            "startup.up starts the stack that api.reachable, persistence.data",
            id="startup",
        ),
        pytest.param(
            "dockerfile.build: {enabled: false}", "dockerfile.build builds the images that startup.up", id="build"
        ),
        pytest.param(
            "startup.up: {enabled: false}\n  persistence.data: {enabled: false}",
            "that api.reachable read",
            id="startup-with-the-api-left",
        ),
        pytest.param(
            "startup.up: {enabled: false}\n  api.reachable: {enabled: false}\n  persistence.data: {enabled: false}",
            None,
            id="startup-and-everything-after-it",
        ),
        pytest.param("startup.up: {points: 0}", None, id="startup-worth-nothing"),
    ],
)
def test_a_rubric_cannot_disable_what_starts_the_stack_while_a_later_check_counts(
    checks: str, refused: str | None
) -> None:
    """Reviewed: with startup.up disabled, api.reachable graded a stack nothing had started (a
    failure charged to the student), or ran with no stack at all (an `error`)."""
    text = f"checks:\n  {checks}\n"
    if refused is None:
        registry(parse(text))
        return
    with pytest.raises(BadInput, match=re.escape(refused)):
        parse(text, "curso.yml")
    with pytest.raises(BadInput, match=r"curso.yml line 2: checks\.\w+\.\w+\.enabled: .*`points: 0`"):
        parse(text, "curso.yml")


def _on_stack(ctx: StackContext) -> Outcome:
    return Outcome.passed(f"{len(ctx.stack.containers())} containers")


def _stack_check(id: str, requires: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> StackCheck:
    return StackCheck(
        id=id,
        category=Category.STARTUP,
        title=id,
        max_points=1,
        run=_on_stack,
        requires=requires,
        after=after,
        stage=Stage.START,
    )


@pytest.mark.parametrize(
    ("requires", "after", "refused"),
    [
        pytest.param(("compose.file", "security.policy"), (), False, id="requires-the-gate"),
        pytest.param(("dockerfile.build",), (), False, id="requires-a-stack-check"),
        pytest.param((), ("startup.up",), False, id="after-a-stack-check"),
        pytest.param(("security.policy",), (), True, id="gate-without-the-model"),
        pytest.param(("compose.file",), (), True, id="model-without-the-gate"),
        pytest.param((), ("security.policy", "compose.file"), True, id="after-the-gate-is-not-behind-it"),
        pytest.param(("dockerfile.present",), (), True, id="requires-a-static-check"),
    ],
)
def test_a_stack_check_must_wait_for_the_security_gate(
    requires: tuple[str, ...], after: tuple[str, ...], refused: bool
) -> None:
    """A StackCheck gets the stack, which exists only once compose.file and security.policy
    passed: a declaration that does not wait for them is refused when the registry is built."""
    from checks import BadRegistry, ordered

    declared = [*CHECKS.values(), _stack_check("x.stack", requires, after)]
    if refused:
        with pytest.raises(BadRegistry, match=re.escape("a StackCheck must require compose.file and security.policy")):
            ordered(declared)
    else:
        assert "x.stack" in ordered(declared)


def test_a_check_s_kind_and_phase_agree() -> None:
    with pytest.raises(ValueError, match="is a StackCheck"):
        Check(id="x", category=Category.COMPOSE, title="x", max_points=1, run=_depends_on, stage=Stage.BUILD)
    with pytest.raises(ValueError, match="not the static one"):
        StackCheck(id="x", category=Category.STARTUP, title="x", max_points=1, run=_on_stack, stage=Stage.STATIC)
    assert {type(c).__name__ for c in CHECKS.values() if c.stage is Stage.STATIC} == {"Check"}
    assert {type(c).__name__ for c in CHECKS.values() if c.stage is not Stage.STATIC} == {"StackCheck"}


def test_a_rubric_s_scenarios_are_stack_checks_behind_the_gate() -> None:
    checks = registry(load(RUBRICS / "products.yml"))
    added = [checks[i] for i in checks if i not in CHECKS]
    assert len(added) == 2 and all(isinstance(c, StackCheck) for c in added)  # an API and a persistence scenario
