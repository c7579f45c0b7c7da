"""What a check gets: the graded copy of the submission, options, the engine, and the stack."""

from __future__ import annotations

import dataclasses
import subprocess
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import docker
import yaml

from grader.deadline import DeadlineExceeded, deadline
from grader.dockerfile import parse as parse_dockerfile
from grader.engine import GRADER_VARIABLES, compose_env
from grader.environment import parse_env
from grader.environment import provide as provide_env
from grader.errors import CommandTimeout
from grader.images import pin_dockerfile, pin_services
from grader.messages import msg
from grader.model import Phase, Substitution
from grader.project import ComposeProject, find_compose_files, find_override_file
from grader.rubric import Rubric
from grader.stack import POSTGRES_PORT, Limits, Stack, db_port
from grader.untrusted import (
    UnsafeInput,
    config_time_files,
    env_file_references,
    inherited_names,
    inside,
    load_compose,
    outside_references,
    string_values,
    variables,
)


@dataclass(frozen=True)
class Options:
    build_timeout: float = 600.0  # `compose build`, all services
    start_timeout: float = 120.0  # `up`, the services settling, the API answering, the DB answering
    lang: str = "en"  # language of the feedback
    limits: Limits = field(default_factory=Limits)  # what each service may use
    # Past its own timeouts (each step inside a check has one), how long a check may still run
    # before the grader stops it and reports `error`: room for logs and diagnosis.
    grace: float = 60.0

    def deadline(self, phase: Phase) -> float:
        """The longest a check of `phase` may take. Its steps' own timeouts end a slow
        submission first, as `failed` with the reason; this catches what they cannot (an engine
        that stops answering), so the run always ends."""
        static = 60.0  # `compose config` and hadolint have 60 s timeouts
        return (
            self.grace
            + {
                Phase.STATIC: static,
                Phase.BUILD: self.build_timeout,
                Phase.START: 2 * self.start_timeout,  # up + settle share one timeout; then the API's
                Phase.CYCLE: 3 * self.start_timeout + 90,  # down (90), up, the database, the API
            }[phase]
        )

    @classmethod
    def of(
        cls, rubric: Rubric, build: float | None = None, start: float | None = None, lang: str | None = None
    ) -> Options:
        """Command-line values win over the rubric's, which win over the defaults."""
        return cls(
            build_timeout=build or rubric.build_timeout or cls.build_timeout,
            start_timeout=start or rubric.start_timeout or cls.start_timeout,
            lang=lang or rubric.lang or cls.lang,
            limits=dataclasses.replace(Limits(), **rubric.limits),
        )


TEARDOWN_S = 240.0  # `compose down` (120 s at most), then removals by label, one by one


class ComposeInvalid(Exception):
    """The compose file could not be resolved; `message` is compose's own words, or with
    `refused` the grader's own sentence (a YAML bomb, paths outside the repository)."""

    def __init__(
        self,
        message: str,
        missing_env_file: str | None = None,
        refused: bool = False,
        analysis: ComposeProject | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.missing_env_file = missing_env_file
        self.refused = refused
        # Missing env files only: the model without them, for the static checks (never run).
        self.analysis = analysis


class Context:
    def __init__(
        self,
        root: Path,
        submission: Path,
        options: Options,
        client: docker.DockerClient,
        project: str,
        rubric: Rubric | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.root = root  # the copy the grader works on; the submission itself is never touched
        self.submission = submission
        self.options = options
        self.client = client
        self.project_name = project
        self.rubric = rubric or Rubric()
        self.secrets = secrets  # grading values no report may show (grader.redaction)
        self.substitutions: list[Substitution] = []  # the rubric's image pins, as applied
        self.memo: dict[str, object] = {}  # results several checks share (the persistence cycle)
        self.env_notes: list[str] = []  # which files the instructor's grading values filled in
        self.dropped_links: list[str] = []  # `link -> target` left out of the copy: they leave the repo
        self._stack: Stack | None = None

    def app_service(self) -> str | None:
        """The API service: the rubric's choice when it names one, else the compose file's."""
        project = self.analysis()
        return project.app_service() if project is not None else None

    def app_port(self) -> int | None:
        """The API's container port: the rubric's, else the first one the service publishes."""
        app = self.app_service()
        if self.rubric.app_port:
            return self.rubric.app_port
        project = self.analysis()
        targets = project.published_targets(app) if app and project else []
        return targets[0] if targets else None

    def dockerfile_location(self) -> tuple[Path, Path, str]:
        """(build context, Dockerfile, how it was found): the build compose uses for the API,
        else the repository root (`Dockerfile`, or `dockerfile`, which the classic builder
        accepts too)."""
        project, app = self.analysis(), self.app_service()
        if project is not None and app is not None:
            context, dockerfile = project.build_paths(app)
            # One outside the repository is never read (the security gate refuses it).
            if inside(dockerfile, self.root):
                return context, dockerfile, msg("dockerfile.where_build", service=app, file=project.file.name)
        for name in ("Dockerfile", "dockerfile"):
            if (self.root / name).is_file():
                return self.root, self.root / name, msg("dockerfile.where_root")
        return self.root, self.root / "Dockerfile", msg("dockerfile.where_root")

    def relative(self, text: str) -> str:
        """Compose and docker print absolute paths of the copy; show them as the student's paths."""
        return text.replace(str(self.root) + "/", "").replace(str(self.root), ".")

    @cached_property
    def compose_files(self) -> list[Path]:
        return find_compose_files(self.root)

    @property
    def compose(self) -> ComposeProject:
        """The resolved compose project; ComposeInvalid when there is none or compose rejects it."""
        resolved = self._resolved
        if isinstance(resolved, ComposeInvalid):
            raise resolved
        return resolved

    def analysis(self) -> ComposeProject | None:
        """What the static checks read: the resolved project, or, when compose rejected the file
        only because an env file is missing, the model compose resolved without reading env files
        (as if they were empty). Never run: `stack` needs `compose`."""
        resolved = self._resolved
        if isinstance(resolved, ComposeInvalid):
            return resolved.analysis
        return resolved

    def missing_env_file(self) -> str | None:
        """The env file whose absence is the only reason compose rejected the file, if that is so."""
        resolved = self._resolved
        if isinstance(resolved, ComposeInvalid) and resolved.analysis is not None:
            return resolved.missing_env_file
        return None

    @cached_property
    def _resolved(self) -> ComposeProject | ComposeInvalid:
        """Resolved once per run (a rejection too: every check asks).

        Compose resolves the model twice: first without reading any env file, so the gate sees
        where they are; then, when every env file it names is inside the repository, with them
        (the values the checks and `up` use). An env file outside is never read."""
        if not self.compose_files:
            return ComposeInvalid("no compose file")
        file = self.compose_files[0]
        files = [file, *filter(None, [find_override_file(self.root)])]
        try:
            self._screen(files)
        except ComposeInvalid as exc:
            return exc
        self.env_notes = [
            n for f in files for n in provide_env(self.root, f.read_text(errors="replace"), self.rubric.environment)
        ]
        stack = self.stack_for(files)
        text = file.read_text(errors="replace")
        lenient: dict[str, Any] | None = None
        try:
            config, warnings = stack.resolve_config(env_files=False)
            lenient = config
            env_files = env_file_paths(config)
            if all(inside(path, self.root) for path in env_files):
                self._screen_env_files(env_files)
                config, warnings = stack.resolve_config()
        except ComposeInvalid as exc:
            return exc
        except subprocess.CalledProcessError as exc:
            message = self.relative((exc.stderr or b"").decode(errors="replace").strip())
            missing = _missing_env_file(message)
            analysis = None
            if missing and lenient is not None:
                self.substitutions += pin_services(lenient, self.rubric.images, file.name, _interpolated_images(files))
                analysis = ComposeProject(file, self.root, lenient, text, chosen_app=self.rubric.app_service)
            return ComposeInvalid(message, missing, analysis=analysis)
        except CommandTimeout as exc:
            return ComposeInvalid(str(exc))
        # The rubric's pins decide what `image: postgres` means, for the checks and for `up` alike.
        self.substitutions += pin_services(config, self.rubric.images, file.name, _interpolated_images(files))
        return ComposeProject(file, self.root, config, text, self.relative(warnings), self.rubric.app_service)

    def _screen(self, files: list[Path]) -> None:
        """Before compose reads anything: no YAML bombs or tags compose does not know, no file
        outside the repository (in the compose files and in the files they include or extend,
        which compose would read too), no variable of the grader's own environment."""
        grader_names = set(GRADER_VARIABLES)
        dotenv_text = _read(self.root / ".env")
        # compose: the process environment wins over the project's .env
        env = parse_env(dotenv_text) | compose_env()
        borrowed = env_file_references(dotenv_text) & grader_names
        queue, seen = list(files), set()
        while queue:
            path = queue.pop(0)
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            name = self.relative(str(path))
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig")
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                raise ComposeInvalid(msg("compose.not_utf8", file=name, line=line), refused=True) from exc
            try:
                data = load_compose(text, name)
            except UnsafeInput as exc:
                raise ComposeInvalid(str(exc), refused=True) from exc
            except yaml.YAMLError as exc:
                # Never handed to compose: it parses YAML differently (goccy/go-yaml) and could read a
                # file named in a part this screen could not see.
                raise ComposeInvalid(msg("compose.unreadable", file=name, error=exc), refused=True) from exc
            outside = outside_references(data, path.parent, self.root, env)
            if outside:
                refs = "; ".join(f"`{r}`" for r in outside)
                raise ComposeInvalid(msg("compose.outside", file=name, refs=refs), refused=True)
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

    def _screen_env_files(self, paths: list[str]) -> None:
        """The service env files (inside the repository) take nothing from the grader's own
        environment either: compose expands `${NAME}` in them and fills bare `NAME` lines."""
        for path in paths:
            _refuse_grader_variables(self.relative(path), env_file_references(_read(Path(path))) & GRADER_VARIABLES)

    def stack_for(self, files: list[Path]) -> Stack:
        if self._stack is None:
            self._stack = Stack(self.root, files, self.project_name, self.client)
        return self._stack

    @property
    def stack(self) -> Stack:
        """The stack, with the grader's override in place (ports, names, images)."""
        project = self.compose
        stack = self.stack_for([project.file])  # created by `compose` already, with its files
        if stack._compose is None:
            db = project.db_service()
            port = db_port(project.environment(db)) if db else POSTGRES_PORT
            stack.prepare(project.config, db, self.options.limits, port)
            self._pin_dockerfiles(project)  # after the gate: a refused copy is left as it was
        return stack

    def _pin_dockerfiles(self, project: ComposeProject) -> None:
        """The rubric's pins in the Dockerfiles compose builds, just before the build: the static
        checks have read what the student wrote (an untagged `FROM node` still costs the pinned-tag
        practice), the build uses what the instructor chose."""
        if not self.rubric.images:
            return
        seen: set[Path] = set()
        for service in project.build_services():
            _, dockerfile = project.build_paths(service)
            if dockerfile in seen or not inside(dockerfile, self.root) or not _plain_dockerfile(dockerfile):
                continue
            seen.add(dockerfile)
            self.substitutions += pin_dockerfile(dockerfile, self.rubric.images, self.relative(str(dockerfile)))

    def teardown(self, seconds: float = TEARDOWN_S) -> list[str]:
        """Remove everything the run started; what could not be removed, for the report."""
        if self._stack is None:
            return []
        try:
            with deadline(seconds):
                return self._stack.teardown()
        except DeadlineExceeded:
            return [f"teardown did not finish within {seconds:.0f} s; `grader cleanup` removes what is left"]


def _plain_dockerfile(path: Path) -> bool:
    """A regular file (not a link) the Dockerfile parser reads: `build.dockerfile: compose.yaml`
    is not rewritten."""
    try:
        if path.is_symlink() or not path.is_file():
            return False
        parse_dockerfile(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return False
    return True


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
        raise ComposeInvalid(msg("compose.grader_variables", file=file, names=listed), refused=True)


def _read(path: Path) -> str:
    with suppress(OSError):
        return path.read_text(encoding="utf-8", errors="replace")
    return ""


def env_file_paths(config: dict[str, Any]) -> list[str]:
    """Every env file path of a model resolved with `--no-env-resolution` (absolute)."""
    return [
        str(entry.get("path") if isinstance(entry, dict) else entry)
        for svc in (config.get("services") or {}).values()
        for entry in svc.get("env_file") or []
    ]


def _missing_env_file(message: str) -> str | None:
    # compose: `env file /abs/path/.env not found: stat /abs/path/.env: no such file or directory`
    marker = "env file "
    if marker in message and "not found" in message:
        return message.split(marker, 1)[1].split(" not found", 1)[0].strip()
    return None
