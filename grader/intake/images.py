"""The rubric's image pins: `images: {postgres: "postgres:16", node: "node:18"}`.

An untagged or `latest` reference means whatever the registry serves today: `image: postgres` was
16 when a repository was written and is 18 now, with another data directory. A term is graded
reproducibly when the instructor pins what such references mean. Pins apply only to references
without a tag (or with `latest`) and without a digest, only in the grader's working copy, and
every substitution is recorded for the report."""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from contextlib import suppress
from pathlib import Path

from grader.intake.dockerfile import parse, without_bom
from grader.intake.project import ComposeProject
from grader.intake.untrusted import inside, relative
from grader.messages import msg
from grader.model import Substitution

# `FROM [--platform=...] image [AS name]`, one instruction per line (what students write).
_FROM = re.compile(
    r"^(?P<head>\s*FROM\s+(?:--\S+\s+)*)(?P<image>[^\s$]+)(?P<tail>(?:\s+AS\s+(?P<stage>\S+))?\s*)$", re.I
)


def repository(reference: str) -> str:
    """The repository a reference names, without its registry, the way the engine reads short
    names: `postgres`, `library/postgres` and `<registry>/library/postgres:latest` are all
    `library/postgres`. A first component with a dot or a port, or `localhost`, is a registry."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest
    name = name.lower()
    return name if "/" in name else f"library/{name}"


def floating(reference: str) -> bool:
    """Untagged or `latest`, and no digest: what the registry serves changes over time."""
    if "@" in reference:
        return False
    last = reference.rsplit("/", 1)[-1]
    return ":" not in last or last.split(":", 1)[1] == "latest"


def pinned(reference: str, pins: Mapping[str, str]) -> str | None:
    """The rubric's pin for `reference`, or None (tagged, a digest, an unexpanded variable, no pin)."""
    if not reference or "$" in reference or not floating(reference):
        return None
    wanted = repository(reference)
    return next((used for name, used in pins.items() if repository(name) == wanted), None)


def pin_services(
    config: dict[str, object], pins: Mapping[str, str], file: str, interpolated: Set[str] = frozenset()
) -> list[Substitution]:
    """Pin the `image:` of every service compose pulls (not of those it builds: there `image:` is
    the name of the result) in the resolved model, in place; not of `interpolated` services (an
    `image:` written with variables is the student's choice)."""
    done: list[Substitution] = []
    services = config.get("services")
    for name, service in (services or {}).items() if isinstance(services, dict) else ():
        if not isinstance(service, dict) or service.get("build") or name in interpolated:
            continue
        written = str(service.get("image") or "")
        used = pinned(written, pins)
        if used is not None:
            service["image"] = used
            done.append(Substitution(f"{file} services.{name}.image", written, used))
    return done


def pin_dockerfile(path: Path, pins: Mapping[str, str], shown: str) -> list[Substitution]:
    """Rewrite the floating `FROM` images of a Dockerfile of the working copy; stage names
    (`FROM build`) and `scratch` are left alone."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    stages: set[str] = set()
    lines, done = [], []
    for number, line in enumerate(without_bom(text).split("\n"), start=1):
        match = _FROM.match(line)
        if match:
            image = match.group("image")
            used = None if image.lower() in stages | {"scratch"} else pinned(image, pins)
            if used is not None:
                line = f"{match.group('head')}{used}{match.group('tail')}"
                done.append(Substitution(msg("where.line", file=shown, line=number), image, used))
            if match.group("stage"):
                stages.add(match.group("stage").lower())
        lines.append(line)
    if done:
        try:
            path.write_text("\n".join(lines), encoding="utf-8")
        except OSError:  # read-only in the copy: build what the student wrote
            return []
    return done


def pin_dockerfiles(project: ComposeProject, pins: Mapping[str, str], root: Path) -> list[Substitution]:
    """The rubric's pins in every Dockerfile compose builds (in the copy, inside the repository),
    each rewritten once; what the student wrote was read before (grader.intake.dockerfile.locate)."""
    done: list[Substitution] = []
    seen: set[Path] = set()
    for service in project.build_services() if pins else []:
        _, dockerfile = project.build_paths(service)
        if dockerfile in seen or not inside(dockerfile, root) or not _plain_dockerfile(dockerfile):
            continue
        seen.add(dockerfile)
        done += pin_dockerfile(dockerfile, pins, relative(root, str(dockerfile)))
    return done


def _plain_dockerfile(path: Path) -> bool:
    """A regular file (not a link) the Dockerfile parser reads: `build.dockerfile: compose.yaml`
    is not rewritten."""
    try:
        if path.is_symlink() or not path.is_file():
            return False
        parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return False
    return True


# `RUN --mount=type=cache,...`: BuildKit keeps such a cache in its store, shared by every build on
# the engine with the same id: one student's build would read (or poison) another's. Dropped from
# the copy's Dockerfiles; the step then runs without it, as the classic builder needs anyway.
_CACHE_MOUNT = re.compile(r"--mount=(?=\S*\btype=cache\b)\S+[ \t]*")
_RUN = re.compile(r"^\s*RUN\b", re.IGNORECASE)


def drop_cache_mounts(project: ComposeProject, root: Path) -> list[str]:
    """Remove cache mounts from every Dockerfile the run builds (in the copy); what was dropped."""
    dropped: list[str] = []
    for service in project.build_services():
        _, dockerfile = project.build_paths(service)
        if not inside(dockerfile, root) or not _plain_dockerfile(dockerfile):
            continue
        text = dockerfile.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        for number, line in enumerate(lines):
            if _RUN.match(line) and _CACHE_MOUNT.search(line):
                dropped += [
                    f"{relative(root, str(dockerfile))} line {number + 1}: {m.strip()}"
                    for m in _CACHE_MOUNT.findall(line)
                ]
                lines[number] = _CACHE_MOUNT.sub("", line)
        if lines != text.split("\n"):
            with suppress(OSError):
                dockerfile.write_text("\n".join(lines), encoding="utf-8")
    return dropped
