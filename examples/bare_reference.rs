//! The bare actix-web reference for profiling (`scripts/profile.sh bare`): one worker that
//! answers every request with Junos Space's login-status bytes and no session logic, on the
//! allocator the `standin` binary uses. The benchmark (`benches/perf.rs`) has its own copy that
//! replays the exact bytes Standin sent; this one is for instruction counts under callgrind.
//!
//! `cargo run --release --example bare_reference -- 127.0.0.1:9499`

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

#[global_allocator]
static ALLOCATOR: standin::alloc::Mimalloc = standin::alloc::Mimalloc;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9499".into());
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| {
            App::new().default_service(web::to(|req: HttpRequest, body: web::Bytes| async move {
                // What the benchmark's reference does per request: read the body, look the
                // request up by method and URI.
                drop(body);
                std::hint::black_box((req.method().to_string(), req.uri().to_string()));
                HttpResponse::Ok()
                    .append_header(("Content-Type", "text/plain"))
                    .append_header(("Date", "Sun, 22 Nov 2026 23:05:43 GMT"))
                    .body(&b"User is logged in"[..])
            }))
        })
        .workers(1)
        .bind(addr)?
        .run()
        .await
    })
}
