"""`grader batch SOURCE... --out DIR`: a class, each student in a process of its own, into a gradebook."""

from __future__ import annotations

import argparse
import sys

from grader.commands.exits import EXIT_INFRA, EXIT_OK
from grader.engine.connect import docker_client
from grader.errors import BadInput
from grader.intake.rubric import load as load_rubric


def run(args: argparse.Namespace) -> int:
    from grader.classroom import (
        batch,
        roster,  # only this command needs them
    )
    from grader.engine import reaper

    if args.rubric:
        load_rubric(args.rubric)  # a wrong rubric stops here, not once per student
    docker_client()  # no engine: say so once, before anything is fetched
    args.out = args.out.resolve()  # each student's run starts in its own folder: no relative path
    args.rubric = args.rubric.resolve() if args.rubric else None
    jobs = args.jobs if args.jobs is not None else batch.default_jobs()
    if jobs < 1:
        raise BadInput("--jobs must be at least 1")
    options = batch.BatchOptions(
        out=args.out,
        jobs=jobs,
        rubric=args.rubric,
        lang=args.lang,
        deadline=args.deadline,
        resume=args.resume,
        only=frozenset(args.only),
        shard=args.shard,
        junit=args.junit,
        gradescope=args.gradescope,
    )
    summary = batch.run(roster.entries(args.sources), options)
    # Each run handed its images to a reaper (grader.engine.reaper): the class ends with none left.
    sys.stderr.write("grader: removing the images the class built ...\n")
    left = reaper.drain(docker_client())
    if left:
        sys.stderr.write(f"grader: {len(left)} images could not be removed; `grader cleanup` tries again\n")
    sys.stdout.write(summary.table())
    sys.stdout.write(f"gradebook: {summary.csv}\npage: {summary.html}\n")
    unfetched = [o for o in summary.outcomes if o.fault == "fetch"]
    if unfetched:
        sys.stderr.write(f"grader: the work of {len(unfetched)} students could not be had (their reports say why)\n")
    choose = [o for o in summary.outcomes if o.fault == "input"]
    if choose:
        sys.stderr.write(
            f"grader: {len(choose)} repositories need a choice of yours (their reports say which, e.g. the project "
            "folder: a `path` column in the roster)\n"
        )
    retry = [o for o in summary.outcomes if o.retry]
    if retry:
        sys.stderr.write(f"grader: {len(retry)} students could not be graded here; `--resume` runs them again\n")
        return EXIT_INFRA
    return EXIT_OK
