//! The crate's own HTTP request and response, and the lenient parsers every profile shares.
//!
//! `server` converts actix types into these once per request; profiles, faults and the control
//! API never see the framework.

pub mod json;
mod parse;

use std::any::Any;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::net::IpAddr;

pub use actix_web::http::Method;
pub use actix_web::http::header::{HeaderName, HeaderValue};
use bytes::Bytes;

pub use parse::{
    Media, basic_credentials, cookie_bytes, cookie_value, cookies, form_decode, form_name, form_pairs, form_pairs_raw,
    has_media_suffix, is_media_type, media_type, percent_decode, wants,
};

/// An HTTP request as a profile sees it.
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path as sent (still percent-encoded), repeated slashes merged, no query.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// Headers in arrival order (shared with the connection's read buffer, not copied).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The whole body.
    pub body: Bytes,
    /// The client's address.
    pub peer: Option<IpAddr>,
    /// The client certificate (DER), if one was presented over TLS.
    pub client_cert: Option<Bytes>,
    /// What the profile parsed from this request, kept for its next question (see [`Request::parsed`]).
    memo: OnceCell<Box<dyn Any + Send + Sync>>,
}

impl Clone for Request {
    fn clone(&self) -> Self {
        Request {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            peer: self.peer,
            client_cert: self.client_cert.clone(),
            memo: OnceCell::new(),
        }
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("peer", &self.peer)
            .field("client_cert", &self.client_cert)
            .finish()
    }
}

impl Request {
    /// A request with no headers, body or peer (tests, the library).
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        Request::from_parts(method, merge_slashes(path), query.to_owned(), Vec::new(), Bytes::new())
    }

    /// A request from its parts (path already merged, query without `?`), with no peer or
    /// client certificate.
    pub fn from_parts(
        method: Method,
        path: String,
        query: String,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Self {
        Request { method, path, query, headers, body, peer: None, client_cert: None, memo: OnceCell::new() }
    }

    /// `parse(self)`, computed once per request: the journal, the fault rules and the handler
    /// all ask a profile about the same credentials, and a login body need be read only once.
    /// A request is answered by one profile, so one value is kept; asked for another type, this
    /// parses again rather than keeping it.
    pub fn parsed<T: Clone + Any + Send + Sync>(&self, parse: impl Fn(&Request) -> T) -> Cow<'_, T> {
        let kept = self.memo.get_or_init(|| Box::new(parse(self)));
        match kept.downcast_ref::<T>() {
            Some(value) => Cow::Borrowed(value),
            None => Cow::Owned(parse(self)),
        }
    }

    /// The same request with one more header.
    ///
    /// # Panics
    ///
    /// If `name` is not a header name or `value` has control characters (a test's mistake).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        let n = HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|_| panic!("`{name}` is not a header name"));
        let v = HeaderValue::from_str(value).unwrap_or_else(|_| panic!("`{value}` is not a header value"));
        self.headers.push((n, v));
        self
    }

    /// The same request with a body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The first header called `name` (lowercase), as bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v.as_bytes())
    }

    /// The first header called `name` (lowercase), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every header called `name` (lowercase) that is UTF-8.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.as_str() == name)
            .filter_map(|(_, v)| std::str::from_utf8(v.as_bytes()).ok())
    }

    /// The value of cookie `name` from every Cookie header, parsed leniently. A header's other
    /// cookies are not read, so bytes that are not UTF-8 in one of them do not hide this one
    /// (servlet containers read cookies as bytes too).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| *n == actix_web::http::header::COOKIE)
            .find_map(|(_, v)| cookie_bytes(v.as_bytes(), name))
    }

    /// The first query parameter called `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_pairs_raw(self.query.as_bytes())
            .find(|(k, _)| *form_name(k) == *name.as_bytes())
            .map(|(_, v)| form_decode(v).into_owned())
    }

    /// The media type of the body, lowercase, without parameters.
    pub fn content_type(&self) -> Option<String> {
        self.header("content-type").map(media_type)
    }

    /// `true` if the body is an HTML form.
    pub fn is_form(&self) -> bool {
        self.header("content-type").is_some_and(|v| is_media_type(v, "application/x-www-form-urlencoded"))
    }
}

/// `text.split('/')`, cut with memchr: path segments are read on every request, and `split` with
/// a `char` pattern decodes characters (four SensNet paths: 77 -> 53 ns). `/` is ASCII, so every
/// cut is on a character boundary.
pub fn segments(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b'/', r.as_bytes()) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Merges runs of `/` into one, as the vendors' servlet containers do before routing.
pub fn merge_slashes(path: &str) -> String {
    if !path.is_empty() && !path.contains("//") {
        return path.to_owned();
    }
    let mut out = String::with_capacity(path.len());
    let mut last_slash = false;
    for c in path.chars() {
        if c == '/' && last_slash {
            continue;
        }
        last_slash = c == '/';
        out.push(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// What a connection-level fault does to the bytes of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Send the response as it is.
    Normal,
    /// Send nothing; reset the connection (RST).
    Reset,
    /// Send the status line and headers, then close.
    CloseAfterHeaders,
    /// Send the headers and this many bytes of the body, then close.
    Truncate(usize),
    /// Send bytes that are not HTTP, then close.
    Garbage,
    /// Send the body `chunk` bytes at a time, `interval` apart.
    Slow {
        /// Bytes per chunk.
        chunk: usize,
        /// Time between chunks.
        interval: std::time::Duration,
    },
}

impl Transport {
    /// The name used in scenarios and the journal (`None` for normal).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Transport::Normal => None,
            Transport::Reset => Some("reset"),
            Transport::CloseAfterHeaders => Some("close-after-headers"),
            Transport::Truncate(_) => Some("truncate"),
            Transport::Garbage => Some("garbage"),
            Transport::Slow { .. } => Some("slow-body"),
        }
    }
}

/// A response plus what the connection layer must do with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The response.
    pub response: Response,
    /// Connection-level fault.
    pub transport: Transport,
    /// Wait this long before answering.
    pub delay: std::time::Duration,
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Outcome {
        Outcome { response, transport: Transport::Normal, delay: std::time::Duration::ZERO }
    }
}

/// An HTTP response as a profile builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order; `Set-Cookie` may repeat.
    pub headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// Body.
    pub body: Bytes,
}

impl Response {
    /// An empty response.
    pub fn new(status: u16) -> Self {
        // Room for what vendors send (type, cookies, server, framing): one allocation.
        Response { status, headers: Vec::with_capacity(6), body: Bytes::new() }
    }

    /// A response with a body of the given content type.
    pub fn with(status: u16, content_type: impl Into<Cow<'static, str>>, body: impl Into<Bytes>) -> Self {
        Response::new(status).header("Content-Type", content_type).body(body)
    }

    /// A `text/plain` response.
    pub fn text(status: u16, body: &'static str) -> Self {
        Response::with(status, "text/plain", body)
    }

    /// A JSON response from a value.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response::with(status, "application/json", value.to_string())
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Cow<'static, str>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The first header called `name` (any case).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
    }

    /// The body as text (lossy).
    pub fn text_body(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn segments_are_split_slash(text in "[/aé]{0,8}") {
            proptest::prop_assert_eq!(segments(&text).collect::<Vec<_>>(), text.split('/').collect::<Vec<_>>());
        }
    }

    #[test]
    fn cookies_come_from_every_cookie_header_and_other_cookies_bytes_do_not_matter() {
        let mut req = Request::new(Method::GET, "/x").with_header("Cookie", "A=1");
        req.headers.push((HeaderName::from_static("cookie"), HeaderValue::from_bytes(b"X=\xff\xfe; B=2").unwrap()));
        req.headers.push((HeaderName::from_static("cookie"), HeaderValue::from_bytes(b"C=\xff").unwrap()));
        assert_eq!(req.cookie("A"), Some("1"));
        assert_eq!(req.cookie("B"), Some("2"));
        assert_eq!(req.cookie("X"), None, "a value that is not UTF-8 is not handed out");
        assert_eq!(req.cookie("C"), None);
        assert_eq!(req.cookie("D"), None);
    }

    #[test]
    fn a_request_is_parsed_once_per_type_it_keeps() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = AtomicUsize::new(0);
        let req = Request::new(Method::POST, "/x").with_body("u=a");
        let parse = |r: &Request| {
            calls.fetch_add(1, Ordering::SeqCst);
            r.body.len()
        };
        assert_eq!(*req.parsed(parse), 3);
        assert_eq!(*req.parsed(parse), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another type is answered, not kept; a clone starts with nothing kept.
        assert_eq!(*req.parsed(|r| r.path.clone()), "/x");
        assert_eq!(*req.clone().parsed(parse), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn repeated_slashes_merge() {
        assert_eq!(merge_slashes("//api/space//user-management/login"), "/api/space/user-management/login");
        assert_eq!(merge_slashes(""), "/");
        assert_eq!(Request::new(Method::GET, "/rest/api//login?x=1").path, "/rest/api/login");
    }
}
