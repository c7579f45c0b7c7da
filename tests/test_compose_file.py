from __future__ import annotations

import pytest

from checks.compose_file import unknown_key_advice


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            "validating compose.yaml: services.api.enviroment false schema",
            "`enviroment` (in service `api`) is not a compose key. Did you mean `environment`?",
            id="v5-wording",
        ),
        pytest.param(
            "services.web Additional property volumen is not allowed",
            "`volumen` (in service `web`) is not a compose key. Did you mean `volumes`?",
            id="v1-wording",
        ),
        pytest.param(
            "validating docker-compose.yml: services.db additional properties 'port' not allowed",
            "`port` (in service `db`) is not a compose key. Did you mean `ports`?",
            id="older-wording",
        ),
        pytest.param("yaml: line 3: mapping values are not allowed in this context", None, id="yaml-syntax"),
    ],
)
def test_unknown_key_advice(message: str, expected: str | None) -> None:
    assert unknown_key_advice(message) == expected
