"""Exit codes, and the one place that maps the grader's exceptions to them (pre-commit's
error_handler): every command raises, none prints its own error and picks a code."""

from __future__ import annotations

import sys
from collections.abc import Callable

from grader.errors import BadInput, GraderError, InfrastructureError, Terminated
from grader.reports.redaction import inert

# One definition: the exceptions carry theirs (grader.errors); these are the rest.
EXIT_OK, EXIT_BELOW, EXIT_BAD_INPUT, EXIT_INFRA, EXIT_CRASH = 0, 1, BadInput.exit_code, InfrastructureError.exit_code, 4
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
# Not "the stack was removed": the teardown ran, but whether it removed everything is not known here.
AFTER_SIGNAL = "the teardown ran; `grader cleanup` removes anything it could not\n"


def handled(command: Callable[[], int]) -> int:
    """`command`'s exit code, or the one its exception stands for, said once on stderr."""
    try:
        return command()
    except GraderError as exc:
        sys.stderr.write(inert(f"grader: {exc}\n"))
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("grader: interrupted (Ctrl-C); " + AFTER_SIGNAL)
        return EXIT_INTERRUPTED
    except Terminated:
        sys.stderr.write("grader: terminated (SIGTERM); " + AFTER_SIGNAL)
        return EXIT_TERMINATED
