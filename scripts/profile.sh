#!/usr/bin/env bash
# Where the time goes (not CI): instructions per request under callgrind, which counts the same
# on a busy machine, then the functions that cost the most (inclusive).
#   scripts/profile.sh PROFILE REQUEST [SECONDS=8]
#     PROFILE: junos-space | oracle-sdm | storware | sensnet | infinite-blue | bare
#     REQUEST: login | use   (use: the benchmark's authenticated request; bare answers anything)
# Needs valgrind and wrk (apt-get install -y valgrind wrk). CALLGRIND_OUT=file keeps the raw profile
# (for callgrind_annotate --tree=calling). CPUTIME=1 measures real CPU time instead: the server
# alone on CPU 0, wrk (64 connections) on CPU 1, and the server's user and kernel time per request
# from /proc (no valgrind); `bare` then answers with the reference's fixed bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=$1 request=$2 seconds=${3:-8}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -z "${CALLGRIND_OUT:-}" ] || cp "$work/cg.out" "$CALLGRIND_OUT"; rm -rf "$work"' EXIT
cargo build --release --quiet --bin standin --example bare_reference
if [ -n "${CPUTIME:-}" ]; then
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
  for _ in $(seq 300); do [ -s "$work/ready" ] && break; sleep 0.1; done
  base=$(python3 -c 'import json,sys; print(next(s["url"] for s in json.loads(open(sys.argv[1]).readline())["stands"] if s["profile"] == sys.argv[2]))' "$work/ready" "$profile")
fi
lua() { printf 'wrk.method = "%s"\nwrk.path = "%s"\nwrk.body = %s\n' "$1" "$2" "$3"; shift 3; for h in "$@"; do printf 'wrk.headers["%s"] = "%s"\n' "${h%%:*}" "${h#*: }"; done; }
cookies() { grep -i '^set-cookie:' | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r' | paste -sd';' | sed 's/;/; /g'; }
case "$profile/$request" in
  junos-space/login) lua POST /api/space/user-management/login '""' 'Authorization: Basic c3VwZXI6anVuaXBlcjEyMw==' ;;
  junos-space/use) c=$(curl -si -XPOST -H 'Authorization: Basic c3VwZXI6anVuaXBlcjEyMw==' "$base/api/space/user-management/login" | cookies)
    lua GET /api/space/user-management/login-status '""' "Cookie: $c" ;;
  oracle-sdm/login) lua POST /rest/v1.1/admin/login '"<session><userName>admin</userName><password>password</password></session>"' 'Content-Type: application/xml' ;;
  oracle-sdm/use) c=$(curl -si -XPOST -H 'Content-Type: application/xml' --data '<session><userName>admin</userName><password>password</password></session>' "$base/rest/v1.1/admin/login" | cookies)
    lua GET /rest/v1.1/admin/serverInfo '""' "Cookie: $c" ;;
  storware/login) lua POST /api/session/login "'{\"login\":\"admin\",\"password\":\"vPr0tect\"}'" 'Content-Type: application/json' ;;
  storware/use) c=$(curl -si -XPOST -H 'Content-Type: application/json' --data '{"login":"admin","password":"vPr0tect"}' "$base/api/session/login" | cookies)
    lua GET /api/session '""' "Cookie: $c" ;;
  sensnet/login) lua POST /sn/rest/api/login '"u=test1%40test.domain&p=password&n=bench"' 'Content-Type: application/x-www-form-urlencoded' ;;
  sensnet/use) t=$(curl -s -XPOST --data 'u=test1%40test.domain&p=password&n=bench' "$base/sn/rest/api/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["loginSession"]["token"])')
    lua GET "/sn/rest/api/$t" '""' ;;
  infinite-blue/login) lua GET '/rest/api/login?output=json' '""' 'loginName: admin' 'password: password' ;;
  infinite-blue/use) t=$(curl -s -H 'loginName: admin' -H 'password: password' "$base/rest/api/login?output=json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionId"])')
    lua GET "/rest/api/selectQuery?sessionId=$t&query=x&output=json" '""' ;;
  bare/*) lua GET /api/space/user-management/login-status '""' ;;
  *) echo "unknown profile/request: $profile/$request" >&2; exit 2 ;;
esac > "$work/r.lua"
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
n=$(wrk -t1 -c4 -d"${seconds}s" -s "$work/r.lua" "$base" | awk '/requests in/{print $1}')
kill -INT %1; wait %1 || true
total=$(callgrind_annotate "$work/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
echo "$profile $request: $n requests, $((total / n)) instructions per request (process total / requests)"
callgrind_annotate --inclusive=yes "$work/cg.out" 2>/dev/null | grep -E 'standin::|src/server.rs' | head -25 | cut -c1-160
