"""The scenario runner against a small HTTP server on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from grader.engine.scenarios import Run, StepFailed, contains, run_steps
from grader.intake.rubric import Step


class Products(BaseHTTPRequestHandler):
    items: ClassVar[list[dict[str, Any]]] = []

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path in ("/endless", "/drip"):  # a hostile API: a body that never ends, or crawls
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            for _ in range(3000 if self.path == "/endless" else 60):  # bounded: the grader stops first
                try:
                    self.wfile.write(b"[" * (64 * 1024) if self.path == "/endless" else b" ")
                    self.wfile.flush()
                except OSError:
                    return
                if self.path == "/drip":
                    time.sleep(0.5)
        elif self.path == "/deep":
            data = b"[" * 200_000 + b"]" * 200_000
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/products":
            self._send(200, self.items)
        elif self.path.startswith("/products/"):
            found = [p for p in self.items if str(p["id"]) == self.path.rsplit("/", 1)[1]]
            self._send(200 if found else 404, found[0] if found else {"error": "not found"})
        else:
            self._send(404, {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        item = {"id": len(self.items) + 1, "name": body["name"], "price": str(body["price"])}
        self.items.append(item)
        self._send(201, item)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Products.items = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Products)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def step(
    method: str,
    path: str,
    json_body: Any = None,
    status: int | None = None,
    expect: Any = None,
    capture: dict[str, str] | None = None,
    text: str | None = None,
) -> Step:
    return Step(method, path, {}, json_body, None, status, expect, text, capture or {})


def test_capture_and_reuse(server: str) -> None:
    run = Run()
    run_steps(
        server,
        (
            step("POST", "/products", {"name": "Mate", "price": 10}, 201, {"name": "Mate", "price": 10}, {"id": "id"}),
            step("GET", "/products/{id}", status=200, expect={"id": "{id}", "name": "Mate"}),
            step("GET", "/products", status=200, expect=[{"name": "Mate"}], text="Mate"),
        ),
        run,
    )
    assert run.captures == {"id": 1} and len(run.log) == 3


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param(step("GET", "/products/99", status=200), "answered HTTP 404; expected 200", id="status"),
        pytest.param(step("GET", "/products", expect=[{"name": "Yerba"}]), "answered without", id="json"),
        pytest.param(step("GET", "/products", text="Yerba"), "without the text", id="text"),
        pytest.param(step("GET", "/products", capture={"x": "0.nope"}), "no `0.nope`", id="capture"),
    ],
)
def test_failures_say_which_request_and_why(server: str, bad: Step, message: str) -> None:
    with pytest.raises(StepFailed, match=message):
        run_steps(server, (bad,), Run())


def test_no_server_is_a_failure_not_a_crash() -> None:
    with pytest.raises(StepFailed, match="got no answer"):
        run_steps("http://127.0.0.1:9", (step("GET", "/"),), Run())


@pytest.mark.parametrize(
    ("actual", "expected", "ok"),
    [
        ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 2}}, True),
        ([{"id": 1}, {"id": 2}], [{"id": 2}], True),
        ({"price": "10"}, {"price": 10}, True),
        ({"a": 1}, {"a": 2}, False),
        ([], [{"id": 1}], False),
        ("text", {"a": 1}, False),
    ],
)
def test_contains(actual: Any, expected: Any, ok: bool) -> None:
    assert contains(actual, expected) is ok


@pytest.mark.parametrize(
    "path, limit", [pytest.param("/endless", "1024 KB", id="endless"), pytest.param("/drip", "2 s", id="drip")]
)
def test_a_hostile_body_fails_the_step_within_its_caps(
    server: str, path: str, limit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grader.engine.scenarios

    monkeypatch.setattr(grader.engine.scenarios, "BODY_SECONDS", 2.0)
    run = Run()
    started = time.monotonic()
    with pytest.raises(StepFailed, match=f"more than the grader reads \\({limit}\\)"):
        run_steps(server, (step("GET", path, expect={"ok": True}),), run)
    assert time.monotonic() - started < 10
    assert run.log and "more than the grader reads" in run.log[0]


def test_a_captured_value_cannot_move_the_request_to_another_host(server: str) -> None:
    run = Run(captures={"next": "@169.254.169.254/latest"})
    with pytest.raises(StepFailed, match="does not start with /"):
        run_steps(server, (step("GET", "{next}"),), run)


def test_json_nested_too_deeply_fails_the_step(server: str) -> None:
    # review: `[[[[…` 200,000 deep raised RecursionError, a grader crash: the run ended incomplete
    with pytest.raises(StepFailed, match="did not answer JSON"):
        run_steps(server, (step("GET", "/deep", expect={"ok": True}),), Run())
