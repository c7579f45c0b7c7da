"""How fast the grader grades, next to the scripts a teacher would write by hand.

    .venv/bin/python benchmarks/speed.py [--runs 3] [--fixture complete] [--lint-runs 10]

1. The first `grader grade` of the submission: a cold build (unless this engine built the same
   Dockerfile before), with its phases.
2. Warm: `benchmarks/naive.sh` (`up --build --wait`, curl until the API answers, a row written
   with psql, `down`, `up --build`, the row read back, `down -v`), `benchmarks/tuned.sh` (the same
   with `down -t 1` and `up --no-build`), `benchmarks/watched.sh` (tuned, and the stack must stay
   up 4 s after the API answered, as the grader watches it: the one script that fails the
   late-crash fixture) and `grader grade`, alternating, `--runs` times each.
3. `grader lint` (`--lint-runs` times), a fresh process each, as a student's hook would run it.

Prints a Markdown table of medians and ratios (the issue's targets: grader <= 1.15x tuned, lint
under 1 s), and the grader's median seconds per phase. Needs the engine and the stand-in images
(`make setup`); the machine should be otherwise idle. The scripts run under project names of
their own, and everything they built or created is removed at the end by those names.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
GRADER = [sys.executable, "-m", "grader.cli"]
SCRIPTS = ("naive", "tuned", "watched")


def timed(cmd: list[str], cwd: Path = ROOT) -> float:
    started = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    return time.monotonic() - started


def grade(work: Path, out: Path) -> tuple[float, dict[str, float]]:
    seconds = timed([*GRADER, "grade", str(work), "--json", str(out)])
    report = json.loads(out.read_text())
    if report["status"] != "graded" or report["score"] != report["max_score"]:
        raise SystemExit(f"the grader did not give full marks: {report['score']}/{report['max_score']}")
    return seconds, report.get("timings", {})


def forget(work: Path, project: str) -> None:
    """Remove what a script's project left: its containers, networks and volumes, then the images
    `up --build` named after it (`<project>-<service>`)."""
    compose = ["docker", "compose", "--project-directory", str(work), "-p", project]
    images = subprocess.run([*compose, "config", "--images"], capture_output=True, text=True, check=False).stdout
    subprocess.run([*compose, "down", "--volumes", "-t", "1"], capture_output=True, check=False)
    built = [i for i in images.split() if i.startswith(f"{project}-")]
    if built:
        subprocess.run(["docker", "image", "rm", *built], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lint-runs", type=int, default=10)
    parser.add_argument("--fixture", default="complete")
    args = parser.parse_args(argv)
    if shutil.which("curl") is None:
        raise SystemExit("the scripts need curl on the host: apt-get install curl")
    suffix = secrets.token_hex(3)
    projects = {tool: f"benchmark-{tool}-{suffix}" for tool in SCRIPTS}
    with tempfile.TemporaryDirectory(prefix="benchmark-") as tmp:
        work = Path(tmp) / args.fixture
        shutil.copytree(ROOT / "fixtures" / "submissions" / args.fixture, work, symlinks=True)
        out = Path(tmp) / "report.json"
        try:
            cold, cold_phases = grade(work, out)
            walls: dict[str, list[float]] = {tool: [] for tool in [*SCRIPTS, "grader"]}
            phases: dict[str, list[float]] = {}
            for n in range(args.runs):
                order = [*SCRIPTS, "grader"]
                for tool in order[n % len(order) :] + order[: n % len(order)]:  # another goes first each run
                    if tool == "grader":
                        seconds, spent = grade(work, out)
                        for phase, value in spent.items():
                            phases.setdefault(phase, []).append(value)
                    else:
                        seconds = timed(["sh", str(HERE / f"{tool}.sh"), str(work), projects[tool]])
                    walls[tool].append(seconds)
                    print(f"run {n + 1}: {tool} {seconds:.1f} s", file=sys.stderr)
            lint = [timed([*GRADER, "lint", str(work)]) for _ in range(args.lint_runs)]
        finally:
            for project in projects.values():  # what the scripts built and left: by their own names
                forget(work, project)
    med = {tool: statistics.median(values) for tool, values in walls.items()}
    rows = [
        ("naive script (up --build, down, up --build)", med["naive"], med["grader"] / med["naive"], ""),
        ("tuned script (down -t 1, up --no-build)", med["tuned"], med["grader"] / med["tuned"], "<= 1.15"),
        ("tuned script that watches 4 s after the answer", med["watched"], med["grader"] / med["watched"], ""),
        ("grader grade (warm)", med["grader"], 1.0, ""),
        ("grader grade (first, cold build)", cold, cold / med["grader"], ""),
        ("grader lint", statistics.median(lint), statistics.median(lint) / 1.0, "< 1 (vs 1 s)"),
    ]
    print(f"\n{args.fixture}, {args.runs} alternating runs each, medians:\n")
    print("| what | seconds | grader / this | target |\n|---|---:|---:|---|")
    for name, seconds, ratio, target in rows:
        shown = f"{ratio:.2f}x" if name != "grader grade (warm)" else ""
        if name.startswith("grader lint"):
            shown = f"{ratio:.2f} of 1 s"
        elif name.startswith("grader grade (first"):
            shown = f"{ratio:.2f}x warm"
        print(f"| {name} | {seconds:.1f} | {shown} | {target} |")
    print(
        "\ngrader phases (median seconds): " + ", ".join(f"{p} {statistics.median(v):.2f}" for p, v in phases.items())
    )
    print("first run's phases: " + ", ".join(f"{p} {v:.2f}" for p, v in cold_phases.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
