#!/usr/bin/env bash
# Is B faster than A? Two standin binaries under the same load, in alternating pairs (not CI).
#   scripts/ab.sh BINARY_A BINARY_B PROFILE REQUEST [PAIRS=10] [SECONDS=2]
#     PROFILE, REQUEST: as scripts/profile.sh (junos-space | oracle-sdm | storware | sensnet |
#     infinite-blue; login | use | mixed)
# Both serve the benchmark's stands, one worker each on CPU 0, wrk on CPU 1. Each pair loads both
# at once, 32 connections each (two wrk processes), and compares their requests per second of
# their own CPU time (/proc/PID/task/*/schedstat), as the benchmark's side-by-side column does:
# the machine's swings of speed fall on both. The result is the median of the pairs' ratios B/A,
# each pair printed (the same binary on both sides reads 1 within about 0.01 a pair).
# BACK_TO_BACK=1 runs A and B one after the other instead (64 connections, alternating which
# goes first) and compares plain throughput: on this VM its pairs spread over tenths.
# Two states of one binary instead of two binaries: FILL_B=SECONDS first logs in against B for
# that long (64 connections), and RESET_A=1 resets A's stand before every pair (POST
# /__standin/reset, then the login again: the benchmark scenario's seed mints the same session),
# as the benchmark does before every run.
# To build a binary of another commit:
#   git worktree add /tmp/a COMMIT && (cd /tmp/a && cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 profile=$3 request=$4 pairs=${5:-10} seconds=${6:-2}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/requests.sh
# Started here, not in a `$(...)` subshell: a server started in one is no job of this shell,
# so the trap below would leave it running (and holding its memory) after the script.
start() {
  taskset -c 0 "$1" serve benches/all-profiles.toml --workers 1 --control-port 0 >"$work/$2.ready" 2>/dev/null &
}
# `taskset` execs the server, so `$!` is the server's pid.
start "$a" a; pid_a=$!
start "$b" b; pid_b=$!
url_a=$(stand_url "$work/a.ready" "$profile") url_b=$(stand_url "$work/b.ready" "$profile")
if [ -n "${FILL_B:-}" ]; then
  fill "$profile" "$url_b" "$FILL_B" "$work"
  echo "B holds $(sessions_held "$url_b") sessions"
fi
request_lua "$profile" "$request" "$url_a" > "$work/a.lua"
request_lua "$profile" "$request" "$url_b" > "$work/b.lua"
# A's stand back to its state after start-up and one login, its requests unchanged.
reset_a() {
  curl -s -XPOST "$url_a/__standin/reset" > /dev/null
  request_lua "$profile" "$request" "$url_a" > "$work/again.lua"
  cmp -s "$work/a.lua" "$work/again.lua" || { echo "A's stand minted another session after a reset" >&2; exit 1; }
}
rps() { taskset -c 1 wrk -t1 -c64 -d"${seconds}s" -s "$work/$1.lua" "$2" | awk '/Requests\/sec/{print $2}'; }
# Nanoseconds a server's threads have been on a CPU.
cpu() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{n += $1} END {printf "%.0f\n", n}'; }
served() { taskset -c 1 wrk -t1 -c32 -d"${seconds}s" -s "$work/$1.lua" "$2" | awk '/requests in/{print $1}' > "$work/$1.n"; }
ratios=()
for i in $(seq "$pairs"); do
  if [ -n "${RESET_A:-}" ]; then reset_a; fi
  if [ -n "${BACK_TO_BACK:-}" ]; then
    if (( i % 2 )); then ra=$(rps a "$url_a"); rb=$(rps b "$url_b"); else rb=$(rps b "$url_b"); ra=$(rps a "$url_a"); fi
    r=$(python3 -c "print(round($rb / $ra, 3))")
    echo "pair $i: A $ra, B $rb requests/s, B/A $r"
  else
    ca=$(cpu "$pid_a") cb=$(cpu "$pid_b")
    served a "$url_a" & wa=$!
    served b "$url_b" & wb=$!
    wait "$wa" "$wb"
    read -r na < "$work/a.n"; read -r nb < "$work/b.n"
    ca=$(($(cpu "$pid_a") - ca)) cb=$(($(cpu "$pid_b") - cb))
    r=$(python3 -c "print(round(($nb / $cb) / ($na / $ca), 3))")
    echo "pair $i: A $na requests in $((ca / 1000000)) ms of CPU, B $nb in $((cb / 1000000)) ms, B/A per CPU-second $r"
  fi
  ratios+=("$r")
done
python3 -c 'import statistics, sys; v = sorted(map(float, sys.argv[1:])); print(f"B/A: median {statistics.median(v):.3f} of {len(v)} pairs, from {v[0]} to {v[-1]}")' "${ratios[@]}"
