"""grader.intake.locate: the project at the root, in the one folder below it, or chosen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.errors import BadInput
from grader.intake.locate import MAX_DEPTH, given, locate


def _tree(root: Path, files: list[str]) -> Path:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("services: {}\n" if "compose" in name else "FROM node:18\n")
    return root


@pytest.mark.parametrize(
    ("files", "path", "how"),
    [
        pytest.param(["docker-compose.yml", "Dockerfile", "sub/compose.yaml"], ".", "root", id="root-wins"),
        pytest.param(
            ["ecommerce-ana/docker-compose.yml", "ecommerce-ana/Dockerfile"], "ecommerce-ana", "found", id="one"
        ),
        pytest.param(["a/b/compose.yaml", "a/b/api/Dockerfile"], "a/b", "found", id="build-below"),
        pytest.param(
            ["app/docker-compose.yml", "app/Dockerfile", "docs/example/docker-compose.yml"],
            "app",
            "found",
            id="the-one-that-builds",
        ),
        pytest.param(["only/compose.yml"], "only", "found", id="one-without-dockerfile"),
        pytest.param(["README.md"], ".", "root", id="none"),
        pytest.param(["node_modules/x/docker-compose.yml", "README.md"], ".", "root", id="node-modules-skipped"),
        pytest.param([".github/compose.yaml", "README.md"], ".", "root", id="hidden-skipped"),
        pytest.param(["a/b/c/d/compose.yaml", "a/b/c/d/Dockerfile"], ".", "root", id="too-deep"),
    ],
)
def test_where_the_project_is(tmp_path: Path, files: list[str], path: str, how: str) -> None:
    found = locate(_tree(tmp_path, files))
    assert (found.path, found.how) == (path, how)
    assert MAX_DEPTH == 3


def test_two_projects_are_the_tas_choice(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["ana/compose.yaml", "ana/Dockerfile", "bea/compose.yaml", "bea/Dockerfile"])
    with pytest.raises(BadInput, match=r"several projects \(`ana/`, `bea/`\)"):
        locate(root)
    assert locate(root, "be*").path == "bea"
    with pytest.raises(BadInput, match="matches none"):
        locate(root, "zoe*")
    with pytest.raises(BadInput, match="matches 2"):
        locate(root, "*")


def test_the_rubric_can_ask_for_the_root_only(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["ecommerce-ana/compose.yaml", "ecommerce-ana/Dockerfile"])
    assert locate(root, ".").path == "."


def test_a_linked_folder_is_never_entered_or_given(tmp_path: Path) -> None:
    outside = _tree(tmp_path / "outside", ["compose.yaml", "Dockerfile"])
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside, repo / "app")
    assert locate(repo).path == "."
    with pytest.raises(BadInput, match="not a folder"):
        given(repo, "app")


@pytest.mark.parametrize("path", ["../x", "/etc", "a/../../b"])
def test_a_given_folder_stays_inside(tmp_path: Path, path: str) -> None:
    with pytest.raises(BadInput):
        given(tmp_path, path)


def test_a_given_folder(tmp_path: Path) -> None:
    _tree(tmp_path, ["x/y/compose.yaml", "compose.yaml"])
    assert given(tmp_path, "x/y/") == ("x/y", "chosen", ())
    assert given(tmp_path, ".").path == "."
    with pytest.raises(BadInput, match="holds no compose file"):
        given(tmp_path, "x")  # a TA's typo, not a student's 0


def test_a_tree_too_large_to_search_asks_for_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("grader.intake.locate.MAX_ENTRIES", 50)
    _tree(tmp_path, ["a-old/docker-compose.yml", *(f"b-data/{i}.txt" for i in range(60)), "project/compose.yaml"])
    with pytest.raises(BadInput, match="name the project's folder"):
        locate(tmp_path)
