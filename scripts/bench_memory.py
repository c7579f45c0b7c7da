"""The grader's own memory while a submission floods its output: peak RSS, as ratios.

    .venv/bin/python scripts/bench_memory.py [--flood-mb 300]

1. Grading `complete` and `hostile-log-flood` (an API that also writes to stdout as fast as it
   can, for the whole run): the flood should cost the grader next to nothing (ratio ~1).
2. Capturing a command that prints --flood-mb megabytes: grader.engine.proc.run_bounded against
   subprocess.run(capture_output=True), which keeps it all.

Each measurement runs in a fresh interpreter (peak RSS is per process). Needs the engine and
the stand-in images (`make setup`). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "fixtures" / "submissions"

_GRADE = """
import json, resource, sys, time
from pathlib import Path
from grader.run.context import Options
from grader.run.runner import grade
started = time.monotonic()
report = grade(Path(sys.argv[1]), Options(start_timeout=60))
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "score": report.score,
                  "seconds": round(time.monotonic() - started, 1)}))
"""

_CAPTURE = """
import json, resource, subprocess, sys
from grader.engine.proc import run_bounded
cmd = ["sh", "-c", f"yes 'flood flood flood flood flood flood flood' | head -c {int(sys.argv[2]) << 20}"]
if sys.argv[1] == "bounded":
    out = run_bounded(cmd, 300).stdout
else:
    out = subprocess.run(cmd, capture_output=True, timeout=300).stdout
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "kept_bytes": len(out)}))
"""


def _child(code: str, *args: str) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    loaded: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood-mb", type=int, default=300)
    args = parser.parse_args()

    quiet = _child(_GRADE, str(SUBMISSIONS / "complete"))
    flood = _child(_GRADE, str(SUBMISSIONS / "hostile-log-flood"))
    bounded = _child(_CAPTURE, "bounded", str(args.flood_mb))
    unbounded = _child(_CAPTURE, "unbounded", str(args.flood_mb))

    mb = 1024.0
    print("| measurement | peak RSS (MB) | detail | ratio |")
    print("|---|---:|---|---:|")
    print(f"| grade `complete` | {quiet['rss_kb'] / mb:.0f} | score {quiet['score']:g}, {quiet['seconds']} s | 1.00 |")
    print(
        f"| grade `hostile-log-flood` | {flood['rss_kb'] / mb:.0f} | score {flood['score']:g}, {flood['seconds']} s "
        f"| {flood['rss_kb'] / quiet['rss_kb']:.2f} |"
    )
    print(
        f"| capture {args.flood_mb} MB, subprocess.run | {unbounded['rss_kb'] / mb:.0f} "
        f"| kept {unbounded['kept_bytes'] / 2**20:.0f} MB | 1.00 |"
    )
    print(
        f"| capture {args.flood_mb} MB, run_bounded | {bounded['rss_kb'] / mb:.0f} "
        f"| kept {bounded['kept_bytes'] / 2**20:.1f} MB | {bounded['rss_kb'] / unbounded['rss_kb']:.2f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
