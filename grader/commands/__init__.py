"""One module per command (pre-commit's `commands/*.py`): each has `run(args) -> int` and holds
what the command does; grader.cli only parses and dispatches, and grader.commands.exits is the
one place that maps exceptions to exit codes."""
