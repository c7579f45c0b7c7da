"""Reading a stranger's files without trusting them: YAML that cannot explode, and the paths a
compose file names, which must stay inside the repository.

`docker compose config` expands YAML aliases without limit (a 1 KB "billion laughs" file made
it eat gigabytes here before it crashed) and reads every include, extends and label_file file it
names, wherever it is, before the security gate sees anything. So both are screened here, on the
raw text, before compose runs. (Env files are not read then: the grader resolves the model with
`--no-env-resolution` first, and the gate checks every path in compose's own model.)

Compose's YAML has two tags of its own, `!reset` and `!override`; PyYAML knows neither, and a
screen that gives up on a file it cannot read lets compose read it unscreened. `load_compose`
understands both and refuses any other tag.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from grader.messages import msg

MAX_YAML_BYTES = 1 << 20  # a compose file or rubric is a few KB; 1 MiB is generous
MAX_YAML_NODES = 100_000  # nodes after expanding aliases; a real compose file has a few hundred
MAX_EXPANDED_BYTES = 4 << 20  # scalar bytes after expanding aliases; a real compose file has a few KB


class UnsafeInput(ValueError):
    """A file the grader refuses to process; the message says why, for the student."""


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(nodes, bytes of scalars) the document becomes once aliases are expanded. PyYAML's composer
    shares aliased nodes, so this walks the graph with memoisation instead of building the
    expansion. Bytes matter as much as nodes: 800 aliases of one 600 KiB scalar are few nodes and
    half a gigabyte in `compose config`. An alias inside its own anchor (`a: &x [*x]`) makes the
    graph cyclic: its expansion is infinite."""
    infinite = (MAX_YAML_NODES + 1, MAX_EXPANDED_BYTES + 1)
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()  # on the current path: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in open_nodes:
            return infinite
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = (1, len(str(node.value)))
            continue
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if children_done:
            open_nodes.discard(id(node))
            parts = [sizes.get(id(c), (1, 0)) for c in children]
            size = (1 + sum(p[0] for p in parts), sum(p[1] for p in parts))
            sizes[id(node)] = size
            if size[0] > MAX_YAML_NODES or size[1] > MAX_EXPANDED_BYTES:
                return size
        else:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes.get(id(root), (1, 0))


def screen_yaml(text: str, name: str) -> None:
    """UnsafeInput when `text` is too large or expands (through aliases) beyond a sane size.
    Invalid YAML passes: the caller reports it in its own words."""
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise UnsafeInput(msg("yaml.too_large", name=name, kb=MAX_YAML_BYTES // 1024))
    try:
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            nodes, size = _expanded_size(node) if node is not None else (0, 0)
            if nodes > MAX_YAML_NODES:
                raise UnsafeInput(msg("yaml.bomb", name=name, nodes=f"{MAX_YAML_NODES:,}"))
            if size > MAX_EXPANDED_BYTES:
                raise UnsafeInput(msg("yaml.bomb_bytes", name=name, mb=MAX_EXPANDED_BYTES >> 20))
    except yaml.YAMLError:
        return
    except RecursionError as exc:
        raise UnsafeInput(msg("yaml.too_deep", name=name)) from exc


def safe_load(text: str, name: str) -> Any:
    """yaml.safe_load after screen_yaml; yaml.YAMLError for invalid YAML, UnsafeInput for a bomb."""
    screen_yaml(text, name)
    try:
        return yaml.safe_load(text)
    except RecursionError as exc:
        raise UnsafeInput(msg("yaml.too_deep", name=name)) from exc


# -- compose's YAML ------------------------------------------------------------------------
class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus compose's `!reset` and `!override` (compose-go's loader/reset.go).
    The screen keeps the tagged value either way: a value compose drops is still screened."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    value = loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None
    return None if value in (None, "", "null", "~", "Null", "NULL") else value


def _refused_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """`!!binary` turns base64 into a string for compose (`include: !!binary L2V0Yy9wYXNzd2Q=` is
    /etc/passwd) but into bytes for PyYAML, which a screen of strings would not look at."""
    raise yaml.constructor.ConstructorError(
        None, None, f"could not determine a constructor for the tag {node.tag!r}", node.start_mark
    )


for _tag in ("!reset", "!override"):
    ComposeLoader.add_constructor(_tag, _tagged)
ComposeLoader.add_constructor("tag:yaml.org,2002:binary", _refused_tag)


def load_compose(text: str, name: str) -> Any:
    """A compose file as compose reads it; UnsafeInput for a bomb or a tag compose does not know,
    yaml.YAMLError for YAML that is invalid."""
    screen_yaml(text, name)
    try:
        documents = [d for d in yaml.load_all(text, Loader=ComposeLoader) if d is not None]  # a SafeLoader subclass
        if len(documents) > 1:  # compose merges them; nobody writes a compose file like that
            raise UnsafeInput(msg("yaml.several_documents", name=name, count=len(documents)))
        return documents[0] if documents else None
    except yaml.constructor.ConstructorError as exc:
        if exc.problem and "could not determine a constructor for the tag" in exc.problem:
            tag = exc.problem.rsplit(" ", 1)[-1].strip("'")
            line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
            raise UnsafeInput(msg("yaml.unknown_tag", name=name, tag=tag, line=line)) from exc
        raise
    except RecursionError as exc:
        raise UnsafeInput(msg("yaml.too_deep", name=name)) from exc


def merge_sequence_line(text: str) -> int | None:
    """The line of the first `<<: [*a, *b]` (a merge key with several maps), or None. PyYAML and
    compose resolve such a merge in opposite orders (measured: `<<: [*b, *a]` gave PyYAML a's
    `label_file` and compose b's), so the screen would judge one file and compose read another.
    Only refused where compose cannot run in the jail (grader.intake.jail), which makes it harmless."""
    try:
        roots = [n for n in yaml.compose_all(text, Loader=ComposeLoader) if n is not None]
    except (yaml.YAMLError, RecursionError):
        return None  # load_compose has said what is wrong
    stack: list[yaml.Node] = list(roots)
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge" and isinstance(value, yaml.SequenceNode):
                    return int(key.start_mark.line) + 1
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return None


# -- interpolation, as compose-go's template package does it ----------------------------------
# `$$` is a literal `$`; `$NAME` and `${NAME}`; `${NAME:-default}` and `${NAME-default}`,
# `${NAME:+alternative}` and `${NAME+alternative}`, `${NAME:?error}` and `${NAME?error}`, where
# default and alternative are themselves interpolated (nested `${A:-${B}}`). Names are
# case-insensitive in the pattern, as compose's `(?i:...)`.
_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-zA-Z][_a-zA-Z0-9]*)"
    r"|\{(?:(?P<braced>[_a-zA-Z][_a-zA-Z0-9]*(?::?[-+?](?:.*))?)\}|(?P<invalid>)))"
)  # no DOTALL: Go's `.` stops at a newline too
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


class InterpolationError(ValueError):
    """`${NAME:?message}` with NAME unset, or a `$` compose cannot read (`${}`, `${1}`)."""


def _closing_brace(text: str) -> int:
    """Index of the `}` that balances the first `{` of `text`, -1 when none does. As compose-go's
    getFirstBraceClosingIndex: every `{` opens (not only `${`) and the character after it is
    skipped."""
    depth, i = 0, 0
    while i < len(text):
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if text[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


def _braced(expression: str, env: Mapping[str, str]) -> str:
    """The value of `NAME`, `NAME:-default`, ... (the text between `${` and its `}`)."""
    match = re.match(r"[_a-zA-Z][_a-zA-Z0-9]*", expression)
    assert match is not None  # the pattern guarantees a name
    name, rest = match.group(), expression[match.end() :]
    if not rest:
        return env.get(name, "")
    operator = next(op for op in _OPERATORS if rest.startswith(op))
    argument = rest[len(operator) :]
    value = env.get(name)
    is_set = value is not None and (value != "" or ":" not in operator)
    if operator.endswith("?"):
        if not is_set:
            raise InterpolationError(f"required variable {name} is missing a value: {interpolate(argument, env)}")
        return value or ""
    if operator.endswith("-"):
        return value or "" if is_set else interpolate(argument, env)
    return interpolate(argument, env) if is_set else ""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`text` as compose interpolates it with the variables `env`; InterpolationError where
    compose stops with an error."""
    out, i = [], 0
    while (match := _PATTERN.search(text, i)) is not None:
        out.append(text[i : match.start()])
        if match.group("escaped"):
            out.append("$")
            i = match.end()
        elif match.group("named"):
            out.append(env.get(match.group("named"), ""))
            i = match.end()
        elif match.group("braced") is not None:
            closing = _closing_brace(text[match.start() : match.end()])
            close = match.start() + closing if closing >= 0 else match.end() - 1
            out.append(_braced(text[match.start() + 2 : close], env))
            i = close + 1
        else:
            raise InterpolationError(f"invalid interpolation format: {text!r}")
    return "".join(out) + text[i:]


def string_values(data: Any) -> Iterator[str]:
    """Every string value of a loaded document, at any depth (keys are never interpolated). The
    loaded values, not the raw text: `"\\x24{HOME}"` is `${HOME}` once YAML decodes it, and a
    comment is nothing."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from string_values(value)
    elif isinstance(data, list):
        for item in data:
            yield from string_values(item)


def variables(text: str) -> set[str]:
    """Every variable name `text` refers to, in any form and at any depth (`$$` is no reference)."""
    return set(re.findall(r"\$\{?([_a-zA-Z][_a-zA-Z0-9]*)", text.replace("$$", "")))


def env_file_references(text: str) -> set[str]:
    """Variables an env file takes from compose's environment: `${NAME}` in values (compose
    expands unquoted and double-quoted ones) and bare `NAME` lines, which inherit the value."""
    bare = {line.strip().removeprefix("export ").strip() for line in text.splitlines()}
    return variables(text) | {n for n in bare if re.fullmatch(r"[_a-zA-Z][_a-zA-Z0-9.\-\[\]]*", n)}


def inherited_names(data: Any) -> set[str]:
    """Names of `environment` and `build.args` entries written without a value (`- TOKEN`,
    `TOKEN:`): compose fills them from its own environment."""
    names: set[str] = set()
    services = data.get("services") if isinstance(data, dict) else None
    for service in services.values() if isinstance(services, dict) else []:
        if not isinstance(service, dict):
            continue
        build = service.get("build")
        for entries in (service.get("environment"), build.get("args") if isinstance(build, dict) else None):
            if isinstance(entries, dict):
                names |= {str(k) for k, v in entries.items() if v is None}
            elif isinstance(entries, list):
                names |= {e for e in entries if isinstance(e, str) and "=" not in e}
    return names


# -- paths a compose file names ------------------------------------------------------------
def _paths(value: Any) -> Iterator[str]:
    """The path strings of a compose field written as a string, a list, or {path: ...} items."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            path = item.get("path")
            for p in path if isinstance(path, list) else [path]:
                if isinstance(p, str):
                    yield p


def config_time_files(data: Any) -> Iterator[tuple[str, str]]:
    """(what, path) for every file `docker compose config --no-env-resolution` itself reads: the
    files a document includes or extends and its label files."""
    if not isinstance(data, dict):
        return
    include = data.get("include")
    for entry in _paths(include):
        yield "include", entry
    for item in include if isinstance(include, list) else []:
        if isinstance(item, dict):
            for key in ("env_file", "project_directory"):
                for p in _paths(item.get(key)):
                    yield f"include {key}", p
    services = data.get("services")
    for name, service in services.items() if isinstance(services, dict) else []:
        if not isinstance(service, dict):
            continue
        for p in _paths(service.get("label_file")):
            yield f"service `{name}` label_file", p
        extends = service.get("extends")
        if isinstance(extends, dict) and isinstance(extends.get("file"), str):
            yield f"service `{name}` extends", extends["file"]


def named_files(data: Any) -> Iterator[tuple[str, str]]:
    """(what, path) for every file or folder a raw compose document makes compose read at some
    point: at config time, then env files, build contexts and additional contexts."""
    yield from config_time_files(data)
    services = data.get("services") if isinstance(data, dict) else None
    for name, service in services.items() if isinstance(services, dict) else []:
        if not isinstance(service, dict):
            continue
        for p in _paths(service.get("env_file")):
            yield f"service `{name}` env_file", p
        build = service.get("build")
        if isinstance(build, str):
            yield f"service `{name}` build", build
        elif isinstance(build, dict):
            if isinstance(build.get("context"), str):
                yield f"service `{name}` build context", build["context"]
            contexts = build.get("additional_contexts")
            for value in contexts.values() if isinstance(contexts, dict) else contexts or []:
                if isinstance(value, str):
                    yield f"service `{name}` additional context", value.split("=", 1)[-1]


def inside(path: str | Path, root: str | Path) -> bool:
    """Whether `path` (relative paths from the current folder) is `root` or below it, once both
    are resolved: `..` and symlinks cannot lead out."""
    real, top = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    return real == top or top in real.parents


def relative(root: Path, text: str) -> str:
    """Compose and docker print absolute paths of the working copy `root`: shown as the student's
    paths (relative to the repository, `.` for the root itself)."""
    return text.replace(str(root) + "/", "").replace(str(root), ".")


def is_remote(path: str) -> bool:
    return "://" in path or path.startswith(("git@", "github.com/", "docker-image:", "service:", "oci://"))


def outside_references(data: Any, base: Path, root: Path, env: Mapping[str, str]) -> list[str]:
    """`what: path` for each file a compose document names that lies outside `root`, following
    symlinks, after interpolating variables with `env`. `base` is the compose file's folder.

    A file compose reads while resolving the model (include, extends, label_file) must be
    written as a plain local path: with a variable in it, compose could read a file before the
    gate has seen compose's own reading of the path, and a URL makes the grading machine fetch
    it (over git, with whatever credentials the machine has), so either is refused whatever it
    resolves to."""
    config_time = set(config_time_files(data))
    found = []
    for what, raw in named_files(data):
        # compose resolves an include's nested references from its project_directory, not from
        # where the file is: refused rather than followed differently from compose
        if what == "include project_directory" or (
            (what, raw) in config_time and ("$" in raw or raw.startswith("~") or is_remote(raw))
        ):
            found.append(f"{what}: {raw}")
            continue
        try:
            path = interpolate(raw, env)
        except InterpolationError:
            continue  # compose stops on it with its own message
        if not path or is_remote(path):
            continue
        # An absolute path replaces base; compose expands `~` to the grading machine's home.
        if path.startswith("~") or not inside(base / path, root):
            found.append(f"{what}: {raw}")
    return found
