//! The fuzz targets' bodies: each takes arbitrary bytes, drives one parser, and panics only when
//! an invariant breaks (the parsers themselves must never panic). Shared by the cargo-fuzz
//! targets and the stable `replay` runner.

use std::sync::OnceLock;

use base64::Engine as _;
use standin::wire::{Method, Request, Response};
use standin::{Clock, Engine, Scenario, StandSpec};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by name, for the replay runner.
pub const TARGETS: &[(&str, Target)] = &[
    ("cookie", cookie),
    ("basic", basic),
    ("oracle_sdm_login", oracle_sdm_login),
    ("storware_login", storware_login),
    ("scenario", scenario),
];

/// `Cookie` header parsing: names are non-empty, trimmed of ASCII whitespace, carry no separator, and are never
/// Set-Cookie attributes; values carry no separator; `cookie_value` agrees with `cookies`.
pub fn cookie(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    for (name, value) in standin::wire::cookies(&header) {
        assert!(!name.is_empty() && name == name.trim_ascii(), "name {name:?}");
        assert!(!name.contains([';', ',', '=']) && !name.starts_with('$'), "name {name:?}");
        assert!(!value.contains([';', ',']), "value {value:?}");
        assert!(!["path", "domain", "version", "expires", "max-age"].contains(&name.to_ascii_lowercase().as_str()));
        // The hot-path lookup finds the first cookie of that name, as the full parser does.
        let first = standin::wire::cookies(&header).find(|(n, _)| *n == name).map(|(_, v)| v);
        assert_eq!(standin::wire::cookie_value(&header, &name).map(str::to_owned), first, "{header:?}");
    }
}

/// `Authorization: Basic` parsing: a result round-trips through its own encoding, and the user
/// never contains the colon.
pub fn basic(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    if let Some((user, password)) = standin::wire::basic_credentials(&header) {
        assert!(!user.contains(':'), "user {user:?}");
        let again = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        assert_eq!(standin::wire::basic_credentials(&format!("Basic {again}")), Some((user, password)));
    }
}

fn default_spec(profile: &str) -> &'static StandSpec {
    static SPECS: OnceLock<Vec<StandSpec>> = OnceLock::new();
    let specs = SPECS.get_or_init(|| Scenario::embedded_default().stands);
    specs.iter().find(|s| s.profile.id() == profile).expect("the default scenario has every profile")
}

/// One request to a fresh stand of `profile` (its engine on a manual clock).
fn answer(profile: &str, req: &Request) -> Response {
    let spec = default_spec(profile);
    let handler = spec.profile.configure(&spec.options).expect("defaults configure");
    let start = standin::Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").expect("time");
    let engine = Engine::new(spec.setup.clone(), Clock::manual(start));
    let r = handler.handle(&engine, req);
    assert!(r.status < 500, "{profile}: {} for {req:?}", r.status);
    r
}

/// SDM's login body: XML or JSON by the first byte's choice of `Content-Type`, the rest the body.
/// Only 200 (with the cookie), 400 and 401 are possible.
pub fn oracle_sdm_login(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else { return };
    let ct = ["application/xml", "text/xml", "application/json", "application/vnd.x+json;charset=UTF-8"]
        [usize::from(pick) % 4];
    let req =
        Request::new(Method::POST, "/rest/v1.1/admin/login").with_header("content-type", ct).with_body(body.to_vec());
    let r = answer("oracle-sdm", &req);
    assert!([200, 400, 401].contains(&r.status), "{}", r.status);
    if r.status == 200 {
        assert!(r.header_value("set-cookie").is_some_and(|c| c.starts_with("JSESSIONID=")));
    }
}

/// Storware's JSON login bodies (password, token, node), by the first byte's choice of path.
pub fn storware_login(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else { return };
    let path =
        ["/api/session/login", "/api/session/login-with-token", "/api/session/node/login"][usize::from(pick) % 3];
    let req = Request::new(Method::POST, path).with_header("content-type", "application/json").with_body(body.to_vec());
    let r = answer("storware", &req);
    assert!([201, 400, 401].contains(&r.status), "{}", r.status);
    if r.status >= 400 {
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("the error envelope is JSON");
        assert_eq!(v["error"]["code"], r.status);
    }
}

/// Scenario text (TOML, or JSON when it starts with `{`): valid, or one error line naming the file.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Scenario::parse(text, "fuzz.toml") {
        Ok(s) => {
            for spec in &s.stands {
                assert!(spec.profile.configure(&spec.options).is_ok(), "a valid scenario's options configure");
            }
        }
        Err(e) => {
            let line = e.to_string();
            assert!(line.starts_with("fuzz.toml"), "{line}");
            assert!(!line.contains('\n'), "one line: {line:?}");
        }
    }
}
