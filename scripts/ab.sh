#!/usr/bin/env bash
# Is B faster than A? Two standin binaries under the same load, in alternating pairs (not CI).
#   scripts/ab.sh BINARY_A BINARY_B PROFILE REQUEST [PAIRS=20] [SECONDS=1]
#     PROFILE, REQUEST: as scripts/profile.sh (junos-space | oracle-sdm | storware | sensnet |
#     infinite-blue; login | use)
# Both serve the benchmark's stands, one worker each on CPU 0, wrk (64 connections) on CPU 1;
# each pair runs A then B or B then A, alternating, and the result is the median of the pairs'
# throughput ratios B/A, with each pair printed (their spread is this host's noise). To build a
# binary of another commit: git worktree add /tmp/a COMMIT && (cd /tmp/a && cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 profile=$3 request=$4 pairs=${5:-20} seconds=${6:-1}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/requests.sh
# Started here, not in a `$(...)` subshell: a server started in one is no job of this shell,
# so the trap below would leave it running (and holding its memory) after the script.
start() {
  taskset -c 0 "$1" serve benches/all-profiles.toml --workers 1 --control-port 0 >"$work/$2.ready" 2>/dev/null &
}
url() {
  for _ in $(seq 300); do [ -s "$work/$1.ready" ] && break; sleep 0.05; done
  python3 -c 'import json,sys; print(next(s["url"] for s in json.loads(open(sys.argv[1]).readline())["stands"] if s["profile"] == sys.argv[2]))' "$work/$1.ready" "$profile"
}
start "$a" a
start "$b" b
url_a=$(url a) url_b=$(url b)
request_lua "$profile" "$request" "$url_a" > "$work/a.lua"
request_lua "$profile" "$request" "$url_b" > "$work/b.lua"
rps() { taskset -c 1 wrk -t1 -c64 -d"${seconds}s" -s "$work/$1.lua" "$2" | awk '/Requests\/sec/{print $2}'; }
ratios=()
for i in $(seq "$pairs"); do
  if (( i % 2 )); then ra=$(rps a "$url_a"); rb=$(rps b "$url_b"); else rb=$(rps b "$url_b"); ra=$(rps a "$url_a"); fi
  r=$(python3 -c "print(round($rb / $ra, 3))")
  ratios+=("$r")
  echo "pair $i: A $ra, B $rb requests/s, B/A $r"
done
python3 -c 'import statistics, sys; v = sorted(map(float, sys.argv[1:])); print(f"B/A: median {statistics.median(v):.3f} of {len(v)} pairs, from {v[0]} to {v[-1]}")' "${ratios[@]}"
