"""`grader cleanup`: what killed or crashed runs left on the engine, and layers runs handed over."""

from __future__ import annotations

import argparse
import sys

from grader.commands.exits import EXIT_INFRA, EXIT_OK
from grader.engine.connect import docker_client


def run(args: argparse.Namespace) -> int:
    from grader.engine import cleanup  # the engine only for this command

    client = docker_client()
    found = [x for x in cleanup.leftovers(client) if not args.project or x.project in args.project]
    failed = False
    for leftover in found:
        if leftover.alive and not args.all:
            doing = "its reaper is removing its images" if leftover.reaping else "still grading (its process runs)"
            sys.stdout.write(f"{leftover.project}: {doing}; kept\n")
            continue
        if leftover.alive is None and not args.all:
            sys.stdout.write(
                f"{leftover.project}: no record of this run on this machine (another user's or machine's?); "
                "kept: `grader cleanup --all --project NAME` removes it\n"
            )
            continue
        if args.dry_run:
            sys.stdout.write(f"{leftover.project}: would be removed\n")
            continue
        problems = cleanup.remove(client, leftover)
        failed |= bool(problems)
        sys.stdout.write(f"{leftover.project}: {'; '.join(problems) if problems else 'removed'}\n")
    layers = cleanup.handed_over(client)
    if layers and args.dry_run:
        sys.stdout.write(f"{len(layers)} layers grader runs made, another image built on them: would be removed\n")
    elif layers:
        with cleanup.no_build(cleanup.TEARDOWN_WAIT_S) as free:
            if free:
                cleanup.sweep_handed_over(client)
        left = cleanup.handed_over(client)
        if not free:
            sys.stdout.write(f"{len(left)} handed-over layers kept: runs of this machine kept building; try again\n")
        else:
            sys.stdout.write(f"{len(layers) - len(left)} handed-over layers removed, {len(left)} still built on\n")
    if not found and not layers:
        sys.stdout.write("nothing to clean up\n")
    return EXIT_INFRA if failed else EXIT_OK
