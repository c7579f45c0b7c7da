"""The instructor's rubric (`grader.yml`): points per check, enabled/hidden checks, which service
is the API, timeouts, grading environment, and HTTP scenarios. Validated against a JSON Schema;
errors name the key and the line."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader.errors import BadInput
from grader.intake.environment import parse_env
from grader.intake.images import floating
from grader.intake.project import yaml_line
from grader.intake.untrusted import UnsafeInput, safe_load

_STEP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["request"],
    "properties": {
        "request": {
            "type": "object",
            "additionalProperties": False,
            "required": ["path"],
            "properties": {
                "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]},
                "path": {"type": "string", "pattern": "^/"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "json": {},
                "body": {"type": "string"},
            },
        },
        "expect": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "status": {"type": "integer", "minimum": 100, "maximum": 599},
                "json": {},
                "text": {"type": "string"},
            },
        },
        "capture": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_STEPS = {"type": "array", "minItems": 1, "items": _STEP}
_POINTS = {"type": "number", "minimum": 0}
_PINNED = r"^[a-z0-9][a-z0-9._:/-]*(:[A-Za-z0-9_][A-Za-z0-9._-]*|@sha256:[0-9a-f]{64})$"  # with a tag or digest
GATE = "security.policy"  # the check a rubric may weight or hide, never disable
# The checks that make the stack the later ones read, and those later ones: a rubric cannot
# disable one while a later one counts (it would grade a stack never built or started, the
# student's failure for the rubric's choice); `points: 0` takes it out of the score instead.
STARTERS = {
    "dockerfile.build": ("builds the images", ("startup.up", "api.reachable", "persistence.data")),
    "startup.up": ("starts the stack", ("api.reachable", "persistence.data")),
}
_SECRET_KEY = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH|JWT|SALT|CERT|DSN|DATABASE_URL", re.I)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "lang": {"enum": ["en", "es"]},
        "app": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"service": {"type": "string"}, "port": {"type": "integer", "minimum": 1, "maximum": 65535}},
        },
        "timeouts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "build": {"type": "number", "exclusiveMinimum": 0},
                "start": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "limits": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "memory": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?[kmgKMG]?[bB]?$"},
                "disk": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?[kmgKMG]?[bB]?$"},
                "cpus": {"type": "number", "exclusiveMinimum": 0},
                "pids": {"type": "integer", "minimum": 16},
                "services": {"type": "integer", "minimum": 1},
            },
        },
        "checks": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"points": _POINTS, "enabled": {"type": "boolean"}, "hidden": {"type": "boolean"}},
            },
        },
        "images": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z0-9][a-z0-9._/-]*$"},
            "additionalProperties": {
                "type": "string",
                "pattern": "^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9._-]*|@sha256:[0-9a-f]{64})$",
            },
        },
        "environment": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "files": {"type": "array", "items": {"type": "string"}},
                "secrets": {"type": "array", "items": {"type": "string"}},
                "variables": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
            },
        },
        "project": {"type": "string", "minLength": 1},
        "helpers": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "env_examples": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"use": {"type": "boolean"}, "deduct": _POINTS},
        },
        "scenarios": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "points", "steps"],
                "properties": {
                    "name": {"type": "string"},
                    "points": _POINTS,
                    "hidden": {"type": "boolean"},
                    "steps": _STEPS,
                },
            },
        },
        "persistence_scenario": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "points", "before", "after"],
            "properties": {
                "name": {"type": "string"},
                "points": _POINTS,
                "hidden": {"type": "boolean"},
                "before": _STEPS,
                "after": _STEPS,
            },
        },
    },
}


@dataclass(frozen=True)
class CheckSetting:
    points: float | None = None
    enabled: bool = True
    hidden: bool = False


@dataclass(frozen=True)
class Step:
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: str | None
    status: int | None
    expect_json: Any
    expect_text: str | None
    capture: dict[str, str]


@dataclass(frozen=True)
class Scenario:
    id: str
    name: str
    points: float
    steps: tuple[Step, ...]
    hidden: bool = False
    after_steps: tuple[Step, ...] = ()  # persistence scenario: the read after `down` + `up`


@dataclass(frozen=True)
class Rubric:
    lang: str | None = None
    app_service: str | None = None
    app_port: int | None = None
    build_timeout: float | None = None
    start_timeout: float | None = None
    limits: dict[str, Any] = field(default_factory=dict)  # grader.engine.limits.Limits fields to change
    checks: dict[str, CheckSetting] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()  # environment keys the rubric marks secret
    images: dict[str, str] = field(default_factory=dict)  # untagged/latest reference -> the one to use
    scenarios: tuple[Scenario, ...] = ()
    persistence: Scenario | None = None
    project: str | None = None  # a glob of the project's folder in each repository; "." = the root only
    helpers: tuple[str, ...] = ()  # services (by name or image) not started and not graded: pgAdmin, ...
    env_examples: bool = True  # a committed .env.example stands in for a missing env file
    env_example_deduct: float = 0.0  # points compose.file loses when one does
    # Where the rubric is and the line of each `checks:` key: checks.registry, which knows the
    # checks, says which of them is unknown, and where.
    name: str = "grader.yml"
    check_lines: dict[str, int] = field(default_factory=dict)

    def secret_items(self) -> tuple[tuple[str, str], ...]:
        """(key, value) the reports must never show: keys the rubric marks secret or named like
        credentials. Redacting every value would blank out `postgres`, `3000` and `products`
        wherever they appear (grader.reports.redaction decides what is really masked)."""
        return tuple(
            (k, v) for k, v in self.environment.items() if v and (k in self.secret_keys or _SECRET_KEY.search(k))
        )


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "scenario"


def _step(raw: dict[str, Any]) -> Step:
    request, expect = raw["request"], raw.get("expect") or {}
    return Step(
        method=request.get("method", "GET"),
        path=request["path"],
        headers=dict(request.get("headers") or {}),
        json=request.get("json"),
        body=request.get("body"),
        status=expect.get("status"),
        expect_json=expect.get("json"),
        expect_text=expect.get("text"),
        capture=dict(raw.get("capture") or {}),
    )


def load_yaml(text: str, name: str) -> Any:
    """An instructor's YAML file (a rubric, service.yml), screened like a student's: BadInput
    naming the file when it is not valid YAML or could explode; {} when it is empty."""
    try:
        return safe_load(text, name) or {}
    except yaml.YAMLError as exc:
        raise BadInput(f"{name}: not valid YAML ({exc})") from exc
    except UnsafeInput as exc:
        raise BadInput(str(exc)) from exc


def parse(text: str, name: str = "grader.yml", base: Path | None = None) -> Rubric:
    """A Rubric from the YAML text; BadInput naming the file, line and key when it is wrong."""
    data = load_yaml(text, name)
    if not isinstance(data, dict):
        raise BadInput(f"{name}: expected a mapping of keys (lang, checks, ...), found {type(data).__name__}")
    import jsonschema  # here, not at the top: `grader lint` without a rubric starts in well under 1 s

    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        keys: list[str | int] = [k if isinstance(k, int) else str(k) for k in error.absolute_path]
        unknown = _unknown_keys(error)
        line = yaml_line(text, *keys, unknown[0]) if unknown else yaml_line(text, *keys)
        where = ".".join(str(k) for k in keys) or "(top level)"
        raise BadInput(f"{name}{f' line {line}' if line else ''}: {where}: {_in_words(error, keys, unknown)}")
    gate = (data.get("checks") or {}).get(GATE) or {}
    if gate.get("enabled") is False:
        line = yaml_line(text, "checks", GATE, "enabled")
        raise BadInput(
            f"{name}{f' line {line}' if line else ''}: checks.{GATE}.enabled: the security gate cannot be "
            "disabled: it is what keeps a submission from reaching the grading machine, and nothing of a "
            "submission is built or started before it passes (it is worth 0 points; `hidden: true` hides it)"
        )
    _starters_kept(data, text, name)
    env: dict[str, str] = {}
    for file in (data.get("environment") or {}).get("files") or []:
        path = (base or Path.cwd()) / file
        try:
            env |= parse_env(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise BadInput(f"{name}: environment file {file}: {exc.strerror}") from exc
    env |= {
        k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in ((data.get("environment") or {}).get("variables") or {}).items()
    }
    scenarios = tuple(
        Scenario(
            f"api.scenario_{_slug(s['name'])}",
            s["name"],
            float(s["points"]),
            tuple(_step(x) for x in s["steps"]),
            bool(s.get("hidden", False)),
        )
        for s in data.get("scenarios") or []
    )
    persistence = None
    if data.get("persistence_scenario"):
        p = data["persistence_scenario"]
        persistence = Scenario(
            "persistence.scenario",
            p["name"],
            float(p["points"]),
            tuple(_step(x) for x in p["before"]),
            bool(p.get("hidden", False)),
            tuple(_step(x) for x in p["after"]),
        )
    ids = [s.id for s in scenarios]
    if len(ids) != len(set(ids)):
        raise BadInput(f"{name}: two scenarios have the same name")
    images = dict(data.get("images") or {})
    for written, used in images.items():
        if floating(used) or not floating(written):
            line = yaml_line(text, "images", written)
            raise BadInput(
                f"{name}{f' line {line}' if line else ''}: images.{written}: a pin maps an image without a tag "
                f"(or with `latest`) to one with a tag or digest, e.g. `postgres: postgres:16`"
            )
    app = data.get("app") or {}
    timeouts = data.get("timeouts") or {}
    return Rubric(
        lang=data.get("lang"),
        app_service=app.get("service"),
        app_port=app.get("port"),
        build_timeout=timeouts.get("build"),
        start_timeout=timeouts.get("start"),
        limits=dict(data.get("limits") or {}),
        checks={
            k: CheckSetting(v.get("points"), v.get("enabled", True), v.get("hidden", False))
            for k, v in (data.get("checks") or {}).items()
        },
        environment=env,
        secret_keys=frozenset((data.get("environment") or {}).get("secrets") or ()),
        images=images,
        scenarios=scenarios,
        persistence=persistence,
        project=data.get("project"),
        helpers=tuple(data.get("helpers") or ()),
        env_examples=bool((data.get("env_examples") or {}).get("use", True)),
        env_example_deduct=float((data.get("env_examples") or {}).get("deduct", 0)),
        name=name,
        check_lines={
            str(k): line for k in (data.get("checks") or {}) if (line := yaml_line(text, "checks", str(k))) is not None
        },
    )


def _unknown_keys(error: Any) -> list[str]:
    """The keys an `additionalProperties: false` error is about (the instance minus the schema's)."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    known = set((error.schema.get("properties") or {}).keys())
    return sorted(str(k) for k in error.instance if k not in known)


# What a pattern asks for, by the last key of its path: a sentence, never the regular expression.
_PATTERN_WORDS = {
    "images": "an image with a tag or digest, in lower case, like `postgres:16`",
    "path": "a path that starts with `/`, like `/products`",
    "memory": "a size like `1g` or `512m`",
    "disk": "a size like `2g` or `500m`",
}


def _in_words(error: Any, keys: list[str | int], unknown: list[str]) -> str:
    """jsonschema's message as an instructor reads it: the unknown key with a "did you mean",
    a pattern as what it asks for, not as a regular expression."""
    if unknown:
        known = sorted((error.schema.get("properties") or {}).keys())
        text = "unknown key " + ", ".join(f"`{k}`" for k in unknown)
        guess = difflib.get_close_matches(unknown[0], known, n=1, cutoff=0.6)
        if guess:
            text += f" (did you mean `{guess[0]}`?)"
        elif not keys and all(re.fullmatch(r"[A-Z][A-Z0-9_]*", k) for k in unknown):
            text += " (grading values go under `environment: {variables: {NAME: value}}`)"
        return text + f"; known here: {', '.join(known)}"
    if error.validator == "pattern" and "propertyNames" in error.relative_schema_path:
        return f"the key {error.instance!r} is not a name without a tag, in lower case, like `postgres` or `node`"
    if error.validator == "pattern":
        last = next((str(k) for k in reversed(keys) if isinstance(k, str)), "")
        wanted = _PATTERN_WORDS.get(last) or _PATTERN_WORDS.get(str(keys[0]) if keys else "", "")
        if wanted:
            return f"{error.instance!r} is not {wanted}"
    return str(error.message)


def load(path: Path) -> Rubric:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the rubric ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start}); save the rubric as UTF-8") from exc
    return parse(text, path.name, path.parent)


def default_text(checks: list[tuple[str, str, float]]) -> str:
    """The default rubric with comments, for `grader rubric init`: (id, title, points) per check."""
    lines = [
        "# compose-grader rubric. Every key is optional; `grader rubric check grader.yml` validates it.",
        "",
        "lang: en   # language of the feedback: en or es (grader grade --lang overrides it)",
        "",
        "# Which compose service is the API and its container port, when the compose file is ambiguous.",
        "# app:",
        "#   service: api",
        "#   port: 3000",
        "",
        "timeouts:",
        "  build: 600   # seconds for `docker compose build`",
        "  start: 120   # seconds for `up`, the services settling, the API and the database answering",
        "",
        "# What each service of a submission may use (the defaults shown); more services than",
        "# `services` are refused by the security gate.",
        "# limits: {memory: 1g, cpus: 1, pids: 512, services: 10, disk: 2g}",
        "",
        "# Points per check (the built-in 100-point rubric). `enabled: false` leaves a check out;",
        "# `hidden: true` counts it but keeps its feedback out of the student's formats.",
        "checks:",
    ]
    for check_id, title, points in checks:
        lines.append(f"  {check_id}: {{points: {points:g}}}  # {title}")
    lines += [
        "",
        "# Values the app needs that students do not commit (e.g. their .env.development). Used only",
        "# where the submission's env file is missing or lacks a key. Giving them turns off the",
        "# students' .env.example stand-in: give every key the apps read, POSTGRES_PASSWORD and DB_HOST",
        "# included (`grader rubric check grader.yml --against CLASS` lists them). Reports mask the",
        "# values of `secrets` and of keys named like PASSWORD, SECRET, TOKEN, KEY; others are shown.",
        "# environment:",
        "#   files: [grading.env]        # relative to this file",
        "#   secrets: [API_KEY]           # masked in every report",
        "#   variables:",
        "#     JWT_SECRET: change-me",
        "",
        "# Which image an untagged or `latest` reference means, so a term is graded reproducibly (compose",
        "# `image:` and Dockerfile `FROM`; applied in the grader's copy only, and reported).",
        '# images: {postgres: "postgres:16", node: "node:18"}',
        "",
        "# Where the project is in each repository, when not at its root: a glob of its folder. Without",
        "# it the grader grades the root, or the one folder below it with a compose file and a Dockerfile.",
        '# project: "ecommerce-*"      # "." grades the root only',
        "",
        "# Services that only serve the developer: not started and not graded (by service name or image).",
        "# helpers: [dpage/pgadmin4, adminer, mailhog/mailhog]",
        "",
        "# A committed .env.example (.env.sample, .env.template, .env.development) stands in for a",
        "# missing env file when the rubric supplies no grading values; `deduct` is what compose.file loses.",
        "# env_examples: {use: true, deduct: 0}",
        "",
        "# HTTP scenarios against the running API; one check each, in the `api` category.",
        "# `{name}` in a path, header or body is a value captured from an earlier answer.",
        "# scenarios:",
        "#   - name: Create and read a product",
        "#     points: 10",
        "#     steps:",
        "#       - request: {method: POST, path: /products, json: {name: Mate, price: 10}}",
        "#         expect: {status: 201, json: {name: Mate}}",
        "#         capture: {id: id}",
        "#       - request: {method: GET, path: '/products/{id}'}",
        "#         expect: {status: 200, json: {name: Mate}}",
        "",
        "# What the API stores must survive `docker compose down` + `up` (run beside the database check).",
        "# persistence_scenario:",
        "#   name: Products survive down and up",
        "#   points: 10",
        "#   before:",
        "#     - request: {method: POST, path: /products, json: {name: Yerba, price: 5}}",
        "#       expect: {status: 201}",
        "#   after:",
        "#     - request: {method: GET, path: /products}",
        "#       expect: {status: 200, json: [{name: Yerba}]}",
    ]
    return "\n".join(lines) + "\n"


def _starters_kept(data: dict[str, Any], text: str, name: str) -> None:
    """BadInput when the rubric disables a check that builds or starts the stack while a check
    after it, which reads that stack, still counts."""
    checks = data.get("checks") or {}

    def enabled(check: str) -> bool:
        return (checks.get(check) or {}).get("enabled") is not False

    for starter, (does, later) in STARTERS.items():
        if enabled(starter):
            continue
        counting = [c for c in later if enabled(c)]
        counting += ["scenarios"] if data.get("scenarios") and enabled("api.reachable") else []
        counting += ["persistence_scenario"] if data.get("persistence_scenario") else []
        if counting:
            line = yaml_line(text, "checks", starter, "enabled")
            raise BadInput(
                f"{name}{f' line {line}' if line else ''}: checks.{starter}.enabled: {starter} {does} that "
                f"{', '.join(counting)} read; disabled, they would grade a stack never built or started. "
                f"Give it `points: 0` to leave it out of the score, or disable those too"
            )
