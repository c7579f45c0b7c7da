"""Exceptions the CLI maps to exit codes (one place: grader.cli.main)."""

from __future__ import annotations


class GraderError(Exception):
    exit_code = 1


class BadInput(GraderError):
    """The path given is not a gradable folder. Exit code 2."""

    exit_code = 2


class InfrastructureError(GraderError):
    """No engine, no compose: the machine is not ready. Exit code 3."""

    exit_code = 3


class Terminated(BaseException):
    """SIGTERM (a CI runner cancelling the job). A BaseException like KeyboardInterrupt, so no
    check's `except Exception` swallows it and the run's `finally` tears the stack down."""


class GateClosed(RuntimeError):
    """Something tried to build or start a stack the security gate has not passed."""


class CommandTimeout(GraderError):
    """A docker/compose command did not finish within its deadline."""

    def __init__(self, command: list[str], timeout: float, output: str = "") -> None:
        super().__init__(f"`{' '.join(command[:4])} ...` did not finish within {timeout:.0f} s")
        self.command = command
        self.timeout = timeout
        self.output = output
