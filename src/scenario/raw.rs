//! The serde mirror of a scenario file. These types never leave `scenario/`: `mod.rs` turns them
//! into a validated [`super::Scenario`]. Values that can be wrong on their own (durations,
//! instants, profile names, options) are checked while deserializing, so the error carries the
//! value's position.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::engine::Timestamp;
use crate::profiles::{self, Profile};

/// A scenario file: stands to run, with defaults for their clocks and seeds.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Scenario {
    pub seed: Option<u64>,
    pub clock: Option<Clock>,
    #[serde(default)]
    pub stands: Vec<Stand>,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Clock {
    pub mode: ClockMode,
    pub start: Option<Instant>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum ClockMode {
    System,
    Manual,
}

#[derive(Debug, Deserialize)]
#[serde(try_from = "StandFields")]
pub(super) struct Stand {
    pub fields: StandFields,
    pub profile: &'static dyn Profile,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StandFields {
    pub id: Option<String>,
    pub profile: ProfileName,
    pub port: Option<u16>,
    pub seed: Option<u64>,
    pub clock: Option<Clock>,
    pub policy: Option<Policy>,
    pub accounts: Option<Vec<Account>>,
    pub options: Option<serde_json::Value>,
    pub headers: Option<BTreeMap<String, String>>,
    pub resources: Option<Vec<Resource>>,
    pub faults: Option<Vec<crate::faults::Rule>>,
    pub journal: Option<usize>,
    pub tls: Option<Tls>,
}

/// `[stands.tls]`: HTTPS for the stand.
#[derive(Debug, Deserialize)]
#[serde(try_from = "TlsFields")]
pub(super) struct Tls {
    pub fields: TlsFields,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TlsFields {
    /// Certificate chain file (PEM, leaf first), relative to the scenario file.
    pub cert: Option<String>,
    /// Its private key file (PEM).
    pub key: Option<String>,
    /// Generate a certificate at start-up instead.
    #[serde(default)]
    pub generate: bool,
    /// Host names of the generated certificate.
    pub hosts: Option<Vec<String>>,
    /// Where the generated certificate's CA goes (PEM).
    pub ca_file: Option<String>,
    #[serde(default = "client_auth_off")]
    pub client_auth: crate::tls::ClientAuth,
    /// CA certificates (PEM) client certificates must chain to.
    pub client_ca: Option<String>,
}

fn client_auth_off() -> crate::tls::ClientAuth {
    crate::tls::ClientAuth::Off
}

impl TryFrom<TlsFields> for Tls {
    type Error = String;

    fn try_from(fields: TlsFields) -> Result<Self, String> {
        match (fields.generate, &fields.cert, &fields.key) {
            (true, None, None) => {}
            (true, _, _) => return Err("give `cert` and `key` files, or `generate = true`, not both".into()),
            (false, Some(_), Some(_)) => {
                if fields.hosts.is_some() || fields.ca_file.is_some() {
                    return Err("`hosts` and `ca_file` are for a generated certificate (`generate = true`)".into());
                }
            }
            (false, Some(_), None) => return Err("key: missing: `cert` needs its private key file".into()),
            (false, None, Some(_)) => return Err("cert: missing: `key` needs its certificate file".into()),
            (false, None, None) => {
                return Err("give `cert` and `key` files, or `generate = true` for a start-up certificate".into());
            }
        }
        if let Some(h) = fields.hosts.iter().flatten().find(|h| h.trim().is_empty() || h.contains(char::is_whitespace))
        {
            return Err(format!("hosts: `{h}` is not a host name or IP address"));
        }
        match (fields.client_auth, &fields.client_ca) {
            (crate::tls::ClientAuth::Off, Some(_)) => {
                return Err("client_ca: only used with client_auth = \"optional\" or \"required\"".into());
            }
            (crate::tls::ClientAuth::Optional | crate::tls::ClientAuth::Required, None) => {
                return Err("client_ca: missing: client certificates are verified against this CA file".into());
            }
            _ => {}
        }
        Ok(Tls { fields })
    }
}

#[derive(Debug, Deserialize)]
#[serde(try_from = "ResourceFields")]
pub(super) struct Resource {
    pub fields: ResourceFields,
    pub method: Option<actix_web::http::Method>,
    pub pattern: crate::faults::Pattern,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResourceFields {
    pub method: Option<String>,
    pub path: String,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub body: Option<String>,
    pub body_file: Option<String>,
    #[serde(default)]
    pub public: bool,
}

impl TryFrom<ResourceFields> for Resource {
    type Error = String;

    fn try_from(fields: ResourceFields) -> Result<Self, String> {
        let method = match fields.method.as_deref() {
            None | Some("*") => None,
            Some(m) => Some(
                actix_web::http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("method: `{m}` is not an HTTP method"))?,
            ),
        };
        let pattern = crate::faults::Pattern::parse(&fields.path).map_err(|e| format!("path: {e}"))?;
        if let Some(s) = fields.status
            && !(100..=599).contains(&s)
        {
            return Err(format!("status: {s} is not an HTTP status"));
        }
        if fields.body.is_some() && fields.body_file.is_some() {
            return Err("give `body` or `body_file`, not both".into());
        }
        check_headers(fields.headers.as_ref())?;
        Ok(Resource { fields, method, pattern })
    }
}

fn check_headers(headers: Option<&BTreeMap<String, String>>) -> Result<(), String> {
    for (name, value) in headers.into_iter().flatten() {
        actix_web::http::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("headers: `{name}` is not a valid header name"))?;
        actix_web::http::header::HeaderValue::from_str(value)
            .map_err(|_| format!("headers.{name}: not a valid header value"))?;
    }
    Ok(())
}

impl TryFrom<StandFields> for Stand {
    type Error = String;

    fn try_from(fields: StandFields) -> Result<Self, String> {
        let profile = fields.profile.0;
        let options = fields.options.clone().unwrap_or(serde_json::Value::Null);
        profile.configure(&options)?;
        if let Some(id) = &fields.id
            && (id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(format!("id: `{id}` must be non-empty ASCII letters, digits, `-` or `_`"));
        }
        if let Some(clock) = &fields.clock {
            clock.check()?;
        }
        check_headers(fields.headers.as_ref())?;
        Ok(Stand { fields, profile })
    }
}

impl Clock {
    pub fn check(&self) -> Result<(), String> {
        match (self.mode, &self.start) {
            (ClockMode::System, Some(_)) => Err("clock.start: only a manual clock has a start".into()),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Policy {
    pub idle_timeout: Option<Span>,
    pub absolute_lifetime: Option<Span>,
    pub single_session_per_user: Option<bool>,
    pub max_sessions_per_user: Option<u32>,
    pub max_sessions: Option<u32>,
    pub renew_on_use: Option<bool>,
    pub lockout_after: Option<u32>,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Account {
    pub name: String,
    pub password: String,
    pub id: Option<u64>,
    pub guid: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub group: Option<String>,
    pub tenant: Option<String>,
    #[serde(default, alias = "api_keys")]
    pub api_tokens: Vec<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub sso_only: bool,
    /// "Complete certificate" mode: the file (PEM or DER) of the certificate the account presents.
    pub certificate: Option<String>,
    /// "X.509 parameter based" mode: subject fields that must match.
    pub certificate_fields: Option<CertificateFields>,
}

/// Up to four subject fields (`CN`, `OU`, `O`, `L`, `ST`, `C`, `EMAILADDRESS`, `rfc822Name`,
/// `msUPN`) and their values, names in canonical spelling.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "BTreeMap<String, String>")]
pub(super) struct CertificateFields(pub Vec<(String, String)>);

impl TryFrom<BTreeMap<String, String>> for CertificateFields {
    type Error = String;

    fn try_from(map: BTreeMap<String, String>) -> Result<Self, String> {
        if map.is_empty() || map.len() > 4 {
            return Err(format!("between one and four fields, found {}", map.len()));
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in map {
            let Some(canonical) = crate::tls::canonical_field(&name) else {
                return Err(format!("unknown field `{name}`, expected one of {}", crate::tls::FIELDS.join(", ")));
            };
            if out.iter().any(|(n, _)| n == canonical) {
                return Err(format!("field `{canonical}` is given twice"));
            }
            out.push((canonical.to_owned(), value));
        }
        Ok(CertificateFields(out))
    }
}

/// The validated wrappers are written as their text form.
macro_rules! schema_as {
    ($ty:ty, $text:ty) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                <$text as schemars::JsonSchema>::schema_name()
            }

            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                <$text as schemars::JsonSchema>::json_schema(generator)
            }
        }
    };
}

schema_as!(Stand, StandFields);
schema_as!(Resource, ResourceFields);
schema_as!(Tls, TlsFields);
schema_as!(CertificateFields, BTreeMap<String, String>);

/// A profile id, checked against the registry where it is written.
#[derive(Debug)]
pub(super) struct ProfileName(pub &'static dyn Profile);

impl schemars::JsonSchema for ProfileName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Profile".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ids: Vec<&str> = profiles::ALL.iter().map(|p| p.id()).collect();
        schemars::json_schema!({"type": "string", "enum": ids, "description": "The vendor profile."})
    }
}

impl<'de> Deserialize<'de> for ProfileName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        profiles::find(&id)
            .map(ProfileName)
            .ok_or_else(|| de::Error::custom(format!("unknown profile `{id}`, expected one of {}", profiles::ids())))
    }
}

/// A duration such as `"30m"`, `"1h 30m"`, `"5m 58s 843ms"`, a number of seconds, or `"none"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span(pub Option<Duration>);

impl schemars::JsonSchema for Span {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        duration_schema(generator)
    }
}

/// The schema of a duration value: `"30m"`, `"1h 30m"`, seconds, or `"none"`.
pub fn duration_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "A duration: \"30m\", \"1h 30m\", \"5m 58s 843ms\" (humantime), a number of seconds, or \"none\".",
        "anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]
    })
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| de::Error::custom("expected a duration such as \"30m\", a number of seconds, or \"none\""))?
        {
            Raw::Secs(s) => Ok(Span(Some(Duration::from_secs(s)))),
            Raw::Text(t) => parse_span(&t).map(Span).map_err(de::Error::custom),
        }
    }
}

/// Parses `"30m"`, `"1h 30m"`, `"none"`.
pub fn parse_span(text: &str) -> Result<Option<Duration>, String> {
    let t = text.trim();
    if matches!(t, "none" | "off" | "never") {
        return Ok(None);
    }
    humantime::parse_duration(t)
        .map(Some)
        .map_err(|e| format!("`{text}` is not a duration such as \"30m\" or \"none\" ({e})"))
}

/// An RFC 3339 instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Instant(pub Timestamp);

impl schemars::JsonSchema for Instant {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Instant".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time", "description": "An RFC 3339 instant."})
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // TOML has a native date-time type; accept it as well as a string.
        let v = toml::Value::deserialize(d)?;
        let text = match v {
            toml::Value::String(s) => s,
            toml::Value::Datetime(dt) => dt.to_string(),
            other => {
                return Err(de::Error::custom(format!("expected an RFC 3339 instant, found {}", other.type_str())));
            }
        };
        Timestamp::parse_rfc3339(&text).map(Instant).map_err(de::Error::custom)
    }
}
