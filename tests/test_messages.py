"""One catalogue for every student-facing sentence, complete in every language."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from grader.messages import CATALOGUE, LANGUAGES, language, msg
from tests.conftest import english_words

ROOT = Path(__file__).resolve().parent.parent


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_language_has_the_entry_with_the_same_placeholders(key: str) -> None:
    entry = CATALOGUE[key]
    assert set(entry) == set(LANGUAGES)
    english = placeholders(entry["en"])
    for lang in LANGUAGES:
        assert placeholders(entry[lang]) == english, lang
        with language(lang):
            rendered = msg(key, **{name: f"<{name}>" for name in english})  # literal braces are escaped
        assert rendered.strip()


def test_spanish_is_not_english() -> None:
    same = [k for k, v in CATALOGUE.items() if v["en"] == v["es"] and len(v["en"]) > 12 and "{" not in v["en"]]
    assert same == []


def test_no_spanish_entry_holds_an_english_sentence() -> None:
    """Every entry as a student or an instructor reads it with `--lang es`, placeholders filled."""
    found = {}
    for key, entry in CATALOGUE.items():
        with language("es"):
            rendered = msg(key, **{name: "x" for name in placeholders(entry["en"])})
        if english_words(rendered):
            found[key] = english_words(rendered)
    assert found == {}


def test_the_english_detector_finds_english() -> None:
    assert english_words("El servicio `db` is not ready: «the file» {x}") == ["is", "not"]
    assert english_words("así que el contenedor no arranca") == []


def _outcome_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text())
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "Outcome"
        and node.func.attr in ("passed", "failed", "error", "skipped")
    ]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.relative_to(ROOT).as_posix())
        for p in sorted((ROOT / "checks").rglob("*.py")) + sorted((ROOT / "grader").rglob("*.py"))
    ],
)
def test_no_feedback_is_written_outside_the_catalogue(path: Path) -> None:
    """A check's feedback is never a literal or an f-string: it comes from msg(...)."""
    for call in _outcome_calls(path):
        first = call.args[0] if call.args else None
        assert not isinstance(first, (ast.Constant, ast.JoinedStr)), f"{path.name}:{call.lineno}"


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"), language("fr"):
        pass
