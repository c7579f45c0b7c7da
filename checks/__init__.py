"""The check registry: an explicit, ordered dict (order = run order), no magic discovery.

To add a check: write `checks/<name>.py` exposing `CHECK = Check(...)` with a
`run(ctx: Context) -> Outcome` function (static: the files and the model), or `CHECK =
StackCheck(...)` with `run(ctx: StackContext) -> Outcome` (it builds, starts or watches the stack),
then list it here. `registry(rubric)` is what a run
grades: these checks as the instructor's rubric weights them, plus the rubric's scenarios.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable

from checks import (
    api_reachable,
    api_scenario,
    compose_file,
    compose_services,
    compose_volume,
    dockerfile_build,
    dockerfile_practices,
    dockerfile_present,
    persistence_data,
    persistence_scenario,
    security_policy,
    startup_up,
)
from grader.errors import BadInput
from grader.intake.rubric import CheckSetting, Rubric
from grader.run.context import AnyCheck, StackCheck


class BadRegistry(ValueError):
    """A check declared wrong: refused when the registry is built (flake8's plugin finder), never
    silently read as if the rubric had disabled what it names."""


# What a check that builds, starts or watches the stack must have passed first: the model compose
# resolved with everything (the stack is made from it) and the security gate.
GATE = ("compose.file", "security.policy")


def ordered(checks: Iterable[AnyCheck]) -> dict[str, AnyCheck]:
    """The checks by id, in run order, once each; every `requires`/`after` names a check listed
    earlier (a misspelled name would otherwise never block, as if the rubric had disabled it),
    and every StackCheck waits for the gate: it requires GATE itself, or requires or comes after
    a StackCheck that does (what a rubric disables is replaced by what it waited for)."""
    found: dict[str, AnyCheck] = {}
    for check in checks:
        if check.id in found:
            raise BadRegistry(f"two checks are named {check.id!r}")
        unknown = [n for n in (*check.requires, *check.after) if n not in found]
        if unknown:
            raise BadRegistry(
                f"{check.id}: requires/after {', '.join(map(repr, unknown))}, which is no check listed before it "
                f"(listed before: {', '.join(found) or 'none'})"
            )
        if isinstance(check, StackCheck) and not _behind_gate(check, found):
            raise BadRegistry(
                f"{check.id}: a StackCheck must require {' and '.join(GATE)}, or require or come after "
                "another StackCheck: its stack exists only once the gate passed"
            )
        found[check.id] = check
    return found


def _behind_gate(check: StackCheck, earlier: dict[str, AnyCheck]) -> bool:
    """A gate check a rubric disabled (compose.file) does not count: the other still gates."""
    waits_on_stack = any(isinstance(earlier[n], StackCheck) for n in (*check.requires, *check.after))
    return waits_on_stack or all(g in check.requires for g in GATE if g in earlier or g == "security.policy")


CHECKS: dict[str, AnyCheck] = ordered(
    (
        # ACTIVIDAD 01 - Dockerfile (30)
        dockerfile_present.CHECK,
        dockerfile_practices.CHECK,
        # ACTIVIDAD 02 - compose with a dockerised database (40)
        compose_file.CHECK,
        compose_services.CHECK,
        # ACTIVIDAD 03 - persistence, static part (10)
        compose_volume.CHECK,
        # Gate: nothing of the student's runs before this passes (0 points)
        security_policy.CHECK,
        dockerfile_build.CHECK,
        startup_up.CHECK,
        api_reachable.CHECK,
        persistence_data.CHECK,
    )
)


def registry(rubric: Rubric | None = None) -> dict[str, AnyCheck]:
    """The checks a run grades: the built-in ones with the rubric's points, disabled checks left
    out, hidden ones marked; then one check per API scenario and the persistence scenario."""
    rubric = rubric or Rubric()
    unknown = sorted(set(rubric.checks) - set(CHECKS))
    if unknown:
        first = unknown[0]
        line = rubric.check_lines.get(first)
        close = difflib.get_close_matches(first, CHECKS, n=1)
        guess = f"; did you mean `{close[0]}`?" if close else ""
        raise BadInput(
            f"{rubric.name}{f' line {line}' if line else ''}: checks.{first}: there is no such check{guess} "
            f"(the checks: {', '.join(CHECKS)}; a scenario goes under `scenarios:`)"
        )
    file_points = (rubric.checks.get("compose.file") or CheckSetting()).points
    most = CHECKS["compose.file"].max_points if file_points is None else file_points
    if rubric.env_example_deduct > most:
        raise BadInput(
            f"{rubric.name}: env_examples.deduct: {rubric.env_example_deduct:g} points is more than "
            f"compose.file is worth ({most:g}): the deduction is taken from that check's points"
        )
    # The rubric's scenarios, declared like the built-in checks (refused here if they were not).
    ordered(
        [*CHECKS.values(), *(api_scenario.make(s) for s in rubric.scenarios)]
        + ([persistence_scenario.make(rubric.persistence)] if rubric.persistence is not None else [])
    )
    checks: dict[str, AnyCheck] = {}
    for check in CHECKS.values():
        setting = rubric.checks.get(check.id)
        if setting is not None and not setting.enabled:
            continue
        if setting is not None:
            points = check.max_points if setting.points is None else setting.points
            check = dataclasses.replace(check, max_points=points, hidden=setting.hidden)
        checks[check.id] = check
        if check.id == "api.reachable":
            checks |= {s.id: api_scenario.make(s) for s in rubric.scenarios}
    if rubric.persistence is not None:
        checks[rubric.persistence.id] = persistence_scenario.make(rubric.persistence)
    return ordered(_waiting_for_kept(c, checks) for c in checks.values())


def _waiting_for_kept(check: AnyCheck, kept: dict[str, AnyCheck]) -> AnyCheck:
    """`check` waiting for kept checks only: one the rubric disabled is replaced by what it waited
    for, recursively (it would have run once its `requires` passed and its `after` ran). With
    startup.up disabled, api.reachable still waits for the build, so it never runs, or polls a
    stack, for a submission whose compose file failed."""
    requires: dict[str, None] = {}
    after: dict[str, None] = {}

    def add(names: tuple[str, ...], into: dict[str, None]) -> None:
        for name in names:
            if name in kept or name not in CHECKS:
                into[name] = None
            else:
                add(CHECKS[name].requires, requires)
                add(CHECKS[name].after, after)

    add(check.requires, requires)
    add(check.after, after)
    return dataclasses.replace(check, requires=tuple(requires), after=tuple(n for n in after if n not in requires))
