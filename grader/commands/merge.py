"""`grader merge DIR... --out DIR`: shards' outputs into one, with its gradebook."""

from __future__ import annotations

import argparse
import sys

from grader.commands.exits import EXIT_OK


def run(args: argparse.Namespace) -> int:
    from grader.classroom.shards import merge

    rows = merge(args.folders, args.out)
    sys.stdout.write(f"{len(rows)} students in {args.out / 'gradebook.csv'} and {args.out / 'gradebook.html'}\n")
    return EXIT_OK
