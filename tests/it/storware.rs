//! storware: every response pinned, the activity fields, the documented flow over a real socket,
//! and a store that stays bounded under a client that logs in on every request.

use std::time::Duration;

use actix_web::App;
use actix_web::test::{TestRequest, call_service, init_service};
use insta::assert_snapshot;
use serde_json::json;

use crate::support::{Reply, Req, TestStand};

const PING: &str = "/api/session";
const LOGIN: &str = "/api/session/login";
const TOKEN: &str = "/api/session/login-with-token";
const LOGOUT: &str = "/api/session/logout";
const NODE: &str = "/api/session/node/login";
const USER: &str = "/api/session/user";
const DETAILS: &str = "/api/session/user/details";

/// 2026-01-01T00:00:00Z, where every test stand's clock starts.
const START_MS: i64 = 1_767_225_600_000;

fn stand() -> TestStand {
    TestStand::new("storware")
}

fn login(user: &str, password: &str) -> Req {
    Req::post(LOGIN).json(json!({"login": user, "password": password}))
}

/// Accounts with an API token and a node, as `scenarios/storware-idle-expiry.toml` has them.
fn stand_with_token_and_node() -> TestStand {
    TestStand::from_spec(
        standin::Scenario::load("scenarios/storware-idle-expiry.toml".as_ref()).expect("scenario").stands.remove(0),
    )
}

#[actix_web::test]
async fn login_is_201_with_the_session_info_and_the_jsessionid_cookie() {
    let r = stand().call(login("admin", "vPr0tect")).await;
    assert_eq!(r.status, 201);
    let cookie = r.header("set-cookie").expect("Set-Cookie");
    assert!(cookie.ends_with("; Path=/api; HttpOnly"), "{cookie}");
    let token = r.cookie("JSESSIONID").expect("JSESSIONID");
    assert!(token.len() == 32 && token.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()), "{token}");
    let keys: Vec<_> = r.json().as_object().expect("object").keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "requester",
            "infoTourEnabled",
            "lastFailedLoginIp",
            "language",
            "appUserSettings",
            "privileges",
            "endpointsTokens",
            "uiConsoleMode",
            "lastSuccessfulLogin",
            "lastFailedLogin",
            "uiTimeZone"
        ]
    );
    assert_eq!(r.json()["lastSuccessfulLogin"], START_MS, "this login is the last successful one");
    assert_snapshot!(r.snapshot());
}

#[actix_web::test]
async fn wrong_password_unknown_user_and_missing_fields_are_the_401_envelope() {
    let s = stand();
    let r = s.call(login("admin", "nope")).await;
    assert_snapshot!("login_wrong_password", r.snapshot());
    for req in [
        login("nobody", "vPr0tect"),
        Req::post(LOGIN).json(json!({})),
        Req::post(LOGIN).json(json!({"login": "admin"})),
        Req::post(LOGIN).json(json!({"login": "admin", "password": null})),
    ] {
        let again = s.call(req).await;
        assert_eq!((again.status, &again.body), (401, &r.body));
    }
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn malformed_json_is_400_with_the_same_envelope() {
    let s = stand();
    let r = s.call(Req::post(LOGIN).header("Content-Type", "application/json").body("{\"login\":")).await;
    assert_snapshot!("login_malformed_json", r.snapshot());
    for body in ["", "[]", "\"admin\"", "{\"login\": 1, \"password\": \"vPr0tect\"}", "\u{0}\u{ff}"] {
        let again = s.call(Req::post(LOGIN).header("Content-Type", "application/json").body(body)).await;
        assert_eq!((again.status, &again.body), (400, &r.body), "{body:?}");
    }
    let again = s.call(Req::post(TOKEN).header("Content-Type", "application/json").body("nope")).await;
    assert_eq!(again.status, 400);
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn unknown_fields_and_any_content_type_are_accepted() {
    let r = stand()
        .call(
            Req::post(LOGIN)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(r#"{"login":"admin","password":"vPr0tect","rememberMe":true}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[actix_web::test]
async fn ping_user_and_user_details_answer_with_a_session() {
    let s = stand();
    let login = s.call(login("admin", "vPr0tect")).await;
    s.advance(Duration::from_secs(60));
    let ping = s.call(Req::get(PING).cookies_from(&login)).await;
    assert_snapshot!("ping_ok", ping.snapshot());
    let user = s.call(Req::get(USER).cookies_from(&login)).await;
    assert_eq!(user.status, 200);
    assert_eq!(user.body, login.body, "the same session info as the login answered");
    assert_snapshot!("user_ok", user.snapshot());
    let details = s.call(Req::get(DETAILS).cookies_from(&login)).await;
    let keys: Vec<_> = details.json().as_object().expect("object").keys().cloned().collect();
    assert_eq!(keys, ["guid", "lastSuccessfulLogin", "lastFailedLogin", "uiTimeZone"]);
    assert_snapshot!("user_details_ok", details.snapshot());
}

#[actix_web::test]
async fn without_a_session_every_check_is_the_401_envelope() {
    let s = stand();
    let r = s.call(Req::get(PING)).await;
    assert_snapshot!("ping_without_session", r.snapshot());
    for req in [
        Req::get(PING).header("Cookie", "JSESSIONID=0123456789ABCDEF0123456789ABCDEF"),
        Req::get(USER),
        Req::get(DETAILS),
        Req::post(LOGOUT),
        Req::get("/api/virtual-machines"),
    ] {
        let again = s.call(req.clone()).await;
        assert_eq!((again.status, &again.body), (401, &r.body), "{req:?}");
    }
}

#[actix_web::test]
async fn logout_is_201_with_no_body_and_ends_the_session() {
    let s = stand();
    let login = s.call(login("admin", "vPr0tect")).await;
    let out = s.call(Req::post(LOGOUT).cookies_from(&login)).await;
    assert_snapshot!("logout_ok", out.snapshot());
    assert!(out.body.is_empty());
    assert_eq!(s.call(Req::get(PING).cookies_from(&login)).await.status, 401);
    let again = s.call(Req::post(LOGOUT).cookies_from(&login)).await;
    assert_snapshot!("logout_again", again.snapshot());
}

#[actix_web::test]
async fn a_failed_login_then_a_good_one_shows_the_failure_time_and_ip() {
    let s = stand();
    let first = s.call(login("admin", "vPr0tect")).await;
    assert_eq!(first.json()["lastFailedLogin"], json!(null));
    assert_eq!(first.json()["lastFailedLoginIp"], json!(null));
    s.advance(Duration::from_secs(60));
    assert_eq!(s.call(login("admin", "wrong")).await.status, 401);
    s.advance(Duration::from_secs(5 * 60));
    let good = s.call(login("admin", "vPr0tect")).await;
    let info = good.json();
    assert_eq!(info["lastFailedLogin"], START_MS + 60_000);
    assert_eq!(info["lastFailedLoginIp"], "127.0.0.1");
    assert_eq!(info["lastSuccessfulLogin"], START_MS + 6 * 60_000);
    assert_snapshot!("login_after_a_failure", good.snapshot());
    // The earlier session sees the failure too, in its next SessionInfoResponse and details.
    let user = s.call(Req::get(USER).cookies_from(&first)).await.json();
    assert_eq!(
        (&user["lastFailedLogin"], &user["lastFailedLoginIp"]),
        (&info["lastFailedLogin"], &info["lastFailedLoginIp"])
    );
    let details = s.call(Req::get(DETAILS).cookies_from(&first)).await.json();
    assert_eq!(details["lastFailedLogin"], START_MS + 60_000);
    assert_eq!(details["lastSuccessfulLogin"], START_MS + 6 * 60_000);
}

#[actix_web::test]
async fn login_with_token_matches_the_accounts_api_tokens() {
    let s = stand_with_token_and_node();
    let r = s.call(Req::post(TOKEN).json(json!({"token": "c29tZS1hcGktdG9rZW4"}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["requester"]["name"], "admin");
    assert_snapshot!("login_with_token_ok", r.snapshot());
    assert_eq!(s.call(Req::get(PING).cookies_from(&r)).await.status, 204);
    for req in [
        Req::post(TOKEN).json(json!({"token": "not-a-token"})),
        Req::post(TOKEN).json(json!({})),
        Req::post(TOKEN).json(json!({"token": ""})),
    ] {
        let bad = s.call(req).await;
        assert_eq!(bad.status, 401, "{}", bad.body);
        assert_eq!(bad.json()["message"], "Invalid login or password");
    }
}

#[actix_web::test]
async fn node_login_is_for_node_accounts_only() {
    let s = stand_with_token_and_node();
    let node = s.call(Req::post(NODE).json(json!({"login": "node1", "password": "n0de-secret"}))).await;
    assert_eq!(node.status, 201, "{}", node.body);
    assert_snapshot!("node_login_ok", node.snapshot());
    assert_eq!(s.call(Req::get(USER).cookies_from(&node)).await.json()["requester"]["name"], "node1");
    // A user at the node endpoint, a node at the user endpoint, a wrong node password.
    for req in [
        Req::post(NODE).json(json!({"login": "admin", "password": "vPr0tect"})),
        login("node1", "n0de-secret"),
        Req::post(NODE).json(json!({"login": "node1", "password": "wrong"})),
    ] {
        assert_eq!(s.call(req).await.status, 401);
    }
    assert_eq!(s.engine().sessions().len(), 1);
}

#[actix_web::test]
async fn locked_accounts_get_their_own_message() {
    let s = TestStand::with_scenario(
        "storware",
        "[[stands.accounts]]\nname = \"admin\"\npassword = \"vPr0tect\"\nlocked = true\n",
    );
    let r = s.call(login("admin", "vPr0tect")).await;
    assert_snapshot!("login_locked", r.snapshot());
}

#[actix_web::test]
async fn unknown_paths_and_methods() {
    let s = stand();
    let login = s.call(login("admin", "vPr0tect")).await;
    let r = s.call(Req::get("/api/no-such-thing").cookies_from(&login)).await;
    assert_snapshot!("not_found_with_session", r.snapshot());
    let r = s.call(Req::get(LOGIN)).await;
    assert_snapshot!("wrong_method", r.snapshot());
}

#[actix_web::test]
async fn trailing_and_repeated_slashes_reach_the_same_operation() {
    let s = stand();
    let login =
        s.call(Req::post("//api/session//login/").json(json!({"login": "admin", "password": "vPr0tect"}))).await;
    assert_eq!(login.status, 201);
    assert_eq!(s.call(Req::get("/api/session/").cookies_from(&login)).await.status, 204);
}

#[actix_web::test]
async fn options_override_the_defaults() {
    let s = TestStand::with_scenario(
        "storware",
        r#"[stands.options]
cookie_name = "SESSION"
cookie_path = "/"
unauthorized_status = 403
language = "PL"
ui_time_zone = "Europe/Warsaw"
page_size = 50
time_format = 12
info_tour_enabled = false
ui_console_mode = "LEGACY"
token_field = "apiToken"
[stands.options.endpoints_tokens]
endpointsServerManagerToken = "esm"
[stands.options.messages]
login_failed = "Bad credentials"
unauthorized = "Session expired"
"#,
    );
    let r = s.call(login("admin", "vPr0tect")).await;
    assert!(r.header("set-cookie").expect("cookie").ends_with("; Path=/; HttpOnly"));
    let info = r.json();
    assert_eq!(
        (&info["language"], &info["uiTimeZone"], &info["appUserSettings"], &info["infoTourEnabled"]),
        (&json!("PL"), &json!("Europe/Warsaw"), &json!({"pageSize": 50, "timeFormat": 12}), &json!(false))
    );
    assert_eq!(
        (&info["uiConsoleMode"], &info["endpointsTokens"]["endpointsServerManagerToken"]),
        (&json!("LEGACY"), &json!("esm"))
    );
    assert_eq!(s.call(Req::get(PING).cookies_from(&r)).await.status, 204);
    let denied = s.call(Req::get(PING)).await;
    assert_eq!((denied.status, denied.json()["error"]["code"].clone()), (403, json!(403)));
    assert_eq!(denied.json()["message"], "Session expired");
    assert_eq!(s.call(login("admin", "x")).await.json()["message"], "Bad credentials");
    assert_eq!(s.call(Req::post(TOKEN).json(json!({"apiToken": "x"}))).await.status, 401);
}

#[test]
fn bad_options_are_scenario_errors() {
    for (options, needle) in [
        ("cookie_name = \"a b\"", "options.cookie_name"),
        ("cookie_path = \"api\"", "options.cookie_path"),
        ("unauthorized_status = 200", "options.unauthorized_status"),
        ("colour = \"red\"", "unknown field `colour`"),
    ] {
        let text = format!("[[stands]]\nprofile = \"storware\"\n[stands.options]\n{options}\n");
        let e = standin::Scenario::parse(&text, "s.toml").expect_err("invalid").to_string();
        assert!(e.contains(needle), "{e}");
    }
}

#[actix_web::test]
async fn busy_is_503_with_retry_after_in_the_envelope() {
    use standin::profiles::Semantic;
    let s = stand();
    let handler = standin::profiles::find("storware").expect("listed").configure(&serde_json::Value::Null).expect("ok");
    let req = standin::wire::Request::new(standin::wire::Method::POST, LOGIN);
    let r = handler.render(s.engine(), &req, &Semantic::Busy { retry_after: 30 });
    let reply = Reply {
        status: r.status,
        headers: r.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect(),
        body: r.text_body().into_owned(),
    };
    assert_snapshot!("busy", reply.snapshot());
    for (event, status, message) in [
        (Semantic::LoginRejected, 401, "Invalid login or password"),
        (Semantic::Locked, 401, "User account is locked"),
        (Semantic::Unauthorized, 401, "Invalid login or password"),
    ] {
        let r = handler.render(s.engine(), &req, &event);
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!((r.status, body["message"].as_str()), (status, Some(message)), "{event:?}");
    }
    let ping = standin::wire::Request::new(standin::wire::Method::GET, PING);
    let r = handler.render(s.engine(), &ping, &Semantic::Unauthorized);
    assert_eq!(r.text_body(), r#"{"error":{"code":401,"message":"Unauthorized"},"message":"Unauthorized"}"#);
}

#[actix_web::test]
async fn the_guard_takes_the_cookie_session_and_refuses_with_the_envelope() {
    use standin::profiles::Principal;
    let s = stand();
    let login = s.call(login("admin", "vPr0tect")).await;
    let handler = standin::profiles::find("storware").expect("listed").configure(&serde_json::Value::Null).expect("ok");
    let token = login.cookie("JSESSIONID").expect("cookie");
    let req = standin::wire::Request::new(standin::wire::Method::GET, "/api/virtual-machines")
        .with_header("Cookie", &format!("JSESSIONID={token}"));
    match handler.guard(s.engine(), &req) {
        Ok(Principal::Session(v)) => assert_eq!(v.account.name, "admin"),
        other => panic!("expected the session, got {other:?}"),
    }
    assert_eq!(handler.session_token(&req).as_deref(), Some(token.as_str()));
    let bare = standin::wire::Request::new(standin::wire::Method::GET, "/api/virtual-machines");
    let refused = handler.guard(s.engine(), &bare).expect_err("no cookie");
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header_value("content-type"), Some("application/json"));
}

#[actix_web::test]
async fn the_idle_expiry_scenario_slides_and_ends_after_30_idle_minutes() {
    let s = stand_with_token_and_node();
    let login = s.call(login("admin", "vPr0tect")).await;
    for _ in 0..10 {
        s.advance(Duration::from_secs(29 * 60));
        assert_eq!(s.call(Req::get(PING).cookies_from(&login)).await.status, 204);
    }
    s.advance(Duration::from_secs(30 * 60));
    let r = s.call(Req::get(USER).cookies_from(&login)).await;
    assert_eq!(r.status, 401);
    assert!(s.engine().sessions().is_empty());
}

/// A poller that logs in on every request and never logs out: 100,000 logins at one instant fill
/// the store, and once the idle timeout passes the clock move purges it back to nothing.
#[actix_web::test]
async fn a_client_logging_in_on_every_request_leaves_the_store_bounded_once_idle_passes() {
    const REQUESTS: usize = 100_000;
    let s = stand();
    let app = init_service(App::new().configure(s.harness.configure())).await;
    let body = json!({"login": "admin", "password": "vPr0tect"}).to_string();
    for i in 0..REQUESTS {
        let req = TestRequest::post()
            .uri(LOGIN)
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.clone())
            .to_request();
        let status = call_service(&app, req).await.status();
        assert_eq!(status.as_u16(), 201, "request {i}");
    }
    assert_eq!(s.engine().stored(), REQUESTS);
    let advance = TestRequest::post().uri("/__standin/clock").set_payload(r#"{"advance":"30m"}"#).to_request();
    assert_eq!(call_service(&app, advance).await.status().as_u16(), 200);
    // What a running stand's background purge does within half a second of the clock moving.
    s.engine().purge(4096);
    assert_eq!(s.engine().stored(), 0, "the idle timeout passed: every record is purged");

    // Polling every 10 seconds, the logins' own purge keeps the store at the live 30 minutes' worth.
    let mut most = 0;
    for _ in 0..1_000 {
        s.advance(Duration::from_secs(10));
        let req = TestRequest::post()
            .uri(LOGIN)
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.clone())
            .to_request();
        assert_eq!(call_service(&app, req).await.status().as_u16(), 201);
        most = most.max(s.engine().stored());
    }
    assert!(most <= 30 * 6 + 1, "at most 30 minutes of 10-second logins are stored, got {most}");
}

/// The documented flow with a cookie-jar client (what Python's `requests.Session()` does).
#[actix_web::test]
async fn a_cookie_jar_client_follows_the_documented_flow_over_a_real_socket() {
    let stand = standin::Stand::builder("storware")
        .scenario_file("scenarios/storware-idle-expiry.toml")
        .expect("scenario")
        .start()
        .await
        .expect("start");
    let url = stand.url();
    let c = reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(10)).build().expect("client");
    let r =
        c.post(format!("{url}{LOGIN}")).json(&json!({"login": "admin", "password": "vPr0tect"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["requester"]["name"], "admin");
    let r = c.get(format!("{url}{PING}")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.text().await.unwrap().is_empty());
    let r = c.get(format!("{url}{DETAILS}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let details: serde_json::Value = r.json().await.unwrap();
    let keys: Vec<_> = details.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["guid", "lastSuccessfulLogin", "lastFailedLogin", "uiTimeZone"]);
    let r = c.post(format!("{url}{LOGOUT}")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.text().await.unwrap().is_empty());
    let r = c.get(format!("{url}{PING}")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"]["code"], 401);

    // Logged in again and left idle past the timeout: the jar's cookie no longer works.
    c.post(format!("{url}{LOGIN}")).json(&json!({"login": "admin", "password": "vPr0tect"})).send().await.unwrap();
    assert_eq!(c.get(format!("{url}{PING}")).send().await.unwrap().status(), 204);
    stand.clock().advance(Duration::from_secs(30 * 60));
    assert_eq!(c.get(format!("{url}{PING}")).send().await.unwrap().status(), 401);
}
