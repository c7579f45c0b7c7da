"""Grading values: the variables a repository expects from files it keeps out of git (its `.env`,
as it should), which only the instructor can supply (the rubric's `environment:`). A run that
fails while one of them is missing is the instructor's to fix, not the student's deduction
(runner: `incomplete`, the variable and the rubric key named); `grader rubric check --against`
lists them for a whole class before anyone is graded.

Where a repository expects a variable from (each only when the file it would come from is not
committed; a committed file is the student's, and so is what it lacks):
- compose's interpolation, `${NAME}` with no default, which compose reads from `.env`;
- an `env_file:` git does not hold: the keys of the example committed beside it, the password
  the postgres image refuses to start without, and the names the API's own source reads with no
  fallback (`process.env.NAME`, `configService.get('NAME')`)."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from grader.intake.environment import env_files_named, example_beside, in_repository, parse_env
from grader.intake.project import is_postgres_image
from grader.intake.untrusted import load_compose, string_values

DOTENV = ".env"  # compose's interpolation file, beside the compose file
# docker-library/postgres: "Database is uninitialized and superuser password is not specified"
POSTGRES_NEEDS = "POSTGRES_PASSWORD"
POSTGRES_INSTEAD = ("POSTGRES_PASSWORD_FILE", "POSTGRES_HOST_AUTH_METHOD")
SOURCE_SUFFIXES = (".ts", ".js", ".mjs", ".cjs")
SKIPPED_FOLDERS = frozenset({"node_modules", "dist", "build", "coverage", ".git", "test", "tests"})
MAX_SOURCE_FILES = 2000  # a NestJS homework has a few dozen
MAX_SOURCE_BYTES = 512 << 10  # per file; a bundle is not source

# `${NAME}` and `$NAME` need a value; `${NAME:-x}`, `${NAME-x}`, `${NAME:+x}`, `${NAME+x}` do not,
# `${NAME:?x}` / `${NAME?x}` do (compose stops without it).
_INTERPOLATION = re.compile(r"\$\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-+?])[^}]{0,256})?\}|\$([_a-zA-Z][_a-zA-Z0-9]*)")
# process.env.NAME / process.env['NAME'] and what follows on its line: a fallback (`||`, `??`), a
# comparison, a test (`&&`, `?`) or an assignment make it no requirement.
_PROCESS_ENV = re.compile(r"process\.env(?:\.([A-Z_][A-Z0-9_]*)|\[\s*['\"]([A-Z_][A-Z0-9_]*)['\"]\s*\])([^\n;]{0,80})")
# configService.get('NAME') / .get<string>('NAME') / .getOrThrow('NAME'); a second argument is a default
_CONFIG_GET = re.compile(
    r"\b[cC]onfig(?:Service)?\s*\.\s*get(OrThrow)?\s*(?:<[^>()\n]{0,80}>)?\s*\(\s*['\"]([A-Z_][A-Z0-9_]*)['\"]\s*(,)?([^\n;]{0,80})"
)
_OPTIONAL = re.compile(r"^\s*(?:=(?!=))|\|\||\?\?|&&|[=!]==?|\?(?![.?])")
_LINE_COMMENT = re.compile(r"(?<![:\\'\"])//[^\n]*")
# Set by the engine or node's image, never by a rubric.
_RUNTIME = frozenset({"HOSTNAME", "HOME", "PATH", "PWD", "NODE_VERSION", "YARN_VERSION", "TERM"})
MAX_SCANNED_BYTES = 8 << 20  # the whole source read per repository
MAX_COMPOSE_SCAN = 1 << 20  # grader.intake.untrusted.MAX_YAML_BYTES: past it the screen refuses the file


class Expected(NamedTuple):
    """A variable a service expects from a file the repository does not commit."""

    service: str
    variable: str
    source: str  # the file it would come from, as the compose file names it
    interpolated: bool = False  # compose's interpolation (from `.env`), not a service's env file


class Gap(NamedTuple):
    """An expected variable no file of the run supplies (empty counts as missing)."""

    service: str
    variable: str
    source: str
    interpolated: bool = False


def required_interpolations(text: str) -> set[str]:
    """Names `text` interpolates with no default (`$$` is no reference)."""
    names: set[str] = set()
    for match in _INTERPOLATION.finditer(text[:MAX_COMPOSE_SCAN].replace("$$", "")):
        braced, operator, bare = match.groups()
        if bare or operator is None or "?" in operator:
            names.add(braced or bare)
    return names


def required_in_source(text: str) -> set[str]:
    """Names a JavaScript/TypeScript file reads from the environment with no fallback (comments
    left out; what the engine or node's image sets never counts)."""
    text = _without_comments(text)
    names = {m.group(1) or m.group(2) for m in _PROCESS_ENV.finditer(text) if not _OPTIONAL.search(_own(m.group(3)))}
    names |= {
        m.group(2)
        for m in _CONFIG_GET.finditer(text)
        if m.group(1) or not (m.group(3) or _OPTIONAL.search(_after_call(_own(m.group(4)))))
    }
    return names - _RUNTIME


def _own(rest: str) -> str:
    """What follows a read on its line, up to the next read: `{a: process.env.A, b: process.env.B
    || 5}` makes B optional, not A."""
    return re.split(r"process\.env|[cC]onfig(?:Service)?\s*\.", rest, maxsplit=1)[0]


def _after_call(rest: str) -> str:
    """What follows `get('NAME'` once its parenthesis closes: `) ?? 5432`."""
    return rest.split(")", 1)[1] if ")" in rest else ""


def _without_comments(text: str) -> str:
    """`/* ... */` and `// ...` left out, in one pass (a file of `/*` with no end costs no more
    than its length); `http://` is no comment."""
    kept: list[str] = []
    at = 0
    while (start := text.find("/*", at)) >= 0:
        kept.append(text[at:start])
        end = text.find("*/", start + 2)
        if end < 0:
            at = len(text)
            break
        at = end + 2
    kept.append(text[at:])
    return _LINE_COMMENT.sub("", "".join(kept))


_TESTS = (".spec.ts", ".test.ts", ".d.ts", ".spec.js", ".test.js")


def _source_files(folder: Path) -> Iterator[Path]:
    count = 0
    for directory, subfolders, files in os.walk(folder):  # os.walk follows no link by default
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_FOLDERS and not d.startswith("."))
        for name in sorted(files):
            path = Path(directory, name)
            if not name.endswith(SOURCE_SUFFIXES) or name.endswith(_TESTS) or not regular(path):
                continue
            count += 1
            if count > MAX_SOURCE_FILES:
                return
            yield path


def regular(path: Path) -> bool:
    """A regular file, not a link (that is the linked file's business) nor a FIFO (opening one hangs)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def source_names(folder: Path) -> set[str]:
    """What the API's source (the build context) reads from the environment with no fallback."""
    names: set[str] = set()
    budget = MAX_SCANNED_BYTES
    for path in _source_files(folder):
        try:
            with path.open("rb") as handle:
                data = handle.read(min(MAX_SOURCE_BYTES, budget))
        except OSError:
            continue
        budget -= len(data)
        names |= required_in_source(data.decode("utf-8", errors="replace"))
        if budget <= 0:
            break
    return names


def image_env(context: Path, dockerfile: str = "Dockerfile") -> set[str]:
    """The names the Dockerfile's `ENV` sets: the container has them whatever the env files say."""
    pure = PurePosixPath(dockerfile)
    path = context / pure
    if pure.is_absolute() or ".." in pure.parts or not regular(path):
        return set()  # outside the build context: not the student's to read
    try:
        text = path.read_text(errors="replace")[: 256 << 10]
    except OSError:
        return set()
    names: set[str] = set()
    for line in re.findall(r"(?im)^\s*ENV\s+(.+)$", text):
        pairs = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", line)
        names |= set(pairs) if pairs else set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s", line + " ")[:1])
    return names


def kept_out_of_git(root: Path, name: str) -> bool:
    """A file the repository keeps out of git on purpose: an env file by its name (`.env`,
    `.env.development`, `app.env`), or one its `.gitignore` lists."""
    base = PurePosixPath(name).name
    if base.startswith(DOTENV) or base.endswith(DOTENV):
        return True
    try:
        ignored = (root / ".gitignore").read_text(errors="replace")[: 64 << 10].splitlines()
    except OSError:
        return False
    patterns = [line.strip().lstrip("/") for line in ignored if line.strip() and not line.startswith(("#", "!"))]
    return any(fnmatch.fnmatch(base, p) or fnmatch.fnmatch(name.lstrip("./"), p) for p in patterns)


def parse_env_file(path: Path) -> dict[str, str]:
    """An env file's keys and values; {} when there is none (or it is not a regular file)."""
    try:
        if path.is_symlink() or not path.is_file():
            return {}
        with path.open("rb") as handle:
            return parse_env(handle.read(256 << 10).decode("utf-8", errors="replace"))
    except OSError:
        return {}


def absent(root: Path, compose_text: str) -> frozenset[str]:
    """The env files the compose file reads (every `env_file`, and `.env` when it interpolates or
    names variables with no value, which compose fills from it) that the repository does not
    hold; read before the grader writes any of them."""
    names = env_files_named(compose_text[:MAX_COMPOSE_SCAN])
    named = services(compose_text)
    if required_interpolations(compose_text) or any(_inherited(s) for s in named.values()):
        names.append(DOTENV)
    missing: set[str] = set()
    for name in filter(in_repository, names):
        pure = PurePosixPath(name)
        if not os.path.lexists(root / pure):
            missing.add(pure.as_posix())
    return frozenset(missing)


def services(compose_text: str) -> dict[str, dict[str, Any]]:
    """The compose file's services as written (mappings only); none for a file compose.file reports."""
    if len(compose_text) > MAX_COMPOSE_SCAN:
        return {}  # the screen refuses it
    try:
        data = load_compose(compose_text, "compose file")
    except Exception:  # not ours to judge: compose.file reports an unreadable file
        return {}
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return {}
    return {str(k): v for k, v in services.items() if isinstance(v, dict)}


def written_environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's `environment:` as written: a name with no value is None (compose fills it from
    `.env`); one with a value, even empty, is the student's choice."""
    env = service.get("environment")
    if isinstance(env, dict):
        return {str(k): None if v is None else str(v) for k, v in env.items()}
    if isinstance(env, list):
        pairs = (str(e).partition("=") for e in env if isinstance(e, (str, int, float)))
        return {k: (v if sep else None) for k, sep, v in pairs}
    return {}


def _inherited(service: dict[str, Any]) -> set[str]:
    return {k for k, v in written_environment(service).items() if v is None}


def _env_files_of(service: dict[str, Any]) -> list[str]:
    entries = service.get("env_file")
    listed = [entries] if isinstance(entries, (str, dict)) else entries if isinstance(entries, list) else []
    paths = (e.get("path") if isinstance(e, dict) else e for e in listed)
    return [p for p in paths if isinstance(p, str)]


def example_values(root: Path, name: str) -> dict[str, str]:
    """The example that stands in for env file `name` (grader.intake.environment), as its values."""
    pure = PurePosixPath(name)
    folder = root / pure.parent
    example = example_beside(folder, pure.name, regular)
    try:
        return parse_env((folder / example).read_text(errors="replace")[: 256 << 10]) if example else {}
    except OSError:
        return {}


def _is_postgres(service: dict[str, Any]) -> bool:
    """`image: postgres`, `postgres:16-alpine`, `postgis/postgis`, `docker.io/library/postgres@sha256:...`."""
    return is_postgres_image(str(service.get("image") or ""))


def expected(
    root: Path, compose_text: str, missing: Iterable[str], app_context: Mapping[str, Path] | None = None
) -> list[Expected]:
    """What each service expects from the files in `missing` (grader.intake.values.absent): once each,
    in the compose file's order. `app_context`: the build context of each service built from the
    repository, whose source is read (default: the folder of the compose file). What the compose
    file's `environment:` sets, even empty, or the Dockerfile's `ENV`, is the student's: never
    expected from the instructor."""
    missing = {PurePosixPath(m).as_posix() for m in missing}
    found: dict[tuple[str, str], Expected] = {}
    for name, service in services(compose_text).items():
        written = {k for k, v in written_environment(service).items() if v is not None}
        if DOTENV in missing:
            needed = set().union(*map(required_interpolations, string_values(service))) | _inherited(service)
            for variable in sorted(needed):
                found.setdefault((name, variable), Expected(name, variable, DOTENV, True))
        for file in (f for f in _env_files_of(service) if PurePosixPath(f).as_posix() in missing):
            if _is_postgres(service):  # the one value the image cannot start without
                wanted = {POSTGRES_NEEDS}
            else:
                wanted = set(example_values(root, file))
                if service.get("build") is not None:
                    context = (app_context or {}).get(name, root)
                    wanted |= source_names(context) if context.is_dir() else set()
                    wanted -= image_env(context, _dockerfile_of(service))
            for variable in sorted(wanted - written):
                found.setdefault((name, variable), Expected(name, variable, file))
    return list(found.values())


def _dockerfile_of(service: dict[str, Any]) -> str:
    build = service.get("build")
    dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
    if isinstance(dockerfile, str) and ".." not in dockerfile and not PurePosixPath(dockerfile).is_absolute():
        return dockerfile
    return "Dockerfile"


def gaps(
    expectations: Iterable[Expected], dotenv: Mapping[str, str], environments: Mapping[str, Mapping[str, str]]
) -> tuple[Gap, ...]:
    """The expectations nothing supplies: `dotenv` is what compose interpolates with (the copy's
    `.env` after the grader filled it), `environments` each service's environment as compose
    resolved it (env files included). A postgres service with a password file or another auth
    method needs no password."""
    missing: list[Gap] = []
    for e in expectations:
        if e.interpolated:
            supplied = bool(dotenv.get(e.variable))
        else:
            env = environments.get(e.service, {})
            supplied = bool(env.get(e.variable)) or (
                e.variable == POSTGRES_NEEDS and any(env.get(k) for k in POSTGRES_INSTEAD)
            )
        if not supplied:
            missing.append(Gap(*e))
    return tuple(missing)


def listed(found: Iterable[Gap | Expected]) -> str:
    """`NAME` (service `db`, from `.env`), ... for a sentence."""
    by_variable: dict[str, list[Gap | Expected]] = {}
    for item in found:
        by_variable.setdefault(item.variable, []).append(item)
    parts = []
    for variable, items in by_variable.items():
        services = ", ".join(dict.fromkeys(f"`{i.service}`" for i in items))
        sources = ", ".join(dict.fromkeys(f"`{i.source}`" for i in items))
        parts.append(f"`{variable}` ({services}, {sources})")
    return "; ".join(parts)
