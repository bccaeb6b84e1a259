//! Security: the control plane nobody else can drive, unguessable tokens, secrets kept out of
//! every answer, HttpOnly cookies.

use std::collections::HashSet;
use std::process::{Command, Stdio};

use rstest::rstest;
use standin::scenario::Scenario;

use crate::contract;
use crate::support::{Served, TestStand, client};

fn standin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_standin"));
    c.env_remove("STANDIN_CONTROL_TOKEN");
    c
}

#[test]
fn a_non_loopback_host_without_a_control_token_is_refused_before_anything_is_served() {
    for (args, env) in [
        (vec!["serve", "--host", "0.0.0.0", "--control-port", "0"], None),
        (vec!["serve", "--host", "::", "--control-port", "0"], None),
        (vec!["serve", "--host", "0.0.0.0", "--control-port", "0", "--control-token", ""], None),
        (vec!["serve", "--host", "0.0.0.0", "--control-port", "0"], Some("")),
    ] {
        let mut cmd = standin();
        cmd.args(&args);
        if let Some(v) = env {
            cmd.env("STANDIN_CONTROL_TOKEN", v);
        }
        let out = crate::support::output(&mut cmd);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("not a loopback address") && err.contains("--control-token"), "{err}");
        assert!(out.stdout.is_empty(), "nothing was served");
    }
}

/// `standin serve` with every profile's stand on a free port, seeded, its stderr kept.
fn serving(extra: &[&str], envs: &[(&str, &str)]) -> Served {
    let mut cmd = standin();
    cmd.args(["serve", "--control-port", "0", "--seed", "1"]).args(extra);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    // Read once at start-up: gone when the server is ready.
    let scratch = crate::support::scratch("sec");
    let sc = scratch.path().join("s.toml");
    let text: String = ["junos-space", "oracle-sdm", "storware", "sensnet", "infinite-blue"]
        .iter()
        .map(|p| format!("[[stands]]\nprofile = \"{p}\"\nport = 0\n"))
        .collect();
    std::fs::write(&sc, text).expect("scenario");
    Served::spawn(cmd.arg(&sc).stderr(Stdio::piped()))
}

#[actix_web::test]
async fn with_a_control_token_every_control_request_needs_it_over_a_real_socket() {
    let serving = serving(&["--control-token", "tok-3f9a1c"], &[]);
    let c = client();
    let mut urls: Vec<String> = serving.stand_urls().iter().map(|u| format!("{u}/__standin/sessions")).collect();
    urls.push(format!("{}/__standin/stands", serving.control()));
    for url in &urls {
        for bad in [None, Some("Bearer wrong"), Some("Bearer tok-3f9a1"), Some("Basic dG9rLTNmOWExYw==")] {
            let mut r = c.get(url);
            if let Some(h) = bad {
                r = r.header("Authorization", h);
            }
            let r = r.send().await.expect("send");
            assert_eq!(r.status(), 401, "{url} with {bad:?}");
        }
        let r = c.get(url).bearer_auth("tok-3f9a1c").send().await.expect("send");
        assert_eq!(r.status(), 200, "{url} with the token");
    }
    // Mutating endpoints too.
    let stand = &serving.stand_urls()[0];
    let r = c.post(format!("{stand}/__standin/clock")).body(r#"{"advance":"1h"}"#).send().await.expect("send");
    assert_eq!(r.status(), 401);
    let r = c.post(format!("{stand}/__standin/reset")).send().await.expect("send");
    assert_eq!(r.status(), 401);
    // The vendor paths need no control token.
    let r = c
        .post(format!("{stand}/api/space/user-management/login"))
        .basic_auth("super", Some("juniper123"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    drop(c);
    let (status, _) = serving.stop();
    assert!(status.success(), "{status:?}");
}

#[actix_web::test]
async fn the_control_token_can_come_from_the_environment() {
    let serving = serving(&[], &[("STANDIN_CONTROL_TOKEN", "env-tok-77")]);
    let url = format!("{}/__standin/stands", serving.control());
    let c = client();
    assert_eq!(c.get(&url).send().await.expect("send").status(), 401);
    assert_eq!(c.get(&url).bearer_auth("env-tok-77").send().await.expect("send").status(), 200);
    drop(c);
    let (status, err) = serving.stop();
    assert!(status.success());
    assert!(!err.contains("env-tok-77"), "the token is never logged: {err}");
}

/// Passwords in bodies, headers, paths and queries never come back from the control API (journal,
/// sessions, accounts, scenario) and are never logged, even at trace level.
#[actix_web::test]
async fn passwords_never_leave_the_stand() {
    let serving = serving(&[], &[("RUST_LOG", "trace")]);
    let c = client();
    let urls = serving.stand_urls();
    let (junos, sdm, storware, sensnet, blue) = (&urls[0], &urls[1], &urls[2], &urls[3], &urls[4]);
    let sent = [
        c.post(format!("{junos}/api/space/user-management/login")).basic_auth("super", Some("juniper123")),
        c.post(format!("{junos}/api/space/user-management/login")).basic_auth("super", Some("wrong-pw-1")),
        c.post(format!("{sdm}/rest/v1.1/admin/login"))
            .header("Content-Type", "application/xml")
            .body("<session><userName>admin</userName><password>password</password></session>"),
        c.post(format!("{storware}/api/session/login"))
            .header("Content-Type", "application/json")
            .body(r#"{"login":"admin","password":"vPr0tect"}"#),
        c.get(format!("{sensnet}/sn/rest/api/login/test1%40test.domain/password/note")),
        c.get(format!("{sensnet}/sn/rest/api/login/test1%40test.domain/wrong-pw-2/note")),
        c.get(format!("{blue}/rest/api/login?loginName=admin&password=password&output=json")),
        c.get(format!("{blue}/rest/api/login?loginName=admin&password=wrong-pw-3")),
        c.get(format!("{blue}/rest/api/login")).header("loginName", "admin").header("password", "password"),
    ];
    for r in sent {
        let r = r.send().await.expect("send");
        assert!(r.status().as_u16() < 500);
    }
    let mut seen = String::new();
    for url in &urls {
        for path in ["journal", "sessions", "accounts", "scenario"] {
            let body = c.get(format!("{url}/__standin/{path}")).send().await.expect("send").text().await.expect("text");
            seen += &body;
        }
    }
    assert!(seen.contains("\"entries\""), "the journal was read");
    drop(c);
    let (status, log) = serving.stop();
    assert!(status.success());
    for secret in ["juniper123", "wrong-pw-1", "vPr0tect", "wrong-pw-2", "wrong-pw-3", "\"password\":\"password\""] {
        assert!(!seen.contains(secret), "{secret} in a control answer");
        assert!(!log.contains(secret), "{secret} in the log");
    }
    // The sensnet and infinite-blue password `password` shows as masked in the journal paths.
    assert!(!seen.contains("/password/note") && !seen.contains("password=password"), "{seen}");
}

/// Random bits in a token: positions (over every token) that took both values.
fn varying_bits(tokens: &[Vec<u8>]) -> usize {
    let width = tokens[0].len() * 8;
    (0..width)
        .filter(|&bit| {
            let ones = tokens.iter().filter(|t| t[bit / 8] & (0x80 >> (bit % 8)) != 0).count();
            ones != 0 && ones != tokens.len()
        })
        .count()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// The random part of a session token as bytes, checking the vendor's shape on the way.
fn random_part(profile: &str, token: &str) -> Vec<u8> {
    let is_hex = |s: &str, upper: bool| {
        s.len() == 32
            && s.bytes().all(|b| {
                b.is_ascii_digit() || if upper { (b'A'..=b'F').contains(&b) } else { (b'a'..=b'f').contains(&b) }
            })
    };
    match profile {
        "junos-space" => {
            assert_eq!(token.len(), 24, "{token}");
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, token).expect("base64")
        }
        "oracle-sdm" => {
            let (hex, node) = token.split_once('.').expect("hex.node");
            assert!(is_hex(hex, true) && node == "tomcat1", "{token}");
            hex_bytes(hex)
        }
        "storware" => {
            assert!(is_hex(token, true), "{token}");
            hex_bytes(token)
        }
        "sensnet" => {
            let parts: Vec<&str> = token.split('-').collect();
            assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{token}");
            assert!(parts[2].starts_with('4') && "89ab".contains(&parts[3][..1]), "UUID v4: {token}");
            hex_bytes(&parts.concat())
        }
        _ => {
            let (hex, cust) = token.split_once('@').expect("hex@custId");
            assert!(is_hex(hex, false) && cust == "5857", "{token}");
            hex_bytes(hex)
        }
    }
}

fn unseeded(profile: &str) -> TestStand {
    let text = format!("[[stands]]\nprofile = \"{profile}\"\nport = 0\n");
    let scenario = Scenario::parse(&text, "unseeded.toml").expect("scenario");
    TestStand::from_spec(scenario.stands.into_iter().next().expect("one stand"))
}

/// Without a seed, tokens come from the OS-seeded CSPRNG: the vendor's shape, never repeated,
/// at least 122 bits that vary, and two stands draw different streams.
#[rstest]
#[case::junos_space("junos-space", 144)]
#[case::oracle_sdm("oracle-sdm", 128)]
#[case::storware("storware", 128)]
#[case::sensnet("sensnet", 122)]
#[case::infinite_blue("infinite-blue", 128)]
#[actix_web::test]
async fn unseeded_tokens_have_at_least_122_random_bits(#[case] profile: &str, #[case] bits: usize) {
    let v = contract::vendor(profile);
    let newest = |s: &TestStand| s.engine().sessions().into_iter().max_by_key(|x| x.serial).expect("a session");
    let stand = unseeded(profile);
    let mut tokens = Vec::new();
    for _ in 0..256 {
        let r = stand.call((v.login)(v.user, v.password)).await;
        assert_eq!(r.status, v.login_ok);
        tokens.push(newest(&stand).token.to_string());
    }
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), tokens.len(), "no token repeats");
    let raw: Vec<Vec<u8>> = tokens.iter().map(|t| random_part(profile, t)).collect();
    assert_eq!(varying_bits(&raw), bits, "{profile}: random bits");
    assert!(bits >= 122);

    let other = unseeded(profile);
    other.call((v.login)(v.user, v.password)).await;
    assert!(!tokens.contains(&newest(&other).token.to_string()), "another stand, another stream");
}

/// Every session cookie a login sets is HttpOnly, as the vendors' servlet containers set it.
#[rstest]
#[case::junos_space("junos-space", 2)]
#[case::oracle_sdm("oracle-sdm", 1)]
#[case::storware("storware", 1)]
#[case::sensnet("sensnet", 0)]
#[case::infinite_blue("infinite-blue", 0)]
#[actix_web::test]
async fn session_cookies_are_http_only(#[case] profile: &str, #[case] cookies: usize) {
    let v = contract::vendor(profile);
    let r = TestStand::new(profile).call((v.login)(v.user, v.password)).await;
    let set: Vec<&String> = r.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v).collect();
    assert_eq!(set.len(), cookies, "{set:?}");
    for c in set {
        assert!(c.split(';').any(|a| a.trim().eq_ignore_ascii_case("HttpOnly")), "{c}");
    }
}

#[actix_web::test]
async fn the_control_api_through_a_stand_refuses_a_non_loopback_peer() {
    // In-process, with the peer address a real socket would give: the same check as over TCP.
    let s = TestStand::new("storware");
    let app = actix_web::test::init_service(actix_web::App::new().configure(s.harness.configure())).await;
    for (peer, want) in [("10.1.2.3:4000", 403), ("[2001:db8::1]:4000", 403), ("127.0.0.1:4000", 200)] {
        let req = actix_web::test::TestRequest::get()
            .uri("/__standin/sessions")
            .peer_addr(peer.parse().expect("addr"))
            .to_request();
        let resp = actix_web::test::call_service(&app, req).await;
        assert_eq!(resp.status().as_u16(), want, "{peer}");
    }
    // The vendor paths answer everyone.
    let req = actix_web::test::TestRequest::get().uri("/api/session").peer_addr("10.1.2.3:4000".parse().expect("addr"));
    let resp = actix_web::test::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status().as_u16(), 401);
}
