//! proptest over arbitrary requests to every route of every profile (and the control API),
//! through actix's real request parsing: never a panic, never a 5xx when no fault rule says so,
//! and a session held throughout is still live afterwards unless the request ended it.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRng, TestRunner};

use crate::contract;
use crate::support::{Req, TestStand};

/// Each profile's paths, the control API's, and some outside every profile.
const ROUTES: &[&str] = &[
    "/api/space/user-management/login",
    "/api/space/user-management/login-status",
    "/api/space/user-management/logout",
    "/api/space/user-management/users",
    "/api/space/user-management/users/131074",
    "/api/space/user-management/active-user-sessions",
    "/api/space/device-management/devices",
    "/rest/v1.1/admin/login",
    "/rest/v1.3/admin/logout",
    "/rest/v1.0/admin/serverInfo",
    "/rest/v9.9/admin/login",
    "/rest/",
    "/api/session",
    "/api/session/login",
    "/api/session/login-with-token",
    "/api/session/logout",
    "/api/session/node/login",
    "/api/session/user",
    "/api/session/user/details",
    "/sn/rest/api/login",
    "/sn/rest/api/login/test1%40test.domain/password/n",
    "/sn/rest/api/check",
    "/sn/rest/api/logout",
    "/sn/rest/api",
    "/rest/api/login",
    "/rest/api/logout",
    "/rest/api/selectQuery",
    "/rest/api/getRecord",
    "/__standin/health",
    "/__standin/clock",
    "/__standin/sessions",
    "/__standin/accounts",
    "/__standin/faults",
    "/__standin/journal",
    "/__standin/scenario",
    "/__standin/openapi.json",
    "/",
];

const HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "content-type",
    "accept",
    "loginname",
    "password",
    "sessionid",
    "custid",
    "apikey",
    "x-auth-token",
    "output",
];

/// A byte a header value can carry (visible ASCII, space, tab, obs-text).
fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff]
}

/// Values that are close to what the parsers expect, and raw junk.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(header_byte(), 0..64),
        prop::sample::select(vec![
            "Basic c3VwZXI6anVuaXBlcjEyMw==",
            "Basic !!!",
            "Basic ",
            "Bearer x",
            "application/json",
            "application/xml;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "text/plain",
            "JSESSIONIDSSO=a;Version=1, JSESSIONID=b;Version=1; Path=/x",
            "JSESSIONID=\"\"; $Path=/",
            "application/vnd.net.juniper.space.user-management.user-ref+json;version=1;q=0.01",
            "*/*;q=abc",
            "admin",
            "password",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        (prop::sample::select(vec!["Basic ", "JSESSIONID=", "JSESSIONIDSSO="]), "[A-Za-z0-9+/=:.@-]{0,40}")
            .prop_map(|(p, v)| format!("{p}{v}").into_bytes()),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::sample::select(vec![
            r#"{"login":"admin","password":"vPr0tect"}"#,
            r#"{"userName":"admin","password":"password"}"#,
            r#"{"session":{"userName":"admin","password":"password"}}"#,
            "<session><userName>admin</userName><password>password</password></session>",
            "u=test1%40test.domain&p=password&n=x",
            "loginName=admin&password=password&output=json",
            r#"{"advance":"1s"}"#,
            r#"{"set":"2026-01-01T00:00:00Z"}"#,
            r#"{"when":{"op":"login"},"then":{"action":"busy"}}"#,
            "maxage=60",
            "",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        // Near-valid documents with junk spliced in.
        ("[\\{\\}\\[\\]<>/\":,=&%a-z0-9 ]{0,80}").prop_map(String::into_bytes),
    ]
}

/// A path: a known route, maybe with extra percent-encoded segments and a query.
fn uri() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        "[A-Za-z0-9._~-]{0,12}",
        prop::collection::vec(any::<u8>(), 0..8).prop_map(|b| percent_encoding::percent_encode(
            &b,
            percent_encoding::NON_ALPHANUMERIC
        )
        .to_string()),
        Just("%".to_owned()),
        Just("%zz".to_owned()),
        Just("..".to_owned()),
    ];
    let query = prop::collection::vec(
        (
            prop::sample::select(vec![
                "maxage",
                "sessionId",
                "output",
                "loginName",
                "password",
                "token",
                "limit",
                "custId",
            ]),
            prop_oneof![
                "[A-Za-z0-9%+=&.-]{0,16}",
                Just("json".to_owned()),
                Just("xml".to_owned()),
                Just("-1".to_owned()),
                Just("18446744073709551616".to_owned()),
            ],
        ),
        0..4,
    );
    (prop::sample::select(ROUTES.to_vec()), prop::collection::vec(segment, 0..3), query).prop_map(
        |(route, segments, query)| {
            let mut uri = route.to_owned();
            for s in segments {
                uri.push('/');
                uri.push_str(&s);
            }
            if !query.is_empty() {
                uri.push('?');
                let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                uri.push_str(&pairs.join("&"));
            }
            uri
        },
    )
}

fn request() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(vec!["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]),
        uri(),
        prop::collection::vec((prop::sample::select(HEADERS.to_vec()), header_value()), 0..5),
        body(),
    )
        .prop_map(|(method, uri, headers, body)| {
            let mut r = Req::new(method, &uri).body(body);
            for (name, value) in headers {
                r = r.header_bytes(name, &value);
            }
            r
        })
}

/// Runs `cases` arbitrary requests against one stand of `profile`.
fn arbitrary_requests(profile: &'static str, cases: u32) {
    let system = actix_web::rt::System::new();
    let stand = TestStand::new(profile);
    let v = contract::vendor(profile);
    let held = system.block_on(stand.call((v.login)(v.user, v.password)));
    assert_eq!(held.status, v.login_ok);
    // The same requests on every run (tests are deterministic); the proptest blocks elsewhere
    // explore new inputs.
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let rng = TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let result = runner.run(&request(), |req| {
        let shown = format!("{} {}", req.method, req.uri);
        let control = shown.contains(" /__standin");
        let reply = system.block_on(stand.call(req));
        if reply.status >= 500 && !control {
            // Only a fault rule (one the generator may have added through the control API) says 5xx.
            let journal = system.block_on(stand.call(Req::get("/__standin/journal?limit=1"))).json();
            let fired = &journal["entries"][0]["fired"];
            prop_assert!(fired.as_array().is_some_and(|f| !f.is_empty()), "{shown}: {}", reply.snapshot());
        } else {
            prop_assert!(reply.status < 500, "{shown}: {}", reply.snapshot());
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{profile}: {e}");
    }
    // The stand still serves: a fresh login and its use work.
    let login = system.block_on(stand.call((v.login)(v.user, v.password)));
    assert_eq!(login.status, v.login_ok, "{profile}: still accepts logins");
    let used = system.block_on(stand.call((v.use_session)(&login)));
    assert_eq!(used.status, v.use_ok, "{profile}: still serves sessions");
}

#[test]
fn arbitrary_requests_to_junos_space() {
    arbitrary_requests("junos-space", 256);
}

#[test]
fn arbitrary_requests_to_oracle_sdm() {
    arbitrary_requests("oracle-sdm", 256);
}

#[test]
fn arbitrary_requests_to_storware() {
    arbitrary_requests("storware", 256);
}

#[test]
fn arbitrary_requests_to_sensnet() {
    arbitrary_requests("sensnet", 256);
}

#[test]
fn arbitrary_requests_to_infinite_blue() {
    arbitrary_requests("infinite-blue", 256);
}

proptest! {
    /// The byte-scanning cookie lookup finds what the general cookie parser finds.
    #[test]
    fn cookie_value_agrees_with_the_cookie_parser(
        header in "([ \t\u{a0}a-zA-Z$\"=;,éJ]|JSESSIONID|Path|Version){0,24}",
        name in "(JSESSIONID|JSESSIONIDSSO|a|Path|\\$Version|é|)",
    ) {
        let expected = standin::wire::cookies(&header).find(|(n, _)| *n == name).map(|(_, v)| v);
        prop_assert_eq!(standin::wire::cookie_value(&header, &name).map(str::to_owned), expected);
    }

    /// The fast path of `merge_slashes` (no `//`) agrees with merging character by character.
    #[test]
    fn merge_slashes_merges_every_run(path in "[/a-zé%]{0,16}") {
        let mut expected = String::new();
        for c in path.chars() {
            if !(c == '/' && expected.ends_with('/')) {
                expected.push(c);
            }
        }
        if expected.is_empty() {
            expected.push('/');
        }
        prop_assert_eq!(standin::wire::merge_slashes(&path), expected);
    }
}
