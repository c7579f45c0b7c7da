"""The registry (checks/__init__.py): adding a check is one module plus one line, and everything
else (order, skips, totals, every report format) follows from the registry."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from checks import CHECKS, registry
from grader import formats
from grader.context import Check, Context, Options
from grader.model import Category, Outcome, Phase, Report, Status
from grader.report import to_dict, to_json
from grader.rubric import parse
from grader.runner import SCHEMA_VERSION, prepare, run_checks
from tests.conftest import SUBMISSIONS

STATIC = {k: v for k, v in CHECKS.items() if v.phase is Phase.STATIC}


# The whole of a new check, as `checks/<name>.py` would hold it: a function over the context and
# its record. (Its sentences would go in grader/messages.py; a title that is not a catalogue key
# is shown as written.)
def _depends_on(ctx: Context) -> Outcome:
    app, db = ctx.app_service(), ctx.compose.db_service()
    if app and db and db in (ctx.compose.services[app].get("depends_on") or {}):
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


def _grade(name: str, checks: dict[str, Check], tmp_path: Path) -> Report:
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
    """grader.verdicts names root causes by id (checks never import each other): a renamed check
    must not leave a skip's `cause` pointing at nothing."""
    from grader import verdicts

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
    wrong = first._replace(id="x.new", requires=requires, after=after)
    with pytest.raises(BadRegistry, match=re.escape(message)):
        ordered([first, wrong, *list(CHECKS.values())[1:]])
    with pytest.raises(BadRegistry, match=re.escape("two checks are named 'dockerfile.present'")):
        ordered([first, first])


def test_a_check_the_rubric_disables_does_not_block_what_waits_for_it() -> None:
    checks = registry(parse("checks:\n  startup.up: {enabled: false}\n"))
    assert "startup.up" not in checks and checks["api.reachable"].after == ()
