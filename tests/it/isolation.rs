//! Isolated stands through the control listener of the real binary: 200 created and deleted leave
//! no thread, file descriptor (port) or memory behind.

use std::time::{Duration, Instant};

use standin::testing::rss_kib;

use crate::support::JsonValue as _;
use crate::support::Served;

fn proc_count(pid: u32, dir: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/{dir}")).map(|d| d.count()).unwrap_or(0)
}

/// Waits (bounded) until `f` holds: worker threads end a moment after their server stops.
fn settle(f: impl Fn() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

#[actix_web::test]
async fn two_hundred_stands_created_and_deleted_leave_nothing_behind() {
    let scratch = crate::support::scratch("iso");
    let dir = scratch.path();
    let empty = dir.join("empty.toml");
    std::fs::write(&empty, "# no stands: only the control listener\n").unwrap();
    let server = Served::start(&[empty.to_str().unwrap(), "--control-port", "0"]);
    let pid = server.pid();
    let ready = &server.ready;
    let control = ready["control"].as_str().unwrap().to_owned();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let scenario = "[[stands]]\nid = \"isolation-probe\"\nprofile = \"junos-space\"\n";

    let cycle = |n: usize| {
        let c = c.clone();
        let control = control.clone();
        async move {
            let fresh =
                reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(10)).build().unwrap();
            for _ in 0..n {
                let created: serde_json::Value =
                    c.post(format!("{control}/__standin/stands")).body(scenario).json_value().await;
                let url = created[0]["url"].as_str().expect("a url").to_owned();
                let id = created[0]["id"].as_str().unwrap().to_owned();
                let login = c
                    .post(format!("{url}/api/space/user-management/login"))
                    .basic_auth("super", Some("juniper123"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(login.status(), 200);
                let r = c.delete(format!("{control}/__standin/stands/{id}")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                // A fresh connection: an already-open keep-alive connection may still get one
                // answer while the stopped workers wind down. The OS may hand the freed port to a
                // stand of a test running in parallel: what matters is that this stand is gone.
                if let Ok(r) = fresh.get(format!("{url}/__standin/health")).send().await {
                    let who: serde_json::Value = r.json().await.unwrap_or_default();
                    assert_ne!(who["stand"], "isolation-probe", "a deleted stand answered");
                }
            }
        }
    };
    cycle(10).await; // warm up allocator and runtime
    assert!(settle(|| proc_count(pid, "task") == proc_count(pid, "task")));
    let (threads, fds, rss) = (proc_count(pid, "task"), proc_count(pid, "fd"), rss_kib(pid));
    cycle(200).await;
    assert!(settle(|| proc_count(pid, "task") <= threads), "threads {} > {threads}", proc_count(pid, "task"));
    assert!(settle(|| proc_count(pid, "fd") <= fds), "fds {} > {fds}", proc_count(pid, "fd"));
    let grown = rss_kib(pid).saturating_sub(rss);
    assert!(grown < 8 * 1024, "RSS grew by {grown} KiB over 200 stands");
    let list: serde_json::Value = c.get(format!("{control}/__standin/stands")).json_value().await;
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn a_bad_scenario_body_is_a_400_with_a_positioned_error_and_ids_stay_unique() {
    let registry = standin::control::listener::Registry::new("127.0.0.1".parse().unwrap(), Default::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _handle = standin::control::listener::serve(registry.clone(), listener).unwrap();
    let c = reqwest::Client::new();
    let control = format!("http://{addr}");
    let r =
        c.post(format!("{control}/__standin/stands")).body("[[stands]]\nprofile = \"junos\"\n").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(
        e["error"].as_str().unwrap().starts_with("<request>:2:11: stands[0].profile: unknown profile `junos`"),
        "{e}"
    );
    let mut ids = Vec::new();
    for _ in 0..3 {
        let created: serde_json::Value = c
            .post(format!("{control}/__standin/stands"))
            .body(r#"{"stands":[{"profile":"sensnet"}]}"#)
            .json_value()
            .await;
        ids.push(created[0]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids, ["sensnet", "sensnet-1", "sensnet-2"]);
    assert_eq!(registry.list().len(), 3);
}
