#!/usr/bin/env bash
# The GitHub Action's grading step: turns the action's inputs into one `grader grade` call.
# The grader itself writes the step summary, the annotations and the step outputs (it reads
# GITHUB_STEP_SUMMARY, GITHUB_ACTIONS and GITHUB_OUTPUT).
set -euo pipefail
grader="$RUNNER_TEMP/compose-grader/bin/grader"
dir=${INPUT_REPORT_DIR:-grader-report}
mkdir -p "$dir"
args=(grade "${INPUT_PATH:-.}" --json "$dir/report.json")
IFS=',' read -r -a wanted <<< "${INPUT_FORMATS:-}"
for format in "${wanted[@]}"; do
  case "$(echo "$format" | tr -d '[:space:]')" in
    "") ;;
    markdown) args+=(--markdown "$dir/summary.md") ;;
    junit) args+=(--junit "$dir/junit.xml") ;;
    gradescope) args+=(--gradescope "$dir/results.json") ;;
    classroom) args+=(--classroom) ;;
    *) echo "::error title=compose-grader::unknown format '$format' (markdown, junit, gradescope, classroom)"; exit 2 ;;
  esac
done
[ -n "${INPUT_FAIL_UNDER:-}" ] && args+=(--fail-under "$INPUT_FAIL_UNDER")
[ -n "${INPUT_RUBRIC:-}" ] && args+=(--rubric "$INPUT_RUBRIC")
[ -n "${INPUT_LANG:-}" ] && args+=(--lang "$INPUT_LANG")
exec "$grader" "${args[@]}"
