//! infinite-blue: every response format pinned, and the documented flows.

use std::time::Duration;

use insta::assert_snapshot;
use standin::Stand;
use standin::profiles::{self, Handler, Principal, Semantic};
use standin::wire::{Method, Request, Response};

use crate::support::{Reply, Req, TestStand};

const LOGIN: &str = "/rest/api/login";
const LOGOUT: &str = "/rest/api/logout";
const SELECT: &str = "/rest/api/selectQuery";
const CREATE2: &str = "/rest/api/create2";
const EXPIRED_JSON: &str = r#"{"status":"login","message":"Session expired or invalid login credentials"}"#;

fn stand() -> TestStand {
    TestStand::new("infinite-blue")
}

fn scenario_stand() -> TestStand {
    TestStand::from_spec(
        standin::Scenario::load("scenarios/infinite-blue-idle-expiry.toml".as_ref())
            .expect("scenario")
            .stands
            .remove(0),
    )
}

fn header_login() -> Req {
    Req::get(LOGIN).header("loginName", "admin").header("password", "password")
}

/// The sessionId of a login answer, XML or JSON, without the documented leading space.
fn session_id(r: &Reply) -> String {
    if r.body.starts_with('{') {
        return r.json()["sessionId"].as_str().expect("sessionId").to_owned();
    }
    let (_, rest) = r.body.split_once("<sessionId> ").expect("<sessionId>");
    rest.split_once("</sessionId>").expect("</sessionId>").0.to_owned()
}

fn is_session_id_shape(id: &str) -> bool {
    let Some((hex, cust)) = id.split_once('@') else { return false };
    hex.len() == 32
        && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && !cust.is_empty()
        && cust.bytes().all(|b| b.is_ascii_digit())
}

fn select(id: &str, output: &str) -> Req {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("sessionId", id)
        .append_pair("query", "SELECT id FROM USER")
        .append_pair("output", output)
        .finish();
    Req::get(&format!("{SELECT}?{q}"))
}

#[actix_web::test]
async fn login_by_headers_answers_the_documented_xml() {
    let r = stand().call(header_login()).await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<resp status=\"ok\">\n<sessionId> "));
    assert!(r.body.ends_with("@5857</sessionId>\n</resp>"), "{}", r.body);
    assert!(is_session_id_shape(&session_id(&r)), "{}", r.body);
    assert_snapshot!(r.snapshot());
}

#[actix_web::test]
async fn login_by_query_answers_the_documented_json() {
    let r = stand().call(Req::get(&format!("{LOGIN}?loginName=admin&password=password&output=json"))).await;
    assert_eq!(r.status, 200);
    let id = session_id(&r);
    assert!(is_session_id_shape(&id));
    assert_eq!(r.body, format!(r#"{{"status":"ok", "sessionId":"{id}" }}"#));
    assert_snapshot!(r.snapshot());
}

#[actix_web::test]
async fn login_by_post_form_answers_json() {
    let s = stand();
    let r =
        s.call(Req::post(LOGIN).form(&[("loginName", "admin"), ("password", "password"), ("output", "json")])).await;
    assert_snapshot!(r.snapshot());
    // A hand-built body without a Content-Type is read as a form too.
    let r = s.call(Req::post(LOGIN).body("loginName=admin&password=password&output=json")).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn wrong_password_is_the_login_error_in_both_formats() {
    let s = stand();
    let r = s.call(Req::get(LOGIN).header("loginName", "admin").header("password", "nope")).await;
    assert_snapshot!("wrong_password_xml", r.snapshot());
    let r = s.call(Req::get(&format!("{LOGIN}?loginName=admin&password=nope&output=json"))).await;
    assert_eq!((r.status, r.body.as_str()), (401, EXPIRED_JSON));
    assert_snapshot!("wrong_password_json", r.snapshot());
    let r = s.call(Req::get(&format!("{LOGIN}?loginName=nobody&password=password&output=json"))).await;
    assert_eq!((r.status, r.body.as_str()), (401, EXPIRED_JSON));
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn a_missing_parameter_or_a_bad_output_is_fail_400() {
    let s = stand();
    let r = s.call(Req::get(LOGIN).header("password", "password")).await;
    assert_snapshot!("missing_login_name_xml", r.snapshot());
    let r = s.call(Req::get(&format!("{LOGIN}?loginName=admin&output=json"))).await;
    assert_snapshot!("missing_password_json", r.snapshot());
    let r = s.call(header_login().header("output", "yaml")).await;
    assert_snapshot!("bad_output", r.snapshot());
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn a_second_login_makes_the_first_session_id_answer_the_login_error() {
    let s = stand();
    let first = session_id(&s.call(header_login()).await);
    assert_eq!(s.call(select(&first, "json")).await.status, 400, "live: not emulated");
    let second = session_id(&s.call(header_login()).await);
    assert_ne!(first, second);
    let r = s.call(select(&first, "json")).await;
    assert_eq!((r.status, r.body.as_str()), (401, EXPIRED_JSON));
    assert_snapshot!("ended_session_json", r.snapshot());
    let r = s.call(select(&first, "xml")).await;
    assert_snapshot!("ended_session_xml", r.snapshot());
    let live = s.engine().sessions();
    assert_eq!(live.len(), 1);
    assert_eq!(&*live[0].token, second.as_str());
}

#[actix_web::test]
async fn session_id_is_accepted_with_or_without_the_leading_space() {
    let s = stand();
    let login = s.call(header_login()).await;
    let id = session_id(&login);
    for sent in [id.clone(), format!(" {id}")] {
        let r = s.call(select(&sent, "json")).await;
        assert_eq!(r.status, 400, "{sent:?}: {}", r.body);
        assert!(r.body.contains("not emulated"), "{}", r.body);
    }
    // `+` is a space in a query string; a client pasting the XML text node sends it so.
    let r = s.call(Req::get(&format!("{SELECT}?sessionId=+{id}&output=json"))).await;
    assert!(r.body.contains("not emulated"), "{}", r.body);
    let r = s.call(Req::post(CREATE2).form(&[("sessionId", &format!(" {id}")), ("objName", "USER")])).await;
    assert!(r.body.contains("create2: not emulated"), "{}", r.body);
}

#[actix_web::test]
async fn protected_methods_check_the_session_first() {
    let s = stand();
    let id = session_id(&s.call(header_login()).await);
    let r = s.call(select(&id, "xml")).await;
    assert_snapshot!("select_query_not_emulated_xml", r.snapshot());
    let r = s.call(select(&id, "json")).await;
    assert_snapshot!("select_query_not_emulated_json", r.snapshot());
    let r = s.call(Req::get(&format!("/rest/api/getRecord?sessionId={id}&objName=USER&id=1&output=json"))).await;
    assert!(r.body.contains("getRecord: not emulated"), "{}", r.body);
    let r = s.call(select("0123456789abcdef0123456789abcdef@5857", "json")).await;
    assert_eq!((r.status, r.body.as_str()), (401, EXPIRED_JSON));
    let r = s.call(Req::get(&format!("{SELECT}?output=json"))).await;
    assert_snapshot!("select_query_without_session_id", r.snapshot());
    let r = s.call(Req::post(CREATE2).form(&[("objName", "USER")])).await;
    assert_eq!(r.status, 400);
}

#[actix_web::test]
async fn logout_by_session_id_in_both_formats_then_the_id_is_invalid() {
    let s = stand();
    let id = session_id(&s.call(header_login()).await);
    let r = s.call(Req::get(&format!("{LOGOUT}?sessionId={id}"))).await;
    assert_snapshot!("logout_xml", r.snapshot());
    let r = s.call(Req::get(&format!("{LOGOUT}?sessionId={id}&output=json"))).await;
    assert_snapshot!("logout_again_json", r.snapshot());
    let r = s.call(Req::get(&format!("{LOGOUT}?sessionId={id}"))).await;
    assert_snapshot!("logout_again_xml", r.snapshot());

    let id = session_id(&s.call(header_login()).await);
    let r = s.call(Req::post(LOGOUT).form(&[("sessionId", &id), ("output", "json")])).await;
    assert_snapshot!("logout_json", r.snapshot());
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn logout_without_session_id_ends_every_session_of_the_api_key_user() {
    let s = TestStand::with_scenario(
        "infinite-blue",
        "[stands.policy]\nsingle_session_per_user = false\n[[stands.accounts]]\nname = \"admin\"\npassword = \"password\"\ntenant = \"5857\"\napi_tokens = [\"k1\"]\n[[stands.accounts]]\nname = \"other\"\npassword = \"pw\"\ntenant = \"5857\"\n",
    );
    for _ in 0..3 {
        assert_eq!(s.call(header_login()).await.status, 200);
    }
    let other = s.call(Req::get(LOGIN).header("loginName", "other").header("password", "pw")).await;
    assert_eq!(s.engine().sessions().len(), 4);
    let r = s.call(Req::post(LOGOUT).header("apiKey", "wrong").header("output", "json")).await;
    assert_eq!((r.status, r.body.as_str()), (401, EXPIRED_JSON));
    let r = s.call(Req::post(LOGOUT).header("apiKey", "k1").header("output", "json")).await;
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":"ok"}"#));
    let live = s.engine().sessions();
    assert_eq!(live.len(), 1);
    assert_eq!(*live[0].token, *session_id(&other));
    let r = s.call(Req::get(&format!("{LOGOUT}?output=json"))).await;
    assert_snapshot!("logout_without_session_id_or_key", r.snapshot());
}

#[actix_web::test]
async fn the_api_key_header_name_is_an_option() {
    let s = TestStand::with_scenario(
        "infinite-blue",
        "[stands.options]\napi_key_header = \"X-Api-Key\"\n[[stands.accounts]]\nname = \"admin\"\npassword = \"password\"\ntenant = \"5857\"\napi_tokens = [\"k1\"]\n",
    );
    s.call(header_login()).await;
    assert_eq!(s.call(Req::post(LOGOUT).header("apiKey", "k1")).await.status, 400);
    assert_eq!(s.call(Req::post(LOGOUT).header("X-Api-Key", "k1")).await.status, 200);
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn cust_id_selects_the_customer_and_names_it_in_the_session_id() {
    let s = scenario_stand();
    let r = s.call(Req::get(LOGIN).header("loginName", "admin").header("password", "other-password")).await;
    assert_eq!(r.status, 401, "without custId the name finds the first customer's admin");
    let r = s
        .call(
            Req::get(LOGIN).header("loginName", "admin").header("password", "other-password").header("custId", "1234"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(session_id(&r).ends_with("@1234"));
    let r = s.call(Req::get(&format!("{LOGIN}?loginName=admin&password=password&custId=5857"))).await;
    assert!(session_id(&r).ends_with("@5857"));
    let r = s.call(Req::get(&format!("{LOGIN}?loginName=admin&password=password&custId=1234"))).await;
    assert_eq!(r.status, 401);
    assert_eq!(s.engine().sessions().len(), 2, "one per customer's admin");
}

#[actix_web::test]
async fn sso_only_accounts_need_the_admin_fallback() {
    let s = scenario_stand();
    let plain = Req::get(LOGIN).header("loginName", "sso-user").header("password", "fallback");
    assert_eq!(s.call(plain.clone()).await.status, 401);
    assert_eq!(s.call(plain.clone().header("adminFallback", "false")).await.status, 401);
    assert_eq!(s.call(plain.clone().header("adminFallback", "true")).await.status, 200);
    let r = s.call(Req::get(&format!("{LOGIN}?loginName=sso-user&password=fallback&adminFallback=TRUE"))).await;
    assert_eq!(r.status, 200);
    let r = s.call(Req::get(&format!("{LOGIN}?loginName=sso-user&password=wrong&adminFallback=true"))).await;
    assert_eq!(r.status, 401);
}

#[actix_web::test]
async fn headers_win_over_the_form_and_the_form_over_the_query() {
    let s = stand();
    let q = format!("{LOGIN}?loginName=admin&password=wrong&output=json");
    assert_eq!(s.call(Req::get(&q)).await.status, 401);
    assert_eq!(s.call(Req::get(&q).header("password", "password")).await.status, 200);
    assert_eq!(s.call(Req::post(&q).form(&[("password", "password")])).await.status, 200);
    let r = s.call(Req::post(&q).header("password", "wrong").form(&[("password", "password")])).await;
    assert_eq!(r.status, 401);
    // The output parameter follows the same order.
    let r = s.call(Req::get(&q).header("password", "password").header("output", "xml")).await;
    assert!(r.body.starts_with("<?xml"));
}

#[actix_web::test]
async fn the_precedence_is_an_option() {
    let s = TestStand::with_scenario("infinite-blue", "[stands.options]\nprecedence = [\"query\", \"header\"]\n");
    let q = format!("{LOGIN}?loginName=admin&password=password&output=json");
    assert_eq!(s.call(Req::get(&q).header("password", "wrong")).await.status, 200);
    let r = s.call(Req::post(LOGIN).form(&[("loginName", "admin"), ("password", "password")])).await;
    assert_eq!(r.status, 400, "forms are not read: {}", r.body);
}

#[actix_web::test]
async fn the_login_error_status_is_an_option() {
    let s = TestStand::with_scenario("infinite-blue", "[stands.options]\nlogin_error_status = 500\n");
    let r = s.call(Req::get(&format!("{LOGIN}?loginName=admin&password=nope&output=json"))).await;
    assert_eq!((r.status, r.body.as_str()), (500, EXPIRED_JSON));
}

#[actix_web::test]
async fn the_session_suffix_is_an_option() {
    let s = TestStand::with_scenario("infinite-blue", "[stands.options]\nsession_suffix = \"77\"\n");
    let id = session_id(&s.call(header_login()).await);
    assert!(id.ends_with("@77") && is_session_id_shape(&id), "{id}");
    assert!(s.call(select(&id, "json")).await.body.contains("not emulated"));
}

#[actix_web::test]
async fn sessions_idle_out_after_60_minutes_and_per_customer_timeouts_apply() {
    let s = scenario_stand();
    let a = session_id(&s.call(header_login()).await);
    let b =
        session_id(&s.call(Req::get(&format!("{LOGIN}?loginName=admin&password=other-password&custId=1234"))).await);
    for _ in 0..5 {
        s.advance(Duration::from_secs(59 * 60));
        assert_eq!(s.call(select(&a, "json")).await.status, 400, "used every 59 minutes: still live");
    }
    s.advance(Duration::from_secs(60 * 60));
    assert_eq!(s.call(select(&a, "json")).await.body, EXPIRED_JSON);
    assert_eq!(s.call(select(&b, "json")).await.body, EXPIRED_JSON, "customer 1234 idles out after 10 minutes");

    let b =
        session_id(&s.call(Req::get(&format!("{LOGIN}?loginName=admin&password=other-password&custId=1234"))).await);
    s.advance(Duration::from_secs(9 * 60));
    assert_eq!(s.call(select(&b, "json")).await.status, 400);
    s.advance(Duration::from_secs(10 * 60));
    assert_eq!(s.call(select(&b, "json")).await.status, 401);
    let r = s.call(Req::get(&format!("{LOGOUT}?sessionId={b}&output=json"))).await;
    assert_eq!((r.status, r.body.as_str()), (401, EXPIRED_JSON));
}

#[actix_web::test]
async fn unknown_paths_and_methods_get_fail() {
    let s = stand();
    let r = s.call(Req::get("/rest/other")).await;
    assert_snapshot!("unknown_path", r.snapshot());
    let r = s.call(Req::delete(&format!("{LOGIN}?output=json"))).await;
    assert_snapshot!("login_with_delete", r.snapshot());
    let r = s.call(Req::get("//rest/api//login").header("loginName", "admin").header("password", "password")).await;
    assert_eq!(r.status, 200, "repeated slashes are merged");
}

fn handler() -> Box<dyn Handler> {
    profiles::find("infinite-blue").expect("registered").configure(&serde_json::Value::Null).expect("defaults")
}

fn flat(r: &Response) -> String {
    let headers: Vec<_> = r.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    format!("HTTP {}\n{}\n\n{}", r.status, headers.join("\n"), r.text_body())
}

#[test]
fn fault_semantics_render_in_the_requested_format() {
    let s = stand();
    let h = handler();
    let xml = Request::new(Method::GET, "/rest/api/selectQuery?sessionId=x");
    let json = Request::new(Method::GET, "/rest/api/selectQuery?sessionId=x&output=json");
    let busy = Semantic::Busy { retry_after: 30 };
    assert_snapshot!("busy_xml", flat(&h.render(s.engine(), &xml, &busy)));
    assert_snapshot!("busy_json", flat(&h.render(s.engine(), &json, &busy)));
    for event in [Semantic::LoginRejected, Semantic::Unauthorized, Semantic::Locked] {
        let r = h.render(s.engine(), &json, &event);
        assert_eq!((r.status, &*r.text_body()), (401, EXPIRED_JSON), "{event:?}");
    }
}

#[test]
fn guard_accepts_a_live_session_id_and_refuses_others_in_the_vendor_format() {
    let s = stand();
    let h = handler();
    let login = h.handle(s.engine(), &Request::new(Method::GET, "/rest/api/login?loginName=admin&password=password"));
    let body = login.text_body();
    let id = body.split("<sessionId> ").nth(1).and_then(|r| r.split('<').next()).expect("id").to_owned();
    let req = Request::new(Method::GET, &format!("/any/resource?sessionId=%20{id}"));
    assert!(matches!(h.guard(s.engine(), &req), Ok(Principal::Session(v)) if *v.token == *id));
    assert_eq!(h.session_token(&req).as_deref(), Some(id.as_str()));
    let post = Request::new(Method::POST, "/any/resource")
        .with_header("Content-Type", "application/x-www-form-urlencoded")
        .with_body(format!("sessionId={id}&output=json"));
    assert!(h.guard(s.engine(), &post).is_ok());
    let bad = Request::new(Method::GET, "/any/resource?sessionId=nope&output=json");
    let r = h.guard(s.engine(), &bad).expect_err("unknown id");
    assert_eq!((r.status, &*r.text_body()), (401, EXPIRED_JSON));
    let r = h.guard(s.engine(), &Request::new(Method::GET, "/any/resource")).expect_err("no id");
    assert_eq!(r.status, 400);
}

/// Of 32 logins of one user on real threads, the engine orders them by its lock: each login ends
/// the sessions before it, so the survivor is the one issued last (the highest serial).
#[test]
fn thirty_two_concurrent_logins_of_one_user_leave_exactly_the_last_issued_session() {
    let s = stand();
    let h = handler();
    let (engine, h) = (s.engine(), &*h);
    let issued: Vec<String> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..32)
            .map(|_| {
                scope.spawn(move || {
                    let req = Request::new(Method::POST, "/rest/api/login?output=json")
                        .with_header("loginName", "admin")
                        .with_header("password", "password");
                    let r = h.handle(engine, &req);
                    assert_eq!(r.status, 200, "{}", r.text_body());
                    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
                    v["sessionId"].as_str().expect("sessionId").to_owned()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("login thread")).collect()
    });
    let live = engine.sessions();
    assert_eq!(live.len(), 1, "exactly one session survives");
    assert_eq!(live[0].serial, 32, "the survivor is the last the engine issued");
    assert!(issued.iter().any(|t| *t == *live[0].token));
    let rejected = issued.iter().filter(|t| engine.peek(t).is_err()).count();
    assert_eq!(rejected, 31);
}

#[actix_web::test]
async fn thirty_two_concurrent_logins_over_a_real_socket_leave_one_session() {
    let stand = Stand::builder("infinite-blue").workers(4).start().await.expect("start");
    let url = stand.url();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    let logins = (0..32).map(|_| {
        let c = c.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let r = c
                .post(format!("{url}{LOGIN}?output=json"))
                .header("loginName", "admin")
                .header("password", "password")
                .send()
                .await
                .expect("login");
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.expect("json")["sessionId"].as_str().expect("id").to_owned()
        })
    });
    let mut issued = Vec::new();
    for l in logins.collect::<Vec<_>>() {
        issued.push(l.await.expect("task"));
    }
    let live = stand.sessions();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].serial, 32);
    assert!(issued.iter().any(|t| *t == *live[0].token));
}

/// A Node- or Python-style client: login by headers (XML), `sessionId` as a query parameter to
/// selectQuery and as a form field to create2, logout; then the id is invalid.
#[actix_web::test]
async fn a_client_follows_the_documented_flow_over_a_real_socket() {
    let stand = Stand::builder("infinite-blue")
        .scenario_file("scenarios/infinite-blue-idle-expiry.toml")
        .expect("scenario")
        .start()
        .await
        .expect("start");
    let url = stand.url();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let r = c
        .get(format!("{url}{LOGIN}"))
        .header("loginName", "admin")
        .header("password", "password")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let id = body.split("<sessionId>").nth(1).and_then(|r| r.split('<').next()).expect("id").to_owned();
    assert!(id.starts_with(' '), "documented leading space: {body}");
    let select = format!(
        "{url}{SELECT}?{}",
        encode(&[("sessionId", &id), ("query", "SELECT id FROM USER"), ("output", "json")])
    );
    let r = c.get(&select).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not emulated"));
    let r = c
        .post(format!("{url}{CREATE2}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(encode(&[("sessionId", id.trim()), ("objName", "USER"), ("output", "json")]))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("create2: not emulated"));
    let logout = format!("{url}{LOGOUT}?{}", encode(&[("sessionId", id.trim()), ("output", "json")]));
    let r = c.get(logout).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap().as_str()), (200, r#"{"status":"ok"}"#));
    let r = c.get(&select).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap().as_str()), (401, EXPIRED_JSON));
}

fn encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}
