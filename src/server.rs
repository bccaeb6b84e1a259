//! The actix-web glue: turns an actix request into a [`Request`] once, and a [`Response`] back.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;

use crate::stand::Core;
use crate::wire::{Request, Response, merge_slashes};

/// Largest request body a stand reads; larger ones get 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Starts an actix server for one stand on an already-bound listener.
pub(crate) fn serve(
    core: Arc<Core>,
    listener: std::net::TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::ServerHandle> {
    let data = web::Data::from(core);
    let server = HttpServer::new(move || App::new().configure(configure(data.clone())))
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(handle)
}

/// Routes every request of a stand to [`dispatch`]; shared by the server and in-process tests.
pub(crate) fn configure(data: web::Data<Core>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(data).default_service(web::to(dispatch));
    }
}

async fn dispatch(req: HttpRequest, payload: web::Payload, core: web::Data<Core>) -> HttpResponse {
    let body = match payload.to_bytes_limited(BODY_LIMIT).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return to_actix(&core, Response::text(413, "Request body too large")),
        Err(_) => return to_actix(&core, Response::text(400, "Bad request body")),
    };
    let request = to_request(&req, body);
    let response = core.handle(&request);
    to_actix(&core, response)
}

fn to_request(req: &HttpRequest, body: Bytes) -> Request {
    Request {
        method: req.method().clone(),
        path: merge_slashes(req.path()),
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), Bytes::copy_from_slice(v.as_bytes())))
            .collect(),
        body,
        peer: req.peer_addr().map(|a| a.ip()),
        client_cert: None,
    }
}

fn to_actix(core: &Core, r: Response) -> HttpResponse {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::build(status);
    let mut has_date = false;
    for (name, value) in &r.headers {
        let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else {
            tracing::warn!(stand = %core.spec.id, header = %name, "dropped a header that is not valid HTTP");
            continue;
        };
        has_date |= n == actix_web::http::header::DATE;
        out.append_header((n, v));
    }
    if !has_date {
        out.insert_header((actix_web::http::header::DATE, core.engine.clock().now().to_http_date()));
    }
    let mut response = out.body(r.body);
    // Servlet containers send `Set-Cookie`, not `set-cookie`; some snapshot users compare bytes.
    response.head_mut().set_camel_case_headers(true);
    response
}
