"""`grader rubric init [FILE]` and `grader rubric check FILE [--against SOURCE...]`."""

from __future__ import annotations

import argparse
import sys

from checks import CHECKS, registry
from grader.commands.exits import EXIT_BELOW, EXIT_OK
from grader.errors import BadInput
from grader.intake.rubric import default_text
from grader.intake.rubric import load as load_rubric
from grader.messages import title


def run(args: argparse.Namespace) -> int:
    if args.rubric_command == "init":
        if args.file.exists():
            raise BadInput(f"{args.file} exists; not overwriting it")
        args.file.write_text(default_text([(c.id, title(c.title), c.max_points) for c in CHECKS.values()]))
        sys.stdout.write(f"wrote {args.file}\n")
        return EXIT_OK
    rubric = load_rubric(args.file)
    checks = registry(rubric)
    total = sum(c.max_points for c in checks.values())
    sys.stdout.write(f"{args.file}: valid; {len(checks)} checks, {total:g} points\n")
    if rubric.environment and rubric.env_example_deduct:
        sys.stdout.write(
            f"{args.file}: note: env_examples.deduct does nothing while `environment:` gives values (no example "
            "stands in then)\n"
        )
    if not args.against:
        return EXIT_OK
    from grader.classroom import (
        roster,
        survey,  # only --against fetches a class
    )

    entries = roster.entries(args.against)
    if not entries:
        raise BadInput(f"no student found in {', '.join(map(str, args.against))}")

    def reading(entry: roster.Entry) -> None:
        sys.stderr.write(f"grader: reading {entry.student} ...\n")

    found = survey.survey(entries, rubric, reading)
    sys.stdout.write("\n" + survey.render(found, rubric, str(args.file)))
    return EXIT_OK if survey.complete(found) else EXIT_BELOW
