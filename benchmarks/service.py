"""The grading service under load: the webhook, a burst of pushes through two workers against
`grader batch --jobs 2`, and the instructor's page of a large class.

    .venv/bin/python benchmarks/service.py [--part webhook|burst|page|all] [--rate 50] [--seconds 60]

1. webhook: `grader serve` (a process of its own, uvicorn) receives signed push deliveries at
   `--rate` per second for `--seconds` (300 students, 5 % of them delivered twice, as GitHub
   redelivers); each delivery's latency from send to answer. Then the gradebook: every distinct
   push stored once, none lost, none doubled, at most one waiting job per student.
2. burst: 10 students push 4 commits each within a few seconds (40 pushes) to two `grader
   worker` processes (what `--scale worker=2` runs); how many runs of one student overlapped (0
   expected), how many pushes were superseded, and the time until all is graded, against
   `grader batch --jobs 2` on the same 10 repositories at their last commit.
3. page: a class of 300 students seeded with real reports; the instructor's grid, the CSV and a
   student's page, each fetched 20 times (median, max).

PostgreSQL is testcontainers' PostgresContainer on the machine's postgres image; repositories
are local git repositories behind file:// remotes. Needs the engine and the stand-in images
(`make setup`); the machine should be otherwise idle. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402

from tests.service_support import (  # noqa: E402
    SECRET,
    Class,
    GitHubStandIn,
    deliver,
    free_port,
    fresh_database,
    postgres_server,
    push_body,
)

SERVICE = """\
assignments:
  - name: m4
    classroom: {organization: curso, prefix: m4}
"""
TOKEN = "a-benchmark-instructor-token"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def serve(database: str, config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GRADER_DATABASE_URL": database,
        "GRADER_WEBHOOK_SECRET": SECRET.decode(),
        "GRADER_ADMIN_TOKEN": TOKEN,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        time.sleep(0.2)


def webhook(server: str, rate: int, seconds: int, tmp: Path) -> None:
    database = fresh_database(server)
    config = tmp / "service.yml"
    config.write_text(SERVICE)
    port = free_port()
    web = serve(database, config, port, tmp / "serve.log")
    base = f"http://127.0.0.1:{port}"
    total = rate * seconds
    deliveries = []
    for n in range(total):
        body = push_body(f"curso/m4-s{n % 300:03d}", f"{n + 1:040x}")
        deliveries.append((str(uuid.uuid4()), body))
    redelivered = deliveries[: total // 20]  # GitHub's redeliveries: the same id and body again
    schedule = deliveries + redelivered
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def send(index: int) -> None:
        delivery, body = schedule[index]
        due = start + index / rate
        time.sleep(max(0.0, due - time.monotonic()))
        sent = time.monotonic()
        answer = deliver(base, body, delivery=delivery)
        with lock:
            latencies.append(time.monotonic() - sent)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    try:
        with ThreadPoolExecutor(64) as pool:
            list(pool.map(send, range(len(schedule))))
        elapsed = time.monotonic() - start
        with psycopg.connect(database) as conn:
            stored = conn.execute("SELECT count(*), count(DISTINCT delivery) FROM grader_pushes").fetchone()
            jobs = conn.execute(
                "SELECT count(*), count(DISTINCT lock) FROM procrastinate_jobs WHERE status = 'todo'"
            ).fetchone()
    finally:
        web.terminate()
        web.wait(30)
    assert stored is not None and jobs is not None
    print(f"\n### Webhook: {len(schedule)} deliveries at {rate}/s ({elapsed:.0f} s), 300 students\n")
    print("| p50 | p99 | max | answers | pushes stored | lost | doubled | waiting jobs (students) |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|")
    answers = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    print(
        f"| {1000 * percentile(latencies, 0.5):.1f} ms | {1000 * percentile(latencies, 0.99):.1f} ms "
        f"| {1000 * max(latencies):.1f} ms | {answers} | {stored[0]} | {total - stored[1]} "
        f"| {stored[0] - stored[1]} | {jobs[0]} ({jobs[1]}) |"
    )


def burst(server: str, tmp: Path) -> None:
    import docker

    from grader.engine.reaper import drain
    from grader.service.store import migrate

    database = fresh_database(server)
    migrate(database)
    github = GitHubStandIn()
    klass = Class(tmp, database, github, SERVICE)
    students = [f"s{n:02d}" for n in range(10)]
    for student in students:  # the repositories exist before the burst (as on GitHub)
        klass.commit(student, "complete", "start")
    started = time.monotonic()
    for worker in ("w1", "w2"):
        klass.start_worker(worker)
    for round_ in range(4):
        for student in students:
            klass.push(student, klass.commit(student, "complete", f"push {round_}"))
        time.sleep(0.5)
    klass.wait_for(
        lambda: klass.query("SELECT count(*) FROM grader_pushes WHERE status IN ('queued', 'running')") == [(0,)],
        3600,
        "the burst graded",
    )
    service_s = time.monotonic() - started
    klass.stop_workers()
    runs = klass.query(
        "SELECT p.student, r.started_at, r.finished_at, r.status FROM grader_runs r "
        "JOIN grader_pushes p ON p.id = r.push_id ORDER BY p.student, r.started_at"
    )
    overlaps = sum(
        1
        for a, b in itertools.pairwise(runs)
        if a[0] == b[0] and a[2] is not None and b[1] < a[2]  # the next run of a student began before
    )
    per_student = max(sum(1 for r in runs if r[0] == s) for s in students)
    superseded = klass.query("SELECT count(*) FROM grader_pushes WHERE status = 'superseded'")[0][0]
    graded = klass.query("SELECT count(*) FROM grader_runs WHERE status = 'graded'")[0][0]
    drain(docker.from_env())
    github.close()
    roster = tmp / "roster.csv"
    roster.write_text("student,repo\n" + "".join(f"{s},{klass.remotes / 'curso' / f'm4-{s}'}\n" for s in students))
    began = time.monotonic()
    batch = subprocess.run(
        [sys.executable, "-m", "grader.cli", "batch", str(roster), "--out", str(tmp / "batch"), "--jobs", "2"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    batch_s = time.monotonic() - began
    drain(docker.from_env())
    print("\n### Burst: 40 pushes of 10 students (4 each), two workers\n")
    print("| | wall | runs | graded | superseded | runs of one student at once | most runs of a student |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    at_once = "1" if not overlaps else f"{overlaps} overlaps"
    cells = f"{service_s:.0f} s | {len(runs)} | {graded} | {superseded} | {at_once} | {per_student}"
    print(f"| service, 2 workers | {cells} |")
    done = "10" if batch.returncode in (0, 1) else f"exit {batch.returncode}"
    ratio = f"{batch_s:.0f} s ({batch_s / service_s:.2f}x)"
    print(f"| `grader batch --jobs 2` (last commits) | {ratio} | 10 | {done} | — | 1 | 1 |")


def page(server: str, tmp: Path) -> None:
    from grader.reports import formats
    from grader.service import queue
    from grader.service.store import migrate

    database = fresh_database(server)
    migrate(database)
    report = json.loads((ROOT / "tests" / "golden" / "complete.report.json").read_text())
    markdown = formats.markdown(report)
    now = datetime.now(timezone.utc)
    with psycopg.connect(database) as conn:
        for n in range(300):
            student = f"s{n:03d}"
            for k in range(3):  # three pushes each: two superseded or graded earlier, the last graded
                push = conn.execute(
                    "INSERT INTO grader_pushes (delivery, assignment, student, repository, branch, sha, received_at, "
                    "status) VALUES (%s, 'm4', %s, %s, 'main', %s, %s, 'graded') RETURNING id",
                    (
                        f"d{n}-{k}",
                        student,
                        f"curso/m4-{student}",
                        f"{n * 3 + k + 1:040x}",
                        now - timedelta(hours=3 - k),
                    ),
                ).fetchone()
                assert push is not None
                run = conn.execute(
                    "INSERT INTO grader_runs (push_id, worker, started_at) VALUES (%s, 'w', %s) RETURNING id",
                    (push[0], now - timedelta(hours=3 - k)),
                ).fetchone()
                assert run is not None
                claim = queue.Claim(run[0], push[0], "m4", student, "", "", False, 1, ())
                queue.finish(conn, claim, queue.Outcome("graded", report, markdown))
            queue.student_token(conn, "m4", student, f"curso/m4-{student}")
        token = conn.execute("SELECT token FROM grader_students WHERE student = 's150'").fetchone()
    assert token is not None
    config = tmp / "service.yml"
    config.write_text(SERVICE)
    port = free_port()
    web = serve(database, config, port, tmp / "serve.log")
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.post(f"{base}/login", data={"password": TOKEN}, timeout=10)
    try:
        rows = []
        for label, url, client in (
            ("instructor's grid (`/a/m4`)", "/a/m4", session),
            ("gradebook.csv", "/a/m4/gradebook.csv", session),
            ("class page (gradebook.html)", "/a/m4/gradebook.html", session),
            ("a student's page (`/s/TOKEN`)", f"/s/{token[0]}", requests),
        ):
            client.get(f"{base}{url}", timeout=30)  # warm
            times = []
            for _ in range(20):
                began = time.monotonic()
                answer = client.get(f"{base}{url}", timeout=30)
                times.append(time.monotonic() - began)
                assert answer.ok, answer.status_code
            rows.append((label, statistics.median(times), max(times), len(answer.content)))
    finally:
        web.terminate()
        web.wait(30)
    print("\n### Pages of a class of 300 students (900 runs, real reports)\n")
    print("| page | median | max | size |")
    print("|---|---:|---:|---:|")
    for label, median, worst, size in rows:
        print(f"| {label} | {1000 * median:.0f} ms | {1000 * worst:.0f} ms | {size / 1024:.0f} KiB |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=("webhook", "burst", "page", "all"), default="all")
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    with postgres_server() as server, tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        if args.part in ("webhook", "all"):
            webhook(server, args.rate, args.seconds, Path(tmp))
        if args.part in ("page", "all"):
            page(server, Path(tmp))
        if args.part in ("burst", "all"):
            burst(server, Path(tmp))


if __name__ == "__main__":
    main()
