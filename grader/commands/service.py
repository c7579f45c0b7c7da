"""The grading service's commands: `grader serve` (webhook and pages), `grader worker` (takes
grading jobs), `grader enqueue ASSIGNMENT` (every known student's latest commit, through the
same queue). Each brings the database's schema up to date first.

Secrets come from the environment, never from flags (`ps` shows those):
GRADER_DATABASE_URL, GRADER_WEBHOOK_SECRET, GRADER_ADMIN_TOKEN or GRADER_ADMIN_PASSWORD_HASH,
GRADER_SESSION_SECRET, GRADER_GITHUB_TOKEN, GRADER_GIT_TOKEN. Addresses too:
GRADER_PUBLIC_URL, GRADER_GITHUB_API, GRADER_GIT_BASE.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from grader.commands.exits import EXIT_OK
from grader.commands.migrate import database_url, migrated
from grader.errors import BadInput, InfrastructureError

CONFIG_ENV = "GRADER_SERVICE_CONFIG"


def _service_modules() -> None:
    try:
        import fastapi  # noqa: F401
        import procrastinate  # noqa: F401
    except ImportError as exc:  # the service's extra is not installed
        raise BadInput(f"the grading service needs `pip install 'compose-grader[service]'` ({exc})") from exc


def _assignments(args: argparse.Namespace) -> Any:
    from grader.service.assignments import load

    path = args.config or os.environ.get(CONFIG_ENV, "")
    if not path:
        raise BadInput(f"no assignments: give --config service.yml or set {CONFIG_ENV}")
    return load(Path(path))


def _migrated(args: argparse.Namespace) -> str:
    url = database_url(args)
    migrated(url)
    return url


def _poster() -> Any:
    """Check runs as a GitHub App when GRADER_GITHUB_APP_ID and its private key are set (the key
    itself in GRADER_GITHUB_APP_PRIVATE_KEY, or a file named by GRADER_GITHUB_APP_PRIVATE_KEY_FILE),
    else commit statuses with GRADER_GITHUB_TOKEN (none without it)."""
    from grader.service.status import CheckRuns, Poster

    api = os.environ.get("GRADER_GITHUB_API", "https://api.github.com")
    app_id = os.environ.get("GRADER_GITHUB_APP_ID", "")
    key = os.environ.get("GRADER_GITHUB_APP_PRIVATE_KEY", "")
    key_file = os.environ.get("GRADER_GITHUB_APP_PRIVATE_KEY_FILE", "")
    if key_file:
        try:
            key = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"GRADER_GITHUB_APP_PRIVATE_KEY_FILE: {exc}") from exc
    if app_id and key:
        if "PRIVATE KEY" not in key:
            raise BadInput("the GitHub App's private key: the .pem file GitHub gave (-----BEGIN ... PRIVATE KEY-----)")
        return CheckRuns(app_id, key, api)
    if app_id or key:
        raise BadInput("a GitHub App needs both GRADER_GITHUB_APP_ID and its private key")
    return Poster(api, os.environ.get("GRADER_GITHUB_TOKEN", ""))


def serve(args: argparse.Namespace) -> int:
    if args.repository_secret:
        from grader.service.github import repository_secret

        master = os.environ.get("GRADER_WEBHOOK_SECRET", "")
        if not master:
            raise BadInput("set GRADER_WEBHOOK_SECRET: a repository's secret is derived from it")
        secret = repository_secret(master.encode(), args.repository_secret).decode()
        sys.stdout.write(f"payload URL: /hooks/github/{args.repository_secret}\nsecret: {secret}\n")
        return EXIT_OK
    if args.hash_password:
        from grader.service.web import hash_password

        password = sys.stdin.readline().rstrip("\n")
        if len(password) < 12:
            raise BadInput("a password of at least 12 characters, on standard input")
        sys.stdout.write(hash_password(password) + "\n")
        return EXIT_OK
    _service_modules()
    import uvicorn

    from grader.service.web import WebSettings, create_app

    assignments = _assignments(args)
    url = _migrated(args)
    session = os.environ.get("GRADER_SESSION_SECRET", "")
    public = os.environ.get("GRADER_PUBLIC_URL", "")
    settings = WebSettings(
        database=url,
        assignments=assignments,
        webhook_secret=os.environ.get("GRADER_WEBHOOK_SECRET", "").encode(),
        admin_token=os.environ.get("GRADER_ADMIN_TOKEN", ""),
        admin_password_hash=os.environ.get("GRADER_ADMIN_PASSWORD_HASH", ""),
        public_url=public,
        poster=_poster(),
        secure_cookies=public.startswith("https://"),
        **({"session_secret": session.encode()} if session else {}),
    )
    try:
        app = create_app(settings)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    # At most 200 connections at once (more wait in the kernel's backlog); idle ones closed after 5 s.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        # Behind the README's reverse proxy on this machine, the client is the proxy's
        # X-Forwarded-For (the login's guess count is per client); from nowhere else.
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        limit_concurrency=200,
        timeout_keep_alive=5,
    )
    return EXIT_OK


def worker(args: argparse.Namespace) -> int:
    _service_modules()
    from grader.service.worker import Settings, run

    assignments = _assignments(args)
    url = _migrated(args)
    settings = Settings(
        database=url,
        assignments=assignments,
        git_base=os.environ.get("GRADER_GIT_BASE", "https://github.com/"),
        git_token=os.environ.get("GRADER_GIT_TOKEN", ""),
        interval=timedelta(seconds=args.interval),
        stalled_after_s=args.stalled_after,
        heartbeat_s=max(1.0, args.stalled_after / 6),
        public_url=os.environ.get("GRADER_PUBLIC_URL", ""),
        poster=_poster(),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(settings, concurrency=args.concurrency, name=args.name))
    return EXIT_OK


def enqueue(args: argparse.Namespace) -> int:
    """Every student the service knows for the assignment (its roster's, and whoever pushed):
    their branch's tip now (git ls-remote), stored as a push and queued like one from GitHub."""
    _service_modules()
    import psycopg

    from grader.service import queue, store
    from grader.service.assignments import Routed, Routing
    from grader.service.github import Push
    from grader.service.worker import Settings

    found = [a for a in _assignments(args) if a.name == args.assignment]
    if not found:
        raise BadInput(f"no assignment named {args.assignment!r} in the service's configuration")
    assignment = found[0]
    url = _migrated(args)
    settings = Settings(
        url,
        (assignment,),
        git_base=os.environ.get("GRADER_GIT_BASE", "https://github.com/"),
        git_token=os.environ.get("GRADER_GIT_TOKEN", ""),
    )
    try:
        with psycopg.connect(url) as conn:
            known = dict(
                conn.execute(
                    "SELECT student, repository FROM grader_students WHERE assignment = %s", (assignment.name,)
                ).fetchall()
            )
            known.update({student: repository for repository, student in assignment.students.items()})
            queued = missing = 0
            for student, repository in sorted(known.items()):
                sha = _tip(settings.clone_url(repository), assignment.branch, settings.git_auth())
                if not sha:
                    missing += 1
                    sys.stderr.write(f"{student}: no branch {assignment.branch} in {repository}\n")
                    continue
                now = datetime.now(timezone.utc)
                push = Push(f"enqueue-{uuid.uuid4()}", repository, "", assignment.branch, sha, "")
                routing = Routing((Routed(assignment, student, assignment.late(student, now)),))
                recorded = store.record(conn, push, routing, now)
                if not recorded.push_ids:  # that commit is stored already: grade it again
                    queue.rerun(conn, assignment.name, student)
                queued += 1
    except psycopg.OperationalError as exc:
        raise InfrastructureError(f"cannot reach the database: {str(exc).strip()}") from exc
    sys.stdout.write(f"{queued} students queued, {missing} without the branch\n")
    return EXIT_OK


def _tip(url: str, branch: str, auth: dict[str, str]) -> str:
    """The commit `branch` points to in the repository at `url`, or "" (no such branch, no access)."""
    try:
        out = subprocess.run(
            ["git", "ls-remote", "--", url, f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **auth, "GIT_TERMINAL_PROMPT": "0"},
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = out.split()
    return first[0] if first and len(first[0]) == 40 else ""


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("serve", help="the grading service: GitHub's webhook, the instructors' and students' pages")
    s.add_argument("--config", metavar="FILE", help=f"the assignments (service.yml; default: ${CONFIG_ENV})")
    s.add_argument("--database", metavar="URL", help="postgresql://... (default: $GRADER_DATABASE_URL)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--hash-password", action="store_true", help="read a password on stdin, print its hash, exit")
    s.add_argument(
        "--repository-secret",
        metavar="OWNER/NAME",
        help="print the webhook URL path and secret of one repository (its student adds that webhook), exit",
    )
    w = sub.add_parser("worker", help="the grading service: take grading jobs from the queue and grade them")
    w.add_argument("--config", metavar="FILE", help=f"the assignments (service.yml; default: ${CONFIG_ENV})")
    w.add_argument("--database", metavar="URL", help="postgresql://... (default: $GRADER_DATABASE_URL)")
    w.add_argument("--concurrency", type=int, default=1, metavar="N", help="students graded at once (default 1)")
    w.add_argument(
        "--interval", type=float, default=0.0, metavar="S", help="least seconds between two gradings of one student"
    )
    w.add_argument("--stalled-after", type=float, default=30.0, metavar="S", help="a worker silent this long is dead")
    w.add_argument("--name", default="", help="this worker's name in the queue (default: host-pid)")
    e = sub.add_parser("enqueue", help="the grading service: queue the latest commit of every student of an assignment")
    e.add_argument("assignment")
    e.add_argument("--config", metavar="FILE", help=f"the assignments (service.yml; default: ${CONFIG_ENV})")
    e.add_argument("--database", metavar="URL", help="postgresql://... (default: $GRADER_DATABASE_URL)")
