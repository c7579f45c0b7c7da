"""Everything a check reads, prepared before the first one runs: the screen, the instructor's
grading values, the model compose resolves, the Dockerfile, the helpers left out, and the stack
behind the security gate. Each step gives a value; a fault of the grader's own becomes the
`error` of the check that needed it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader.engine.override import POSTGRES_PORT, db_port
from grader.errors import GateClosed
from grader.intake import dockerfile, helpers, locate, policy, resolve, values
from grader.intake.images import drop_cache_mounts, pin_dockerfiles
from grader.intake.resolve import Rejection, Resolution
from grader.intake.rubric import Rubric
from grader.messages import msg
from grader.model import Substitution
from grader.run.context import Context, Options, Prepared
from grader.run.timing import Timings

if TYPE_CHECKING:  # the engine's libraries load only for a run that uses the engine
    import docker

    from grader.engine.stack import Stack


def prepare(
    root: Path,
    options: Options,
    client: docker.DockerClient | None,
    project: str,
    rubric: Rubric | None = None,
    hidden: tuple[str, ...] = (),
    dropped_links: Sequence[str] = (),
    timings: Timings | None = None,
    project_dir: str = locate.ROOT,
) -> Prepared:
    """Everything a check reads, prepared before the first one runs (`root` is the copy). Without
    a `client` (`grader lint`, unit tests) there is no stack: the static checks need none. Every
    step gives a value: what a submission can make fail is reported by the check it concerns, and
    a fault of the grader's own becomes that check's `error`, never the whole run's."""
    rubric = rubric or Rubric()
    files = resolve.compose_files(root)
    examples: tuple[tuple[str, str], ...] = ()  # (missing env file, the example standing in)
    # The env files git does not hold, before the grader writes any: what they would give is the
    # instructor's to supply (grader.intake.values), not the student's to be charged for.
    missing = _absent(root, files)
    try:
        # 0. Without grading values from the rubric, the env examples a student committed stand in
        #    for the env files git does not hold (before the screen: they are the student's files).
        if rubric.env_examples and not rubric.environment:
            examples = resolve.stand_ins(root, files)
        # 1. The screen, before compose reads anything: YAML bombs, paths outside, the grader's variables.
        refused = resolve.screen(root, files)
        # 2. The instructor's grading values, into the env files the compose file names (in the copy).
        notes = tuple(msg("env.example_used", file=f, example=e) for f, e in examples)
        notes += resolve.provide(root, files, rubric.environment) if refused is None else ()
        # 3. The model, resolved by compose itself, with the rubric's pins of `image:`; an invalid
        #    file is a Rejection, not an exception.
        resolution = (
            Resolution(files, rejection=refused)
            if refused is not None
            else resolve.resolve(root, files, project, rubric.images, rubric.app_service, notes)
        )
    except Exception as exc:
        resolution = Resolution(files, rejection=Rejection(_fault("compose", exc), crashed=True))
    # 3b. The grading values the run still lacks (the rubric's to give; grader.intake.values). A help
    #     for the instructor: should reading them fail, the run is graded as without it.
    try:
        gaps = _missing_values(root, files, resolution, missing) if missing else ()
    except Exception:
        gaps = ()
    # 4. The Dockerfile as the student wrote it (dockerfile.locate), before step 5 pins its images.
    analysis = resolution.analysis
    source = dockerfile.locate(root, analysis, analysis.app_service() if analysis else None)
    # 5. The rubric's helpers (pgAdmin, ...) the run leaves out: never started, never graded.
    left_out = helpers.left_out(resolution.project, rubric.helpers) if resolution.project else ()
    # 6. The stack (Stack.prepare: the grader's override; images.pin_dockerfiles: the rubric's
    #    `FROM` pins): only for a model compose resolved with everything, past the security gate.
    unprepared = ""
    try:
        stack, pins = _prepare_stack(root, resolution, project, client, options, rubric.images, left_out)
        if client is None and resolution.project is not None:  # `grader lint`: what a build would use
            pins = tuple(pin_dockerfiles(resolution.project, rubric.images, root))
    except Exception as exc:
        stack, pins, unprepared = None, (), _fault("the stack", exc)
    context = Context(
        root=root,
        options=options,
        project_name=project,
        rubric=rubric,
        resolution=resolution,
        dockerfile=source,
        secrets=hidden,
        substitutions=resolution.substitutions + pins,
        dropped_links=tuple(dropped_links),
        timings=timings or Timings(),
        project_dir=project_dir,
        left_out=left_out,
        examples=tuple(f for f, _ in examples),
        gaps=tuple(g for g in gaps if g.service not in left_out),
        absent=missing,
    )
    return Prepared(context, stack, unprepared)


def _absent(root: Path, files: tuple[Path, ...]) -> frozenset[str]:
    """grader.intake.values.absent of the graded file; nothing for a file the screen reports unreadable."""
    try:
        return values.absent(root, files[0].read_text(errors="replace")) if files else frozenset()
    except OSError:
        return frozenset()


def _missing_values(
    root: Path, files: tuple[Path, ...], resolution: Resolution, missing: frozenset[str]
) -> tuple[values.Gap, ...]:
    """What the files git does not hold would give and nothing the run has supplies. Without a
    model (compose rejected the file), only compose's interpolation can be judged."""
    text = files[0].read_text(errors="replace")
    model = resolution.project
    contexts: dict[str, Path] = {}
    environments: dict[str, dict[str, str]] | None = None
    if model is not None:
        environments = {name: model.environment(name) for name in model.services}
        for name in model.build_services():
            context = model.build_paths(name)[0]
            if context.resolve().is_relative_to(root.resolve()):
                contexts[name] = context
    expectations = values.expected(root, text, missing, contexts)
    if environments is None:
        expectations = [e for e in expectations if e.interpolated]
    else:  # a service compose leaves out (an inactive profile) never runs: it lacks nothing
        expectations = [e for e in expectations if e.service in environments]
    dotenv = values.parse_env_file(root / values.DOTENV)
    return values.gaps(expectations, dotenv, environments or {})


def _prepare_stack(
    root: Path,
    resolution: Resolution,
    project: str,
    client: docker.DockerClient | None,
    options: Options,
    pins: dict[str, str],
    left_out: tuple[str, ...] = (),
) -> tuple[Stack | None, tuple[Substitution, ...]]:
    """The stack with the grader's override (ports, names, limits, images) and the rubric's pins
    in the Dockerfiles it builds; (None, ()) when there is no model to run or the gate refuses it
    (security.policy says why, and nothing that needs a stack runs)."""
    model = resolution.project
    if model is None or client is None:
        return None, ()
    # Here, not at the top: `grader lint` (no client) never loads docker, testcontainers, requests.
    from grader.engine.networks import host_routes, own_container, shares_host_network
    from grader.engine.stack import Stack, normal_reference

    db = model.db_service()
    grader_container = own_container(client)
    host_network = grader_container is not None and shares_host_network(client, grader_container)
    if grader_container is not None and not host_network:  # subnets judged by the machine's routes, not ours
        routes = host_routes(client, grader_container)
        if routes:
            policy.use_routes(routes)
    stack = Stack(root, project, client, grader_container=grader_container, host_network=host_network)
    try:
        config = helpers.without(model.config, left_out)
        stack.prepare(config, db, options.limits, db_port(model.environment(db)) if db else POSTGRES_PORT)
        stack.keep_images = frozenset(normal_reference(used) for used in pins.values())
        pinned = tuple(pin_dockerfiles(model, pins, root))
        stack.notes += [
            f"build cache mount dropped (never shared between students): {d}" for d in drop_cache_mounts(model, root)
        ]
        return stack, pinned
    except BaseException as exc:
        stack.discard()  # nothing was started from it: only its override folder exists
        if isinstance(exc, GateClosed):
            return None, ()  # security.policy says why; nothing that needs a stack runs
        raise


def _fault(step: str, exc: Exception) -> str:
    """A grader fault while preparing `step`, for the check that needed it (an `error`)."""
    return msg("runner.prepare_crash", step=step, error=f"{type(exc).__name__}: {exc}")
