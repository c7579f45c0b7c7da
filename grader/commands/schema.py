"""`grader schema`: the report's JSON Schema."""

from __future__ import annotations

import argparse
import json
import sys

from grader.commands.exits import EXIT_OK
from grader.reports.document import schema


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(json.dumps(schema(), indent=2) + "\n")
    return EXIT_OK
