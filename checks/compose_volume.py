"""ACTIVIDAD 03: the database's data directory lives on a named volume."""

from __future__ import annotations

from typing import Any

from grader.context import Context
from grader.model import Category, Check, Outcome
from grader.project import LEGACY_PGDATA, V18_VOLUME, covers, data_mount, postgres_layout, split_image


def _judge(ctx: Context) -> Outcome:
    project = ctx.compose
    db = project.db_service()
    if db is None:
        return Outcome.failed("There is no PostgreSQL service whose data could be kept (see the services check).")
    service = project.services[db]
    image = str(service.get("image"))
    layout = postgres_layout(image, project.environment(db))
    mounts: list[dict[str, Any]] = list(service.get("volumes") or [])
    where = project.where("services", db, "volumes") if mounts else project.where("services", db)
    evidence = "\n".join(f"{m.get('type')}: {m.get('source') or '(anonymous)'} -> {m.get('target')}" for m in mounts)
    evidence = f"{db}: image {image}, data directory {layout.pgdata}\n{evidence or 'no volumes'}"
    example = f'`volumes: ["pgdata:{layout.expected_mount}"]` on `{db}` and a top-level `volumes: {{pgdata: {{}}}}`'

    if layout.is_18_layout:
        legacy = [m for m in mounts if m.get("target") == LEGACY_PGDATA and not covers(LEGACY_PGDATA, layout.pgdata)]
        if legacy:
            version = (
                f"`{image}` is PostgreSQL {layout.major}"
                if split_image(image)[1][:1].isdigit()
                else f"`image: {image}` means the newest PostgreSQL (18 or later)"
            )
            return Outcome.failed(
                f"{where}: {version}. Since 18 the image "
                f"keeps its data in {layout.pgdata} and refuses to start with a mount at {LEGACY_PGDATA}. Mount the "
                f"volume at {V18_VOLUME} instead (`pgdata:{V18_VOLUME}`), or pin `postgres:17` or older.",
                evidence,
            )
    holder = data_mount(layout, mounts)
    if holder and holder.get("type") == "volume" and holder.get("source"):
        return Outcome.passed(f"`{db}` keeps {layout.pgdata} on the named volume `{holder['source']}`.", evidence)
    if holder and holder.get("type") == "bind":
        return Outcome.failed(
            f"{where}: the data directory is a folder of your repository (bind mount). The homework asks for a "
            f"named volume managed by Docker: {example}.",
            evidence,
        )
    if mounts:
        targets = ", ".join(str(m.get("target")) for m in mounts)
        return Outcome.failed(
            f"{where}: `{db}` mounts {targets}, but `{image}` keeps its data in {layout.pgdata}, so the data is not "
            f"on your volume and is lost with the container. Use {example}.",
            evidence,
        )
    return Outcome.failed(
        f"{where}: `{db}` has no volume, so the data disappears when the container is removed. Add {example}.",
        evidence,
    )


def run(ctx: Context) -> Outcome:
    db = ctx.compose.db_service()
    if db is None:
        return _judge(ctx).at(ctx.compose.location("services"))
    keys = ("services", db, "volumes") if ctx.compose.services[db].get("volumes") else ("services", db)
    return _judge(ctx).at(ctx.compose.location(*keys))


CHECK = Check(
    id="compose.volume",
    category=Category.COMPOSE,
    title="Database data on a named volume",
    max_points=10,
    run=run,
    requires=("compose.file",),
)
