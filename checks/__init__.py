"""The check registry: an explicit, ordered dict (order = run order), no magic discovery.

To add a check: write `checks/<name>.py` exposing `CHECK = Check(...)` with a
`run(ctx: Context) -> Outcome` function, then list it here. `registry(rubric)` is what a run
grades: these checks as the instructor's rubric weights them, plus the rubric's scenarios.
"""

from __future__ import annotations

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
from grader.context import Check
from grader.errors import BadInput
from grader.rubric import Rubric

CHECKS: dict[str, Check] = {
    check.id: check
    for check in (
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
}


def registry(rubric: Rubric | None = None) -> dict[str, Check]:
    """The checks a run grades: the built-in ones with the rubric's points, disabled checks left
    out, hidden ones marked; then one check per API scenario and the persistence scenario."""
    rubric = rubric or Rubric()
    unknown = sorted(set(rubric.checks) - set(CHECKS))
    if unknown:
        raise BadInput(f"the rubric names unknown checks: {', '.join(unknown)} (known: {', '.join(CHECKS)})")
    checks: dict[str, Check] = {}
    for check in CHECKS.values():
        setting = rubric.checks.get(check.id)
        if setting is not None and not setting.enabled:
            continue
        if setting is not None:
            points = check.max_points if setting.points is None else setting.points
            check = check._replace(max_points=points, hidden=setting.hidden)
        checks[check.id] = check
        if check.id == "api.reachable":
            checks |= {s.id: api_scenario.make(s) for s in rubric.scenarios}
    if rubric.persistence is not None:
        checks[rubric.persistence.id] = persistence_scenario.make(rubric.persistence)
    return checks
