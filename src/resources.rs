//! Scenario-defined protected resources: canned answers at vendor paths, guarded by the stand's
//! profile exactly like its own resources (same session check, same refusal format).

use std::sync::Arc;

use bytes::Bytes;

use crate::faults::Pattern;
use crate::wire::{Method, Request, Response};

/// One resource.
#[derive(Clone, Debug)]
pub struct Resource {
    /// Method it answers (`None`: any).
    pub method: Option<Method>,
    /// Path pattern (`{name}` segments, final `*`).
    pub pattern: Pattern,
    /// Status of the answer.
    pub status: u16,
    /// Content-Type of the answer.
    pub content_type: String,
    /// Further headers.
    pub headers: Vec<(String, String)>,
    /// The body; `{name}` placeholders of the pattern are filled in.
    pub body: Arc<Bytes>,
    /// Answer without the profile's session check.
    pub public: bool,
}

impl Resource {
    /// The answer if this resource matches the request.
    pub fn answer(&self, req: &Request) -> Option<Response> {
        if self.method.as_ref().is_some_and(|m| *m != req.method) {
            return None;
        }
        let params = self.pattern.matches(&req.path)?;
        let body = if params.is_empty() {
            Bytes::clone(&self.body)
        } else {
            let mut text = String::from_utf8_lossy(&self.body).into_owned();
            for (k, v) in &params {
                text = text.replace(&format!("{{{k}}}"), v);
            }
            Bytes::from(text)
        };
        let mut r = Response::with(self.status, self.content_type.clone(), body);
        for (k, v) in &self.headers {
            r = r.header(k.clone(), v.clone());
        }
        Some(r)
    }
}

/// A content type guessed from a file name or the body's first character.
pub fn guess_content_type(file: Option<&str>, body: &[u8]) -> &'static str {
    let ext = file.and_then(|f| f.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => return "application/json",
        Some("xml") => return "application/xml",
        Some("html" | "htm") => return "text/html",
        Some("txt") => return "text/plain",
        _ => {}
    }
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => "application/json",
        Some(b'<') => "application/xml",
        _ => "text/plain",
    }
}
