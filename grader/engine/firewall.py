"""A student's containers reach each other, and nothing of the grading machine.

The grader's override makes every network of a run `internal` (Docker drops what a container
sends to any address outside the network's subnet: other runs, the LAN, cloud metadata, the
internet) and names its bridge (`grd` + a hash of the project and the network). `internal` alone
leaves the machine itself: the bridge keeps the gateway address on the host, and a container
reached the machine's own listeners through it (measured on engine 20.10 and 28: any service on
0.0.0.0, a tcp engine). So the grader adds one rule per bridge to the host's INPUT chain, which
Docker does not manage:

    iptables -I INPUT -i grdXXXXXXXXXXXX -m conntrack ! --ctstate ESTABLISHED,RELATED \
        -m comment --comment compose-grader:<project> -j DROP

A connection a container starts towards the machine is dropped; the grader's own connections to
the containers (started from the host) get their answers. The rule names the bridge, so it holds
across the persistence check's `down` and `up`; teardown and `grader cleanup` delete the rules by
their comment, never by position. This needs root on the engine's machine and `iptables`; where
that is not so, `unavailable()` says why and the report says the machine stayed reachable.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shlex
import shutil
import subprocess
import sys

BRIDGE_OPTION = "com.docker.network.bridge.name"
COMMENT = "compose-grader:"
_TOOLS = ("iptables", "ip6tables")  # containers have IPv6 off, but a bridge has a link-local address


def bridge_name(project: str, network: str) -> str:
    """A bridge name of the run's own (15 characters at most, as Linux allows)."""
    return "grd" + hashlib.sha256(f"{project}/{network}".encode()).hexdigest()[:12]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool, "-w", "5", *args], capture_output=True, text=True, timeout=30, check=False)


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """None when the grader can guard bridges on this machine, else why not."""
    if not sys.platform.startswith("linux"):
        return "not Linux: the engine's bridges are in its virtual machine"
    if os.geteuid() != 0:
        return "the grader is not root, so it cannot add firewall rules"
    tool = shutil.which("iptables")
    if tool is None:
        return "iptables is not installed"
    probe = _run(tool, "-S", "INPUT")
    if probe.returncode != 0:
        return f"iptables cannot read the INPUT chain ({probe.stderr.strip()[:160]})"
    return None


def _rule(bridge: str, project: str) -> list[str]:
    return [
        "INPUT",
        "-i", bridge,
        "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED",
        "-m", "comment", "--comment", f"{COMMENT}{project}",
        "-j", "DROP",
    ]  # fmt: skip


def _metadata_rule(bridge: str, project: str) -> list[str]:
    """A build network is not internal (steps fetch packages), but link-local addresses (cloud
    metadata, which hands out the machine's credentials) are never a package registry."""
    return [
        "DOCKER-USER",
        "-i", bridge,
        "-d", "169.254.0.0/16",
        "-m", "comment", "--comment", f"{COMMENT}{project}",
        "-j", "DROP",
    ]  # fmt: skip


def guard(project: str, bridges: list[str], outward: list[str] | None = None) -> list[str]:
    """Drop what each bridge's containers start towards the machine, and what the `outward`
    bridges (builds) send to link-local addresses; the problems, if any."""
    problems = []
    for tool in filter(None, map(shutil.which, _TOOLS)):
        ipv4 = tool.endswith("/iptables")
        rules = [_rule(b, project) for b in [*bridges, *(outward or [])]]
        rules += [_metadata_rule(b, project) for b in outward or []] if ipv4 else []
        for rule in rules:
            done = _run(tool, "-I", *rule)
            if done.returncode != 0 and ipv4:
                problems.append(f"{rule[2]}: {done.stderr.strip()[:160]}")
    return problems


def rules(project: str | None = None) -> list[tuple[str, str, str]]:
    """(tool, chain, rule as `-S` prints it) of every rule the grader added (of one project, or
    of all)."""
    found: list[tuple[str, str, str]] = []
    if unavailable() is not None:
        return found
    for tool in filter(None, map(shutil.which, _TOOLS)):
        for chain in ("INPUT", "DOCKER-USER"):
            listing = _run(tool, "-S", chain)
            for line in listing.stdout.splitlines():
                words = line.split()
                if COMMENT not in line or "-i" not in words:
                    continue
                if project is None or owner(line) == project:
                    found.append((tool, chain, line))
    return found


def owner(rule: str) -> str:
    """The project a rule of the grader's belongs to (its comment)."""
    return rule.split(COMMENT, 1)[1].split()[0].strip('"')


def release(project: str) -> list[str]:
    """Delete the project's rules (by their comment); the problems, if any. Never raises."""
    problems = []
    for tool, _, line in rules(project):
        # `-S` prints a rule as `-A CHAIN ...`: the same words after -D delete exactly it
        done = _run(tool, "-D", *shlex.split(line)[1:])
        if done.returncode != 0:
            problems.append(f"removing the firewall rule `{line}`: {done.stderr.strip()[:160]}")
    return problems
