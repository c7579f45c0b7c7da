from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grader.untrusted import MAX_YAML_NODES, UnsafeInput, interpolate, outside_references, safe_load, screen_yaml


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
