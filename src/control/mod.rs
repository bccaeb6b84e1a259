//! The control API: JSON under `/__standin/` on every stand (acting on that stand), and the
//! control listener that lists stands. It calls the same engine methods as the library API.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::{SessionView, Timestamp, Which};
use crate::scenario::parse_span;
use crate::stand::Core;
use crate::wire::{Method, Request, Response, percent_decode};

pub mod listener;

/// The reserved path prefix.
pub const PREFIX: &str = "/__standin";

/// `true` for paths the control API owns on every stand.
pub fn is_control(path: &str) -> bool {
    path == PREFIX || path.starts_with("/__standin/")
}

/// A JSON error: `{"error": "..."}`.
pub(crate) fn error(status: u16, message: impl Into<String>) -> Response {
    Response::json(status, &json!({"error": message.into()}))
}

/// Answers a control request on a stand.
pub(crate) fn stand(core: &Core, req: &Request) -> Response {
    let rest = req.path.strip_prefix(PREFIX).unwrap_or("");
    let engine = &core.engine;
    match (&req.method, rest) {
        (&Method::GET, "/health") => {
            Response::json(200, &json!({"status": "ok", "stand": core.spec.id, "profile": core.spec.profile.id()}))
        }
        (&Method::GET, "/clock") => clock_json(core),
        (&Method::POST, "/clock") => move_clock(core, req),
        (&Method::GET, "/sessions") => {
            Response::json(200, &Value::Array(engine.sessions().iter().map(session_json).collect()))
        }
        (&Method::DELETE, "/sessions") => Response::json(200, &json!({"expired": engine.expire(Which::All)})),
        (&Method::GET, "/accounts") => accounts_json(core),
        (&Method::POST, "/reset") => {
            engine.reset();
            Response::json(200, &json!({"status": "reset"}))
        }
        (&Method::DELETE, path) if path.starts_with("/sessions/") => {
            let raw = &path["/sessions/".len()..];
            let Some(token) = percent_decode(raw) else { return error(400, "token is not valid UTF-8") };
            match engine.expire(Which::Token(&token)) {
                0 => error(404, "no live session with that token"),
                n => Response::json(200, &json!({"expired": n})),
            }
        }
        (_, "/health" | "/clock" | "/sessions" | "/accounts" | "/reset") => error(405, "method not allowed"),
        _ => error(404, format!("no control endpoint {}", req.path)),
    }
}

/// A session as the control API lists it.
pub fn session_json(s: &SessionView) -> Value {
    json!({
        "token": &*s.token,
        "user": s.account.name,
        "serial": s.serial,
        "created": s.created.to_rfc3339(),
        "last_used": s.last_used.to_rfc3339(),
        "expires_at": s.expires_at.map(Timestamp::to_rfc3339),
        "idle_timeout_ms": s.idle.map(|d| d.as_millis() as u64),
    })
}

fn accounts_json(core: &Core) -> Response {
    let engine = &core.engine;
    let list: Vec<Value> = engine
        .accounts()
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let activity = engine.activity(crate::engine::AccountId(i as u32));
            json!({
                "name": a.name,
                "id": a.id,
                "roles": a.roles,
                "group": a.group,
                "tenant": a.tenant,
                "disabled": a.disabled,
                "locked": a.locked || activity.locked,
                "sso_only": a.sso_only,
                "last_success": activity.last_success.map(|(t, _)| t.to_rfc3339()),
                "last_failure": activity.last_failure.map(|(t, _)| t.to_rfc3339()),
                "failures_in_a_row": activity.failures_in_a_row,
            })
        })
        .collect();
    Response::json(200, &Value::Array(list))
}

fn clock_json(core: &Core) -> Response {
    let clock = core.engine.clock();
    let now = clock.now();
    Response::json(
        200,
        &json!({
            "mode": if clock.is_manual() { "manual" } else { "system" },
            "now": now.to_rfc3339(),
            "now_ms": now.as_millis(),
        }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    advance: Option<String>,
    set: Option<String>,
}

fn move_clock(core: &Core, req: &Request) -> Response {
    let body: ClockMove = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                400,
                format!("expected {{\"advance\":\"31m\"}} or {{\"set\":\"2026-01-01T00:00:00Z\"}}: {e}"),
            );
        }
    };
    let clock = core.engine.clock();
    match (body.advance, body.set) {
        (Some(by), None) => match parse_span(&by) {
            Ok(Some(d)) => clock.advance(d),
            Ok(None) => clock.advance(Duration::ZERO),
            Err(e) => return error(400, format!("advance: {e}")),
        },
        (None, Some(to)) => match Timestamp::parse_rfc3339(&to) {
            Ok(t) => clock.set(t),
            Err(e) => return error(400, format!("set: {e}")),
        },
        _ => return error(400, "give exactly one of `advance` and `set`"),
    }
    core.engine.purge(4096);
    clock_json(core)
}
