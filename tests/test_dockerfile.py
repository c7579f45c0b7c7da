from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grader.intake.dockerfile import (
    DEFAULT_START,
    dockerignore_excludes_node_modules,
    hadolint_hints,
    npm_as_pid1,
    parse,
    pin_example,
    practices,
    start_command,
)

GOOD = """FROM node:18.12
WORKDIR /app
COPY package*.json ./
RUN npm install
COPY . .
EXPOSE 3000
CMD ["node", "index.js"]
"""


def verdicts(text: str, targets: list[int] | None = None, ignore: str | None = "node_modules\n") -> dict[str, bool]:
    return {p.key: p.ok for p in practices(parse(text), [3000] if targets is None else targets, ignore)}


def test_course_example_follows_every_practice() -> None:
    assert all(verdicts(GOOD).values())


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param(GOOD.replace("node:18.12", "node"), "base_tag", id="untagged"),
        pytest.param(GOOD.replace("node:18.12", "node:latest"), "base_tag", id="latest"),
        pytest.param(GOOD.replace("WORKDIR /app\n", ""), "workdir", id="no-workdir"),
        pytest.param(
            GOOD.replace("COPY package*.json ./\nRUN npm install\nCOPY . .\n", "COPY . .\nRUN npm install\n"),
            "deps_first",
            id="install-after-source",
        ),
        pytest.param(GOOD.replace("RUN npm install\n", ""), "deps_first", id="never-installs"),
        pytest.param(GOOD.replace("EXPOSE 3000\n", ""), "expose", id="no-expose"),
        pytest.param(GOOD.replace("EXPOSE 3000", "EXPOSE 8080"), "expose", id="expose-mismatch"),
        pytest.param(GOOD.replace('CMD ["node", "index.js"]', "CMD node index.js"), "exec_cmd", id="shell-form"),
        pytest.param(GOOD.replace('CMD ["node", "index.js"]\n', ""), "exec_cmd", id="no-cmd"),
    ],
)
def test_one_missing_practice_is_the_only_failure(text: str, key: str) -> None:
    result = verdicts(text)
    assert [k for k, ok in result.items() if not ok] == [key]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("ARG NODE_VERSION=18.12\nFROM node:${NODE_VERSION}\n" + GOOD.split("\n", 1)[1], id="arg-tag"),
        pytest.param(GOOD.replace("EXPOSE 3000", "ENV PORT=3000\nEXPOSE ${PORT}"), id="expose-from-env"),
        pytest.param(GOOD.replace("npm install", "npm ci --omit=dev"), id="npm-ci"),
        pytest.param(
            GOOD.replace("COPY package*.json ./", "COPY package.json package-lock.json ./"), id="two-manifests"
        ),
        pytest.param(
            "FROM node:18.12 AS build\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n"
            "FROM node:18.12-slim\nWORKDIR /app\nCOPY --from=build /app .\nEXPOSE 3000\n"
            'CMD ["node", "dist/main.js"]\n',
            id="multi-stage-nest",
        ),
        pytest.param(GOOD.replace("FROM node:18.12", "FROM node@sha256:" + "a" * 64), id="digest"),
    ],
)
def test_variants_that_follow_the_practices(text: str) -> None:
    assert all(verdicts(text).values()), verdicts(text)


def test_expose_without_published_port_is_enough() -> None:
    assert verdicts(GOOD, targets=[])["expose"]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        pytest.param("node_modules", True, id="plain"),
        pytest.param("/node_modules/\n", True, id="rooted-dir"),
        pytest.param("**/node_modules", True, id="any-depth"),
        pytest.param("# node_modules\n.git", False, id="comment-only"),
        pytest.param("!node_modules", False, id="negated"),
        pytest.param("", False, id="empty"),
    ],
)
def test_dockerignore(text: str, ok: bool) -> None:
    assert dockerignore_excludes_node_modules(text) is ok


def test_missing_dockerignore_fails_with_advice() -> None:
    found = {p.key: p for p in practices(parse(GOOD), [3000], None)}
    assert not found["dockerignore"].ok
    assert "node_modules" in found["dockerignore"].advice


def test_parse_rejects_a_file_without_from() -> None:
    with pytest.raises(ValueError, match="FROM"):
        parse('WORKDIR /app\nCMD ["node"]\n')


def test_line_numbers_point_at_the_instruction() -> None:
    found = {p.key: p for p in practices(parse(GOOD.replace("node:18.12", "node")), [3000], "node_modules")}
    assert found["base_tag"].line == 1


def test_npm_as_pid1_is_a_hint_not_a_failure() -> None:
    text = GOOD.replace('CMD ["node", "index.js"]', 'CMD ["npm", "start"]')
    assert all(verdicts(text).values())
    hint = npm_as_pid1(parse(text))
    assert hint is not None and "SIGTERM" in hint
    assert npm_as_pid1(parse(GOOD)) is None


def test_hadolint_findings_become_hints() -> None:
    hints = hadolint_hints("FROM debian:12\nRUN apt-get update && apt-get install -y curl\n")
    assert any("DL3008" in h for h in hints), hints
    assert all(h.startswith("Dockerfile line ") for h in hints)


@pytest.mark.parametrize(
    ("package", "cmd"),
    [
        pytest.param({"scripts": {"start:prod": "node dist/main"}}, 'CMD ["node", "dist/main"]', id="start-prod"),
        pytest.param(
            {"scripts": {"start": "nest start"}, "dependencies": {"@nestjs/core": "10"}},
            'CMD ["node", "dist/main"]',
            id="nestjs",
        ),
        pytest.param({"main": "src/server.js"}, 'CMD ["node", "src/server.js"]', id="main"),
        pytest.param({"scripts": {"start": "node app.js"}}, 'CMD ["node", "app.js"]', id="start"),
        pytest.param({"main": "x`; rm -rf /"}, DEFAULT_START, id="not-a-plain-path"),
        pytest.param([], DEFAULT_START, id="not-an-object"),
        pytest.param(None, DEFAULT_START, id="no-package-json"),
    ],
)
def test_the_start_command_a_tip_suggests(tmp_path: Path, package: Any, cmd: str) -> None:
    if package is not None:
        (tmp_path / "package.json").write_text(json.dumps(package))
    assert start_command(tmp_path) == cmd


def test_a_pin_example_is_the_course_s() -> None:
    assert pin_example("node", {"node": "node:18"}) == "node:18"
    assert pin_example("node:latest", {}) == "node:18"
    assert pin_example("python", {"node": "node:18"}) == "python:<version>"


def test_json_nested_too_deep_is_the_student_s_never_a_crash(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text("[" * 200_000)
    assert start_command(tmp_path) == DEFAULT_START
    deep = "[" * 100_000
    df = parse(f"FROM node:18\nWORKDIR /app\nCOPY {deep} ./\nCMD {deep}\n")
    assert npm_as_pid1(df) is None
    assert practices(df, [3000], "node_modules\n")  # judged, not raised
