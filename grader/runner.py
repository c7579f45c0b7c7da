"""One grading run, top to bottom (`grade`): copy the submission, screen its compose files, fill
the instructor's grading values in, resolve the model with compose, read the Dockerfile, prepare
the stack behind the security gate, run every registered check in order, always tear down."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence, Set
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from checks import registry as build_registry
from grader import NAME, __version__, dockerfile, helpers, jail, locate, policy, redaction, resolve, values
from grader.context import AnyCheck, Context, Options, Prepared, StackCheck, StackContext
from grader.deadline import DeadlineExceeded, deadline
from grader.engine import compose_command, docker_client
from grader.errors import BadInput, GateClosed
from grader.events import CheckFinished, CheckStarted, PhaseEnded, PhaseStarted
from grader.images import drop_cache_mounts, pin_dockerfiles
from grader.messages import language, msg, named, title
from grader.model import CheckResult, Location, Outcome, Phase, Report, Status, Substitution, bound
from grader.override import POSTGRES_PORT, db_port
from grader.progress import Progress, Silent
from grader.redaction import inert, redact
from grader.resolve import Rejection, Resolution
from grader.rubric import Rubric
from grader.timing import Timings
from grader.untrusted import inside

if TYPE_CHECKING:  # the engine's libraries load only for a run that uses the engine
    import docker

    from grader.stack import Stack

# 1.1: `location` of a finding; 1.2: `hidden` checks; 1.3: `lang`; 1.4: `traceback`;
# 1.5: status `incomplete` with `ungraded`, a check's `cause`, `images` (the rubric's pins);
# 1.6: `kind` (grade or lint), `timings` (seconds per phase); 1.7: `submission.project_dir` and
# `project_found` (grader.locate), `setup` (services left out, env files filled in)
SCHEMA_VERSION = "1.7"
TEARDOWN_S = 240.0  # removals by label (containers at once, then networks and volumes), images, layers


def validate_submission(path: Path) -> Path:
    if not path.exists():
        raise BadInput(f"{path}: no such file or directory")
    if not path.is_dir():
        raise BadInput(f"{path}: not a directory (give the folder of the student's repository)")
    if not os.access(path, os.R_OK | os.X_OK):
        raise BadInput(f"{path}: cannot read this directory (permission denied)")
    return path.resolve()


def copy_submission(source: Path, destination: Path) -> list[str]:
    """Copy the submission to `destination` and return the links left out, as `link -> target`.

    Skipped: .git; FIFOs, sockets and devices (opening a FIFO would hang the grader); symlinks
    that resolve outside the submission (`secret -> /etc/passwd`: compose, the Dockerfile
    checks and a bind mount would otherwise read the grading machine's files)."""
    dropped: list[str] = []

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {".git"} & set(names)
        for name in names:
            path = os.path.join(directory, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode) and not inside(path, source):
                dropped.append(f"{os.path.relpath(path, source)} -> {os.readlink(path)}")
                skipped.add(name)
            elif not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                skipped.add(name)
        return skipped

    try:
        shutil.copytree(source, destination, symlinks=True, ignore=ignore)
    except (shutil.Error, OSError) as exc:
        raise BadInput(f"{source}: cannot copy the submission ({bound(str(exc), 500)})") from exc
    return dropped


def project_name(submission: Path) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", submission.name.lower()).strip("-")[:24] or "submission"
    return f"grader-{slug}-{secrets.token_hex(3)}"


class Blocker(NamedTuple):
    why: str  # for the student
    cause: str  # the check whose verdict is the root cause


def _blocker(
    check: AnyCheck,
    done: Mapping[str, CheckResult],
    present: set[str],
    blocked: Set[str] = frozenset(),
    readable: Set[str] = frozenset(),
) -> Blocker | None:
    """Why `check` cannot run yet; a prerequisite the rubric disabled does not block. The cause is
    followed to its root: startup skipped because the build was skipped because `compose.file`
    failed names `compose.file`, the one thing to fix. `blocked` are the checks the runner skipped
    (they never ran); a check that ran and skipped itself because of a root cause (the stack was
    started) does not block checks that only need it to have run. `readable`: checks whose
    `error` leaves something to read (compose.file without the instructor's grading values: the
    model resolved without env files), which does not block those that only read it."""
    for needed in (n for n in check.requires if n in present):
        result = done.get(needed)
        if result is None or result.status is not Status.PASSED:
            return _explain("runner.needs_pass", needed, done)
    for needed in (n for n in check.after if n in present):
        result = done.get(needed)
        if (
            result is None
            or (result.status is Status.ERROR and needed not in readable)
            or (result.status is Status.SKIPPED and (needed in blocked or result.cause is None))
        ):
            return _explain("runner.needs_run", needed, done)
    return None


def _explain(key: str, needed: str, done: Mapping[str, CheckResult]) -> Blocker:
    result = done.get(needed)
    state = msg(f"state.{result.status.value}") if result else msg("state.not_run")
    why = msg(key, needed=named(needed), state=state)
    cause = result.cause if result is not None and result.cause else needed
    root = done.get(cause)
    if root is not None and root.status is Status.ERROR:  # nothing the student can fix
        why += " " + msg("runner.root_error", cause=named(cause))
    elif cause != needed:
        why += " " + msg("runner.root_cause", cause=named(cause))
    return Blocker(why, cause)


def run_check(
    check: AnyCheck,
    prepared: Prepared,
    done: Mapping[str, CheckResult],
    present: set[str] | None = None,
    blocked: Set[str] = frozenset(),
    on_stack: StackContext | None = None,
) -> CheckResult:
    """Run one check; a crash becomes an `error` result for this check only. A static check gets
    the run's Context, a StackCheck the StackContext (`on_stack`, built once per run)."""
    ctx = prepared.context
    started = time.monotonic()
    present = present if present is not None else set(check.requires + check.after)
    blocker = _blocker(check, done, present, blocked, _readable(ctx))
    if blocker is not None:
        outcome = Outcome.skipped(blocker.why, blocker.cause)
    else:
        seconds = ctx.options.deadline(check.phase)
        try:
            with deadline(seconds):
                outcome = _call(check, prepared, on_stack)
        except DeadlineExceeded:
            outcome = Outcome.error(msg("runner.deadline", seconds=f"{seconds:.0f}"))
        except Exception as exc:
            outcome = Outcome.error(
                msg("runner.crash", error=f"{type(exc).__name__}: {exc}"),
                bound(traceback.format_exc(), 2000),
            )
    if outcome.status is Status.PASSED:
        share = 1.0 if outcome.fraction is None else outcome.fraction
    elif outcome.status is Status.FAILED:
        share = outcome.fraction or 0.0
    else:
        share = 0.0
    points = check.max_points * max(0.0, min(share, 1.0))
    hidden = ctx.secrets  # grading values no report may show
    return CheckResult(
        id=check.id,
        category=check.category,
        title=title(check.title),
        status=outcome.status,
        points=round(points, 2),
        max_points=check.max_points,
        # inert: a submission's words (its logs, compose's messages about its files) end up in CI logs
        feedback=inert(redact(outcome.feedback, hidden)),
        evidence=inert(bound(redact(ctx.relative(outcome.evidence), hidden))),
        hints=tuple(inert(redact(h, hidden)) for h in outcome.hints),
        duration_s=round(time.monotonic() - started, 2),
        location=_in_repository(outcome.location, ctx.project_dir),
        hidden=check.hidden,
        cause=outcome.cause if outcome.status is Status.SKIPPED else None,
    )


def _call(check: AnyCheck, prepared: Prepared, on_stack: StackContext | None) -> Outcome:
    """The check's function with the context its kind reads."""
    if not isinstance(check, StackCheck):
        return check.run(prepared.context)
    if on_stack is None:
        # Only when a rubric disabled what the check waits for, or preparing the stack failed:
        # the registry refuses a StackCheck that does not wait for the gate.
        return Outcome.error(prepared.unprepared or msg("runner.no_stack"))
    return check.run(on_stack)


def _where_in_repository(where: str, project_dir: str) -> str:
    """`Dockerfile line 1` from the repository's root: `ecommerce-ana/Dockerfile line 1`."""
    return where if project_dir == locate.ROOT else f"{project_dir}/{where}"


def _in_repository(location: Location | None, project_dir: str) -> Location | None:
    """A finding's file from the repository's root: what a student opens, what GitHub annotates."""
    if location is None or project_dir == locate.ROOT:
        return location
    return location._replace(file=f"{project_dir}/{location.file}")


def _readable(ctx: Context) -> frozenset[str]:
    """compose.file when compose lacked only an env file: its model without them is still read."""
    resolution = ctx.resolution
    return frozenset({"compose.file"}) if resolution.project is None and resolution.analysis else frozenset()


def run_checks(
    prepared: Prepared, registry: Mapping[str, AnyCheck], progress: Progress | None = None
) -> tuple[CheckResult, ...]:
    progress = progress or Silent()
    done: dict[str, CheckResult] = {}
    present = set(registry)
    blocked: set[str] = set()
    ctx = prepared.context
    on_stack = StackContext.of(ctx, prepared.stack)  # the same stash, timings and values as ctx
    for check in registry.values():
        if _blocker(check, done, present, blocked, _readable(ctx)) is not None:
            blocked.add(check.id)
        else:
            progress.emit(CheckStarted(check.id, title(check.title), check.phase))
        done[check.id] = run_check(check, prepared, done, present, blocked, on_stack)
        progress.emit(CheckFinished(done[check.id]))
    return tuple(done.values())


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
    # instructor's to supply (grader.values), not the student's to be charged for.
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
    # 3b. The grading values the run still lacks (the rubric's to give; grader.values). A help
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
    """grader.values.absent of the graded file; nothing for a file the screen reports unreadable."""
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
    from grader.networks import host_routes, own_container
    from grader.stack import Stack, normal_reference

    db = model.db_service()
    grader_container = own_container(client)
    if grader_container is not None:  # subnets are judged against the machine's routes, not ours
        routes = host_routes(client, grader_container)
        if routes:
            policy.use_routes(routes)
    stack = Stack(root, project, client, grader_container=grader_container)
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


def teardown(stack: Stack | None, seconds: float = TEARDOWN_S, background: bool = False) -> list[str]:
    """Remove everything the run started; what could not be removed, for the report. With
    `background`, images are removed after the report (grader.reaper)."""
    if stack is None:
        return []
    try:
        with deadline(seconds):
            return stack.teardown(background)
    except DeadlineExceeded:
        return [f"teardown did not finish within {seconds:.0f} s; `grader cleanup` removes what is left"]


def _unconfined() -> tuple[str, ...]:
    """What the report says when this machine could not confine the run as grader.jail does."""
    why = jail.available()
    return () if why is None else (f"compose config ran without its jail ({why}); merges of several anchors refused",)


def not_graded(path: Path, error: str, lang: str = "en", trace: str | None = None, kind: str = "grade") -> Report:
    """The report of a run that could not grade: bad input, no engine, a signal, a grader crash."""
    return Report(
        schema_version=SCHEMA_VERSION,
        grader_name=NAME,
        grader_version=__version__,
        submission_path=str(path.absolute()),
        submission_name=path.absolute().name,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        duration_s=0.0,
        status="error",
        lang=lang,
        error=inert(bound(error, 2000)),
        traceback=inert(bound(trace, 20_000)) if trace else None,
        kind=kind,
    )


def grade(
    path: Path,
    options: Options | None = None,
    registry: Mapping[str, AnyCheck] | None = None,
    rubric: Rubric | None = None,
    progress: Progress | None = None,
    lint: bool = False,
    project: str | None = None,
    reap_in_background: bool = False,
) -> Report:
    """Grade one submission folder. Raises BadInput / InfrastructureError before anything runs.
    With `lint`, the static checks only: no engine is asked for, nothing is built or started.
    `project`: the folder of the repository to grade (`--project`, a roster's `path`); without it,
    grader.locate finds it (the root, or the one project folder below it). `reap_in_background`:
    the images the run built or pulled are removed by grader.reaper after the report (the CLI's
    default), except after a signal or a crash, when the process removes them before it ends."""
    rubric = rubric or Rubric()
    checks = registry if registry is not None else build_registry(rubric)
    if lint:
        checks = {k: c for k, c in checks.items() if c.phase is Phase.STATIC}
    submission = validate_submission(path)
    located = locate.given(submission, project) if project else locate.locate(submission, rubric.project)
    source = submission / located.path if located.below else submission
    client = None if lint else docker_client()
    compose_command()  # fail early, with install instructions, when compose is missing
    started_at = datetime.now(timezone.utc)
    t0 = time.monotonic()
    watched = progress or Silent()
    timings = Timings(
        lambda name, seconds: watched.emit(PhaseStarted(name) if seconds is None else PhaseEnded(name, seconds))
    )
    # A container can leave root-owned files in the copy (a bind mount of `.`): a grader that is
    # not root cannot delete them, and that must not cost the report.
    with tempfile.TemporaryDirectory(prefix="grader-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp) / "submission"
        with timings.phase("copy"):
            dropped = copy_submission(source, root)
        hidden = redaction.secrets(rubric.secret_items(), redaction.submission_assignments(submission))
        options = options or Options.of(rubric)
        with language(options.lang):
            with timings.phase("config"):
                name = project_name(submission)
                prepared = prepare(root, options, client, name, rubric, hidden, dropped, timings, located.path)
            try:
                results = run_checks(prepared, checks, progress)
            finally:
                with timings.phase("teardown") if prepared.stack else nullcontext():
                    ended_normally = sys.exc_info()[0] is None
                    problems = teardown(prepared.stack, background=reap_in_background and ended_normally)
    ctx = prepared.context
    report = Report(
        schema_version=SCHEMA_VERSION,
        grader_name=NAME,
        grader_version=__version__,
        submission_path=str(submission),
        submission_name=submission.name,
        started_at=started_at.isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - t0, 2),
        status="graded",
        lang=ctx.options.lang,
        checks=results,
        # what compose resolved may carry a variable's value: redacted like all feedback
        images=tuple(
            s._replace(written=inert(redact(s.written, ctx.secrets)), where=_where_in_repository(s.where, located.path))
            for s in ctx.substitutions
            if not any(s.where.endswith(f" services.{helper}.image") for helper in ctx.left_out)  # never run
        ),
        warnings=tuple(inert(f"not copied (link outside the submission): {d}") for d in dropped)
        + tuple(f"cleanup: {p}" for p in problems)
        + _unconfined()
        + tuple(prepared.stack.notes if prepared.stack else ()),
        kind="lint" if lint else "grade",
        timings=timings.spent(),
        project_dir=located.path,
        project_found=located.how,
        left_out=tuple(ctx.left_out),
        env_used=tuple(inert(redact(n, ctx.secrets)) for n in ctx.resolution.env_notes),
    )
    # Points the run could not judge are not a grade: a gradebook must not record this score.
    return dataclasses.replace(report, status="incomplete") if report.ungraded else report
