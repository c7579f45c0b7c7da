#!/bin/sh
# tuned.sh that also catches what the grader catches at startup: a service that dies seconds after
# the API answered (fixtures/submissions/late-crash dies 3 s after it listens). It keeps the stack
# up WATCH seconds after the first answer, the grader's watch (grader.engine.waiting.WATCH_S), and fails
# when a service is then neither running nor finished with exit 0. The like-for-like baseline.
#
#   benchmarks/watched.sh DIR PROJECT
STOP="-t 1" SECOND_UP="--no-build" WATCH=${WATCH:-4} exec "$(dirname "$0")/naive.sh" "$@"
