"""What the service's tests share: one PostgreSQL for the session (testcontainers'
PostgresContainer on the machine's postgres image), a fresh database per test module from it,
signed push deliveries, and a uvicorn server on a free loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import requests

from grader.service.github import signature

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


def push_body(repository: str, sha: str, branch: str = "main", pusher: str = "ana") -> bytes:
    owner, name = repository.split("/")
    return json.dumps(
        {
            "ref": f"refs/heads/{branch}",
            "after": sha,
            "deleted": False,
            "repository": {
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
    """A local HTTP server standing in for GitHub's API: it records every POST (path, JSON body,
    Authorization) and answers 201, or 502 for the first `failing` requests."""

    def __init__(self, failing: int = 0) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.posted: list[tuple[str, dict[str, Any], str]] = []
        self.failing = failing
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    if stand_in.failing > 0:
                        stand_in.failing -= 1
                        code = 502
                    else:
                        stand_in.posted.append((self.path, json.loads(body), self.headers.get("Authorization", "")))
                        code = 201
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def states(self, sha: str) -> list[str]:
        return [body["state"] for path, body, _ in self.posted if path.endswith(f"/statuses/{sha}")]
