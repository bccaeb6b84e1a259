//! The control listener: lists, creates and deletes the process's stands.
//!
//! `POST /__standin/stands` takes a scenario (TOML or JSON) and starts each of its stands on a
//! fresh port, so parallel tests each get isolated stands in milliseconds.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::{Access, allowed};
use crate::scenario::Scenario;
use crate::stand::Stand;

/// The stands of a process, shared by the CLI and the control listener.
pub struct Registry {
    host: IpAddr,
    access: Access,
    stands: Mutex<Vec<Stand>>,
    created: Mutex<u64>,
}

impl Registry {
    /// An empty registry whose new stands listen on `host`, with control access rules `access`.
    pub fn new(host: IpAddr, access: Access) -> Arc<Registry> {
        Arc::new(Registry { host, access, stands: Mutex::new(Vec::new()), created: Mutex::new(0) })
    }

    /// Adds a running stand.
    pub fn add(&self, stand: Stand) {
        self.stands.lock().push(stand);
    }

    /// The host new stands listen on.
    pub fn host(&self) -> IpAddr {
        self.host
    }

    /// `{"id","profile","url"}` for every stand, and `"ca"` (the CA file) for a stand with a
    /// start-up certificate.
    pub fn list(&self) -> Vec<Value> {
        self.stands.lock().iter().map(describe).collect()
    }

    /// Stops every stand gracefully, all at once (`ServerHandle::stop` sends its command when
    /// called), and waits until each has: as long as the slowest stand's in-flight responses,
    /// not the sum of them. The stands stay listed.
    pub async fn stop_all(&self) {
        let stopping: Vec<_> = self.stands.lock().iter().map(|s| s.server_handle().stop(true)).collect();
        for stopped in stopping {
            stopped.await;
        }
    }

    /// Starts every stand of `scenario` on a fresh port; ids already taken get a suffix.
    pub fn create(&self, scenario: Scenario) -> Result<Vec<Value>, String> {
        let mut started = Vec::new();
        for mut spec in scenario.stands {
            spec.port = 0;
            spec.control = self.access.clone();
            {
                let stands = self.stands.lock();
                if stands.iter().any(|s| s.id() == spec.id) {
                    let mut n = self.created.lock();
                    loop {
                        *n += 1;
                        let id = format!("{}-{}", spec.id, *n);
                        if !stands.iter().any(|s| s.id() == id) {
                            spec.id = id.clone();
                            spec.setup.stand_id = id;
                            break;
                        }
                    }
                }
            }
            let stand = Stand::start_spec(spec, self.host, 1).map_err(|e| e.to_string())?;
            started.push(describe(&stand));
            self.stands.lock().push(stand);
        }
        Ok(started)
    }

    /// Removes a stand; it stops at once. `None` if there is no such stand.
    pub fn remove(&self, id: &str) -> Option<Stand> {
        let mut stands = self.stands.lock();
        let at = stands.iter().position(|s| s.id() == id)?;
        Some(stands.remove(at))
    }
}

fn describe(s: &Stand) -> Value {
    let mut v = json!({"id": s.id(), "profile": s.profile(), "url": s.url()});
    if let Some((_, path)) = s.generated_ca() {
        v["ca"] = json!(path.display().to_string());
    }
    v
}

/// Serves the control listener on a bound listener.
pub fn serve(
    registry: Arc<Registry>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::ServerHandle> {
    let data = web::Data::from(registry);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(dispatch)))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(handle)
}

fn json(status: u16, v: Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .content_type("application/json")
        .body(v.to_string())
}

async fn dispatch(req: HttpRequest, body: web::Bytes, registry: web::Data<Registry>) -> HttpResponse {
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
    if let Err((status, message)) = allowed(&registry.access, req.peer_addr().map(|a| a.ip()), auth) {
        return json(status, json!({"error": message}));
    }
    let path = req.path();
    match (req.method().as_str(), path) {
        ("GET", "/__standin/health") => json(200, json!({"status": "ok"})),
        ("GET", "/__standin/stands") => json(200, Value::Array(registry.list())),
        ("GET", "/__standin/openapi.json") => json(200, super::openapi()),
        ("POST", "/__standin/stands") => {
            let text = String::from_utf8_lossy(&body);
            let scenario = match Scenario::parse(&text, crate::scenario::REQUEST_ORIGIN) {
                Ok(s) => s,
                Err(e) => return json(400, json!({"error": e.to_string()})),
            };
            match registry.create(scenario) {
                Ok(stands) => json(201, Value::Array(stands)),
                Err(e) => json(500, json!({"error": e})),
            }
        }
        ("DELETE", p) if p.starts_with("/__standin/stands/") => {
            let id = &p["/__standin/stands/".len()..];
            match registry.remove(id) {
                Some(stand) => {
                    stand.stop_now().await;
                    json(200, json!({"deleted": id}))
                }
                None => json(404, json!({"error": format!("no stand `{id}`")})),
            }
        }
        (_, "/__standin/health" | "/__standin/stands") => json(405, json!({"error": "method not allowed"})),
        _ => json(404, json!({"error": format!("no control endpoint {path}")})),
    }
}
