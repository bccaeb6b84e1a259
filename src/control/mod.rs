//! The control API: JSON under `/__standin/` on every stand (acting on that stand), and the
//! control listener that lists stands. It calls the same engine methods as the library API.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::engine::{SessionView, Timestamp, Which};
use crate::faults::Rule;
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

/// Who may use the control API.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// With a token, every control request must carry `Authorization: Bearer <token>` (from any
    /// address); without one, only loopback clients are served.
    pub token: Option<Arc<str>>,
}

/// `Ok` if a control request from `peer` with this `Authorization` header may proceed.
pub fn allowed(access: &Access, peer: Option<IpAddr>, authorization: Option<&str>) -> Result<(), (u16, String)> {
    match &access.token {
        Some(token) => {
            let given = authorization.and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("").trim();
            if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
                Ok(())
            } else {
                Err((401, "the control API needs `Authorization: Bearer <control token>`".into()))
            }
        }
        None if peer.is_none_or(|p| p.is_loopback() || p.to_canonical().is_loopback()) => Ok(()),
        None => Err((403, "the control API only answers loopback clients unless a --control-token is set".into())),
    }
}

/// The control API's OpenAPI document.
pub fn openapi() -> Value {
    serde_json::from_str(include_str!("openapi.json")).unwrap_or_default()
}

/// Answers a control request on a stand.
pub(crate) fn stand(core: &Core, req: &Request) -> Response {
    if let Err((status, message)) = allowed(&core.spec.control, req.peer, req.header("authorization")) {
        return error(status, message);
    }
    let rest = req.path.strip_prefix(PREFIX).unwrap_or("");
    let engine = &core.engine;
    match (&req.method, rest) {
        (&Method::GET, "/health") => Response::json(
            200,
            &json!({
                "status": "ok",
                "stand": core.spec.id,
                "profile": core.spec.profile.id(),
                "sessions_stored": engine.stored(),
            }),
        ),
        (&Method::GET, "/clock") => clock_json(core),
        (&Method::POST, "/clock") => move_clock(core, req),
        (&Method::GET, "/sessions") => {
            let limit = req.query_param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(usize::MAX);
            Response::json(200, &Value::Array(engine.sessions().iter().take(limit).map(session_json).collect()))
        }
        (&Method::POST, "/sessions") => fill(core, req),
        (&Method::DELETE, "/sessions") => Response::json(200, &json!({"expired": engine.expire(Which::All)})),
        (&Method::GET, "/accounts") => accounts_json(core),
        (&Method::POST, "/reset") => {
            core.reset();
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
        (&Method::GET, "/faults") => Response::json(200, &Value::Array(core.rules.lock().list())),
        (&Method::POST, "/faults") => add_fault(core, req),
        (&Method::DELETE, "/faults") => {
            core.rules.lock().clear();
            Response::json(200, &json!({"status": "cleared"}))
        }
        (&Method::DELETE, path) if path.starts_with("/faults/") => {
            let id = percent_decode(&path["/faults/".len()..]).unwrap_or_default();
            if core.rules.lock().remove(&id) {
                Response::json(200, &json!({"removed": id}))
            } else {
                error(404, format!("no fault rule `{id}`"))
            }
        }
        (&Method::GET, "/journal") => {
            let limit = req.query_param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(usize::MAX);
            let (total, entries) = core.journal_entries(limit);
            Response::json(200, &json!({"total": total, "entries": entries}))
        }
        (&Method::DELETE, "/journal") => {
            core.journal.lock().clear();
            Response::json(200, &json!({"status": "cleared"}))
        }
        (&Method::GET, "/openapi.json") => Response::json(200, &openapi()),
        (&Method::GET, "/scenario") => Response::json(200, &scenario_json(core)),
        (_, "/health" | "/clock" | "/sessions" | "/accounts" | "/reset" | "/faults" | "/journal" | "/scenario") => {
            error(405, "method not allowed")
        }
        _ => error(404, format!("no control endpoint {}", req.path)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fill {
    user: String,
    count: usize,
}

/// Creates `count` filler sessions for `user` (load and memory tests). Their tokens are 32 hex
/// digits, not the vendor's shape; each is a real engine session, subject to the stand's policy.
fn fill(core: &Core, req: &Request) -> Response {
    let body: Fill = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => return error(400, format!("expected {{\"user\":\"<name>\",\"count\":N}}: {e}")),
    };
    let engine = &core.engine;
    let Some(account) = engine.find_account(&body.user, None) else {
        return error(404, format!("no account `{}`", body.user));
    };
    let mut created = 0;
    for _ in 0..body.count.min(10_000_000) {
        let login = crate::engine::Login {
            credential: crate::engine::Credential::Account(account),
            tenant: None,
            peer: req.peer,
            idle: None,
            admin_fallback: true,
        };
        match engine.login(login, |rng| crate::engine::Minted::token(crate::engine::token::hex_lower(rng, 16))) {
            Ok(_) => created += 1,
            Err(e) => return Response::json(409, &json!({"created": created, "error": e.to_string()})),
        }
    }
    Response::json(201, &json!({"created": created, "sessions_stored": engine.stored()}))
}

fn add_fault(core: &Core, req: &Request) -> Response {
    let text = String::from_utf8_lossy(&req.body);
    let parsed: Result<Rule, String> = if text.trim_start().starts_with('{') {
        let mut de = serde_json::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    } else {
        toml::from_str(&text).map_err(|e| e.message().to_owned())
    };
    match parsed {
        Ok(rule) => Response::json(201, &json!({"id": core.rules.lock().add(rule)})),
        Err(e) => error(400, format!("invalid fault rule: {e}")),
    }
}

fn scenario_json(core: &Core) -> Value {
    let spec = &core.spec;
    let p = &spec.setup.policy;
    let span = |d: Option<Duration>| d.map(|d| humantime::format_duration(d).to_string());
    json!({
        "id": spec.id,
        "profile": spec.profile.id(),
        "seed": spec.setup.seed,
        "clock": spec.manual_clock.map_or_else(|| json!({"mode": "system"}), |t| json!({"mode": "manual", "start": t.to_rfc3339()})),
        "policy": {
            "idle_timeout": span(p.idle_timeout),
            "absolute_lifetime": span(p.absolute_lifetime),
            "single_session_per_user": p.single_session_per_user,
            "max_sessions_per_user": p.max_sessions_per_user,
            "max_sessions": p.max_sessions,
            "renew_on_use": p.renew_on_use,
            "lockout_after": p.lockout_after,
        },
        "options": spec.options,
        "accounts": spec.setup.accounts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        "resources": spec.resources.len(),
        "journal": spec.journal,
    })
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
    // Expired sessions are already invalid on every access; the background purge removes them
    // in batches off the request threads, so a clock jump over a million sessions stalls nobody.
    clock_json(core)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn open() -> Access {
        Access { token: None }
    }

    fn locked(token: &str) -> Access {
        Access { token: Some(token.into()) }
    }

    #[test]
    fn without_a_token_only_loopback_peers_are_served() {
        let v4 = |a, b, c, d| Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
        assert!(allowed(&open(), v4(127, 0, 0, 1), None).is_ok());
        assert!(allowed(&open(), v4(127, 3, 2, 1), None).is_ok());
        assert!(allowed(&open(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), None).is_ok());
        let mapped = Some(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()));
        assert!(allowed(&open(), mapped, None).is_ok(), "::ffff:127.0.0.1 is loopback");
        for peer in [
            v4(10, 0, 0, 3),
            v4(192, 168, 1, 2),
            v4(0, 0, 0, 0),
            v4(8, 8, 8, 8),
            Some(IpAddr::V6(Ipv4Addr::new(10, 0, 0, 3).to_ipv6_mapped())),
            Some(IpAddr::V6("fe80::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED))),
        ] {
            let refused = allowed(&open(), peer, None).expect_err("a non-loopback peer is refused");
            assert_eq!(refused.0, 403, "{peer:?}");
            // A bearer token means nothing when none is configured.
            assert_eq!(allowed(&open(), peer, Some("Bearer anything")).map_err(|e| e.0), Err(403));
        }
    }

    #[test]
    fn with_a_token_every_peer_needs_it_exactly() {
        let access = locked("s3cret-token");
        let remote = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)));
        let local = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(allowed(&access, remote, Some("Bearer s3cret-token")).is_ok());
        assert!(allowed(&access, local, Some("Bearer s3cret-token")).is_ok());
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer s3cret-toke"),
            Some("Bearer s3cret-token2"),
            Some("Basic s3cret-token"),
            Some("bearer s3cret-token"),
            Some("s3cret-token"),
        ] {
            assert_eq!(allowed(&access, local, bad).map_err(|e| e.0), Err(401), "{bad:?} from loopback");
            assert_eq!(allowed(&access, remote, bad).map_err(|e| e.0), Err(401), "{bad:?} from 10.0.0.3");
        }
    }
}
