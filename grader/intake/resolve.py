"""From the copy's files to the compose model the checks read: screen what compose would read,
fill the instructor's grading values in, resolve with compose itself. A file that cannot be
resolved is a value (`Rejection`), not an exception: compose.file reports it, the static checks
read what they can, nothing builds or starts."""

from __future__ import annotations

import re
import subprocess
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from grader.engine.compose import ModelTooLarge, resolve_config
from grader.engine.connect import GRADER_VARIABLES, compose_env
from grader.errors import CommandTimeout
from grader.intake import jail
from grader.intake.environment import parse_env, stand_in_examples
from grader.intake.environment import provide as provide_env
from grader.intake.images import pin_services
from grader.intake.project import ComposeProject, find_compose_files, find_override_file
from grader.intake.untrusted import (
    InterpolationError,
    UnsafeInput,
    config_time_files,
    env_file_references,
    inherited_names,
    inside,
    interpolate,
    load_compose,
    merge_sequence_line,
    named_files,
    outside_references,
    relative,
    string_values,
    variables,
)
from grader.messages import msg
from grader.model import Substitution


class Rejection(NamedTuple):
    """Why there is no model to run: compose's own words, or with `refused` the grader's sentence
    (a YAML bomb, a path outside the repository, the grader's own variables)."""

    message: str
    missing_env_file: str | None = None  # the only reason compose rejected the file, if that is so
    refused: bool = False
    crashed: bool = False  # the grader failed while resolving (its fault, not the student's)


@dataclass(frozen=True)
class Resolution:
    files: tuple[Path, ...]  # the compose files found at the root, in compose's order; the first is graded
    project: ComposeProject | None = None  # the resolved model, what `up` runs; None with a rejection
    rejection: Rejection | None = None
    # What the static checks read: `project`, or when compose rejected the file only because an
    # env file is missing, the model resolved without env files (as if they were empty). Never run.
    analysis: ComposeProject | None = None
    env_notes: tuple[str, ...] = ()  # which files the instructor's grading values filled in
    substitutions: tuple[Substitution, ...] = ()  # the rubric's image pins in the model

    @property
    def missing_env_file(self) -> str | None:
        """The env file whose absence is the only reason compose rejected the file, if that is so."""
        if self.rejection is not None and self.analysis is not None:
            return self.rejection.missing_env_file
        return None


def compose_files(root: Path) -> tuple[Path, ...]:
    return tuple(find_compose_files(root))


def screen(root: Path, files: tuple[Path, ...]) -> Rejection | None:
    """Before compose reads anything: no YAML bombs or tags compose does not know, no file outside
    the repository (in the compose files and in the files they include or extend, which compose
    would read too), no variable of the grader's own environment. None when all is clear."""
    if not files:
        return Rejection("no compose file")
    try:
        _screen(root, _graded(root, files))
    except Refused as exc:
        return Rejection(str(exc), refused=True)
    return None


def stand_ins(root: Path, files: tuple[Path, ...]) -> tuple[tuple[str, str], ...]:
    """The examples a student committed, in place of the env files their compose file names and
    git does not hold (grader.intake.environment.stand_in_examples); before the screen, which reads them."""
    used: list[tuple[str, str]] = []
    for file in _graded(root, files) if files else []:
        try:
            used += stand_in_examples(root, file.read_text(errors="replace"))
        except Exception:  # a help for the student, never a fault: compose.file judges the file as it is
            continue
    return tuple(used)


def provide(root: Path, files: tuple[Path, ...], values: dict[str, str]) -> tuple[str, ...]:
    """The instructor's grading values written into the env files the compose files name."""
    return tuple(
        note for f in _graded(root, files) for note in provide_env(root, f.read_text(errors="replace"), values)
    )


def resolve(
    root: Path,
    files: tuple[Path, ...],
    project: str,
    pins: dict[str, str],
    app_service: str | None = None,
    env_notes: tuple[str, ...] = (),
) -> Resolution:
    """Compose resolves the model twice: first without reading any env file, so the gate sees
    where they are; then, when every env file it names is inside the repository, with them (the
    values the checks and `up` use). An env file outside is never read. The rubric's `pins`
    decide what `image: postgres` means, for the checks and for `up` alike."""
    graded = _graded(root, files)
    file, text = graded[0], graded[0].read_text(errors="replace")
    interpolated = _interpolated_images(graded)
    lenient: dict[str, Any] | None = None
    try:
        config, warnings = resolve_config(root, graded, project, env_files=False)
        lenient = config
        env_files = env_file_paths(config)
        if all(inside(path, root) for path in env_files):
            _screen_env_files(root, env_files)
            config, warnings = resolve_config(root, graded, project)
    except Refused as exc:
        return Resolution(files, rejection=Rejection(str(exc), refused=True), env_notes=env_notes)
    except subprocess.CalledProcessError as exc:
        message = relative(root, (exc.stderr or b"").decode(errors="replace").strip())
        missing = _missing_env_file(message)
        if not (missing and lenient is not None):
            return Resolution(files, rejection=Rejection(message, missing), env_notes=env_notes)
        pinned = pin_services(lenient, pins, file.name, interpolated)
        analysis = ComposeProject(file, root, lenient, text, chosen_app=app_service)
        return Resolution(files, None, Rejection(message, missing), analysis, env_notes, tuple(pinned))
    except CommandTimeout as exc:
        return Resolution(files, rejection=Rejection(str(exc)), env_notes=env_notes)
    except ModelTooLarge as exc:
        refused = Rejection(msg("compose.model_too_large", file=file.name, mb=exc.args[0] >> 20), refused=True)
        return Resolution(files, rejection=refused, env_notes=env_notes)
    pinned = pin_services(config, pins, file.name, interpolated)
    resolved = ComposeProject(file, root, config, text, relative(root, warnings), app_service)
    return Resolution(files, resolved, None, resolved, env_notes, tuple(pinned))


MAX_ENV_BYTES = 256 << 10  # an env file is a few hundred bytes; the grader reads them whole


class Refused(Exception):
    """The screen's sentence for the student."""


def _graded(root: Path, files: tuple[Path, ...]) -> list[Path]:
    """The main file, then the override compose merges by itself when no -f is given."""
    return [files[0], *filter(None, [find_override_file(root)])]


def _screen(root: Path, files: list[Path]) -> None:
    grader_names = set(GRADER_VARIABLES)
    dotenv_text = _read(root / ".env")
    # compose: the process environment wins over the project's .env
    env = parse_env(dotenv_text) | compose_env()
    borrowed = env_file_references(dotenv_text) & grader_names
    queue, seen = list(files), set()
    while queue:
        path = queue.pop(0)
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        name = relative(root, str(path))
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise Refused(msg("file.unreadable", path=name, error=exc.strerror or exc)) from exc
        try:
            text = raw.decode("utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise Refused(msg("compose.not_utf8", file=name, line=line)) from exc
        try:
            data = load_compose(text, name)
        except UnsafeInput as exc:
            raise Refused(str(exc)) from exc
        except yaml.YAMLError as exc:
            # Never handed to compose: it parses YAML differently (goccy/go-yaml) and could read a
            # file named in a part this screen could not see.
            raise Refused(msg("compose.unreadable", file=name, error=exc)) from exc
        merge = merge_sequence_line(text) if jail.available() is not None else None
        if merge is not None:
            raise Refused(msg("compose.merge_sequence", file=name, line=merge))
        outside = outside_references(data, path.parent, root, env)
        if outside:
            raise Refused(msg("compose.outside", file=name, refs="; ".join(f"`{r}`" for r in outside)))
        for what, named in named_files(data):  # read whole later (grading values, the screen, compose)
            if "env_file" in what or what.endswith("label_file"):
                with suppress(InterpolationError):
                    _refuse_large(root, path.parent / interpolate(named, env))
        borrowed |= (
            {v for value in string_values(data) for v in variables(value)} | inherited_names(data)
        ) & grader_names
        read = [(what, path.parent / p) for what, p in config_time_files(data)]
        nested = [file for what, file in read if _nested(what)]
        # env files compose reads at config time and expands like .env: an include's own, and
        # the `.env` beside an included file
        env_files = [file for what, file in read if what == "include env_file"]
        for file in [*env_files, *(n.parent / ".env" for n in nested)]:
            borrowed |= env_file_references(_read(file)) & grader_names
        queue += nested
    _refuse_grader_variables(files[0].name, borrowed)


def _screen_env_files(root: Path, paths: list[str]) -> None:
    """The service env files (inside the repository) take nothing from the grader's own
    environment either: compose expands `${NAME}` in them and fills bare `NAME` lines."""
    for path in paths:
        _refuse_grader_variables(relative(root, path), env_file_references(_read(Path(path))) & GRADER_VARIABLES)


def _interpolated_images(files: list[Path]) -> set[str]:
    """Services whose `image:` the student builds from variables: never pinned, since the value
    compose resolved may carry any variable, the grader's secrets included."""
    names: set[str] = set()
    for file in files:
        try:
            data = load_compose(file.read_text(encoding="utf-8", errors="replace"), file.name)
        except (OSError, yaml.YAMLError, UnsafeInput):
            continue
        services = data.get("services") if isinstance(data, dict) else None
        for name, service in services.items() if isinstance(services, dict) else ():
            if isinstance(service, dict) and "$" in str(service.get("image") or ""):
                names.add(str(name))
    return names


def _nested(what: str) -> bool:
    """Fields that name another compose file, which compose parses too."""
    return what == "include" or what.endswith(" extends")


def _refuse_grader_variables(file: str, names: set[str]) -> None:
    if names:
        listed = ", ".join(f"`${{{n}}}`" for n in sorted(names))
        raise Refused(msg("compose.grader_variables", file=file, names=listed))


def _read(path: Path) -> str:
    """An env file's text; Refused past MAX_ENV_BYTES (a 30 MB `.env` took the screen to 789 MB)."""
    with suppress(OSError):
        with path.open("rb") as handle:
            data = handle.read(MAX_ENV_BYTES + 1)
        if len(data) > MAX_ENV_BYTES:
            raise Refused(msg("env.too_large", file=path.name, kb=MAX_ENV_BYTES >> 10))
        return data.decode("utf-8", errors="replace")
    return ""


def _refuse_large(root: Path, path: Path) -> None:
    with suppress(OSError, ValueError):
        if inside(path, root) and path.is_file() and path.stat().st_size > MAX_ENV_BYTES:
            raise Refused(msg("env.too_large", file=relative(root, str(path)), kb=MAX_ENV_BYTES >> 10))


def env_file_paths(config: dict[str, Any]) -> list[str]:
    """Every env file path of a model resolved with `--no-env-resolution` (absolute)."""
    return [
        str(entry.get("path") if isinstance(entry, dict) else entry)
        for svc in (config.get("services") or {}).values()
        for entry in svc.get("env_file") or []
    ]


_ENV_FILE_NOT_FOUND = re.compile(r"^env file ([^\n]+?) not found: stat \1: no such file or directory$", re.MULTILINE)


def _missing_env_file(message: str) -> str | None:
    """compose's own line, `env file /abs/path/.env not found: stat /abs/path/.env: no such file
    or directory` (made relative to the copy), and nothing else: a key named `env file .env not
    found` is quoted in compose's message about unknown keys, and must not pass for a missing file."""
    match = _ENV_FILE_NOT_FOUND.search(message)
    return match.group(1) if match else None
