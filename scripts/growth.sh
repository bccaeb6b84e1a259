#!/usr/bin/env bash
# A stand's request rate over time against the sessions it holds (not CI): shows the store's
# tables doubling together (README, Benchmarks).
#   scripts/growth.sh PROFILE REQUEST [SECONDS=44] [WARM_SECONDS=0]
#     PROFILE, REQUEST: as scripts/profile.sh (login | use | mixed)
# The release binary serves the benchmark's stands, one worker on CPU 0; wrk (64 connections, on
# CPU 1) first logs in for WARM_SECONDS (to fill the stand), then sends REQUEST for SECONDS. Every
# INTERVAL seconds (default 0.5) it prints the time, the sessions the stand holds and the
# requests per second since the last line (from its journal's request count). Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=$1 request=$2 seconds=${3:-44} warm=${4:-0}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release --quiet --bin standin
. scripts/requests.sh
taskset -c 0 target/release/standin serve benches/all-profiles.toml --workers 1 >"$work/ready" 2>/dev/null &
base=$(stand_url "$work/ready" "$profile")
if [ "$warm" != 0 ]; then fill "$profile" "$base" "$warm" "$work"; fi
request_lua "$profile" "$request" "$base" > "$work/r.lua"
taskset -c 1 wrk -t1 -c64 -d"${seconds}s" -s "$work/r.lua" "$base" > /dev/null &
load=$!
python3 - "$base" "$seconds" "${INTERVAL:-0.5}" <<'PY'
import json, sys, time, urllib.request
base, secs, interval = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
def read(path, field):
    return json.load(urllib.request.urlopen(base + "/__standin/" + path))[field]
t0 = time.monotonic(); prev = read("journal?limit=0", "total"); tp = t0
while time.monotonic() - t0 < secs - 2 * interval:
    time.sleep(interval)
    now, n = time.monotonic(), read("journal?limit=0", "total")
    sessions = read("health", "sessions_stored")
    print(f"{now - t0:6.1f} s {sessions:9d} sessions {(n - prev) / (now - tp):9.0f} requests/s", flush=True)
    prev, tp = n, now
PY
wait "$load"
