//! The bad-input table: what a client can get wrong, sent to every profile. Each row of the
//! README's tables (between the `bad-input` markers) is one test case here, and the case checks
//! that the stand answers exactly what the README says, in the vendor's own error shape, never a
//! 5xx, keeps serving, and loses no session.
//!
//! `STANDIN_BLESS=1 cargo test --test it bad_input::readme -- --test-threads 1` rewrites the
//! README tables from what the stands answer.

use base64::Engine as _;
use rstest::rstest;
use standin::wire::media_type;
use std::collections::BTreeMap;

use crate::contract;
use crate::support::{Reply, Req, TestStand};

const PROFILES: [&str; 5] = ["junos-space", "oracle-sdm", "storware", "sensnet", "infinite-blue"];

/// The cross-profile inputs, in README order.
const INPUTS: &[&str] = &[
    "truncated XML body",
    "malformed XML body",
    "truncated JSON body",
    "malformed JSON body",
    "no Content-Type, valid body",
    "wrong Content-Type (text/plain), valid body",
    "body over 1 MiB",
    "non-UTF-8 credentials",
    "non-UTF-8 header values",
    "non-UTF-8 path (%FF%FE)",
    "64 KiB header",
    "Basic: bad base64",
    "Basic: no colon",
    "empty user and password",
    "duplicate parameters",
    "percent-encoded path segment",
    "parameter of the wrong shape",
    "8 KiB junk Cookie",
];

/// Profile-specific edge cases: `maxage`, `versionId`, SensNet path encoding, `output`.
const EDGES: &[(&str, &str)] = &[
    ("junos-space", "maxage=-5"),
    ("junos-space", "maxage=1e3"),
    ("junos-space", "maxage=18446744073709551615"),
    ("junos-space", "maxage= 60 (form body)"),
    ("junos-space", "maxage=60&maxage=soon"),
    ("oracle-sdm", "versionId V1.1"),
    ("oracle-sdm", "versionId v1.1%2F.."),
    ("oracle-sdm", "versionId empty (/rest//admin/login)"),
    ("oracle-sdm", "versionId 10 KiB long"),
    ("sensnet", "login/test1%40test.domain/password/a%2Fb"),
    ("sensnet", "login/test1%40test.domain/password/"),
    ("sensnet", "login/test1%40test.domain/pass%zzword"),
    ("sensnet", "login/test1%40test.domain/pass%2"),
    ("sensnet", "login/test1%40test.domain/pass+word"),
    ("sensnet", "login/%C3%28/password (invalid UTF-8 escape)"),
    ("sensnet", "GET %2e%2e%2F%2e%2e"),
    ("sensnet", "DELETE %00"),
    ("sensnet", "check/ (empty ticket)"),
    ("infinite-blue", "output=yaml"),
    ("infinite-blue", "sessionId=%00"),
    ("infinite-blue", "custId=../../etc"),
];

fn login_path(profile: &str) -> &'static str {
    match profile {
        "junos-space" => "/api/space/user-management/login",
        "oracle-sdm" => "/rest/v1.1/admin/login",
        "storware" => "/api/session/login",
        "sensnet" => "/sn/rest/api/login",
        _ => "/rest/api/login",
    }
}

/// A session check with no valid session, on each profile.
fn check(profile: &str) -> Req {
    match profile {
        "junos-space" => Req::get("/api/space/user-management/login-status"),
        "oracle-sdm" => Req::get("/rest/v1.1/admin/serverInfo"),
        "storware" => Req::get("/api/session"),
        "sensnet" => Req::get("/sn/rest/api/00000000-0000-4000-8000-000000000000"),
        _ => Req::get("/rest/api/selectQuery?output=json"),
    }
}

fn b64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// A valid login of each profile's default account, with the body in `content_type` (or none).
fn valid_login(profile: &str, content_type: Option<&str>) -> Req {
    let r = Req::post(login_path(profile));
    let (r, body): (Req, &str) = match profile {
        "junos-space" => (r.basic("super", "juniper123"), "maxage=60"),
        "oracle-sdm" => (r, "<session><userName>admin</userName><password>password</password></session>"),
        "storware" => (r, r#"{"login":"admin","password":"vPr0tect"}"#),
        "sensnet" => (r, "u=test1%40test.domain&p=password&n=x"),
        _ => (r, "loginName=admin&password=password&output=json"),
    };
    let r = match content_type {
        Some(t) => r.header("Content-Type", t),
        None => r,
    };
    r.body(body)
}

fn request(input: &str, profile: &str) -> Req {
    let login = || Req::post(login_path(profile));
    let xml = |body: &str| login().header("Content-Type", "application/xml").body(body.to_owned());
    let json = |body: &str| login().header("Content-Type", "application/json").body(body.to_owned());
    let oracle = profile == "oracle-sdm";
    match input {
        "truncated XML body" => xml("<session><userName>admin</userName><pass"),
        "malformed XML body" => xml("<session><userName>admin</password></session>"),
        "truncated JSON body" if oracle => json(r#"{"userName":"admin","password":"pass"#),
        "truncated JSON body" => json(r#"{"login":"admin","password":"vPr0"#),
        "malformed JSON body" if oracle => json(r#"{"userName":"admin",,"password":"password"}"#),
        "malformed JSON body" => json(r#"{"login":"admin",,"password":"vPr0tect"}"#),
        "no Content-Type, valid body" => valid_login(profile, None),
        "wrong Content-Type (text/plain), valid body" => valid_login(profile, Some("text/plain")),
        "body over 1 MiB" => {
            let ct = match profile {
                "oracle-sdm" => "application/xml",
                "storware" => "application/json",
                _ => "application/x-www-form-urlencoded",
            };
            login().header("Content-Type", ct).body(vec![b'a'; standin_body_limit() + 1])
        }
        "non-UTF-8 credentials" => match profile {
            "junos-space" => login().header("Authorization", &format!("Basic {}", b64(b"super:\xffjuniper123"))),
            "oracle-sdm" => login()
                .header("Content-Type", "application/xml")
                .body(&b"<session><userName>admin</userName><password>\xff\xfe</password></session>"[..]),
            "storware" => login()
                .header("Content-Type", "application/json")
                .body(&b"{\"login\":\"admin\",\"password\":\"\xff\xfe\"}"[..]),
            "sensnet" => login()
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("u=test1%40test.domain&p=%FF%FE"),
            _ => Req::get("/rest/api/login").header("loginName", "admin").header_bytes("password", b"\xff\xfe"),
        },
        "non-UTF-8 header values" => check(profile)
            .header_bytes("Cookie", b"JSESSIONIDSSO=\xff\xfe; JSESSIONID=\xfe")
            .header_bytes("Accept", b"application/\xffjson")
            .header_bytes("X-Auth-Token", b"\xff")
            .header_bytes("sessionId", b"\xff\xfe"),
        "non-UTF-8 path (%FF%FE)" => Req::get(match profile {
            "junos-space" => "/api/space/user-management/users/%FF%FE",
            "oracle-sdm" => "/rest/v1.1/admin/%FF%FE",
            "storware" => "/api/session/%FF%FE",
            "sensnet" => "/sn/rest/api/%FF%FE",
            _ => "/rest/api/%FF%FE?output=json",
        }),
        "64 KiB header" => login().header("X-Junk", &"a".repeat(64 * 1024)),
        "Basic: bad base64" => login().header("Authorization", "Basic !!!not-base64==="),
        "Basic: no colon" => login().header("Authorization", &format!("Basic {}", b64(b"superjuniper123"))),
        "empty user and password" => match profile {
            "junos-space" => login().header("Authorization", &format!("Basic {}", b64(b":"))),
            "oracle-sdm" => xml("<session><userName></userName><password></password></session>"),
            "storware" => json(r#"{"login":"","password":""}"#),
            "sensnet" => login().form(&[("u", ""), ("p", "")]),
            _ => Req::get("/rest/api/login").header("loginName", "").header("password", ""),
        },
        "duplicate parameters" => match profile {
            "junos-space" => {
                Req::post(&format!("{}?maxage=60&maxage=soon", login_path(profile))).basic("super", "juniper123")
            }
            "oracle-sdm" => {
                xml("<session><userName>x</userName><userName>admin</userName><password>password</password></session>")
            }
            "storware" => json(r#"{"login":"x","login":"admin","password":"vPr0tect"}"#),
            "sensnet" => login().form(&[("u", "test1@test.domain"), ("u", "x"), ("p", "password")]),
            _ => Req::get("/rest/api/login?loginName=admin&loginName=x&password=password&output=json"),
        },
        "percent-encoded path segment" => match profile {
            "junos-space" => Req::post("/api/space/user-management/log%69n").basic("super", "juniper123"),
            "oracle-sdm" => Req::post("/rest/v1.1/admin/log%69n"),
            "storware" => Req::post("/api/session/log%69n"),
            "sensnet" => Req::get("/sn/rest/api/log%69n/test1%40test.domain/password"),
            _ => Req::get("/rest/api/log%69n?loginName=admin&password=password&output=json"),
        },
        "parameter of the wrong shape" => match profile {
            "junos-space" => Req::post(&format!("{}?maxage=soon", login_path(profile))).basic("super", "juniper123"),
            "oracle-sdm" => Req::post("/rest/v1.x/admin/login"),
            "storware" => json(r#"{"login":5,"password":true}"#),
            "sensnet" => login().form(&[("u", "test1@test.domain"), ("p", "password"), ("n", "\u{0}\u{1}")]),
            _ => Req::get("/rest/api/login?loginName=admin&password=password&output=yaml"),
        },
        "8 KiB junk Cookie" => check(profile).header("Cookie", &junk_cookie(8 * 1024)),
        other => panic!("no request for input {other:?}"),
    }
}

fn edge_request(profile: &str, case: &str) -> Req {
    const UM_LOGIN: &str = "/api/space/user-management/login";
    let sensnet_get = |rest: &str| Req::get(&format!("/sn/rest/api/{rest}"));
    match (profile, case) {
        ("junos-space", "maxage= 60 (form body)") => Req::post(UM_LOGIN)
            .basic("super", "juniper123")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("maxage=+60+"),
        ("junos-space", q) => Req::post(&format!("{UM_LOGIN}?{q}")).basic("super", "juniper123"),
        ("oracle-sdm", case) => {
            let version = match case {
                "versionId V1.1" => "V1.1".to_owned(),
                "versionId v1.1%2F.." => "v1.1%2F..".to_owned(),
                "versionId empty (/rest//admin/login)" => String::new(),
                _ => "v".repeat(10 * 1024),
            };
            Req::post(&format!("/rest/{version}/admin/login"))
                .header("Content-Type", "application/xml")
                .body("<session><userName>admin</userName><password>password</password></session>")
        }
        ("sensnet", "GET %2e%2e%2F%2e%2e") => sensnet_get("%2e%2e%2F%2e%2e"),
        ("sensnet", "DELETE %00") => Req::delete("/sn/rest/api/%00"),
        ("sensnet", "check/ (empty ticket)") => sensnet_get("check/"),
        ("sensnet", "login/%C3%28/password (invalid UTF-8 escape)") => sensnet_get("login/%C3%28/password"),
        ("sensnet", path) => sensnet_get(path),
        ("infinite-blue", "output=yaml") => Req::get("/rest/api/login?loginName=admin&password=password&output=yaml"),
        ("infinite-blue", "sessionId=%00") => Req::get("/rest/api/selectQuery?sessionId=%00&output=json"),
        ("infinite-blue", "custId=../../etc") => {
            Req::get("/rest/api/login?loginName=admin&password=password&custId=../../etc&output=json")
        }
        other => panic!("no request for edge case {other:?}"),
    }
}

/// `len` bytes of cookie-ish junk: separators, quotes, `$` attributes, names without values.
fn junk_cookie(len: usize) -> String {
    let pieces = ["a=b", ";", ",", "$Version=1", "=", "\"x\"", " ", "JSESSIONID", "==;;", "Path=/", "%00", "é"];
    let mut out = String::new();
    let mut i = 0usize;
    while out.len() < len {
        out.push_str(pieces[i % pieces.len()]);
        i = i.wrapping_mul(31).wrapping_add(7) % 9973;
    }
    out.truncate(out.char_indices().take_while(|(at, _)| *at < len).last().map_or(0, |(at, c)| at + c.len_utf8()));
    out
}

fn standin_body_limit() -> usize {
    1024 * 1024
}

/// A stand of `profile` whose scenario adds an account `keeper`, whose session the test holds
/// throughout: a bad request must not touch it (not even Infinite Blue's one-session-per-user,
/// since bad requests log in as the default account).
fn stand(profile: &str) -> TestStand {
    let v = contract::vendor(profile);
    let tenant = if profile == "infinite-blue" { "tenant = \"5857\"\n" } else { "" };
    TestStand::with_scenario(
        profile,
        &format!(
            "[[stands.accounts]]\nname = \"{}\"\npassword = \"{}\"\nid = {}\n{tenant}\
             [[stands.accounts]]\nname = \"keeper\"\npassword = \"keeper-pw\"\nid = 99\n{tenant}",
            v.user,
            v.password,
            match profile {
                "junos-space" => 131074,
                "sensnet" => 3,
                _ => 1,
            }
        ),
    )
}

/// What identifies a session, without the account's login activity (which failed logins change).
fn sessions(s: &TestStand) -> Vec<(String, u64, String, String)> {
    s.engine()
        .sessions()
        .iter()
        .map(|v| (v.token.to_string(), v.serial, v.account.name.clone(), v.last_used.to_rfc3339()))
        .collect()
}

/// Sends `req` to a fresh stand of `profile` holding a live session of `keeper`; checks the
/// invariants every bad input must keep; returns the reply.
async fn probe(profile: &str, req: Req) -> Reply {
    let s = stand(profile);
    let v = contract::vendor(profile);
    let login = s.call((v.login)("keeper", "keeper-pw")).await;
    assert_eq!(login.status, v.login_ok, "keeper logs in: {}", login.body);
    let before = sessions(&s);

    let reply = s.call(req).await;
    assert!(reply.status < 500, "{profile}: a bad input is never a 5xx: {}", reply.snapshot());
    assert_vendor_shape(profile, &reply);

    let after = sessions(&s);
    for kept in &before {
        assert!(after.contains(kept), "{profile}: the session {kept:?} survived the bad input: {after:?}");
    }
    assert!(after.len() <= before.len() + 1, "{profile}: at most one session was created: {after:?}");
    let used = s.call((v.use_session)(&login)).await;
    assert_eq!(used.status, v.use_ok, "{profile}: the stand keeps serving the earlier session: {}", used.body);
    let again = s.call((v.login)(v.user, v.password)).await;
    assert_eq!(again.status, v.login_ok, "{profile}: the stand keeps accepting logins");
    reply
}

/// The vendor's own framing of every answer: what a client of that vendor can parse.
fn assert_vendor_shape(profile: &str, r: &Reply) {
    let ct = r.header("content-type").map(media_type).unwrap_or_default();
    let ok = match profile {
        // JBoss: plain sentences, its HTML error page, or the documented media types.
        "junos-space" => {
            ["text/plain", "text/html"].contains(&ct.as_str()) || ct.starts_with("application/vnd.net.juniper")
        }
        // Every SDM answer carries its Apache front's headers; errors are the documented sentence.
        "oracle-sdm" => {
            r.header("server") == Some("Apache")
                && (r.body.is_empty() || ["text/plain", "application/xml", "application/json"].contains(&ct.as_str()))
        }
        // Errors are the JSON envelope; success bodies JSON or empty.
        "storware" => {
            if r.status >= 400 {
                let j = r.json();
                j["error"]["code"] == r.status && j["message"] == j["error"]["message"]
            } else {
                r.body.is_empty() || ct == "application/json"
            }
        }
        // Every SensNet error is a bare status with an empty body.
        "sensnet" => r.status < 400 || r.body.is_empty(),
        // Every Rollbase answer is a `resp` document or its JSON twin.
        _ => r.body.contains("<resp status=") || r.body.starts_with("{\"status\":"),
    };
    assert!(ok, "{profile}: not in the vendor's shape: {}", r.snapshot());
}

/// One README cell: status, media type, and the message (or the body's top-level shape).
fn describe(r: &Reply) -> String {
    let ct = r.header("content-type").map(media_type).unwrap_or_else(|| "-".into());
    format!("{} {ct} {}", r.status, message(&r.body))
}

fn message(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "(empty)".into();
    }
    let between = |open: &str, close: &str| {
        let start = body.find(open)? + open.len();
        let len = body[start..].find(close)?;
        Some(body[start..start + len].to_owned())
    };
    let quoted = |s: String| format!("\"{}\"", s.replace('|', "\\|"));
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(body) {
        return match (m.get("message"), m.get("error")) {
            (Some(serde_json::Value::String(s)), _) | (None, Some(serde_json::Value::String(s))) => quoted(s.clone()),
            _ => format!("`{{\"{}\":…}}`", m.keys().next().map_or("", String::as_str)),
        };
    }
    if body.starts_with('<') {
        if let Some(m) = between("<err>", "</err>").or_else(|| between("<message>", "</message>")) {
            return quoted(m);
        }
        if let Some(d) = between("<p><b>description</b> <u>", "</u>") {
            return quoted(d);
        }
        let root = body.trim_start_matches(|c| c != '>').get(1..).unwrap_or("");
        let root = if body.starts_with("<?xml") { root.trim_start() } else { body };
        return format!("`{}`", root.split_inclusive('>').next().unwrap_or(""));
    }
    quoted(body.chars().take(60).collect())
}

/// `(name, profile) -> response` from the README table between `<!-- {marker} -->` markers.
fn readme_table(marker: &str) -> BTreeMap<(String, String), String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let (_, rest) = readme.split_once(&format!("<!-- {marker} -->")).unwrap_or_else(|| panic!("no {marker} in README"));
    let (table, _) = rest.split_once(&format!("<!-- /{marker} -->")).expect("closing marker");
    table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| input") && !l.starts_with("|--"))
        .map(|l| {
            let cells: Vec<&str> = split_cells(l);
            assert_eq!(cells.len(), 3, "three cells: {l}");
            ((unquote(cells[0]), unquote(cells[1])), cells[2].to_owned())
        })
        .collect()
}

/// Cells of a table row, honouring `\|` escapes.
fn split_cells(line: &str) -> Vec<&str> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let (mut start, mut prev) = (0, ' ');
    for (i, c) in inner.char_indices() {
        if c == '|' && prev != '\\' {
            cells.push(inner[start..i].trim());
            start = i + 1;
        }
        prev = c;
    }
    cells.push(inner[start..].trim());
    cells
}

fn unquote(cell: &str) -> String {
    cell.trim_matches('`').to_owned()
}

fn row(name: &str, profile: &str, response: &str) -> String {
    format!("| `{name}` | `{profile}` | {response} |\n")
}

fn expect_row(marker: &str, name: &str, profile: &str, got: &str) {
    let table = readme_table(marker);
    let want = table.get(&(name.to_owned(), profile.to_owned()));
    assert_eq!(
        want.map(String::as_str),
        Some(got),
        "README row for {name:?} on {profile}; the actual row is:\n{}",
        row(name, profile, got)
    );
}

#[rstest]
#[actix_web::test]
async fn cross_profile(
    #[values(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)] input: usize,
    #[values("junos-space", "oracle-sdm", "storware", "sensnet", "infinite-blue")] profile: &str,
) {
    let name = INPUTS[input];
    let reply = probe(profile, request(name, profile)).await;
    expect_row("bad-input", name, profile, &describe(&reply));
}

#[rstest]
#[actix_web::test]
async fn profile_edge(#[values(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)] case: usize) {
    let (profile, name) = EDGES[case];
    let reply = probe(profile, edge_request(profile, name)).await;
    expect_row("bad-input-edges", name, profile, &describe(&reply));
}

#[test]
fn every_input_is_listed_once() {
    assert_eq!(INPUTS.len(), 18, "the cross_profile #[values] list covers INPUTS");
    assert_eq!(EDGES.len(), 21, "the profile_edge #[values] list covers EDGES");
}

/// The README tables hold exactly the rows the tests check (no stale row, none missing); with
/// `STANDIN_BLESS=1` they are rewritten from what the stands answer.
#[actix_web::test]
async fn readme_tables_list_every_case() {
    if std::env::var_os("STANDIN_BLESS").is_some() {
        let mut table = String::from("| input | profile | response |\n|---|---|---|\n");
        for name in INPUTS {
            for profile in PROFILES {
                table += &row(name, profile, &describe(&probe(profile, request(name, profile)).await));
            }
        }
        let mut edges = String::from("| input | profile | response |\n|---|---|---|\n");
        for (profile, name) in EDGES {
            edges += &row(name, profile, &describe(&probe(profile, edge_request(profile, name)).await));
        }
        bless("bad-input", &table);
        bless("bad-input-edges", &edges);
    }
    let main: Vec<_> = readme_table("bad-input").into_keys().collect();
    let want: Vec<_> = INPUTS
        .iter()
        .flat_map(|i| PROFILES.map(|p| (i.to_string(), p.to_string())))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(main, want);
    let edges: Vec<_> = readme_table("bad-input-edges").into_keys().collect();
    let want: Vec<_> = EDGES
        .iter()
        .map(|(p, n)| (n.to_string(), p.to_string()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(edges, want);
}

fn bless(marker: &str, table: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (head, rest) = readme.split_once(&format!("<!-- {marker} -->\n")).expect("marker");
    let (_, tail) = rest.split_once(&format!("<!-- /{marker} -->")).expect("closing marker");
    std::fs::write(path, format!("{head}<!-- {marker} -->\n{table}<!-- /{marker} -->{tail}")).expect("write README");
}

/// Requests actix refuses before a stand sees them, over a real socket: the answer is actix's
/// (a bare status, connection closed), and the stand keeps serving.
mod framework {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    use rstest::rstest;
    use standin::Stand;

    /// Sends `bytes`, reads until the server closes (or 10 s pass); returns what came back.
    async fn exchange(addr: SocketAddr, bytes: Vec<u8>) -> String {
        tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            // The server may close while a large head is still being written.
            let _ = s.write_all(&bytes);
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            String::from_utf8_lossy(&got).into_owned()
        })
        .await
        .expect("join")
    }

    fn head(extra: &str) -> Vec<u8> {
        format!("GET /x HTTP/1.1\r\nHost: x\r\n{extra}\r\n").into_bytes()
    }

    async fn still_serving(stand: &Stand) {
        let r = reqwest::Client::new().get(format!("{}/__standin/health", stand.url())).send().await.expect("health");
        assert_eq!(r.status(), 200);
    }

    fn status_line(reply: &str) -> &str {
        reply.lines().next().unwrap_or("")
    }

    #[rstest]
    #[case::junos_space("junos-space")]
    #[case::oracle_sdm("oracle-sdm")]
    #[case::storware("storware")]
    #[case::sensnet("sensnet")]
    #[case::infinite_blue("infinite-blue")]
    #[actix_web::test]
    async fn request_heads_actix_refuses(#[case] profile: &str) {
        let stand = Stand::builder(profile).start().await.expect("start");
        let addr = stand.addr();

        let huge = exchange(addr, head(&format!("X-Junk: {}\r\n", "a".repeat(200 * 1024)))).await;
        assert!(status_line(&huge).starts_with("HTTP/1.1 431"), "{huge}");
        still_serving(&stand).await;

        let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
        let reply = exchange(addr, head(&many)).await;
        assert!(status_line(&reply).starts_with("HTTP/1.1 431"), "more than 96 headers: {reply}");
        still_serving(&stand).await;

        let mut raw_path = b"GET /api/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let reply = exchange(addr, std::mem::take(&mut raw_path)).await;
        assert!(status_line(&reply).starts_with("HTTP/1.1 400"), "{reply}");
        still_serving(&stand).await;

        let reply = exchange(addr, b"NOT HTTP AT ALL\r\n\r\n".to_vec()).await;
        assert!(status_line(&reply).starts_with("HTTP/1.1 400"), "{reply}");
        still_serving(&stand).await;

        let chunked =
            b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n".to_vec();
        let reply = exchange(addr, chunked).await;
        assert!(status_line(&reply).starts_with("HTTP/1.1 400"), "{reply}");
        still_serving(&stand).await;
    }

    /// Over a real socket, a body over the limit gets the vendor's 413 and the connection closes
    /// (the rest of the body is never read); the next connection is served.
    #[actix_web::test]
    async fn an_oversized_body_is_413_in_the_vendor_format_then_close() {
        let stand = Stand::builder("storware").start().await.expect("start");
        let body = vec![b'{'; 2 * 1024 * 1024];
        let mut req = format!(
            "POST /api/session/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        let reply = exchange(stand.addr(), req).await;
        assert!(status_line(&reply).starts_with("HTTP/1.1 413"), "{reply}");
        assert!(reply.to_ascii_lowercase().contains("connection: close"), "{reply}");
        assert!(
            reply.ends_with(r#"{"error":{"code":413,"message":"Payload Too Large"},"message":"Payload Too Large"}"#),
            "{reply}"
        );
        still_serving(&stand).await;
        assert_eq!(stand.journal(1)[0].status, 413, "journaled like any request");
    }

    /// A client that connects and never finishes its head is answered 408 and closed after
    /// `HEAD_TIMEOUT` (5 s), not held forever.
    #[actix_web::test]
    async fn a_slow_head_is_timed_out() {
        let stand = Stand::builder("storware").start().await.expect("start");
        let started = Instant::now();
        let reply = exchange(stand.addr(), b"GET /api/session HTTP/1.1\r\nHost: x\r\n".to_vec()).await;
        let took = started.elapsed();
        assert!(status_line(&reply).starts_with("HTTP/1.1 408"), "{reply}");
        assert!(took >= Duration::from_secs(4) && took < Duration::from_secs(9), "{took:?}");
        still_serving(&stand).await;
    }
}
