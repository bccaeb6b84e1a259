//! The actix-web glue: turns an actix request into a [`Request`] once, and a [`Response`] back.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::{Extensions, HttpService};
use actix_service::{IntoServiceFactory, map_config};
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::body::SizedStream;
use actix_web::dev::AppConfig;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::rt::net::TcpStream;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use socket2::SockRef;

use crate::stand::Core;
use crate::tls::Tls;
use crate::wire::{Outcome, Request, Response, Transport, merge_slashes};

/// Largest request body a stand reads; larger ones get 413 in the vendor's format.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Time a client has to send the request head (line and headers) once connected; then 408 and close.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client has to send the whole body once the head is in; then 400 and close.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle time of a kept-alive connection between requests before it is closed (a graceful
/// shutdown also waits this long for idle connections to go).
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Time a client has to acknowledge the close of its connection.
pub const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest a graceful shutdown waits for in-flight responses.
pub const SHUTDOWN_TIMEOUT: u64 = 30;

/// The accepted socket of a connection, for connection-level faults.
#[derive(Clone, Copy, Debug)]
struct ConnFd(RawFd);

/// The verified client certificate (DER leaf) of a TLS connection.
#[derive(Clone, Debug)]
struct ClientCert(Bytes);

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
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .client_request_timeout(HEAD_TIMEOUT)
        .client_disconnect_timeout(DISCONNECT_TIMEOUT)
        .keep_alive(KEEP_ALIVE)
        .on_connect(|conn, ext| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                ext.insert(ConnFd(tcp.as_raw_fd()));
            }
        })
        .listen(listener)?
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(handle)
}

/// Starts an HTTPS server for one stand. HTTP/1.1 only, as the vendors' servlet containers:
/// actix-web's `listen_rustls_0_23` would always offer `h2` by ALPN, so the service is assembled
/// here from actix-http's HTTP/1.1 service over rustls, with actix-web's defaults (5 s keep-alive
/// and request timeouts, 1 s disconnect timeout, 3 s handshake timeout).
pub(crate) fn serve_tls(
    core: Arc<Core>,
    listener: std::net::TcpListener,
    workers: usize,
    tls: Arc<Tls>,
) -> std::io::Result<actix_web::dev::ServerHandle> {
    let addr = listener.local_addr()?;
    let data = web::Data::from(core);
    let server = actix_server::Server::build()
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .listen(format!("standin-https-{addr}"), listener, move || {
            let tls = tls.clone();
            let app = App::new().configure(configure(data.clone())).into_factory();
            let config = tls.config.as_ref().clone();
            HttpService::build()
                .client_disconnect_timeout(Duration::from_secs(1))
                .on_connect_ext(move |io: &TlsStream<TcpStream>, ext: &mut Extensions| {
                    let (tcp, conn) = io.get_ref();
                    ext.insert(ConnFd(tcp.as_raw_fd()));
                    if let Some(der) = tls.trusted_client_cert(conn.peer_certificates()) {
                        ext.insert(ClientCert(Bytes::from(der)));
                    }
                })
                .h1(map_config(app, |_| AppConfig::default()))
                .rustls_0_23(config)
        })?
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
    // Most bodies are in the read buffer already: take them without arming a timer.
    let mut read = std::pin::pin!(payload.to_bytes_limited(BODY_LIMIT));
    let ready = read.as_mut().poll(&mut Context::from_waker(std::task::Waker::noop()));
    let read = match ready {
        Poll::Ready(body) => Ok(body),
        Poll::Pending => actix_web::rt::time::timeout(BODY_TIMEOUT, read).await,
    };
    let body = match read {
        Ok(Ok(Ok(body))) => body,
        Ok(Err(_)) => {
            let mut r = to_actix(&core, core.too_large(to_request(&req, Bytes::new())));
            // The rest of the body is never read: the connection cannot be reused.
            r.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
            return r;
        }
        // A broken chunked encoding or a client that stopped sending mid-body: nothing a vendor
        // would answer in its own format, so the connection is simply closed with a 400.
        Ok(Ok(Err(_))) | Err(_) => {
            let mut r = to_actix(&core, Response::new(400));
            r.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
            return r;
        }
    };
    let request = to_request(&req, body);
    let outcome = core.handle(request);
    if !outcome.delay.is_zero() {
        actix_web::rt::time::sleep(outcome.delay).await;
    }
    let fd = req.conn_data::<ConnFd>().copied();
    apply(&core, outcome, fd)
}

/// Carries out a connection-level fault on the response bytes.
fn apply(core: &Core, outcome: Outcome, fd: Option<ConnFd>) -> HttpResponse {
    let r = outcome.response;
    match outcome.transport {
        Transport::Normal => to_actix(core, r),
        Transport::Reset => {
            // With SO_LINGER 0 the close that follows the failed body is an RST. The head is
            // still in actix's write buffer when the body fails, so no byte is sent.
            if let Some(ConnFd(fd)) = fd {
                with_socket(fd, |s| s.set_linger(Some(Duration::ZERO)));
            }
            // A non-zero length, or actix would skip the body (and its failure) altogether.
            stream(core, r, 1, vec![Step::Fail])
        }
        Transport::Garbage => {
            if let Some(ConnFd(fd)) = fd {
                with_socket(fd, |s| s.send(GARBAGE).map(drop));
            }
            stream(core, r, 1, vec![Step::Fail])
        }
        Transport::CloseAfterHeaders => {
            let len = r.body.len() as u64;
            stream(core, r, len, vec![Step::Flush, Step::Fail])
        }
        Transport::Truncate(at) => {
            let len = r.body.len() as u64;
            if at >= r.body.len() {
                return to_actix(core, r);
            }
            let head = r.body.slice(..at);
            stream(core, r, len, vec![Step::Data(head), Step::Flush, Step::Fail])
        }
        Transport::Slow { chunk, interval } => {
            let len = r.body.len() as u64;
            let mut steps = Vec::new();
            for (i, part) in r.body.chunks(chunk).enumerate() {
                if i > 0 {
                    steps.push(Step::Wait(interval));
                }
                steps.push(Step::Data(r.body.slice_ref(part)));
            }
            stream(core, r, len, steps)
        }
    }
}

/// What a connection sees after `garbage`: not HTTP.
const GARBAGE: &[u8] = b"\x16\x03\x01\x00\xff\xfe\x00garbage from standin\r\n\x00\x00";

fn with_socket(fd: RawFd, f: impl FnOnce(SockRef<'_>) -> std::io::Result<()>) {
    // SAFETY: the fd is the accepted socket of the connection this request arrived on; actix owns
    // it and keeps it open at least until this handler's response has been written.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    if let Err(e) = f(SockRef::from(&borrowed)) {
        tracing::debug!(error = %e, "socket option for a connection fault failed");
    }
}

fn stream(core: &Core, r: Response, len: u64, steps: Vec<Step>) -> HttpResponse {
    let body = SizedStream::new(len, Scripted { steps: steps.into(), sleep: None });
    let mut response = HttpResponse::with_body(status_of(&r), body);
    fill(core, &mut response, r.headers);
    response.map_into_boxed_body()
}

/// A body that plays a script: data, waits, a flush point, a failure that drops the connection.
struct Scripted {
    steps: VecDeque<Step>,
    sleep: Option<Pin<Box<actix_web::rt::time::Sleep>>>,
}

enum Step {
    Data(Bytes),
    Wait(Duration),
    /// Yield once so that actix writes out what it has buffered.
    Flush,
    /// Fail: actix drops the connection without writing what is still buffered.
    Fail,
}

impl futures_core::Stream for Scripted {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.steps.front_mut() {
                None => return Poll::Ready(None),
                Some(Step::Data(_)) => {
                    if let Some(Step::Data(b)) = self.steps.pop_front() {
                        return Poll::Ready(Some(Ok(b)));
                    }
                }
                Some(Step::Wait(d)) => {
                    let d = *d;
                    let sleep = self.sleep.get_or_insert_with(|| Box::pin(actix_web::rt::time::sleep(d)));
                    match sleep.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(()) => {
                            self.sleep = None;
                            self.steps.pop_front();
                        }
                    }
                }
                Some(Step::Flush) => {
                    self.steps.pop_front();
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Some(Step::Fail) => {
                    return Poll::Ready(Some(Err(std::io::Error::other("standin connection fault"))));
                }
            }
        }
    }
}

fn to_request(req: &HttpRequest, body: Bytes) -> Request {
    let headers = req.headers().iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    let mut request = Request::from_parts(
        req.method().clone(),
        merge_slashes(req.path()),
        req.query_string().to_owned(),
        headers,
        body,
    );
    request.peer = req.peer_addr().map(|a| a.ip());
    request.client_cert = req.conn_data::<ClientCert>().map(|c| c.0.clone());
    request
}

/// The status and headers of `r` on `response`, moved over without copying the values; `Date`
/// from the stand clock unless the profile set one.
fn fill(core: &Core, response: &mut HttpResponse<impl actix_web::body::MessageBody>, headers: Headers) {
    let map = response.headers_mut();
    let mut has_date = false;
    for (name, value) in headers {
        let (Some(n), Some(v)) = (header_name(&name), header_value(value)) else {
            tracing::warn!(stand = %core.spec.id, header = %name, "dropped a header that is not valid HTTP");
            continue;
        };
        has_date |= n == actix_web::http::header::DATE;
        map.append(n, v);
    }
    if !has_date {
        map.insert(actix_web::http::header::DATE, core.date_header());
    }
    // Servlet containers send `Set-Cookie`, not `set-cookie`; some snapshot users compare bytes.
    response.head_mut().set_camel_case_headers(true);
}

type Headers = Vec<(Cow<'static, str>, Cow<'static, str>)>;

/// `name` as a `HeaderName`; the names profiles write on most answers are matched rather than
/// parsed (lowercased into a buffer, then looked up: about a hundred instructions each, four or
/// five times an answer). `None` if it is not a header name.
fn header_name(name: &str) -> Option<HeaderName> {
    use actix_web::http::header;
    Some(match name {
        "Content-Type" => header::CONTENT_TYPE,
        "Set-Cookie" => header::SET_COOKIE,
        "Server" => header::SERVER,
        "X-Frame-Options" => header::X_FRAME_OPTIONS,
        "Vary" => header::VARY,
        "Retry-After" => header::RETRY_AFTER,
        "WWW-Authenticate" => header::WWW_AUTHENTICATE,
        "Allow" => header::ALLOW,
        _ => return HeaderName::from_bytes(name.as_bytes()).ok(),
    })
}

/// A header value without copying: a static one is referenced, an owned one moved; `None` if
/// it is not valid in HTTP (a control character other than tab, or DEL).
fn header_value(value: Cow<'static, str>) -> Option<HeaderValue> {
    if !valid_header_value(value.as_bytes()) {
        return None;
    }
    let bytes = match value {
        Cow::Borrowed(s) => Bytes::from_static(s.as_bytes()),
        Cow::Owned(s) => Bytes::from(s),
    };
    // SAFETY: `valid_header_value` accepts exactly the bytes `HeaderValue::from_maybe_shared`
    // accepts (the proptest below holds them equal, and debug builds, which run the test suite,
    // re-check every value inside this call). `http` checks byte by byte with an early exit;
    // this check is branch-free and vectorized, which matters for a Set-Cookie on every login.
    Some(unsafe { HeaderValue::from_maybe_shared_unchecked(bytes) })
}

/// What `http` accepts in a header value: visible ASCII, space, tab and obs-text (0x80-0xFF).
fn valid_header_value(b: &[u8]) -> bool {
    b.iter().fold(true, |ok, &c| ok & ((c >= 0x20 && c != 0x7f) || c == b'\t'))
}

fn status_of(r: &Response) -> StatusCode {
    StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn to_actix(core: &Core, r: Response) -> HttpResponse {
    let status = status_of(&r);
    let mut response = HttpResponse::with_body(status, r.body);
    fill(core, &mut response, r.headers);
    response.map_into_boxed_body()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn header_values_are_checked_as_http_checks_them(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(valid_header_value(&b), HeaderValue::from_bytes(&b).is_ok());
        }

        #[test]
        fn header_values_keep_their_bytes(s in "[ -~\t\u{80}-\u{10ffff}]{0,30}") {
            let v = header_value(Cow::Owned(s.clone())).unwrap();
            prop_assert_eq!(v.as_bytes(), s.as_bytes());
        }
    }

    #[test]
    fn matched_header_names_are_the_parsed_ones() {
        for name in [
            "Content-Type",
            "Set-Cookie",
            "Server",
            "X-Frame-Options",
            "Vary",
            "Retry-After",
            "WWW-Authenticate",
            "Allow",
        ] {
            assert_eq!(header_name(name), HeaderName::from_bytes(name.as_bytes()).ok(), "{name}");
        }
        assert_eq!(header_name("X-Ticket"), Some(HeaderName::from_static("x-ticket")));
        assert_eq!(header_name("bad name"), None);
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["a\nb", "a\rb", "\0", "del\u{7f}"] {
            assert!(header_value(Cow::Borrowed(bad)).is_none(), "{bad:?}");
            assert!(header_value(Cow::Owned(bad.to_owned())).is_none(), "{bad:?}");
        }
        assert_eq!(
            header_value(Cow::Borrowed("text/xml; charset=\"utf-8\"\t")).unwrap(),
            "text/xml; charset=\"utf-8\"\t"
        );
    }
}
