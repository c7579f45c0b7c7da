"""The grader's SQL, run in a child process with a memory cap: the "database" is the student's.

libpq keeps a whole result, and every message the server sends, in memory before psycopg sees a
row. A "database" service whose entrypoint is a fake PostgreSQL server answered the grader's
`SELECT` with endless rows: the grader's process grew until the kernel killed it (exit 137, no
report, its containers left on the engine). Here the client runs as `python -m grader.engine.sqlclient`
under RLIMIT_AS; a hostile answer kills that child, never the grader, and the parent reads at most
64 KiB of what it prints (grader.engine.proc). The credentials go through its stdin, never its argv.

Every outcome is a value: `Answer.rows` (one first row per statement), or `Answer.problem` with
`connect` (not accepting connections yet: worth waiting for), `auth`, `query`, `too_large` or
`timeout` (the student's database misbehaved: a failed check naming it, never a retried run).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

from grader.engine.proc import run_bounded
from grader.errors import CommandTimeout

MEMORY_BYTES = 512 << 20  # the child's address space: Python and libpq take about 150 MB of it
OUTPUT_BYTES = 64 << 10
CHILD_ENV = {
    "PGPASSFILE": "/dev/null",
    "PGSERVICEFILE": "/dev/null",
    "PGSYSCONFDIR": "/nonexistent",
    "HOME": "/nonexistent",
    "KRB5CCNAME": "FILE:/nonexistent",  # no Kerberos ticket of the machine's for a fake server's GSS request
    "KRB5_CONFIG": "/nonexistent",
}


class Answer(NamedTuple):
    rows: tuple[tuple[Any, ...] | None, ...] = ()
    problem: str = ""  # "", connect, auth, query, too_large, timeout
    error: str = ""  # the server's or the client's words, shown to the student


def run(connection: dict[str, Any], statements: Sequence[tuple[str, tuple[Any, ...]]], timeout: float = 30) -> Answer:
    """The statements in one autocommit session; the first row of each (None when it has none).
    A statement whose first row starts with `false` is a guard: the ones after it are not run."""
    # libpq reads the machine's ~/.pgpass, service files and PG* variables on its own: a fake
    # server asking for a password would get one of the machine's. Nothing of them here.
    connection = {**connection, "passfile": "/dev/null", "gssencmode": "disable", "sslmode": "disable"}
    request = json.dumps({"connection": connection, "statements": statements}).encode()
    try:
        done = run_bounded(
            [sys.executable, "-P", "-m", "grader.engine.sqlclient"],
            timeout,
            stdin=request,
            head=OUTPUT_BYTES,
            tail=1024,
            env=CHILD_ENV,
        )
    except CommandTimeout:
        return Answer(problem="timeout", error=f"no answer within {timeout:g} s")
    try:
        reply = json.loads(done.stdout)
        return Answer(
            tuple(tuple(r) if r is not None else None for r in reply["rows"]), reply["problem"], reply["error"]
        )
    except (ValueError, KeyError, TypeError):
        # Killed at its memory cap (MemoryError, or the kernel), or it printed something else.
        return Answer(problem="too_large", error=f"exit {done.returncode}")


def _serve(request: dict[str, Any]) -> dict[str, Any]:
    import psycopg

    rows: list[list[Any] | None] = []
    connection = dict(request["connection"])
    if psycopg.pq.version() >= 160000:  # libpq 16: only a password, never GSS/SSPI the machine holds
        connection["require_auth"] = "!gss,!sspi"
    try:
        conn = psycopg.connect(**connection, autocommit=True)
    except psycopg.OperationalError as exc:
        auth = "authentication failed" in str(exc) or ("role" in str(exc) and "does not exist" in str(exc))
        return {"rows": [], "problem": "auth" if auth else "connect", "error": str(exc).strip()}
    with conn:
        for sql, params in request["statements"]:
            try:
                cursor = conn.execute(sql, params)
                row = cursor.fetchone() if cursor.description else None
            except psycopg.Error as exc:
                problem = "too_large" if "out of memory" in str(exc) else "query"
                return {"rows": rows, "problem": problem, "error": str(exc).strip()}
            rows.append(
                [v if isinstance(v, (bool, int, float, str)) or v is None else str(v) for v in row] if row else None
            )
            if row is not None and row[0] is False:
                break  # a guard (`SELECT to_regclass(...) IS NOT NULL`): what follows needs it true
    return {"rows": rows, "problem": "", "error": ""}


def main() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    try:
        reply = _serve(json.loads(sys.stdin.buffer.read(OUTPUT_BYTES)))
    except MemoryError:
        reply = {"rows": [], "problem": "too_large", "error": "more than the grader reads"}
    except Exception as exc:
        reply = {"rows": [], "problem": "query", "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(reply)[:OUTPUT_BYTES])


if __name__ == "__main__":
    main()
