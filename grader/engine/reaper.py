"""Image removal after the report: a run's teardown removes its stack (containers, networks,
volumes, firewall rules) and hands the images it built, the layers its builds created and the
images it pulled to a reaper, a detached process, so that neither the report nor a batch's next
student waits for the engine to delete a gigabyte of layers.

The run's record (grader.engine.cleanup.RunRecord, `reaping: true`, `pid` the reaper's) names what is
left: `grader cleanup` finishes a reaper that died, and so does every next reaper; a batch waits
for them at its end (`drain`), so nothing is left when it reports.

    python -P -m grader.engine.reaper PROJECT
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence

import docker

from grader.engine.cleanup import (
    BUILD_WAIT_S,
    RunRecord,
    no_build,
    records,
    remove_images,
    remove_pulled,
    sweep_handed_over,
)

POLL_S = 0.2


def start(record: RunRecord) -> None:
    """Save `record` as reaping and start its reaper; OSError when it cannot start (then the
    caller removes the images itself)."""
    record.reaping = True
    record.save()  # with the run's own pid first: should the spawn fail, `grader cleanup` sees a dead run
    child = subprocess.Popen(
        [sys.executable, "-P", "-m", "grader.engine.reaper", record.project],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        start_new_session=True,  # a Ctrl-C meant for the grader (or the batch) does not stop it
        env={k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
    )
    record.pid = child.pid
    record.save()


def runs_under_way(own: str = "") -> bool:
    """Whether a live run of this machine grades now (not a reaper): it may need, any moment, an
    image this run pulled (it saw the tag before its `up`)."""
    return any(not r.reaping and r.project != own and r.alive() for r in records().values())


def reap(client: docker.DockerClient, record: RunRecord) -> list[str]:
    """Remove what `record` names; forget it when everything is gone. What could not be removed.
    Never an image or a layer while a run of this machine builds (grader.engine.cleanup.no_build);
    pulled images only when no other run grades: until then they stay in the record, for the
    next reaper, the batch's drain or `grader cleanup`."""
    problems = remove_images(client, set(record.built_images), list(record.layers), wait=BUILD_WAIT_S)
    if record.pulled and runs_under_way(record.project):
        if not problems:
            record.built_images, record.layers = [], []
            record.save()
        return problems
    problems += remove_pulled(client, record.pulled)
    if not problems:
        record.delete()
    return problems


def orphans() -> list[RunRecord]:
    """Reaping records whose reaper is gone (killed, the machine rebooted)."""
    return [r for r in records().values() if r.reaping and not r.alive()]


def drain(client: docker.DockerClient, timeout: float = 300.0) -> list[str]:
    """Wait for every reaper of this machine's runs, then finish what any of them left: the end of
    a batch. What could not be removed (`grader cleanup` says it again)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(r.reaping and r.alive() for r in records().values()):
        time.sleep(POLL_S)
    problems = [problem for record in orphans() for problem in reap(client, record)]
    with no_build(timeout) as free:  # what runs handed over while another image built on it
        if free:
            sweep_handed_over(client)
    return problems


def main(argv: Sequence[str]) -> int:
    from grader.engine.connect import docker_client

    client = docker_client()
    own = records().get(argv[0]) if argv else None
    if own is not None and own.reaping:
        reap(client, own)
    for record in orphans():  # a reaper that died before: the next one finishes its work
        reap(client, record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
