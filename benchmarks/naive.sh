#!/bin/sh
# What a teacher would write by hand to check the homework: build and start, wait for the API,
# write a row, `down`, `up` again, read the row back, remove everything. No limits, no crash
# detection, no security screen: the baseline the grader is compared with (benchmarks/speed.py).
#
#   benchmarks/naive.sh DIR PROJECT     (DIR: a submission like fixtures/submissions/complete)
#   APP=api APP_PORT=3000 DB=db: its services (these defaults are the homework's usual ones)
set -eu
dir=$1 project=$2 app=${APP:-api} app_port=${APP_PORT:-3000} db_service=${DB:-db}
stop=${STOP:-}          # tuned.sh: "-t 1"
second_up=${SECOND_UP:---build}   # tuned.sh: "--no-build"
watch=${WATCH:-0}       # watched.sh: seconds the stack must stay up after the API first answered
dc() { docker compose --project-directory "$dir" -p "$project" "$@"; }
value() { sed -n "s/^$1=//p" "$dir/.env" | tail -n 1; }
user=$(value POSTGRES_USER) db=$(value POSTGRES_DB)
psql() { dc exec -T "$db_service" psql -v ON_ERROR_STOP=1 -U "${user:-postgres}" -d "${db:-${user:-postgres}}" -tAc "$1"; }
give_up() { n=$((n + 1)); [ "$n" -lt 600 ] || { echo "$0: gave up waiting for $1 (120 s)" >&2; exit 1; }; sleep 0.2; }
wait_api() {
  port=$(dc port "$app" "$app_port" | sed 's/.*://') n=0
  until curl -s -o /dev/null "http://127.0.0.1:$port/"; do give_up "the API"; done
}
wait_db() { n=0; until psql "select 1" >/dev/null 2>&1; do give_up "PostgreSQL"; done; }
now() { date +%s.%N; }
# Sleep out what is left of the watch, then fail if a service is neither running nor done (exit 0).
still_up() {
  sleep "$(awk -v since="$1" -v watch="$watch" -v now="$(now)" 'BEGIN { d = since + watch - now; print (d > 0 ? d : 0) }')"
  dc ps --all --format '{{.Service}} {{.State}} {{.ExitCode}}' |
    awk '$2 != "running" && !($2 == "exited" && $3 == 0) { print "crashed: " $0 > "/dev/stderr"; bad = 1 } END { exit bad }'
}

dc up --detach --build --wait --quiet-pull >/dev/null 2>&1
wait_api
answered=$(now)
wait_db
psql "create table if not exists bench_marker (v text); insert into bench_marker values ('kept')" >/dev/null
[ "$watch" = 0 ] || still_up "$answered"
dc down $stop >/dev/null 2>&1
dc up --detach $second_up --wait >/dev/null 2>&1
wait_db
test "$(psql 'select v from bench_marker limit 1')" = kept
dc down --volumes $stop >/dev/null 2>&1
