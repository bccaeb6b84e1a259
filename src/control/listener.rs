//! The control listener: lists the process's stands (and, later, creates and deletes them).

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use parking_lot::Mutex;
use serde_json::json;

use crate::stand::Stand;

/// The stands of a process, shared by the CLI and the control listener.
pub struct Registry {
    host: IpAddr,
    stands: Mutex<Vec<Stand>>,
}

impl Registry {
    /// An empty registry whose new stands listen on `host`.
    pub fn new(host: IpAddr) -> Arc<Registry> {
        Arc::new(Registry { host, stands: Mutex::new(Vec::new()) })
    }

    /// Adds a running stand.
    pub fn add(&self, stand: Stand) {
        self.stands.lock().push(stand);
    }

    /// The host new stands listen on.
    pub fn host(&self) -> IpAddr {
        self.host
    }

    /// `{"id","profile","url"}` for every stand.
    pub fn list(&self) -> Vec<serde_json::Value> {
        self.stands.lock().iter().map(|s| json!({"id": s.id(), "profile": s.profile(), "url": s.url()})).collect()
    }

    /// Server handles of every stand, for shutdown.
    pub fn handles(&self) -> Vec<actix_web::dev::ServerHandle> {
        self.stands.lock().iter().map(Stand::server_handle).collect()
    }
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

async fn dispatch(req: HttpRequest, registry: web::Data<Registry>) -> HttpResponse {
    let json = |status: u16, v: serde_json::Value| {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
            .content_type("application/json")
            .body(v.to_string())
    };
    match (req.method().as_str(), req.path()) {
        ("GET", "/__standin/health") => json(200, json!({"status": "ok"})),
        ("GET", "/__standin/stands") => json(200, serde_json::Value::Array(registry.list())),
        _ => json(404, json!({"error": format!("no control endpoint {}", req.path())})),
    }
}
