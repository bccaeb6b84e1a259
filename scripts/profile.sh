#!/usr/bin/env bash
# Where the time goes (not CI): instructions per request under callgrind, which counts the same
# on a busy machine, then the functions that cost the most (inclusive).
#   scripts/profile.sh PROFILE REQUEST [SECONDS=8]
#     PROFILE: junos-space | oracle-sdm | storware | sensnet | infinite-blue | bare
#     REQUEST: login | use | mixed   (use: the benchmark's authenticated request; mixed: one login
#     then nine uses; bare answers anything)
# Needs valgrind and wrk (apt-get install -y valgrind wrk). CALLGRIND_OUT=file keeps the raw profile
# (for callgrind_annotate --tree=calling). CPUTIME=1 measures real CPU time instead: the server
# alone on CPU 0, wrk (64 connections) on CPU 1, and the server's user and kernel time per request
# from /proc (no valgrind); `bare` then answers with the reference's fixed bytes. PERF=1 samples
# the server in time instead (`perf record`, the cpu-clock event at 4999 Hz, under the same
# load; needs linux-perf): the kernel's share and the costliest user-space functions, with
# PERF_OUT=file keeping the raw profile (for `perf report` / `perf annotate`).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=$1 request=$2 seconds=${3:-8}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -z "${CALLGRIND_OUT:-}" ] || cp "$work/cg.out" "$CALLGRIND_OUT"; [ -z "${PERF_OUT:-}" ] || cp "$work/perf.data" "$PERF_OUT"; rm -rf "$work"' EXIT
cargo build --release --quiet --bin standin --example bare_reference
. scripts/requests.sh
if [ -n "${CPUTIME:-}${PERF:-}" ]; then
  run() { exec taskset -c 0 "$@"; }
else
  run() { exec valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@"; }
fi
if [ "$profile" = bare ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base=http://127.0.0.1:$port
  run target/release/examples/bare_reference "127.0.0.1:$port" >/dev/null 2>"$work/err" &
  for _ in $(seq 100); do curl -s -o /dev/null "$base/" && break; sleep 0.1; done
else
  # The benchmark's stands; the ready line says where each one listens.
  run target/release/standin serve benches/all-profiles.toml --workers 1 >"$work/ready" 2>"$work/err" &
  base=$(stand_url "$work/ready" "$profile")
fi
request_lua "$profile" "$request" "$base" > "$work/r.lua"
if [ -n "${CPUTIME:-}" ]; then
  pid=$(jobs -p %1)
  cpu() { awk '{print $14 + 0, $15 + 0}' "/proc/$pid/stat"; }
  read -r u0 s0 < <(cpu)
  n=$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" -s "$work/r.lua" "$base" | awk '/requests in/{print $1}')
  read -r u1 s1 < <(cpu)
  tick=$(getconf CLK_TCK)
  echo "$profile $request: $n requests, user $(((u1 - u0) * 1000000000 / tick / n)) ns and kernel $(((s1 - s0) * 1000000000 / tick / n)) ns of server CPU per request"
  exit 0
fi
if [ -n "${PERF:-}" ]; then
  pid=$(jobs -p %1)
  perf record -e cpu-clock -F 4999 -g -p "$pid" -o "$work/perf.data" -- sleep "$seconds" >/dev/null 2>&1 &
  taskset -c 1 wrk -t1 -c64 -d"${seconds}s" -s "$work/r.lua" "$base" | awk '/Requests\/sec/{print "'"$profile $request"': " $2 " requests/s under perf"}'
  wait %2 || true
  perf report -i "$work/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -E '^ +[0-9]' | head -5
  perf report -i "$work/perf.data" --no-children --sort dso,sym -g none 2>/dev/null | grep -E '^ +[0-9]' | grep -v '\[kernel' | head -25 | cut -c1-160
  exit 0
fi
n=$(wrk -t1 -c4 -d"${seconds}s" -s "$work/r.lua" "$base" | awk '/requests in/{print $1}')
kill -INT %1; wait %1 || true
total=$(callgrind_annotate "$work/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
echo "$profile $request: $n requests, $((total / n)) instructions per request (process total / requests)"
callgrind_annotate --inclusive=yes "$work/cg.out" 2>/dev/null | grep -E 'standin::|src/server.rs' | head -25 | cut -c1-160
