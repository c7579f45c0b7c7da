"""A cohort as it commits, graded from a roster of local git repositories: the NestJS-shaped
fixtures (the project in a folder, `.env` only as `.env.example`, pgAdmin, untagged images) with
the course rubric, `--jobs 1` and `--jobs 2`. Per run: the wall time, seconds per student and
their split per phase (from the reports' `timings`), the peak memory of the grader's processes
and of the machine, and what is left on the engine.

With `--before REV`, the same class is graded by the grader at REV (a git worktree), the way a TA
had to before this change: each project copied out of its folder to the repository's root, its
`.env.example` copied to the env file compose names, the rubric without the keys REV does not
know (`helpers`, `env_examples`), so pgAdmin is pulled and started as well.

    .venv/bin/python benchmarks/cohort.py [--students 3] [--before 2bef6c7]

Needs the engine and the stand-in images (`make setup`); the machine should be otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch import _available, _engine, _tree_rss  # the same measures as benchmarks/batch.py

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "fixtures" / "submissions"
RUBRIC = ROOT / "examples" / "course-rubric.yml"
# (student, fixture): the project in a folder the grader finds, one beside a class example.
COHORT = [("ana", "course-subfolder"), ("bea", "course-subfolder-two"), ("ciro", "course-subfolder")]
PHASES = ("build", "up", "settle", "api", "persistence", "teardown")


def _git(repo: Path, *args: str) -> None:
    env = os.environ | {
        "GIT_AUTHOR_NAME": "Student",
        "GIT_AUTHOR_EMAIL": "s@example.invalid",
        "GIT_COMMITTER_NAME": "Student",
        "GIT_COMMITTER_EMAIL": "s@example.invalid",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _repository(source: Path, repo: Path) -> None:
    shutil.copytree(source, repo, symlinks=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "entrega")


def _hand_edited(source: Path, repo: Path) -> None:
    """What a TA did by hand before: the project out of its folder, the example as the env file."""
    folder = next(p.parent for p in sorted(source.rglob("Dockerfile")) if (p.parent / "docker-compose.yml").exists())
    shutil.copytree(folder, repo, symlinks=True)
    compose = (repo / "docker-compose.yml").read_text()
    for name in dict.fromkeys(re.findall(r"env_file:\s*(\S+)", compose)):
        shutil.copy(repo / ".env.example", repo / name)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A", "-f")
    _git(repo, "commit", "-qm", "entrega")


def _old_rubric(path: Path) -> None:
    text = RUBRIC.read_text()
    kept = [line for line in text.splitlines() if not line.startswith(("helpers:", "env_examples:"))]
    path.write_text("\n".join(kept) + "\n")


def _batch(python: list[str], roster: Path, out: Path, jobs: int, rubric: Path, env: dict[str, str]) -> dict[str, Any]:
    floor = _available()
    started = time.monotonic()
    cmd = [*python, "batch", str(roster), "--out", str(out), "--jobs", str(jobs), "--rubric", str(rubric)]
    with subprocess.Popen(cmd, cwd=out.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as run:
        peak_rss, peak_drop = 0, 0
        while run.poll() is None:
            peak_rss = max(peak_rss, _tree_rss(run.pid))
            peak_drop = max(peak_drop, floor - _available())
            time.sleep(0.2)
    wall = time.monotonic() - started
    if run.returncode not in (0, 3):
        raise SystemExit(f"grader batch exited {run.returncode}")
    reports = [json.loads(p.read_text()) for p in sorted(out.glob("*/report.json"))]
    metas = [json.loads(p.read_text()) for p in sorted(out.glob("*/batch.json"))]
    result: dict[str, Any] = {
        "wall": wall,
        "per_student": sum(m["duration_s"] for m in metas) / len(metas),
        "rss": peak_rss / 2**20,
        "drop": peak_drop / 2**20,
        "scores": " ".join(f"{r['score']:g}" for r in reports),
    }
    for phase in PHASES:
        result[phase] = sum((r.get("timings") or {}).get(phase, 0.0) for r in reports) / len(reports)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=len(COHORT), help="1 to 3")
    parser.add_argument("--before", metavar="REV", help="also grade the hand-edited class with the grader at REV")
    args = parser.parse_args(argv)
    cohort = COHORT[: args.students]
    client = docker.from_env()
    before = _engine(client)
    rows: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="cohort-benchmark-") as tmp:
        work = Path(tmp)
        roster = work / "roster.csv"
        roster.write_text("student,repo\n" + "".join(f"{s},repos/{s}\n" for s, _ in cohort))
        for student, fixture in cohort:
            _repository(SUBMISSIONS / fixture, work / "repos" / student)
        env = os.environ | {"XDG_STATE_HOME": str(work / "state")}
        python = [sys.executable, "-P", "-m", "grader.cli"]
        for jobs in (1, 2):
            rows.append((f"now, --jobs {jobs}", _batch(python, roster, work / f"now{jobs}", jobs, RUBRIC, env)))
            print(f"now --jobs {jobs}: {rows[-1][1]['wall']:.1f} s", file=sys.stderr)
        if args.before:
            old = work / "old"
            subprocess.run(["git", "worktree", "add", "-q", "--detach", str(old), args.before], cwd=ROOT, check=True)
            try:
                edited = work / "edited.csv"
                edited.write_text("student,repo\n" + "".join(f"{s},edited/{s}\n" for s, _ in cohort))
                for student, fixture in cohort:
                    _hand_edited(SUBMISSIONS / fixture, work / "edited" / student)
                rubric = work / "old-rubric.yml"
                _old_rubric(rubric)
                old_env = env | {"PYTHONPATH": str(old)}  # the worktree's grader, the same packages
                for jobs in (1, 2):
                    label = f"{args.before}, hand-edited, --jobs {jobs}"
                    rows.append((label, _batch(python, edited, work / f"old{jobs}", jobs, rubric, old_env)))
                    print(f"{label}: {rows[-1][1]['wall']:.1f} s", file=sys.stderr)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    after = _engine(client)
    print(f"\n{len(cohort)} students ({', '.join(f for _, f in cohort)}), {RUBRIC.relative_to(ROOT)}:\n")
    head = "| | wall s | s per student | " + " | ".join(PHASES) + " | peak RSS | peak drop of available | scores |"
    print(head + "\n|---|" + "---:|" * (len(PHASES) + 4) + "---|")
    for label, r in rows:
        phases = " | ".join(f"{r[p]:.1f}" for p in PHASES)
        print(
            f"| {label} | {r['wall']:.1f} | {r['per_student']:.1f} | {phases} | {r['rss']:.0f} MiB "
            f"| {r['drop']:.0f} MiB | {r['scores']} |"
        )
    print(f"\n--jobs 2 / --jobs 1 (now): {rows[1][1]['wall'] / rows[0][1]['wall']:.2f}x the wall time")
    if len(rows) == 4:
        for jobs, (now, old) in enumerate(((rows[0], rows[2]), (rows[1], rows[3])), start=1):
            print(f"--jobs {jobs}, now / before: {now[1]['wall'] / old[1]['wall']:.2f}x the wall time")
    print(f"engine before {before}, after {after} (containers, networks, volumes, images)")
    return 0 if before == after else 1


if __name__ == "__main__":
    sys.exit(main())
