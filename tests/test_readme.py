"""The README's "What is graded" table is the registry's: same checks, order, categories, points."""

from __future__ import annotations

import re

from checks import CHECKS
from tests.conftest import ROOT


def test_the_graded_table_matches_the_registry() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = re.search(r"^## What is graded \((\d+) points\)$", text, re.MULTILINE)
    assert heading, "the README has no 'What is graded (N points)' section"
    section = text[heading.end() : text.index("\n## ", heading.end())]
    rows = re.findall(r"^\| `([a-z]+\.[a-z_]+)` \| (\w+) \| (\d+(?:\.\d+)?) \|", section, re.MULTILINE)
    assert [(i, c, float(p)) for i, c, p in rows] == [
        (c.id, c.category.value, float(c.max_points)) for c in CHECKS.values()
    ]
    assert float(heading.group(1)) == sum(c.max_points for c in CHECKS.values())
