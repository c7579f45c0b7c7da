"""Grade every fixture on the real engine: exact verdicts, no leaks, submission untouched."""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import docker
import jsonschema
import pytest

from grader.engine import firewall
from grader.reports import formats
from grader.reports.document import schema, to_dict, to_json, to_table
from grader.run.runner import grade
from tests.conftest import (
    EXPECTED,
    SUBMISSIONS,
    HostSampler,
    engine_changes,
    engine_counts,
    fixture_options,
    fixture_rubric,
    tree_digest,
)

pytestmark = pytest.mark.docker


FIXTURES = sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())


def test_every_fixture_has_a_golden_file() -> None:
    assert sorted(p.stem for p in EXPECTED.glob("*.json")) == FIXTURES


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in FIXTURES])
def test_fixture_grades_as_expected(name: str, engine: docker.DockerClient) -> None:
    submission = SUBMISSIONS / name
    expected = json.loads((EXPECTED / f"{name}.json").read_text())
    digest = tree_digest(submission)
    before = engine_counts(engine)
    since = int(time.time())
    # A fixture graded with a course rubric (fixtures/rubrics/...): its options come from it.
    rubric = fixture_rubric(expected)
    options = fixture_options(expected, rubric)

    preexisting = _create_preexisting(engine, expected.get("preexisting", {}))
    with HostSampler() as host, _Listener(expected.get("host_listener")) as knocks:
        started = time.monotonic()
        report = grade(submission, options, rubric=rubric)
        wall = time.monotonic() - started

    until = int(time.time()) + 1
    verdicts = {c.id: {"status": c.status.value, "points": c.points} for c in report.checks}
    assert verdicts == expected["checks"]
    assert report.score == expected["score"]
    by_id = {c.id: c for c in report.checks}
    for check_id, needles in expected.get("feedback_contains", {}).items():
        for needle in [needles] if isinstance(needles, str) else needles:
            assert needle in by_id[check_id].feedback, by_id[check_id].feedback
    for check_id, needle in expected.get("hints_contains", {}).items():
        assert any(needle in hint for hint in by_id[check_id].hints), by_id[check_id].hints
    for check_id, (file, line) in expected.get("locations", {}).items():
        assert by_id[check_id].location == (file, line)
    for check_id, needle in expected.get("evidence_contains", {}).items():
        assert needle in by_id[check_id].evidence, by_id[check_id].evidence
    assert knocks.accepted == 0, f"a container reached the machine's listener {knocks.accepted} times"
    jsonschema.validate(to_dict(report), schema())
    assert [list(i) for i in report.images] == expected.get("images", [])
    assert report.status == expected.get("status", "graded")
    assert report.project_dir == expected.get("project_dir", ".")  # where grader.intake.locate found the project
    assert list(report.left_out) == expected.get("services_left_out", [])
    for check_id, cause in expected.get("causes", {}).items():
        assert by_id[check_id].cause == cause, (check_id, by_id[check_id].cause)
    assert list(report.warnings) == expected.get("warnings", [])
    data = to_dict(report)  # every format is written from the JSON report
    every_format = "\n".join(
        [
            to_json(report),
            formats.junit(data),
            formats.markdown(data),
            *formats.github_annotations(data),
            json.dumps(formats.gradescope(data)),
            formats.classroom(data),
        ]
    )
    for needle in expected.get("report_excludes", []):
        assert needle not in every_format, f"{needle!r} is in a report"
    # Nothing a submission prints becomes a workflow command in a CI log (the table, the annotations).
    printed = to_table(report).splitlines()
    assert [line for line in printed if line.strip().startswith(("::", "##["))] == []
    annotations = formats.github_annotations(data)
    assert all(re.match(r"::(error|warning|notice)( [^\n]*)?::", line) for line in annotations), annotations
    assert all("\r" not in line and "\n" not in line for line in annotations)
    if "markdown_fenced" in expected:
        assert expected["markdown_fenced"] in _fenced(formats.markdown(data))
    if "deadline_s" in expected:
        assert wall <= expected["deadline_s"], f"took {wall:.0f} s, deadline {expected['deadline_s']} s"
    # The host untouched: whatever the submission does, it stays inside the grader's limits
    # (processes per service, memory per service), plus the grader's own and the build's share.
    services = 2
    assert host.max_processes - host.baseline_processes <= options.limits.pids * services + 400
    assert host.baseline_available - host.min_available <= services * options.limits.memory_bytes + (3 << 30)

    _check_preexisting(engine, preexisting, since, until)
    assert firewall.rules() == [], "the run left firewall rules on the machine"
    after = engine_counts(engine)
    assert after == before, f"the run leaked or changed engine objects: {engine_changes(before, after)}"
    assert tree_digest(submission) == digest, "the submission folder was modified"
    if expected.get("never_labelled"):  # a label only a file written by a container during the run has
        events = engine.events(since=since, until=until, decode=True, filters={"type": "container", "event": "create"})
        created = [e for e in events if expected["never_labelled"] in e.get("Actor", {}).get("Attributes", {})]
        assert created == [], "a container was created from a file the submission rewrote while it ran"
    if expected.get("creates_nothing"):
        events = engine.events(since=since, until=until, decode=True, filters={"event": "create"})
        created = [e for e in events if e.get("Type") in ("container", "network", "volume")]
        assert created == [], "a refused submission must not create anything"


class _Listener:
    """A listener on all of the machine's addresses (0.0.0.0:PORT) that counts who connects to it
    while a fixture is graded; with no port, nothing (accepted stays 0)."""

    def __init__(self, port: int | None) -> None:
        self.port, self.accepted = port, 0
        self._server: socket.socket | None = None

    def __enter__(self) -> _Listener:
        if self.port:
            self._server = socket.create_server(("0.0.0.0", self.port), reuse_port=True)
            self._server.settimeout(0.2)
            threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while self._server is not None:
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def __exit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()


def _fenced(markdown: str) -> str:
    """The text inside the Markdown's code fences, each closed only by a line of its own backticks."""
    inside, fence = [], None
    for line in markdown.splitlines():
        if fence is None and line.startswith("```"):
            fence = line[: len(line) - len(line.lstrip("`"))]
        elif fence is not None and line == fence:
            fence = None
        elif fence is not None:
            inside.append(line)
    return "\n".join(inside)


TEST_LABEL = {"compose-grader.test": "preexisting"}  # objects this test creates, and only those


def _create_preexisting(engine: docker.DockerClient, wanted: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Create the engine objects a fixture names (a volume or network that "already exists" on the
    grading machine): (kind, id) each; a volume's id is its name. The test removes them."""
    created = [("volume", str(engine.volumes.create(n, labels=TEST_LABEL).name)) for n in wanted.get("volumes", [])]
    created += [("network", str(engine.networks.create(n, labels=TEST_LABEL).id)) for n in wanted.get("networks", [])]
    return created


def _check_preexisting(engine: docker.DockerClient, created: list[tuple[str, str]], since: int, until: int) -> None:
    """Each object that existed before the run still exists, as it was, and no container of the
    run ever mounted or joined it; then the test removes it."""
    events = list(engine.events(since=since, until=until, decode=True))
    collections = {"volume": engine.volumes, "network": engine.networks}
    try:
        for kind, ident in created:
            touched = [
                e
                for e in events
                if e.get("Type") == kind
                and e.get("Action") in ("mount", "connect", "destroy")
                and e.get("Actor", {}).get("ID") == ident
            ]
            assert touched == [], f"the run used or removed the {kind} {ident}, which existed before it: {touched}"
            assert collections[kind].get(ident).attrs["Labels"] == TEST_LABEL
    finally:
        for kind, ident in created:
            collections[kind].get(ident).remove()


def test_the_knock_reaches_the_machine_without_the_firewall(
    engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listener of hostile-knocks-on-the-gateway does hear a container that is not fenced in
    (so its 0 above means something), and the report then says the machine was reachable."""
    monkeypatch.setattr(firewall, "unavailable", lambda: "switched off by this test")
    with _Listener(47123) as knocks:
        report = grade(SUBMISSIONS / "hostile-knocks-on-the-gateway")
    assert knocks.accepted > 0
    assert any("could reach this machine" in w and "switched off by this test" in w for w in report.warnings)
