"""The check registry: an explicit, ordered dict (order = run order), no magic discovery.

To add a check: write `checks/<name>.py` exposing `CHECK = Check(...)` with a
`run(ctx: Context) -> Outcome` function, then list it here.
"""

from __future__ import annotations

from checks import (
    api_reachable,
    compose_file,
    compose_services,
    compose_volume,
    dockerfile_build,
    dockerfile_practices,
    dockerfile_present,
    persistence_data,
    security_policy,
    startup_up,
)
from grader.model import Check

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
