"""scripts/fixture_table.py --write-expected --lint: a static-only change rewrites the fixtures'
expectations in seconds, without an engine, and never guesses a stack check's verdict."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import EXPECTED, ROOT, SUBMISSIONS


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fixture_table", ROOT / "scripts" / "fixture_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script, writing into a copy of fixtures/expected."""
    module = _script()
    shutil.copytree(EXPECTED, tmp_path / "expected")
    monkeypatch.setattr(module, "EXPECTED", tmp_path / "expected")
    return module


@pytest.mark.parametrize("name", sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir()))
def test_the_merge_of_a_fixture_s_own_static_verdicts_changes_no_byte(table: ModuleType, name: str) -> None:
    """What --lint --write-expected would write for an unchanged fixture is its file, byte for
    byte (the stack checks' verdicts, the causes, every other key, their order)."""
    text = (EXPECTED / f"{name}.json").read_text(encoding="utf-8")
    expected = json.loads(text)
    rubric = table.fixture_rubric(expected)
    report = table.grade(SUBMISSIONS / name, table.fixture_options(expected, rubric), rubric=rubric, lint=True)
    merged = table.merge_static(expected, report)
    assert merged is not None and json.dumps(merged, indent=2, ensure_ascii=False) + "\n" == text


def test_new_points_for_a_static_check_are_written_and_the_stack_s_verdicts_kept(table: ModuleType) -> None:
    """As after an instructor's weight change: the file says 10 where the check now gives 12."""
    path = table.EXPECTED / "complete.json"
    doc = json.loads(path.read_text())
    doc["checks"]["dockerfile.practices"]["points"] = 10
    doc["score"] -= 2
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    assert table.lint_table(["complete"], write=False) == 1  # a mismatch, reported, nothing written
    assert json.loads(path.read_text())["score"] == doc["score"]
    assert table.lint_table(["complete"], write=True) == 0
    assert json.loads(path.read_text()) == json.loads((EXPECTED / "complete.json").read_text())


def test_a_changed_static_status_is_left_for_the_engine(table: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    """build-fails's build check runs because compose.file passed: a compose.file that now fails
    would skip it, which only a run on the engine may write."""
    path = table.EXPECTED / "build-fails.json"
    doc = json.loads(path.read_text())
    doc["checks"]["compose.file"] = {"status": "failed", "points": 0}
    written = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    path.write_text(written)
    assert table.lint_table(["build-fails"], write=True) == 1
    assert path.read_text() == written  # left as it was
    assert "need a run on the engine" in capsys.readouterr().out


def test_a_stack_check_with_no_verdict_yet_is_left_for_the_engine(
    table: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """A newcomer's finding: after adding a stack check, --lint said every fixture was fine while
    no expected file had its verdict (the engine suite would then fail on all of them)."""
    path = table.EXPECTED / "complete.json"
    doc = json.loads(path.read_text())
    del doc["checks"]["persistence.data"]  # as if persistence.data had just been added
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    assert table.lint_table(["complete"], write=True) == 1
    assert "no verdict for persistence.data" in capsys.readouterr().out
