# The benchmark's requests as wrk Lua scripts, shared by profile.sh, ab.sh and growth.sh.
#   request_lua PROFILE REQUEST BASE_URL   (prints the script; logs in first for `use` and `mixed`)
#   REQUEST: login | use | mixed (one login, then nine uses, as the benchmark's mixed flow)
#   stand_url READY_FILE PROFILE   (waits up to 30 s for `standin serve`'s ready line in
#   READY_FILE, then prints the URL of the stand of PROFILE)
#   fill PROFILE BASE_URL SECONDS WORK_DIR   (logs in against the stand for SECONDS, wrk with 64
#   connections on CPU 1, its script kept in WORK_DIR; prints nothing)
#   sessions_held BASE_URL   (prints the sessions the stand holds, from its control API)
stand_url() {
  for _ in $(seq 300); do [ -s "$1" ] && break; sleep 0.1; done
  python3 -c 'import json,sys; print(next(s["url"] for s in json.loads(open(sys.argv[1]).readline())["stands"] if s["profile"] == sys.argv[2]))' "$1" "$2"
}
fill() {
  request_lua "$1" login "$2" > "$4/fill.lua"
  taskset -c 1 wrk -t1 -c64 -d"$3s" -s "$4/fill.lua" "$2" > /dev/null
}
sessions_held() {
  curl -s "$1/__standin/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions_stored"])'
}
lua() { printf 'wrk.method = "%s"\nwrk.path = "%s"\nwrk.body = %s\n' "$1" "$2" "$3"; shift 3; for h in "$@"; do printf 'wrk.headers["%s"] = "%s"\n' "${h%%:*}" "${h#*: }"; done; }
cookies() { grep -i '^set-cookie:' | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r' | paste -sd';' | sed 's/;/; /g'; }
request_lua() {
  local profile=$1 request=$2 base=$3 c t
  if [ "$request" = mixed ]; then
    # The benchmark's mixed flow: one login, then nine uses of a session from an earlier login.
    request_lua "$profile" login "$base"
    printf 'local login = wrk.format()\nwrk.headers = {}\nwrk.body = nil\n'
    request_lua "$profile" use "$base"
    printf 'local use = wrk.format()\nlocal i = 0\nrequest = function()\n  i = i %% 10 + 1\n  if i == 1 then return login end\n  return use\nend\n'
    return
  fi
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
  esac
}
