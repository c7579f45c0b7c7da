from __future__ import annotations

from pathlib import Path

import pytest

from checks import CHECKS, registry
from grader.engine.limits import Limits
from grader.errors import BadInput
from grader.intake.rubric import default_text, load, parse
from grader.messages import title
from grader.run.context import Options

ROOT = Path(__file__).resolve().parent.parent


def test_the_course_rubric_loads() -> None:
    rubric = load(ROOT / "fixtures" / "rubrics" / "products.yml")
    assert [s.name for s in rubric.scenarios] == ["Create and list products"]
    assert rubric.persistence is not None and len(rubric.persistence.after_steps) == 1
    assert rubric.environment["POSTGRES_DB"] == "products"  # read from grading.env beside it
    assert rubric.secret_items() == (("DB_PASSWORD", "grading-secret-pw"), ("POSTGRES_PASSWORD", "grading-secret-pw"))
    checks = registry(rubric)
    assert sum(c.max_points for c in checks.values()) == 120
    assert list(checks).index("api.scenario_create_and_list_products") == list(checks).index("api.reachable") + 1
    assert checks["compose.volume"].hidden


def test_default_rubric_is_valid_and_changes_nothing() -> None:
    text = default_text([(c.id, title(c.title), c.max_points) for c in CHECKS.values()])
    checks = registry(parse(text))
    assert {k: c.max_points for k, c in checks.items()} == {k: c.max_points for k, c in CHECKS.items()}


def test_weights_and_disabled_checks() -> None:
    rubric = parse("checks:\n  persistence.data: {points: 40}\n  dockerfile.practices: {enabled: false}\n")
    checks = registry(rubric)
    assert checks["persistence.data"].max_points == 40
    assert "dockerfile.practices" not in checks


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "checks:\n  api.reachable:\n    points: ten\n",
            "line 3: checks.api.reachable.points: 'ten'",
            id="wrong-type",
        ),
        pytest.param("timeouts:\n  build: 0\n", "line 2: timeouts.build", id="not-positive"),
        pytest.param(
            "scenarios:\n  - name: x\n    points: 1\n    steps:\n      - request: {path: nope}\n",
            "line 5: scenarios.0.steps.0.request.path",
            id="path-without-slash",
        ),
        pytest.param("colour: blue\n", "line 1: (top level): unknown key `colour`; known here: app,", id="unknown-key"),
        pytest.param(
            "image:\n  postgres: postgres:16\n", "unknown key `image` (did you mean `images`?)", id="did-you-mean"
        ),
        pytest.param(
            "JWT_SECRET: x\n", "grading values go under `environment: {variables:", id="a-variable-at-the-top"
        ),
        pytest.param(
            "images:\n  postgres: Postgres\n",
            "line 2: images.postgres: 'Postgres' is not an image with a tag or digest",
            id="pattern-in-words",
        ),
        pytest.param(
            'images:\n  "postgres:16": "postgres:16"\n',
            "images: the key 'postgres:16' is not a name without a tag, in lower case, like `postgres`",
            id="a-pin-s-key-with-a-tag",
        ),
        pytest.param("limits:\n  memory: lots\n", "line 2: limits.memory", id="limits-memory"),
        pytest.param("limits:\n  pids: 2\n", "line 2: limits.pids", id="limits-pids-too-low"),
        pytest.param("x: &a [*a]\n", "YAML bomb", id="recursive-alias"),
        pytest.param("checks: [\n", "not valid YAML", id="yaml-syntax"),
    ],
)
def test_errors_name_the_key_and_line(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=None) as info:
        parse(text)
    assert message in str(info.value), str(info.value)


def test_unknown_check_is_refused() -> None:
    with pytest.raises(
        BadInput, match=r"line 2: checks\.api\.reachabel: there is no such check; did you mean `api\.reachable`"
    ):
        registry(parse("checks:\n  api.reachabel: {points: 5}\n"))


def test_command_line_timeouts_win_over_the_rubric() -> None:
    rubric = parse("timeouts: {build: 900, start: 60}\n")
    assert Options.of(rubric) == Options(900, 60)
    assert Options.of(rubric, build=30) == Options(30, 60)
    assert Options.of(parse("")) == Options()


def test_limits_change_only_what_the_rubric_names() -> None:
    options = Options.of(parse("limits: {memory: 2g, pids: 1024}\n"))
    assert options.limits == Limits(memory="2g", pids=1024)
    assert Options.of(parse("")).limits == Limits()


def test_a_yaml_bomb_rubric_is_bad_input() -> None:
    levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    with pytest.raises(BadInput, match="YAML bomb"):
        parse("\n".join(levels) + "\n")


def test_missing_environment_file(tmp_path: Path) -> None:
    (tmp_path / "grader.yml").write_text("environment:\n  files: [nope.env]\n")
    with pytest.raises(BadInput, match=r"nope\.env"):
        load(tmp_path / "grader.yml")


def test_a_rubric_not_in_utf8_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "grader.yml"
    path.write_bytes("# corrección\nlang: es\n".encode("cp1252"))
    with pytest.raises(BadInput, match="not UTF-8 text"):
        load(path)


@pytest.mark.parametrize("setting", ["{enabled: false}", "{enabled: false, points: 0}"])
def test_the_security_gate_cannot_be_disabled(setting: str) -> None:
    with pytest.raises(
        BadInput, match=r"line 3: checks\.security\.policy\.enabled: the security gate cannot be disabled"
    ):
        parse(f"lang: en\nchecks:\n  security.policy: {setting}\n")


def test_the_security_gate_can_be_hidden_or_weighted() -> None:
    rubric = parse("checks: {security.policy: {hidden: true, points: 5}}")
    gate = registry(rubric)["security.policy"]
    assert (gate.hidden, gate.max_points) == (True, 5)


def test_an_unknown_check_is_named_with_its_line_and_a_guess(tmp_path: Path) -> None:
    from checks import registry

    rubric = parse("lang: es\nchecks:\n  startup.up: {points: 10}\n  compose.volumes: {points: 5}\n", "curso.yml")
    with pytest.raises(BadInput) as error:
        registry(rubric)
    assert str(error.value).startswith("curso.yml line 4: checks.compose.volumes: there is no such check")
    assert "did you mean `compose.volume`?" in str(error.value)


def test_a_deduction_larger_than_the_check_is_refused() -> None:
    from checks import registry

    with pytest.raises(BadInput, match=r"env_examples\.deduct: 6 points is more than compose\.file is worth"):
        registry(parse("env_examples: {deduct: 6}\n"))
    registry(parse("env_examples: {deduct: 6}\nchecks:\n  compose.file: {points: 8}\n"))
