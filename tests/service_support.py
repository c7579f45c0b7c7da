"""What the service's tests share: one PostgreSQL for the session (testcontainers'
PostgresContainer on the machine's postgres image), a fresh database per test module from it,
signed push deliveries, and a uvicorn server on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import requests

from grader.service.assignments import parse, route
from grader.service.github import Push, signature
from grader.service.store import record
from tests.conftest import ROOT, SUBMISSIONS, git

SECRET = b"a-webhook-secret-of-the-tests"


@contextmanager
def postgres_server() -> Iterator[str]:
    import pytest
    from testcontainers.community.postgres import PostgresContainer

    # No Ryuk: its image is not on this machine and no registry is reachable; `with` removes the
    # container and its anonymous volume.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
        with PostgresContainer("postgres:16", driver=None) as postgres:
            yield postgres.get_connection_url()


def fresh_database(server: str) -> str:
    """A new empty database on the server: each module starts from nothing."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    return f"{base}/{name}"


def push_body(repository: str, sha: str, branch: str = "main", pusher: str = "ana", repository_id: int = 0) -> bytes:
    owner, name = repository.split("/")
    return json.dumps(
        {
            "ref": f"refs/heads/{branch}",
            "after": sha,
            "deleted": False,
            "repository": {
                "id": repository_id or 1000 + sum(map(ord, repository)),  # GitHub's number: fixed per name here
                "full_name": repository,
                "name": name,
                "owner": {"login": owner},
                "clone_url": f"https://github.com/{repository}.git",
            },
            "pusher": {"name": pusher},
        }
    ).encode()


def deliver(
    base: str, body: bytes, delivery: str | None = None, secret: bytes = SECRET, event: str = "push"
) -> requests.Response:
    return requests.post(
        f"{base}/hooks/github",
        data=body,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": signature(secret, body),
            "Content-Type": "application/json",
        },
        timeout=10,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` served by uvicorn on loopback in a thread; its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


class GitHubStandIn:
    """A local HTTP server standing in for GitHub's API. Commit statuses: every POST is recorded
    (path, JSON body, Authorization) and answered 201, or 502 for the first `failing` requests.
    As a GitHub App's API (`app_key`: the App's public key, PEM): the installation of a repository
    and its token are given only for a JWT the key verifies, check runs are made (POST, an id) and
    updated (PATCH) only with that token, and `calls` records them all."""

    INSTALLATION, TOKEN = 77, "ghs_stand-in-installation-token"

    def __init__(self, failing: int = 0, app_key: bytes = b"", app_id: str = "") -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.posted: list[tuple[str, dict[str, Any], str]] = []
        self.calls: list[tuple[str, str, dict[str, Any]]] = []  # (method, path, body) of the App's calls
        self.failing = failing
        stand_in = self
        lock = threading.Lock()

        def app_jwt(header: str) -> bool:
            import jwt

            try:
                claims = jwt.decode(header.removeprefix("Bearer "), app_key, algorithms=["RS256"])
            except jwt.PyJWTError:
                return False
            return str(claims.get("iss")) == app_id

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                found: dict[str, Any] = json.loads(raw) if raw else {}
                return found

            def _app(self, method: str) -> bool:
                """An App's call, answered here; False for a commit status."""
                if not app_key:
                    return False
                auth = self.headers.get("Authorization", "")
                body = self._body() if method != "GET" else {}
                with lock:
                    if stand_in.failing > 0:
                        stand_in.failing -= 1
                        self._answer(502, {})
                        return True
                if method == "GET" and self.path.endswith("/installation"):
                    ok = app_jwt(auth)
                    self._answer(200 if ok else 401, {"id": stand_in.INSTALLATION} if ok else {})
                elif self.path == f"/app/installations/{stand_in.INSTALLATION}/access_tokens":
                    ok = app_jwt(auth)
                    token = {"token": stand_in.TOKEN, "expires_at": "2099-01-01T00:00:00Z"}
                    self._answer(201 if ok else 401, token if ok else {})
                elif "/check-runs" in self.path and auth == f"token {stand_in.TOKEN}":
                    with lock:
                        stand_in.calls.append((method, self.path, body))
                        made = sum(1 for m, _, _ in stand_in.calls if m == "POST")
                    self._answer(201 if method == "POST" else 200, {"id": 9000 + made} if method == "POST" else {})
                else:
                    self._answer(401, {"message": "Bad credentials"})
                return True

            def do_GET(self) -> None:
                self._app("GET")

            def do_PATCH(self) -> None:
                self._app("PATCH")

            def do_POST(self) -> None:
                if self._app("POST"):
                    return
                body = self._body()
                with lock:
                    if stand_in.failing > 0:
                        stand_in.failing -= 1
                        code = 502
                    else:
                        stand_in.posted.append((self.path, body, self.headers.get("Authorization", "")))
                        code = 201
                self._answer(code, {})

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def states(self, sha: str) -> list[str]:
        return [body["state"] for path, body, _ in self.posted if path.endswith(f"/statuses/{sha}")]


def app_keys() -> tuple[str, bytes]:
    """A GitHub App's private key (PEM, what the service is given) and its public key (the stand-in's)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


class Class:
    """Students' repositories behind file:// remotes (`remotes/curso/m4-<student>`), the service's
    database, the workers started and the stand-in of GitHub's API."""

    def __init__(self, root: Path, database: str, github: GitHubStandIn, service: str) -> None:
        self.root, self.database, self.github = root, database, github
        self.remotes = root / "remotes"
        self.config = root / "service.yml"
        self.config.write_text(service)
        self.workers: list[subprocess.Popen[bytes]] = []

    def commit(self, student: str, fixture: str, note: str = "") -> str:
        """The fixture's files as the student's next commit (a note in the README tells commits apart)."""
        repo = self.remotes / "curso" / f"m4-{student}"
        if not repo.exists():
            repo.mkdir(parents=True)
            git(repo, "init", "-q", "-b", "main")
        for path in repo.iterdir():
            if path.name != ".git":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        shutil.copytree(SUBMISSIONS / fixture, repo, dirs_exist_ok=True)
        (repo / "README.md").write_text(f"{fixture} {note}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"{fixture} {note}")
        return git(repo, "rev-parse", "HEAD")

    def push(self, student: str, sha: str) -> None:
        """What the webhook stores for GitHub's push (the web side is tested on its own)."""
        p = Push(f"d-{student}-{sha}", f"curso/m4-{student}", "", "main", sha, student)
        now = datetime.now(timezone.utc)
        with psycopg.connect(self.database) as conn:
            assert record(conn, p, route(p, parse(self.config.read_text()), now), now).push_ids

    def start_worker(
        self, name: str, stalled_after: float = 30, extra: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "GRADER_DATABASE_URL": self.database,
            "GRADER_GIT_BASE": self.remotes.as_uri() + "/",
            "GRADER_GITHUB_API": self.github.url,
            "GRADER_GITHUB_TOKEN": "gh-token",
            "GRADER_PUBLIC_URL": "http://grader.test",
            **(extra or {}),
        }
        log = (self.root / f"{name}.log").open("wb")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader.cli",
                "worker",
                "--config",
                str(self.config),
                "--name",
                name,
                "--stalled-after",
                str(stalled_after),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.workers.append(worker)
        return worker

    def run_cli(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "grader.cli", *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(120)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.workers.clear()

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database) as conn:
            return conn.execute(sql, args).fetchall()  # type: ignore[arg-type]

    def wait_for(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in self.root.glob("*.log"))
                raise AssertionError(f"{what}: not within {timeout:.0f} s\n{logs}")
            time.sleep(0.5)
