from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from grader.intake.untrusted import (
    MAX_YAML_NODES,
    InterpolationError,
    UnsafeInput,
    env_file_references,
    interpolate,
    load_compose,
    outside_references,
    safe_load,
    screen_yaml,
    variables,
)
from tests.conftest import compose_config


def billion_laughs(levels: int = 9) -> str:
    lines = ['x-a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"x-a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nservices:\n  app:\n    image: node:18\n    labels: {{bomb: *a{levels}}}\n"


def test_a_billion_laughs_is_refused_quickly() -> None:
    with pytest.raises(UnsafeInput, match="YAML bomb"):
        screen_yaml(billion_laughs(), "compose.yml")


@pytest.mark.parametrize("text", ["x: &a [*a]", "x: &a {k: [1, *a]}"], ids=["list", "mapping"])
def test_an_alias_inside_its_own_anchor_is_refused(text: str) -> None:
    with pytest.raises(UnsafeInput, match="YAML bomb"):
        screen_yaml(text, "compose.yml")


def test_ordinary_anchors_pass() -> None:
    text = "x-env: &env {NODE_ENV: production}\nservices:\n" + "".join(
        f"  s{i}: {{environment: *env}}\n" for i in range(50)
    )
    assert safe_load(text, "compose.yml")["services"]["s49"]["environment"] == {"NODE_ENV": "production"}


def test_aliases_of_one_long_value_are_refused_by_their_expanded_bytes() -> None:
    # 800 aliases of a 600 KiB scalar: a few hundred nodes, but 470 MB once compose expands them.
    text = f"x-big: &big {'y' * (600 << 10)}\nservices:\n  app:\n    image: node:18\n    labels:\n"
    text += "".join(f"      l{i}: *big\n" for i in range(800))
    started = time.monotonic()
    with pytest.raises(UnsafeInput, match="MB of text through YAML aliases"):
        screen_yaml(text, "compose.yml")
    assert time.monotonic() - started < 2


def test_the_limit_is_on_expanded_values_not_aliases() -> None:
    small = billion_laughs(levels=3)  # 9**4 scalars: well below the limit
    assert MAX_YAML_NODES > 9**4
    screen_yaml(small, "compose.yml")


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("a: " + "x" * (1 << 20), "larger than", id="too-large"),
        pytest.param("[" * 5000 + "]" * 5000, "nested too deeply", id="too-deep"),
    ],
)
def test_unsafe_texts(text: str, message: str) -> None:
    with pytest.raises(UnsafeInput, match=message):
        safe_load(text, "compose.yml")


def test_invalid_yaml_is_left_to_the_caller() -> None:
    screen_yaml("services: [unclosed", "compose.yml")
    with pytest.raises(yaml.YAMLError):
        safe_load("services: [unclosed", "compose.yml")


@pytest.mark.parametrize(
    "compose, outside",
    [
        pytest.param("include: [../other/compose.yml]", ["include: ../other/compose.yml"], id="include-parent"),
        pytest.param("include: [{path: /etc/compose.yml}]", ["include: /etc/compose.yml"], id="include-absolute"),
        pytest.param(
            "include: [{path: ./db.yml, env_file: /root/.env}]", ["include env_file: /root/.env"], id="include-env"
        ),
        pytest.param(
            "services: {a: {extends: {file: ../base.yml, service: b}}}",
            ["service `a` extends: ../base.yml"],
            id="extends",
        ),
        pytest.param("services: {a: {env_file: /etc/passwd}}", ["service `a` env_file: /etc/passwd"], id="env-file"),
        pytest.param(
            "services: {a: {env_file: [{path: ~/.aws/credentials}]}}",
            ["service `a` env_file: ~/.aws/credentials"],
            id="env-home",
        ),
        pytest.param(
            "services: {a: {env_file: '${HOME}/.netrc'}}", ["service `a` env_file: ${HOME}/.netrc"], id="env-variable"
        ),
        pytest.param("services: {a: {label_file: ../labels}}", ["service `a` label_file: ../labels"], id="label-file"),
        pytest.param("services: {a: {build: ..}}", ["service `a` build: .."], id="build-parent"),
        pytest.param(
            "services: {a: {build: {context: ., additional_contexts: {x: /etc}}}}",
            ["service `a` additional context: /etc"],
            id="additional-context",
        ),
        pytest.param("services: {a: {build: ./api, env_file: .env}}", [], id="inside"),
        pytest.param("services: {a: {build: 'https://github.com/x/y.git'}}", [], id="remote-context"),
        pytest.param("services: {a: {env_file: '$${HOME}'}}", [], id="escaped-dollar-is-a-literal-name"),
        pytest.param(
            "services: {a: {env_file: link/.env}}", ["service `a` env_file: link/.env"], id="through-a-symlink"
        ),
    ],
)
def test_outside_references(tmp_path: Path, compose: str, outside: list[str]) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "link").symlink_to("/etc")
    data = yaml.safe_load(compose)
    assert outside_references(data, root, root, {"HOME": "/root"}) == outside


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param("${A}", "a", id="braces"),
        pytest.param("$A/x", "a/x", id="bare"),
        pytest.param("${MISSING:-./.env}", "./.env", id="default"),
        pytest.param("${EMPTY:-d}", "d", id="colon-default-on-empty"),
        pytest.param("${EMPTY-d}", "", id="default-only-when-unset"),
        pytest.param("${A:+set}", "set", id="alternative"),
        pytest.param("$$A", "$A", id="escaped"),
    ],
)
def test_interpolate(value: str, expected: str) -> None:
    assert interpolate(value, {"A": "a", "EMPTY": ""}) == expected


# Templates whose value the screen must compute exactly as compose does; compared with the real
# compose binary below (no engine needed: `config` only parses).
TEMPLATES = [
    "${A}",
    "$A/x",
    "${A}}",
    "${MISSING:-./.env}",
    "${EMPTY:-d}",
    "${EMPTY-d}",
    "${MISSING-d}",
    "${A:+set}",
    "${EMPTY:+set}",
    "${EMPTY+set}",
    "${MISSING+set}",
    "$$A",
    "$${A}",
    "$$$A",
    "${MISSING:-${A}/../etc/passwd}",
    "${MISSING:-${MISSING2:-${A}}}",
    "${A:-x}-${B:-y}",
    "x${A:-${B:-z}}z",
    "${MISSING:-{x}}y}",
    "${A?x-y}",
    "${MISSING-x?y}",
    "$1 and $ and 5$",
    "${a}",
    "pre${A}post$A",
]
DOTENV = {"A": "a", "EMPTY": "", "B": "b/c"}


def test_interpolation_matches_compose(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in DOTENV.items()))
    lines = "".join(f"      V{i}: {json.dumps(t)}\n" for i, t in enumerate(TEMPLATES))
    (tmp_path / "compose.yaml").write_text(f"services:\n  app:\n    image: node:18\n    environment:\n{lines}")
    result = compose_config(tmp_path, "--format", "json")
    # `config` escapes every literal `$` of its output as `$$`, so the output can be read again
    theirs = {k: v.replace("$$", "$") for k, v in json.loads(result.stdout)["services"]["app"]["environment"].items()}
    ours = {f"V{i}": interpolate(t, DOTENV) for i, t in enumerate(TEMPLATES)}
    assert ours == theirs


@pytest.mark.parametrize("template", ["${MISSING:?set it}", "${EMPTY:?}", "${MISSING?}", "${", "${1}", "${A"])
def test_where_compose_stops_the_screen_stops(template: str, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  app:\n    image: node:18\n    command: {json.dumps(template)}\n"
    )
    (tmp_path / ".env").write_text("EMPTY=\nA=a\n")
    result = compose_config(tmp_path, check=False)
    assert result.returncode != 0
    with pytest.raises(InterpolationError):
        interpolate(template, {"EMPTY": "", "A": "a"})


@pytest.mark.parametrize(
    "text, names",
    [
        pytest.param("${HOME}", {"HOME"}, id="braced"),
        pytest.param("$HOME/x", {"HOME"}, id="bare"),
        pytest.param("${X:-${HOME}}", {"X", "HOME"}, id="nested"),
        pytest.param("$$HOME", set(), id="escaped"),
        pytest.param("$$$HOME", {"HOME"}, id="escaped-then-variable"),
    ],
)
def test_variables(text: str, names: set[str]) -> None:
    assert variables(text) == names


def test_compose_tags_are_read_and_others_refused() -> None:
    data = load_compose("x-a: !reset null\nservices: !override {api: {image: node:18}}\n", "compose.yml")
    assert data == {"x-a": None, "services": {"api": {"image": "node:18"}}}
    with pytest.raises(UnsafeInput, match="`!include`"):
        load_compose("services: {api: {env_file: !include /etc/passwd}}", "compose.yml")
    # compose turns base64 into the path; PyYAML would hand the screen bytes it does not look at
    with pytest.raises(UnsafeInput, match="binary"):
        load_compose("include: [!!binary L2V0Yy9wYXNzd2Q=]", "compose.yml")


@pytest.mark.parametrize(
    "compose",
    [
        pytest.param("include: ['${ROOT}/db.yml']", id="include-variable"),
        pytest.param("include: [https://example.invalid/compose.yml]", id="include-remote"),
        pytest.param("services: {a: {extends: {file: '$BASE', service: b}}}", id="extends-variable"),
        pytest.param("services: {a: {label_file: ~/labels}}", id="label-file-home"),
    ],
)
def test_files_compose_reads_while_resolving_must_be_plain_local_paths(tmp_path: Path, compose: str) -> None:
    """Whatever they resolve to (here: inside the repository), compose would read them before
    the gate sees its model."""
    data = load_compose(compose, "compose.yml")
    assert outside_references(data, tmp_path, tmp_path, {"ROOT": str(tmp_path), "BASE": "b.yml"})


def test_several_documents_are_refused() -> None:
    """compose merges every document of a file; the screen reads one."""
    with pytest.raises(UnsafeInput, match="2 YAML documents"):
        load_compose("services: {a: {image: alpine}}\n---\ninclude: [/etc/x.yml]\n", "compose.yml")
    assert load_compose("---\nservices: {a: {image: alpine}}\n", "compose.yml") == {
        "services": {"a": {"image": "alpine"}}
    }


def test_include_project_directory_is_refused(tmp_path: Path) -> None:
    data = load_compose("include: [{path: a/b.yml, project_directory: .}]", "compose.yml")
    assert outside_references(data, tmp_path, tmp_path, {}) == ["include project_directory: ."]


@pytest.mark.parametrize(
    "text, names",
    [
        pytest.param("A=1\nB=${HOME}/x\n", {"HOME"}, id="expanded"),
        pytest.param("# comment\nDOCKER_HOST\nexport PATH\n", {"DOCKER_HOST", "PATH"}, id="inherited"),
        pytest.param("A=1\nB='x'\n", set(), id="plain"),
    ],
)
def test_env_file_references(text: str, names: set[str]) -> None:
    assert env_file_references(text) == names
