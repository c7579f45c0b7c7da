"""service/compose.yaml, the one command that runs the whole service: built from the grader's
image, started with `docker compose up`, fed a signed push, grading a student's full stack with
the worker in its container. While that stack runs, a probe from inside the student's API
container tries the service: its web (bound to every address, the worst an instructor may
configure) through the network's gateway, and its database at its own address. Nothing
answers; the student's own database does (the probe works)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import docker
import psycopg
import pytest
import requests

from grader.engine.reaper import drain
from grader.engine.stack import GATEWAY_OPEN
from tests.conftest import GRADER_IMAGE, ROOT, build_grader_image, engine_changes, engine_counts
from tests.service_support import SECRET, Class, GitHubStandIn, deliver, free_port, push_body

pytestmark = pytest.mark.docker

IMAGE = GRADER_IMAGE  # the image tests/test_image.py builds: one image for both
SERVICE = """\
assignments:
  - name: m4
    classroom: {organization: curso, prefix: m4}
"""
# node, in the student's API container: a TCP connection to each target, at once, 1.5 s at most
# (a listener of this machine answers in milliseconds; a dropped packet never does).
PROBE = """
const net = require('net');
const targets = JSON.parse(process.argv[1]);
Promise.all(targets.map(([host, port]) => new Promise((done) => {
  const s = net.connect({host, port, timeout: 1500});
  s.on('connect', () => { s.destroy(); done('open'); });
  s.on('timeout', () => { s.destroy(); done('timeout'); });
  s.on('error', (e) => done(e.code));
}))).then((r) => console.log(JSON.stringify(r)));
"""


def compose(project: str, files: list[Path], env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = ["docker", "compose", "-p", project, "--env-file", str(env_file)]
    for f in files:
        cmd += ["-f", str(f)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=600, check=False)


def firewall_rules() -> list[str]:
    listing = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True, check=False).stdout
    return [line for line in listing.splitlines() if "compose-grader:" in line]


def test_the_service_s_compose_grades_a_push_and_a_student_reaches_none_of_it(
    engine: docker.DockerClient, tmp_path: Path
) -> None:
    build_grader_image(engine)
    before, rules = engine_counts(engine), firewall_rules()
    github = GitHubStandIn()
    klass = Class(tmp_path, "", github, SERVICE)
    sha = klass.commit("ana", "complete")
    config = tmp_path / "config"
    config.mkdir()
    (config / "service.yml").write_text(SERVICE)
    web_port, db_port = free_port(), free_port()
    password = uuid.uuid4().hex
    database = f"postgresql://grader:{password}@127.0.0.1:{db_port}/grader"
    env_file = tmp_path / "service.env"
    env_file.write_text(
        "\n".join(
            [
                f"GRADER_IMAGE={IMAGE}",
                f"GRADER_DB_PASSWORD={password}",
                f"GRADER_DB_PORT={db_port}",
                f"GRADER_DATABASE_URL={database}",
                f"GRADER_WEBHOOK_SECRET={SECRET.decode()}",
                "GRADER_ADMIN_TOKEN=an-instructor-token-for-compose",
                f"GRADER_PORT={web_port}",
                "GRADER_BIND=0.0.0.0",
                f"GRADER_CONFIG_DIR={config}",
                "GRADER_GIT_BASE=file:///remotes/",
                f"GRADER_GITHUB_API={github.url}",
                "GRADER_GITHUB_TOKEN=gh-token",
            ]
        )
        + "\n"
    )
    override = tmp_path / "remotes.yaml"  # the students' file:// remotes, inside the worker
    override.write_text(f"services:\n  worker:\n    volumes:\n      - {klass.remotes}:/remotes:ro\n")
    project = f"cgsvc-{uuid.uuid4().hex[:8]}"
    files = [ROOT / "service" / "compose.yaml", override]
    try:
        up = compose(project, files, env_file, "up", "-d", "--wait", "--no-build")
        assert up.returncode == 0, up.stderr
        base = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).json()["ok"]:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, compose(project, files, env_file, "logs").stdout[-3000:]
            time.sleep(0.5)
        assert deliver(base, push_body("curso/m4-ana", sha)).status_code == 202

        # The student's stack, once its API runs: probe from inside it.
        service_db = engine.containers.list(filters={"label": f"com.docker.compose.project={project}"})
        db_address = next(
            n["IPAddress"]
            for c in service_db
            if c.labels["com.docker.compose.service"] == "postgres"
            for n in c.attrs["NetworkSettings"]["Networks"].values()
        )
        deadline = time.monotonic() + 300
        own_db, probes, seen = "", 0, []
        while own_db != "open":  # until the student's database listens: then the probe is known to work
            assert time.monotonic() < deadline, seen[-10:]
            time.sleep(0.3)
            running = [
                c
                for c in engine.containers.list(filters={"label": "com.docker.compose.service=api"})
                if c.labels.get("com.docker.compose.project", "").startswith("grader-")
            ]
            if not running:
                continue
            api = running[0]
            try:
                network = next(iter(api.attrs["NetworkSettings"]["Networks"]))
                gateway = engine.networks.get(network).attrs["IPAM"]["Config"][0]["Gateway"]
                targets = [[gateway, web_port], [gateway, db_port], [db_address, 5432], ["db", 5432]]
                ready, _ = api.exec_run(["node", "-e", PROBE, json.dumps([["db", 5432]])])  # milliseconds
                if ready != 0:
                    continue
                code, out = api.exec_run(["node", "-e", PROBE, json.dumps(targets)])
            except docker.errors.APIError as exc:  # removed under the probe (the persistence check's restart)
                seen.append(str(exc)[:200])
                continue
            seen.append((code, out[-300:]))
            if code != 0:  # stopped under the probe
                continue
            probes += 1
            web, db_published, db_direct, own_db = json.loads(out.decode().strip().splitlines()[-1])
            assert "open" not in (web, db_published, db_direct), (web, db_published, db_direct)
        assert "open" not in (web, db_published, db_direct), (web, db_published, db_direct)
        assert requests.get(f"http://{gateway}:{web_port}/healthz", timeout=5).ok  # the web does listen there

        deadline = time.monotonic() + 300
        while True:
            with psycopg.connect(database) as conn:
                row = conn.execute(
                    "SELECT status, score, report FROM grader_runs WHERE finished_at IS NOT NULL"
                ).fetchone()
            if row is not None:
                break
            assert time.monotonic() < deadline, compose(project, files, env_file, "logs", "worker").stdout[-4000:]
            time.sleep(1)
        status, score, report = row
        assert (status, score) == ("graded", 100), report
        assert not any(GATEWAY_OPEN in w for w in report.get("warnings", []))  # guarded as on the host
        assert github.states(sha)[-1] == "success"
    finally:
        down = compose(project, files, env_file, "down", "-v", "--timeout", "60")
        github.close()
    assert down.returncode == 0, down.stderr
    drain(engine)
    assert engine_changes(before, engine_counts(engine)) == {}
    assert firewall_rules() == rules
