"""Reading a Dockerfile the way the builder does (dockerfile-parse) and judging the homework's
practices. Pure functions over text, so they are unit-tested without an engine."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockerfile_parse import DockerfileParser

from grader.intake.project import ComposeProject
from grader.intake.untrusted import inside
from grader.messages import msg

MANIFESTS = ("package.json", "package*.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json")
INSTALL = re.compile(r"\b(npm\s+(install|i|ci)|yarn(\s+install)?|pnpm\s+(install|i))\b")
# Rules whose advice the practices already give; repeating them as hints would be noise.
HADOLINT_COVERED = {"DL3006", "DL3007", "DL3025"}
MAX_DOCKERFILE_BYTES = 256 * 1024  # real Dockerfiles are a few KB; the checks read it whole
# DL3066 flags `USER node`, which is exactly what the official node image documents: noise here.
HADOLINT_IGNORED = HADOLINT_COVERED | {"DL3066"}


@dataclass(frozen=True)
class Instruction:
    name: str  # upper case
    value: str
    line: int  # 1-based
    stage: int  # index of the FROM this instruction belongs to


@dataclass(frozen=True)
class Dockerfile:
    instructions: tuple[Instruction, ...]
    base_images: tuple[str, ...]  # FROM images with build ARGs substituted (stages excluded)
    stage_names: frozenset[str]

    def of(self, name: str, stage: int | None = None) -> list[Instruction]:
        return [i for i in self.instructions if i.name == name and (stage is None or i.stage == stage)]

    @property
    def final_stage(self) -> int:
        return max((i.stage for i in self.instructions), default=0)


@dataclass(frozen=True)
class DockerfileSource:
    """The Dockerfile the run grades, read once before the rubric's pins rewrite the copy's: the
    practices judge what the student wrote (an untagged `FROM node` still costs the pinned-tag
    practice), the build uses what the instructor chose."""

    context: Path  # the build context
    path: Path
    where: str  # how it was found, for the student
    exists: bool = False
    text: str | None = None  # as written; None when missing, unreadable or larger than MAX_DOCKERFILE_BYTES
    unreadable: str = ""  # why it could not be read (permissions), if so


def locate(root: Path, project: ComposeProject | None, app: str | None) -> DockerfileSource:
    """The build compose uses for the API, else the repository root (`Dockerfile`, or
    `dockerfile`, which the classic builder accepts too)."""
    found = False
    if project is not None and app is not None and project.services[app].get("build"):
        context, path = project.build_paths(app)
        # One outside the repository is never read (the security gate refuses it).
        found = inside(path, root)
        where = msg("dockerfile.where_build", service=app, file=project.file.name)
    if not found:  # no build for the API, or one outside the repository
        context, where = root, msg("dockerfile.where_root")
        path = next((root / n for n in ("Dockerfile", "dockerfile") if (root / n).is_file()), root / "Dockerfile")
    if not path.is_file():
        return DockerfileSource(context, path, where)
    try:
        text = path.read_text(errors="replace") if path.stat().st_size <= MAX_DOCKERFILE_BYTES else None
    except OSError as exc:
        return DockerfileSource(context, path, where, True, unreadable=exc.strerror or str(exc))
    return DockerfileSource(context, path, where, True, text)


def without_bom(text: str) -> str:
    """Windows editors save UTF-8 with a byte-order mark; the builder ignores it before `FROM`."""
    return text.removeprefix("\ufeff")


def parse(text: str) -> Dockerfile:
    """Raises ValueError when there is no FROM (not a Dockerfile the builder would accept)."""
    text = without_bom(text)
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    instructions: list[Instruction] = []
    stage = -1
    stage_names: set[str] = set()
    for item in parser.structure:
        name = str(item["instruction"]).upper()
        if name == "FROM":
            stage += 1
            parts = str(item["value"]).split()
            if len(parts) >= 3 and parts[-2].lower() == "as":
                stage_names.add(parts[-1].lower())
        if stage < 0 and name not in ("ARG", "COMMENT"):
            raise ValueError(f"line {item['startline'] + 1}: {name} before the first FROM")
        instructions.append(Instruction(name, str(item["value"]), int(item["startline"]) + 1, max(stage, 0)))
    if stage < 0:
        raise ValueError("no FROM instruction")
    bases = tuple(p for p in parser.parent_images if p.lower() not in stage_names and p != "scratch")
    return Dockerfile(tuple(i for i in instructions if i.name != "COMMENT"), bases, frozenset(stage_names))


@dataclass(frozen=True)
class Practice:
    key: str
    ok: bool
    label: str  # what the homework asks, shown either way
    advice: str  # what to change (empty when ok)
    line: int | None = None


def _tagged(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] not in ("", "latest")


def _copy_sources(value: str) -> list[str]:
    value = " ".join(w for w in value.split() if not w.startswith("--"))
    if value.startswith("["):
        try:
            words = [str(w) for w in json.loads(value)]
        except (ValueError, RecursionError):  # `COPY [[[[...`: the student's, never a crash
            words = value.split()
    else:
        words = value.split()
    return words[:-1]


def _is_manifest(source: str) -> bool:
    return Path(source).name in MANIFESTS


def _is_from_stage(value: str) -> bool:
    return any(w.startswith("--from") for w in value.split())


def _ports(value: str, env: dict[str, str]) -> list[int | None]:
    """EXPOSE values as ints; None for one that uses an unknown variable."""
    ports: list[int | None] = []
    for word in value.split():
        word = re.sub(r"\$\{?(\w+)(:-([^}]*))?\}?", lambda m: env.get(m.group(1), m.group(3) or ""), word)
        match = re.fullmatch(r"(\d+)(-\d+)?(/\w+)?", word)
        ports.append(int(match.group(1)) if match else None)
    return ports


def _env_defaults(df: Dockerfile) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in df.instructions:
        if ins.name in ("ARG", "ENV"):
            for match in re.finditer(r"(\w+)=(\"[^\"]*\"|\S+)", ins.value):
                env[match.group(1)] = match.group(2).strip('"')
            parts = ins.value.split()
            if ins.name == "ENV" and len(parts) == 2 and "=" not in parts[0]:
                env[parts[0]] = parts[1]
    return env


def dockerignore_excludes_node_modules(text: str | None) -> bool:
    if text is None:
        return False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("!"):
            continue
        pattern = line.strip("/")
        while pattern.startswith("**/") or pattern.startswith("*/"):
            pattern = pattern.split("/", 1)[1]
        if pattern in ("node_modules", "node_modules/**", "node_modules/*"):
            return True
    return False


MAX_PACKAGE_BYTES = 256 << 10  # a package.json is a few KB
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./@-]{1,100}")
DEFAULT_START = 'CMD ["node", "index.js"]'


def start_command(context: Path) -> str:
    """The exec-form CMD a tip suggests for the app in `context`, from its package.json: the
    script `start:prod` runs (`node dist/main`), `dist/main` for NestJS, the package's `main`, the
    file `start` runs; `index.js` when nothing says. The student's file: bounded, only plain paths."""
    try:
        with (context / "package.json").open("rb") as handle:
            data = json.loads(handle.read(MAX_PACKAGE_BYTES + 1)[:MAX_PACKAGE_BYTES])
    except (OSError, ValueError, RecursionError):  # 200,000 `[`: a nesting json cannot read
        return DEFAULT_START
    if not isinstance(data, dict):
        return DEFAULT_START
    raw_scripts, raw_dependencies = data.get("scripts"), data.get("dependencies")
    scripts: dict[str, Any] = raw_scripts if isinstance(raw_scripts, dict) else {}
    dependencies: dict[str, Any] = raw_dependencies if isinstance(raw_dependencies, dict) else {}
    candidates = [scripts.get("start:prod"), scripts.get("start")]
    for script in candidates:
        words = str(script or "").split()
        if len(words) == 2 and words[0] == "node" and _SAFE_PATH.fullmatch(words[1]):
            return f'CMD ["node", "{words[1]}"]'
    if "@nestjs/core" in dependencies:
        return 'CMD ["node", "dist/main"]'
    main = data.get("main")
    if isinstance(main, str) and _SAFE_PATH.fullmatch(main):
        return f'CMD ["node", "{main}"]'
    return DEFAULT_START


def pin_example(image: str, pins: Mapping[str, str]) -> str:
    """A pinned `FROM` for the tip: the course's own pin of that image when the rubric has one
    (`node:18`), else the homework's `node:18`, else `<image>:<version>`."""
    name = image.split("@", 1)[0].rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    for written, used in pins.items():
        if written == name or written.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1]:
            return used
    return "node:18" if name.rsplit("/", 1)[-1] == "node" else f"{name}:<version>"


def practices(
    df: Dockerfile,
    published_targets: list[int],
    dockerignore: str | None,
    start: str = DEFAULT_START,
    pins: Mapping[str, str] | None = None,
) -> list[Practice]:
    final = df.final_stage
    result: list[Practice] = []

    froms = df.of("FROM")
    untagged = [img for img in df.base_images if not _tagged(img)]
    result.append(
        Practice(
            "base_tag",
            not untagged,
            msg("practice.base_tag"),
            msg("practice.base_tag.fix", image=untagged[0], example=pin_example(untagged[0], pins or {}))
            if untagged
            else "",
            froms[0].line if froms else None,
        )
    )

    workdirs = df.of("WORKDIR", final)
    result.append(
        Practice(
            "workdir",
            bool(workdirs),
            msg("practice.workdir"),
            "" if workdirs else msg("practice.workdir.fix"),
            workdirs[0].line if workdirs else None,
        )
    )

    result.append(_dependencies_first(df))

    exposes = df.of("EXPOSE", final)
    exposed = [p for e in exposes for p in _ports(e.value, _env_defaults(df))]
    if not exposes:
        port = published_targets[0] if published_targets else 3000
        ok, advice = False, msg("practice.expose.missing", port=port)
    elif published_targets and None not in exposed and not set(exposed) & set(published_targets):
        shown = ", ".join(str(p) for p in exposed)
        targets = ", ".join(str(p) for p in published_targets)
        ok = False
        advice = msg("practice.expose.mismatch", exposed=shown, targets=targets)
    else:
        ok, advice = True, ""
    result.append(Practice("expose", ok, msg("practice.expose"), advice, exposes[0].line if exposes else None))

    starts = [i for i in df.instructions if i.stage == final and i.name in ("CMD", "ENTRYPOINT")]
    last = starts[-1] if starts else None
    if last is None:
        ok, advice = False, msg("practice.exec_cmd.missing", cmd=start)
    elif not last.value.lstrip().startswith("["):
        ok = False
        advice = msg("practice.exec_cmd.shell", instruction=last.name, value=last.value, cmd=start)
    else:
        ok, advice = True, ""
    result.append(Practice("exec_cmd", ok, msg("practice.exec_cmd"), advice, last.line if last else None))

    ignored = dockerignore_excludes_node_modules(dockerignore)
    if dockerignore is None:
        advice = msg("practice.dockerignore.missing")
    elif not ignored:
        advice = msg("practice.dockerignore.fix")
    else:
        advice = ""
    result.append(Practice("dockerignore", ignored, msg("practice.dockerignore"), advice))
    return result


def _dependencies_first(df: Dockerfile) -> Practice:
    label = msg("practice.deps_first")
    installs = [i for i in df.of("RUN") if INSTALL.search(i.value)]
    if not installs:
        return Practice(
            "deps_first",
            False,
            label,
            msg("practice.deps_first.never"),
        )
    for install in installs:
        copies = [
            i
            for i in df.instructions
            if i.stage == install.stage and i.name in ("COPY", "ADD") and not _is_from_stage(i.value)
        ]
        before = [c for c in copies if c.line < install.line]
        manifest = any(_is_manifest(s) for c in before for s in _copy_sources(c.value))
        source_before = [c for c in before if not all(_is_manifest(s) for s in _copy_sources(c.value))]
        if manifest and not source_before:
            return Practice("deps_first", True, label, "", install.line)
    install = installs[0]
    return Practice(
        "deps_first",
        False,
        label,
        msg("practice.deps_first.fix", line=install.line),
        install.line,
    )


def npm_as_pid1(df: Dockerfile, start: str = DEFAULT_START) -> str | None:
    starts = [i for i in df.instructions if i.stage == df.final_stage and i.name in ("CMD", "ENTRYPOINT")]
    if not starts:
        return None
    value = starts[-1].value.strip()
    try:
        words = json.loads(value) if value.startswith("[") else value.split()
    except (ValueError, RecursionError):
        return None
    if words and str(words[0]) in ("npm", "yarn", "pnpm"):
        return msg("hint.npm_pid1", line=starts[-1].line, tool=words[0], cmd=start)
    return None


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def hadolint_hints(text: str, limit: int = 5) -> list[str]:
    """hadolint's findings as one-line hints (`line 7 (DL3008): ...`), best effort."""
    binary = hadolint_binary()
    if binary is None:
        return []
    try:
        run = subprocess.run(
            [binary, "--no-fail", "--format", "json", "-"],
            input=without_bom(text),
            capture_output=True,
            text=True,
            timeout=30,
        )
        findings = json.loads(run.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return []
    hints = [
        msg("hint.hadolint", line=f["line"], code=f["code"], message=f["message"])
        for f in findings
        if f.get("code") not in HADOLINT_IGNORED and f.get("level") in ("error", "warning", "info")
    ]
    return hints[:limit]
