"""`grader batch` on a folder of fixtures, with --jobs 1 and --jobs 2: wall times and their ratio,
the peak memory of the grader's own processes and of the machine, what is left on the engine,
and whether the two gradebooks are the same.

    .venv/bin/python benchmarks/batch.py [--fixtures complete invalid-compose ...] [--all]

Needs the engine and the stand-in images (`make setup`); the machine should be otherwise idle.
Fixtures graded with a course rubric are left out (a batch has one rubric).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS, EXPECTED = ROOT / "fixtures" / "submissions", ROOT / "fixtures" / "expected"
DEFAULT = [
    "complete",
    "invalid-compose",
    "no-dockerfile",
    "no-volume",
    "late-crash",
    "db-host-localhost",
    "listen-localhost",
    "missing-env-file",
]


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and every process below it (the batch and its `grader grade`s)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            lines = Path(f"/proc/{current}/status").read_text().splitlines()
            total += int(next(x for x in lines if x.startswith("VmRSS")).split()[1]) * 1024
        except (OSError, StopIteration):
            pass
    return total


def _available() -> int:
    line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemAvailable"))
    return int(line.split()[1]) * 1024


def _engine(client: docker.DockerClient) -> tuple[int, int, int, int]:
    return (
        len(client.containers.list(all=True)),
        len(client.networks.list()),
        len(client.volumes.list()),
        len(client.images.list(all=True)),
    )


def run(folder: Path, out: Path, jobs: int) -> tuple[float, int, int]:
    """(seconds, peak RSS of the grader's processes, peak drop of the machine's available memory)."""
    floor = _available()
    started = time.monotonic()
    cmd = [sys.executable, "-m", "grader.cli", "batch", str(folder), "--out", str(out), "--jobs", str(jobs)]
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as batch:
        peak_rss, peak_drop = 0, 0
        while batch.poll() is None:
            peak_rss = max(peak_rss, _tree_rss(batch.pid))
            peak_drop = max(peak_drop, floor - _available())
            time.sleep(0.2)
    if batch.returncode not in (0, 3):
        raise SystemExit(f"grader batch exited {batch.returncode}")
    return time.monotonic() - started, peak_rss, peak_drop


def _gradebook(out: Path) -> list[dict[str, str]]:
    rows = csv.DictReader(io.StringIO((out / "gradebook.csv").read_text()))
    return [{k: v for k, v in r.items() if k not in ("duration_s", "graded_at")} for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", nargs="+", default=DEFAULT)
    parser.add_argument("--all", action="store_true", help="every fixture with the default rubric")
    args = parser.parse_args(argv)
    names = sorted(p.name for p in SUBMISSIONS.iterdir()) if args.all else args.fixtures
    names = [n for n in names if "rubric" not in json.loads((EXPECTED / f"{n}.json").read_text())]
    client = docker.from_env()
    before = _engine(client)
    results = {}
    with tempfile.TemporaryDirectory(prefix="batch-benchmark-") as tmp:
        folder = Path(tmp) / "class"
        for name in names:
            shutil.copytree(SUBMISSIONS / name, folder / name, symlinks=True)
        for jobs in (1, 2):
            out = Path(tmp) / f"jobs{jobs}"
            seconds, rss, drop = run(folder, out, jobs)
            results[jobs] = (seconds, rss, drop, _gradebook(out))
            print(f"--jobs {jobs}: {seconds:.1f} s", file=sys.stderr)
    after = _engine(client)
    print(f"\n{len(names)} fixtures ({', '.join(names)}):\n")
    print("| | wall s | peak RSS of the grader's processes | peak drop of available memory |\n|---|---:|---:|---:|")
    for jobs, (seconds, rss, drop, _) in results.items():
        print(f"| --jobs {jobs} | {seconds:.1f} | {rss / 2**20:.0f} MiB | {drop / 2**20:.0f} MiB |")
    print(f"\n--jobs 2 / --jobs 1: {results[2][0] / results[1][0]:.2f}x the wall time")
    print(f"gradebooks identical (all but duration): {'yes' if results[1][3] == results[2][3] else 'NO'}")
    kinds = ("containers", "networks", "volumes", "images")
    leaked = ", ".join(f"{k} {b} -> {a}" for k, b, a in zip(kinds, before, after, strict=True) if a != b)
    print(f"engine after both runs: {leaked or 'unchanged'}")
    return 0 if results[1][3] == results[2][3] and not leaked else 1


if __name__ == "__main__":
    raise SystemExit(main())
