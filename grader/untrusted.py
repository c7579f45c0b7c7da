"""Reading a stranger's files without trusting them: YAML that cannot explode, and the paths a
compose file names, which must stay inside the repository.

`docker compose config` expands YAML aliases without limit (a 1 KB "billion laughs" file made
it eat gigabytes here before it crashed) and reads every env_file, label_file, include and
extends file it names, wherever it is, before the security gate sees anything. So both are
screened here, on the raw text, before compose runs.
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


class UnsafeInput(ValueError):
    """A file the grader refuses to process; the message says why, for the student."""


def _expanded_size(root: yaml.Node) -> int:
    """Nodes the document becomes once aliases are expanded. PyYAML's composer shares aliased
    nodes, so this walks the graph with memoisation instead of building the expansion. An alias
    inside its own anchor (`a: &x [*x]`) makes the graph cyclic: its expansion is infinite."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the current path: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in open_nodes:
            return MAX_YAML_NODES + 1
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in children)
            if sizes[id(node)] > MAX_YAML_NODES:
                return sizes[id(node)]
        else:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes.get(id(root), 1)


def screen_yaml(text: str, name: str) -> None:
    """UnsafeInput when `text` is too large or expands (through aliases) beyond a sane size.
    Invalid YAML passes: the caller reports it in its own words."""
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise UnsafeInput(msg("yaml.too_large", name=name, kb=MAX_YAML_BYTES // 1024))
    try:
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if node is not None and _expanded_size(node) > MAX_YAML_NODES:
                raise UnsafeInput(msg("yaml.bomb", name=name, nodes=f"{MAX_YAML_NODES:,}"))
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


# -- paths a compose file names ------------------------------------------------------------
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `$VAR` substitution, enough to see where a path
    really points (`${HOME}/.ssh/id_rsa` must not pass as a relative path)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3) or ""
        current = env.get(name)
        if op in (":-", "-"):
            return current if current or (op == "-" and current is not None) else arg
        if op in (":+", "+"):
            return arg if current or (op == "+" and current is not None) else ""
        return current or ""

    return _VARIABLE.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


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


def named_files(data: Any) -> Iterator[tuple[str, str]]:
    """(what, path) for every file or folder a raw compose document makes compose read."""
    if not isinstance(data, dict):
        return
    for entry in _paths(data.get("include")):
        yield "include", entry
    for item in data.get("include") or [] if isinstance(data.get("include"), list) else []:
        if isinstance(item, dict):
            for key in ("env_file", "project_directory"):
                for p in _paths(item.get(key)):
                    yield f"include {key}", p
    services = data.get("services")
    for name, service in (services or {}).items() if isinstance(services, dict) else []:
        if not isinstance(service, dict):
            continue
        for key in ("env_file", "label_file"):
            for p in _paths(service.get(key)):
                yield f"service `{name}` {key}", p
        extends = service.get("extends")
        if isinstance(extends, dict) and isinstance(extends.get("file"), str):
            yield f"service `{name}` extends", extends["file"]
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


def _is_remote(path: str) -> bool:
    return "://" in path or path.startswith(("git@", "github.com/", "docker-image:", "service:", "oci://"))


def outside_references(data: Any, base: Path, root: Path, env: Mapping[str, str]) -> list[str]:
    """`what: path` for each file a compose document names that lies outside `root`, following
    symlinks, after interpolating variables with `env`. `base` is the compose file's folder."""
    found = []
    for what, raw in named_files(data):
        path = interpolate(raw, env)
        if not path or _is_remote(path):
            continue
        # An absolute path replaces base; compose expands `~` to the grading machine's home.
        if path.startswith("~") or not inside(base / path, root):
            found.append(f"{what}: {raw}")
    return found
