"""`grader serve`: the service's web side (FastAPI; Jinja2 pages, no JavaScript: the live parts
refresh themselves).

- `POST /hooks/github`: GitHub's push deliveries, trusted once their signature matches; stored
  and queued in one transaction (grader.service.store), answered at once.
- The instructor's pages, behind a login (a token, or a password whose hash is configured): the
  assignments; per assignment the live grid, the queue, the class page and `gradebook.csv`
  exactly as `grader batch` writes them; each student's history; rerun and cancel.
- The student's page at `/s/TOKEN`, the unguessable link on their commit: their own pushes and
  runs only, their place in the queue, their report.
- `/healthz` and `/metrics` (Prometheus' text format).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import psycopg
from fastapi import BackgroundTasks, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from psycopg_pool import ConnectionPool

from grader.classroom import gradebook
from grader.messages import language, msg
from grader.service import queue, store, views
from grader.service.assignments import Assignment, route
from grader.service.github import MAX_BODY, Malformed, Push, read_push, repository_secret, verified
from grader.service.status import Poster, Reporter, Step

TEMPLATES = Path(__file__).with_name("templates")
SESSION_S = 12 * 3600
COOKIE = "grader_session"
MIN_SECRET = 16  # a webhook secret shorter than this is refused at start
BODY_S = 10.0  # a delivery's body must arrive within this
GUESSES, GUESS_WINDOW_S = 10, 600.0


@dataclass(frozen=True)
class WebSettings:
    database: str
    assignments: Sequence[Assignment]
    webhook_secret: bytes
    admin_token: str = ""  # log in with this token as the password, or
    # pbkdf2_sha256:ITERATIONS:SALT:HASH (grader serve --hash-password). No `$` in it: compose
    # would read `$SALT...` in an .env file as a variable and change the hash without a word.
    admin_password_hash: str = ""
    session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    public_url: str = ""
    poster: Reporter = field(default_factory=Poster)  # commit statuses, or check runs (a GitHub App)
    secure_cookies: bool = False  # behind https: the session cookie only over https

    def check(self) -> None:
        """Refuse at start what would make the service trust anybody (ValueError)."""
        if len(self.webhook_secret) < MIN_SECRET:
            raise ValueError(f"the webhook secret must be at least {MIN_SECRET} characters")
        if not self.admin_token and not self.admin_password_hash:
            raise ValueError("no instructor login: set GRADER_ADMIN_TOKEN or GRADER_ADMIN_PASSWORD_HASH")
        if self.admin_token and len(self.admin_token) < MIN_SECRET:
            raise ValueError(f"the admin token must be at least {MIN_SECRET} characters")
        if self.admin_password_hash and self.admin_password_hash.count(":") != 3:
            raise ValueError("GRADER_ADMIN_PASSWORD_HASH: the output of `grader serve --hash-password`, whole")


# -- passwords and sessions ----------------------------------------------------------------------
def hash_password(password: str, iterations: int = 600_000) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256:{iterations}:{base64.b64encode(salt).decode()}:{base64.b64encode(digest).decode()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split(":")
        expected = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return scheme == "pbkdf2_sha256" and hmac.compare_digest(got, expected)


def _sign(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def new_session(secret: bytes, now: float | None = None) -> str:
    expires = str(int((now or time.time()) + SESSION_S))
    nonce = secrets.token_urlsafe(12)
    return f"{expires}.{nonce}.{_sign(secret, f'session:{expires}.{nonce}')}"


def session_valid(secret: bytes, cookie: str | None, now: float | None = None) -> bool:
    if not cookie or cookie.count(".") != 2:
        return False
    expires, nonce, mac = cookie.split(".")
    if not hmac.compare_digest(mac, _sign(secret, f"session:{expires}.{nonce}")):
        return False
    return expires.isdigit() and int(expires) > (now or time.time())


def csrf_token(secret: bytes, cookie: str) -> str:
    return _sign(secret, f"csrf:{cookie}")


# -- the app -------------------------------------------------------------------------------------
def create_app(settings: WebSettings) -> FastAPI:
    settings.check()
    pool = ConnectionPool(settings.database, min_size=1, max_size=8, open=False)
    pages = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    by_name = {a.name: a for a in settings.assignments}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        pool.open(wait=True, timeout=30)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    hook_threads, hash_threads = anyio.CapacityLimiter(8), anyio.CapacityLimiter(2)
    guesses = Guesses()

    @app.middleware("http")
    async def no_uploads(request: Request, call_next: Any) -> Response:
        """The pages' forms are urlencoded: a multipart body (a file part is spooled to disk
        before any handler, login included, could refuse it) is refused unread."""
        if request.method == "POST" and request.headers.get("content-type", "").startswith("multipart/"):
            return PlainTextResponse("forms are urlencoded", status_code=415)
        answer: Response = await call_next(request)
        return answer

    @contextmanager
    def connection() -> Iterator[psycopg.Connection[Any]]:
        with pool.connection() as conn:
            yield conn

    def page(name: str, lang: str = "en", status: int = 200, **values: Any) -> HTMLResponse:
        with language(lang):
            text = pages.get_template(name).render(t=msg, lang=lang, **values)
        return HTMLResponse(text, status_code=status, headers=_HEADERS)

    def admin(request: Request) -> str:
        """The session's cookie; a page that needs the instructor sends others to the login."""
        cookie = request.cookies.get(COOKIE)
        if not session_valid(settings.session_secret, cookie):
            raise HTTPException(303, headers={"Location": "/login"})
        assert cookie is not None
        return cookie

    def form_checked(request: Request, csrf: str) -> None:
        cookie = admin(request)
        if not hmac.compare_digest(csrf, csrf_token(settings.session_secret, cookie)):
            raise HTTPException(403, "the form is stale: reload the page")

    def assignment_of(name: str) -> Assignment:
        found = by_name.get(name)
        if found is None:
            raise HTTPException(404, "no such assignment")
        return found

    # -- GitHub -----------------------------------------------------------------------------------
    @app.post("/hooks/github")
    async def hook(request: Request, background: BackgroundTasks) -> JSONResponse:
        return await delivered(request, background, settings.webhook_secret, None)

    @app.post("/hooks/github/{owner}/{name}")
    async def repository_hook(request: Request, background: BackgroundTasks, owner: str, name: str) -> JSONResponse:
        """A repository's own webhook (a roster's repositories, each added by its student): signed
        with that repository's secret (repository_secret), valid for pushes to it only."""
        repository = f"{owner}/{name}"
        return await delivered(request, background, repository_secret(settings.webhook_secret, repository), repository)

    async def delivered(
        request: Request, background: BackgroundTasks, secret: bytes, repository: str | None
    ) -> JSONResponse:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            return JSONResponse({"error": "too large"}, status_code=413)
        try:
            body = await asyncio.wait_for(_read(request), BODY_S)
        except TimeoutError:  # a body trickled in to hold a connection: GitHub sends it at once
            return JSONResponse({"error": "too slow"}, status_code=408)
        if body is None:
            return JSONResponse({"error": "too large"}, status_code=413)
        if not verified(secret, body, request.headers.get("x-hub-signature-256")):
            return JSONResponse({"error": "signature"}, status_code=401)
        try:
            delivery = read_push(request.headers.get("x-github-event"), request.headers.get("x-github-delivery"), body)
        except Malformed as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if repository is not None and isinstance(delivery, Push) and delivery.repository.lower() != repository.lower():
            # signed with one repository's secret, about another: its student forging a classmate's push
            return JSONResponse({"error": "signature"}, status_code=401)
        received = datetime.now(timezone.utc)  # the server's clock: what deadlines use
        routing = route(delivery, settings.assignments, received) if isinstance(delivery, Push) else None

        def save() -> store.Recorded:
            with connection() as conn:
                return store.record(conn, delivery, routing, received)

        # Threads of the webhook's own: a flood of logins or pages never delays GitHub's answer.
        recorded = await anyio.to_thread.run_sync(save, limiter=hook_threads)
        if isinstance(delivery, Push) and recorded.push_ids:
            background.add_task(say_queued, delivery, recorded.push_ids)
        reason = routing.ignored if routing and not routing.gradings else getattr(delivery, "reason", "")
        reason = "; ".join(recorded.refused) or reason
        return JSONResponse(
            {"queued": len(recorded.push_ids), "duplicate": recorded.duplicate, "ignored": reason},
            status_code=202 if recorded.push_ids else 200,
        )

    def say_queued(push: Push, push_ids: tuple[int, ...]) -> None:
        """After the answer: `queued` on the commit, its check run recorded for the worker, unless a
        worker took the push first (it says `in_progress` itself). Should the grading have ended
        while this one was being made, it is completed at once, pointing to the other."""
        with connection() as conn:
            rows = conn.execute(
                "SELECT status, check_runs FROM grader_pushes WHERE id = ANY(%s)", (list(push_ids),)
            ).fetchall()
        if not rows or any(status != "queued" or runs for status, runs in rows):
            return
        made = settings.poster.say(push.repository, push.sha, (), Step("queued", title="queued"))
        if made is None:
            return
        with connection() as conn:
            now = queue.add_check_run(conn, push_ids, made)
        if any(status not in ("queued", "running") for status in now):
            text = "see the other compose-grader check of this commit"
            settings.poster.say(push.repository, push.sha, (made,), Step("completed", "error", text, text))

    # -- health ----------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            with connection() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return JSONResponse({"ok": False, "database": False}, status_code=503)
        return JSONResponse({"ok": True, "database": True})

    @app.get("/metrics")
    def metrics() -> PlainTextResponse:
        with connection() as conn:
            return PlainTextResponse(views.metrics(conn), media_type="text/plain; version=0.0.4")

    # -- login -----------------------------------------------------------------------------------
    @app.get("/login")
    def login_page() -> HTMLResponse:
        return page("login.html")

    @app.post("/login")
    async def login(request: Request, password: str = Form("")) -> Response:
        client = request.client.host if request.client else ""
        if guesses.exceeded(client):
            return page("login.html", status=429, wrong=True)
        good = bool(settings.admin_token) and hmac.compare_digest(password.encode(), settings.admin_token.encode())
        if not good and settings.admin_password_hash:
            stored = settings.admin_password_hash
            good = await anyio.to_thread.run_sync(password_matches, password, stored, limiter=hash_threads)
        if not good:
            guesses.failed(client)
            await asyncio.sleep(0.5)  # a guess costs time, not a thread
            return page("login.html", status=401, wrong=True)
        answer = RedirectResponse("/", status_code=303)
        answer.set_cookie(
            COOKIE,
            new_session(settings.session_secret),
            max_age=SESSION_S,
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
        )
        return answer

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        form_checked(request, csrf)
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(COOKIE)
        return answer

    # -- the instructor --------------------------------------------------------------------------
    @app.get("/")
    def index(request: Request) -> HTMLResponse:
        cookie = admin(request)
        with connection() as conn:
            counts = dict(
                conn.execute("SELECT assignment, count(*) FROM grader_students GROUP BY assignment").fetchall()
            )
            waiting, running = views.waiting(conn), views.running(conn)
        return page(
            "index.html",
            assignments=settings.assignments,
            counts=counts,
            waiting=waiting,
            running=running,
            csrf=csrf_token(settings.session_secret, cookie),
        )

    @app.get("/a/{name}")
    def assignment_page(request: Request, name: str) -> HTMLResponse:
        cookie = admin(request)
        assignment = assignment_of(name)
        with connection() as conn:
            standings = views.standings(conn, name)
            waiting = [w for w in views.waiting(conn) if w.assignment == name]
            running = [r for r in views.running(conn) if r.assignment == name]
        rows = views.rows(standings, name)
        return page(
            "assignment.html",
            checks=gradebook.check_ids(rows),
            mixed=gradebook.mixed_rubrics_note(rows),  # a rubric changed, and not everyone was graded again
            assignment=assignment,
            standings=standings,
            waiting=waiting,
            running=running,
            csrf=csrf_token(settings.session_secret, cookie),
        )

    @app.get("/a/{name}/gradebook.csv")
    def gradebook_csv(request: Request, name: str) -> Response:
        admin(request)
        assignment_of(name)
        with connection() as conn:
            found = views.rows(views.standings(conn, name), name)
        return Response(
            gradebook.to_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-gradebook.csv"', **_HEADERS},
        )

    @app.get("/a/{name}/gradebook.html")
    def class_page(request: Request, name: str) -> HTMLResponse:
        admin(request)
        assignment = assignment_of(name)
        with connection() as conn:
            found = views.rows(views.standings(conn, name), name)
        return HTMLResponse(gradebook.to_html(found, name, assignment.lang or "en"), headers=_HEADERS)

    @app.get("/a/{name}/students/{student}")
    def student_history(request: Request, name: str, student: str) -> HTMLResponse:
        cookie = admin(request)
        assignment = assignment_of(name)
        with connection() as conn:
            pushes, runs = views.history(conn, name, student)
        if not pushes:
            raise HTTPException(404, "no such student")
        return page(
            "history.html",
            assignment=assignment,
            student=student,
            pushes=pushes,
            runs=runs,
            csrf=csrf_token(settings.session_secret, cookie),
        )

    @app.post("/a/{name}/rerun")
    def rerun(request: Request, name: str, csrf: str = Form(""), student: str = Form("")) -> Response:
        form_checked(request, csrf)
        assignment_of(name)
        with connection() as conn:
            if student:
                queue.rerun(conn, name, student)
            else:
                for (who,) in conn.execute(
                    "SELECT student FROM grader_students WHERE assignment = %s", (name,)
                ).fetchall():
                    queue.rerun(conn, name, str(who))
        return RedirectResponse(f"/a/{name}", status_code=303)

    @app.post("/a/{name}/cancel")
    def cancel(
        request: Request, background: BackgroundTasks, name: str, csrf: str = Form(""), student: str = Form("")
    ) -> Response:
        form_checked(request, csrf)
        assignment_of(name)
        with connection() as conn:
            cancelled = queue.cancel(conn, name, student)
        text = "cancelled by the instructor"
        for repository, sha, runs in cancelled:  # the running one's worker says it for its own
            background.add_task(settings.poster.say, repository, sha, runs, Step("completed", "cancelled", text, text))
        return RedirectResponse(f"/a/{name}", status_code=303)

    # -- the student -----------------------------------------------------------------------------
    @app.get("/s/{token}")
    def student_page(token: str) -> HTMLResponse:
        with connection() as conn:
            found = views.student_of_token(conn, token)
            if found is None:
                raise HTTPException(404, "no such page")
            name, student = found
            pushes, runs = views.history(conn, name, student)
            position = next((w.position for w in views.waiting(conn) if (w.assignment, w.student) == found), None)
        assignment = by_name.get(name)
        lang = (assignment.lang if assignment else None) or "en"
        official = next((r for r in runs if r.status == "graded" and not r.late), None)
        return page(
            "student.html",
            lang=lang,
            assignment=name,
            student=student,
            pushes=pushes,
            runs=runs,
            official=official,
            position=position,
            deadline=assignment.deadline_of(student) if assignment else None,
        )

    return app


async def _read(request: Request) -> bytes | None:
    """The raw body, None once it passes MAX_BODY (read no further)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


class Guesses:
    """Wrong logins per client address: past GUESSES in GUESS_WINDOW_S, refused without a look
    (429) until the window passes. In memory, per web process."""

    def __init__(self) -> None:
        self.seen: dict[str, collections.deque[float]] = {}

    def _recent(self, client: str) -> collections.deque[float]:
        times = self.seen.setdefault(client, collections.deque())
        while times and times[0] < time.monotonic() - GUESS_WINDOW_S:
            times.popleft()
        if not times:
            self.seen.pop(client, None)
        return times

    def exceeded(self, client: str) -> bool:
        return len(self._recent(client)) >= GUESSES

    def failed(self, client: str) -> None:
        if len(self.seen) > 10_000:  # bounded however many addresses guess
            self.seen.clear()
        self._recent(client)
        self.seen.setdefault(client, collections.deque()).append(time.monotonic())


# Pages are never framed elsewhere, never cached by a shared proxy, never sniffed as scripts.
_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the student's link is a secret: never sent onwards
}
