//! Scenario-defined protected resources and the example scenarios built on them.

use std::time::Duration;

use standin::Stand;

use crate::support::JsonValue as _;
use crate::support::client;

#[actix_web::test]
async fn storware_serves_a_fixture_list_guarded_by_the_session_cookie() {
    let s =
        Stand::builder("storware").scenario_file("scenarios/storware-resources.toml").unwrap().start().await.unwrap();
    let c = client();
    let url = s.url();
    let r = c.get(format!("{url}/api/virtual-machines")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401, "the vendor's own error envelope: {body}");

    let r = c
        .post(format!("{url}/api/session/login"))
        .json(&serde_json::json!({"login":"admin","password":"vPr0tect"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c.get(format!("{url}/api/virtual-machines")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let vms: serde_json::Value = r.json().await.unwrap();
    assert_eq!(vms[1]["name"], "db-01");
    let one: serde_json::Value = c.get(format!("{url}/api/virtual-machines/abc-123")).json_value().await;
    assert_eq!(one["guid"], "abc-123");

    c.post(format!("{url}/api/session/logout")).send().await.unwrap();
    assert_eq!(c.get(format!("{url}/api/virtual-machines")).send().await.unwrap().status(), 401);
}

/// A Node- or Python-style client: sessionId as a query parameter to selectQuery, as a form field
/// to create2; a second login kicks the first session out; logout ends the id.
#[actix_web::test]
async fn infinite_blue_kick_out_and_fixture_methods() {
    let s = Stand::builder("infinite-blue")
        .scenario_file("scenarios/infinite-blue-kick-out.toml")
        .unwrap()
        .start()
        .await
        .unwrap();
    let c = client();
    let url = s.url();
    let login = || async {
        let r = c
            .get(format!("{url}/rest/api/login?output=json"))
            .header("loginName", "admin")
            .header("password", "password")
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        v["sessionId"].as_str().unwrap().to_owned()
    };
    let first = login().await;
    let rows: serde_json::Value = c
        .get(format!("{url}/rest/api/selectQuery"))
        .query(&[("sessionId", first.as_str()), ("query", "SELECT id,name,status FROM account"), ("output", "json")])
        .json_value()
        .await;
    assert_eq!(rows[0][1], "Acme Corp");
    let created = c
        .post(format!("{url}/rest/api/create2"))
        .form(&[("sessionId", first.as_str()), ("objName", "account"), ("name", "Initech"), ("output", "json")])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    assert_eq!(created.text().await.unwrap(), r#"{"status":"ok", "id":"10003" }"#);

    let second = login().await;
    assert_ne!(first, second);
    let r = c.get(format!("{url}/rest/api/selectQuery?sessionId={first}&output=json")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"status":"login","message":"Session expired or invalid login credentials"}"#
    );
    assert_eq!(s.sessions().len(), 1);

    let r = c.get(format!("{url}/rest/api/logout?sessionId={second}&output=json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{url}/rest/api/create2"))
        .form(&[("sessionId", second.as_str()), ("output", "json")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[actix_web::test]
async fn the_sensnet_cap_scenario_stops_renewing_then_ends_the_ticket() {
    let s =
        Stand::builder("sensnet").scenario_file("scenarios/sensnet-absolute-cap.toml").unwrap().start().await.unwrap();
    let c = client();
    let url = s.url();
    let r: serde_json::Value = c
        .post(format!("{url}/sn/rest/api/login"))
        .form(&[("u", "test1@test.domain"), ("p", "password"), ("n", "cap")])
        .json_value()
        .await;
    let token = r["loginSession"]["token"].as_str().unwrap().to_owned();
    let mut valid_until = Vec::new();
    for _ in 0..5 {
        s.clock().advance(Duration::from_secs(3600));
        let r = c.get(format!("{url}/sn/rest/api/{token}")).send().await.unwrap();
        if r.status() == 204 {
            valid_until.push("204".to_owned());
            continue;
        }
        let v: serde_json::Value = r.json().await.unwrap();
        valid_until.push(v["loginSession"]["validUntil"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        valid_until,
        [
            "2026-03-01T14:00:00.000+02:00",
            "2026-03-01T15:00:00.000+02:00",
            "2026-03-01T15:00:00.000+02:00",
            "2026-03-01T15:00:00.000+02:00",
            "204"
        ]
    );
}

#[test]
fn a_resource_with_a_missing_body_file_is_a_positioned_error() {
    let e = standin::Scenario::parse(
        "[[stands]]\nprofile = \"storware\"\n[[stands.resources]]\npath = \"/api/x\"\nbody_file = \"nope.json\"\n",
        "s.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("s.toml:1:1: stands[0].resources[0].body_file: cannot read nope.json"), "{e}");
}

#[test]
fn a_public_resource_needs_no_session_and_a_bad_pattern_is_an_error() {
    let e = standin::Scenario::parse(
        "[[stands]]\nprofile = \"storware\"\n[[stands.resources]]\npath = \"api/x\"\n",
        "s.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("stands[0].resources[0]") && e.contains("path: `api/x` must start with `/`"), "{e}");
}
