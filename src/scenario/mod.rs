//! Scenario files: TOML (or JSON, same schema) validated into a [`Scenario`].
//!
//! Parsing happens in two steps, like ripgrep's low/high args: serde fills the mirror structs of
//! `raw.rs` (checking each value as it goes, so errors carry a position), then [`Scenario`] is
//! built from them with defaults and cross-stand checks applied.

mod raw;

use std::fmt;
use std::path::Path;

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::{Account, CertificateIdentity, Policy, Setup, Timestamp};
use crate::faults::Rule;
use crate::profiles::Profile;
use crate::resources::{Resource, guess_content_type};

pub use raw::{duration_schema, parse_span};

/// The embedded default scenario: every profile on its default port.
pub const DEFAULT: &str = include_str!("../../scenarios/default.toml");

/// Where a manual clock starts when the scenario gives no `start`.
pub const DEFAULT_START: &str = "2026-01-01T00:00:00Z";

/// A validated scenario: the stands to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Where it came from (a file name, `<default>`, `<request>`).
    pub origin: String,
    /// The stands, in file order.
    pub stands: Vec<StandSpec>,
}

/// Everything needed to start one stand.
#[derive(Clone, Debug)]
pub struct StandSpec {
    /// Unique id within the process.
    pub id: String,
    /// The vendor profile.
    pub profile: &'static dyn Profile,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Manual clock start, or `None` for the system clock.
    pub manual_clock: Option<Timestamp>,
    /// The engine's initial state.
    pub setup: Setup,
    /// The profile's options, as given (`null`: defaults). Validated already.
    pub options: serde_json::Value,
    /// Extra headers on every response of the stand.
    pub headers: Vec<(String, String)>,
    /// Scenario-defined protected resources, matched before the profile's own paths.
    pub resources: Vec<Resource>,
    /// Fault rules, in order.
    pub faults: Vec<Rule>,
    /// Journal capacity (entries).
    pub journal: usize,
    /// Who may use this stand's control API (set by the process, not the scenario).
    pub control: crate::control::Access,
    /// HTTPS settings; `None` serves plain HTTP.
    pub tls: Option<crate::tls::TlsSpec>,
}

/// Journal entries a stand keeps unless its scenario says otherwise.
pub const DEFAULT_JOURNAL: usize = 1000;

/// A scenario error: where, which field, what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    /// File name (or `<default>`, `<request>`).
    pub origin: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// Field path such as `stands[0].policy.idle_timeout`; empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.path.is_empty() && self.path != "." {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Scenario {
    /// Reads and validates a scenario file (`.json` files are JSON, everything else TOML).
    pub fn load(path: &Path) -> Result<Scenario, Error> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error {
            origin: origin.clone(),
            line: 0,
            column: 0,
            path: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Scenario::parse(&text, &origin)
    }

    /// Validates scenario text. JSON if it starts with `{`, TOML otherwise.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, Error> {
        let raw = if text.trim_start().starts_with('{') { from_json(text, origin)? } else { from_toml(text, origin)? };
        build(raw, text, origin)
    }

    /// The embedded default scenario.
    pub fn embedded_default() -> Scenario {
        Scenario::parse(DEFAULT, DEFAULT_ORIGIN).expect("the embedded default scenario is valid")
    }

    /// Sets every stand's seed (the CLI's `--seed`).
    pub fn with_seed(mut self, seed: u64) -> Self {
        for s in &mut self.stands {
            s.setup.seed = Some(seed);
        }
        self
    }
}

/// The JSON Schema of the scenario format, generated from the parser's own types, with each
/// profile's `options` attached to stands of that profile.
pub fn schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(raw::Scenario)).unwrap_or_default();
    let mut hoisted = serde_json::Map::new();
    let per_profile: Vec<serde_json::Value> = crate::profiles::ALL
        .iter()
        .map(|p| {
            let mut options = serde_json::to_value(p.options_schema()).unwrap_or_default();
            if let Some(o) = options.as_object_mut() {
                o.remove("$schema");
                o.insert("title".into(), format!("{} options", p.id()).into());
                // `$ref`s resolve against the root document: move nested definitions there.
                if let Some(serde_json::Value::Object(defs)) = o.remove("$defs") {
                    for (name, def) in defs {
                        hoisted.entry(name).or_insert(def);
                    }
                }
            }
            serde_json::json!({
                "if": {"properties": {"profile": {"const": p.id()}}, "required": ["profile"]},
                "then": {"properties": {"options": options}}
            })
        })
        .collect();
    if let Some(stand) = schema.pointer_mut("/$defs/StandFields").and_then(|v| v.as_object_mut()) {
        stand.insert("allOf".into(), serde_json::Value::Array(per_profile));
    }
    if let Some(defs) = schema.pointer_mut("/$defs").and_then(|v| v.as_object_mut()) {
        for (name, def) in hoisted {
            defs.entry(name).or_insert(def);
        }
    }
    schema
}

fn from_toml(text: &str, origin: &str) -> Result<raw::Scenario, Error> {
    let de = toml::de::Deserializer::parse(text).map_err(|e| toml_error(&e, text, origin, String::new()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        toml_error(e.inner(), text, origin, path)
    })
}

fn toml_error(e: &toml::de::Error, text: &str, origin: &str, path: String) -> Error {
    let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
    Error { origin: origin.into(), line, column, path, message: e.message().trim().to_owned() }
}

fn from_json(text: &str, origin: &str) -> Result<raw::Scenario, Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        Error { origin: origin.into(), line: inner.line(), column: inner.column(), path: e.path().to_string(), message }
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The folder `body_file` paths are relative to: the scenario file's own.
fn base_dir(origin: &str) -> PathBuf {
    std::path::Path::new(origin).parent().map(PathBuf::from).unwrap_or_default()
}

/// Origin of the embedded default scenario.
const DEFAULT_ORIGIN: &str = "<default>";

/// The files the embedded default scenario names (paths as written there, relative to
/// `scenarios/`), embedded with it so that `standin serve` works from any directory.
const DEFAULT_FILES: &[(&str, &[u8])] = &[
    ("../fixtures/tls/ca.pem", include_bytes!("../../fixtures/tls/ca.pem")),
    ("../fixtures/tls/server.pem", include_bytes!("../../fixtures/tls/server.pem")),
    ("../fixtures/tls/server-key.pem", include_bytes!("../../fixtures/tls/server-key.pem")),
    ("../fixtures/tls/super.pem", include_bytes!("../../fixtures/tls/super.pem")),
];

/// Reads a file the scenario names, relative to the scenario file's folder.
fn read_relative(origin: &str, file: &str) -> Result<Vec<u8>, String> {
    if origin == DEFAULT_ORIGIN
        && let Some((_, bytes)) = DEFAULT_FILES.iter().find(|(name, _)| *name == file)
    {
        return Ok(bytes.to_vec());
    }
    let path = base_dir(origin).join(file);
    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn tls(raw: raw::Tls, origin: &str) -> Result<crate::tls::TlsSpec, (&'static str, String)> {
    use crate::tls::{ServerCert, TlsSpec, parse_certificates, parse_key};
    let f = raw.fields;
    let server = match (f.cert, f.key) {
        (Some(cert), Some(key)) => {
            let chain = read_relative(origin, &cert)
                .and_then(|b| parse_certificates(&b).map_err(|e| format!("{cert}: {e}")))
                .map_err(|e| (".tls.cert", e))?;
            let key = read_relative(origin, &key)
                .and_then(|b| parse_key(&b).map_err(|e| format!("{key}: {e}")))
                .map_err(|e| (".tls.key", e))?;
            ServerCert::Files { chain, key: Arc::new(key) }
        }
        _ => {
            if f.ca_file.is_some() && origin == REQUEST_ORIGIN {
                return Err((
                    ".tls.ca_file",
                    "not allowed in a scenario sent to the control API (the CA goes to a temporary file)".into(),
                ));
            }
            ServerCert::Generate {
                hosts: f.hosts.unwrap_or_else(|| crate::tls::DEFAULT_HOSTS.iter().map(|h| (*h).to_owned()).collect()),
                ca_file: f.ca_file.map(|c| base_dir(origin).join(c)),
            }
        }
    };
    let client_ca = match &f.client_ca {
        Some(file) => read_relative(origin, file)
            .and_then(|b| parse_certificates(&b).map_err(|e| format!("{file}: {e}")))
            .map_err(|e| (".tls.client_ca", e))?,
        None => Vec::new(),
    };
    Ok(TlsSpec { server, client_auth: f.client_auth, client_ca })
}

/// Origin of a scenario posted to the control listener.
pub const REQUEST_ORIGIN: &str = "<request>";

/// Line of the `n`th `[[stands]]` header, for errors found after deserializing.
fn stand_line(text: &str, n: usize) -> (usize, usize) {
    text.match_indices("[[stands]]").nth(n).map_or((0, 0), |(at, _)| line_col(text, at))
}

fn build(raw: raw::Scenario, text: &str, origin: &str) -> Result<Scenario, Error> {
    let err = |i: usize, field: &str, message: String| {
        let (line, column) = stand_line(text, i);
        Error { origin: origin.into(), line, column, path: format!("stands[{i}]{field}"), message }
    };
    if let Some(clock) = &raw.clock {
        clock.check().map_err(|message| Error {
            origin: origin.into(),
            line: 0,
            column: 0,
            path: "clock".into(),
            message,
        })?;
    }
    let mut stands: Vec<StandSpec> = Vec::with_capacity(raw.stands.len());
    for (i, stand) in raw.stands.into_iter().enumerate() {
        let f = stand.fields;
        let profile = stand.profile;
        let id = f.id.unwrap_or_else(|| profile.id().to_owned());
        if let Some(j) = stands.iter().position(|s| s.id == id) {
            return Err(err(
                i,
                ".id",
                format!("duplicate stand id `{id}` (also stands[{j}]); give each stand its own `id`"),
            ));
        }
        let port = f.port.unwrap_or(profile.default_port());
        if port != 0
            && let Some(j) = stands.iter().position(|s| s.port == port)
        {
            return Err(err(i, ".port", format!("port {port} is already used by stands[{j}]")));
        }
        let clock = f.clock.as_ref().or(raw.clock.as_ref());
        let manual_clock = match clock {
            Some(c) if c.mode == raw::ClockMode::Manual => Some(
                c.start.map_or_else(|| Timestamp::parse_rfc3339(DEFAULT_START).expect("valid default start"), |s| s.0),
            ),
            _ => None,
        };
        let accounts = match f.accounts {
            None => profile.default_accounts(),
            Some(list) => accounts(list, origin)
                .map_err(|(a, field, message)| err(i, &format!(".accounts[{a}]{field}"), message))?,
        };
        for (a, acc) in accounts.iter().enumerate() {
            if accounts[..a].iter().any(|b| b.name == acc.name && b.tenant == acc.tenant) {
                return Err(err(i, &format!(".accounts[{a}].name"), format!("duplicate account `{}`", acc.name)));
            }
        }
        let setup = Setup {
            stand_id: id.clone(),
            accounts,
            policy: policy(profile.default_policy(), f.policy.unwrap_or_default()),
            seed: f.seed.or(raw.seed),
            clock_start: manual_clock,
        };
        let mut resources = Vec::new();
        for (r, res) in f.resources.into_iter().flatten().enumerate() {
            let field = format!(".resources[{r}].body_file");
            let (body, file) = match (&res.fields.body, &res.fields.body_file) {
                (_, Some(file)) => {
                    let path = base_dir(origin).join(file);
                    let bytes = std::fs::read(&path)
                        .map_err(|e| err(i, &field, format!("cannot read {}: {e}", path.display())))?;
                    (bytes, Some(file.as_str()))
                }
                (Some(text), None) => (text.clone().into_bytes(), None),
                (None, None) => (Vec::new(), None),
            };
            let content_type =
                res.fields.content_type.clone().unwrap_or_else(|| guess_content_type(file, &body).to_owned());
            resources.push(Resource {
                method: res.method,
                pattern: res.pattern,
                status: res.fields.status.unwrap_or(200),
                content_type,
                headers: res.fields.headers.unwrap_or_default().into_iter().collect(),
                body: Arc::new(body.into()),
                public: res.fields.public,
            });
        }
        let tls = match f.tls {
            Some(t) => Some(tls(t, origin).map_err(|(field, message)| err(i, field, message))?),
            None => None,
        };
        stands.push(StandSpec {
            id,
            profile,
            port,
            manual_clock,
            setup,
            options: f.options.unwrap_or(serde_json::Value::Null),
            headers: f.headers.unwrap_or_default().into_iter().collect(),
            resources,
            faults: f.faults.unwrap_or_default(),
            journal: f.journal.unwrap_or(DEFAULT_JOURNAL),
            control: crate::control::Access::default(),
            tls,
        });
    }
    Ok(Scenario { origin: origin.into(), stands })
}

fn policy(base: Policy, over: raw::Policy) -> Policy {
    Policy {
        idle_timeout: over.idle_timeout.map_or(base.idle_timeout, |s| s.0),
        absolute_lifetime: over.absolute_lifetime.map_or(base.absolute_lifetime, |s| s.0),
        single_session_per_user: over.single_session_per_user.unwrap_or(base.single_session_per_user),
        max_sessions_per_user: over.max_sessions_per_user.or(base.max_sessions_per_user),
        max_sessions: over.max_sessions.or(base.max_sessions),
        renew_on_use: over.renew_on_use.unwrap_or(base.renew_on_use),
        lockout_after: over.lockout_after.or(base.lockout_after),
    }
}

fn accounts(list: Vec<raw::Account>, origin: &str) -> Result<Vec<Account>, (usize, &'static str, String)> {
    list.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let certificate = match (&a.certificate, a.certificate_fields) {
                (Some(_), Some(_)) => {
                    return Err((i, "", "give `certificate` or `certificate_fields`, not both".into()));
                }
                (Some(file), None) => {
                    let der = read_relative(origin, file)
                        .and_then(|b| crate::tls::parse_certificate(&b).map_err(|e| format!("{file}: {e}")))
                        .map_err(|e| (i, ".certificate", e))?;
                    Some(CertificateIdentity::Complete(der.to_vec()))
                }
                (None, Some(fields)) => Some(CertificateIdentity::Fields(fields.0)),
                (None, None) => None,
            };
            Ok(Account {
                id: a.id.unwrap_or(i as u64 + 1),
                guid: a.guid.unwrap_or_else(|| guid_for(&a.name, i)),
                name: a.name,
                password: a.password,
                roles: a.roles,
                group: a.group,
                tenant: a.tenant,
                api_tokens: a.api_tokens,
                disabled: a.disabled,
                locked: a.locked,
                sso_only: a.sso_only,
                certificate,
            })
        })
        .collect()
}

/// A stable, UUID-shaped GUID derived from the account name, so snapshots do not move.
pub fn guid_for(name: &str, index: usize) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in name.bytes().chain((index as u64).to_le_bytes()) {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let x = format!("{h:032x}");
    format!("{}-{}-4{}-a{}-{}", &x[0..8], &x[8..12], &x[13..16], &x[17..20], &x[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_is_valid() {
        let s = Scenario::embedded_default();
        assert!(!s.stands.is_empty());
        assert_eq!(s.stands[0].port, 7401);
    }

    #[track_caller]
    fn error_of(text: &str) -> String {
        Scenario::parse(text, "s.toml").expect_err("invalid").to_string()
    }

    #[test]
    fn unknown_keys_are_errors_with_line_and_path() {
        let e = error_of("[[stands]]\nprofile = \"junos-space\"\n[stands.policy]\nidle = \"30m\"\n");
        assert!(e.starts_with("s.toml:4:1: stands[0].policy"), "{e}");
        assert!(e.contains("unknown field `idle`"), "{e}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let e = error_of("[[stands]]\nprofile = \"junos-space\"\n[stands.policy]\nidle_timeout = \"thirty\"\n");
        assert!(e.starts_with("s.toml:4:16: stands[0].policy.idle_timeout"), "{e}");
        let e = error_of("[[stands]]\nprofile = \"junos\"\n");
        assert!(e.contains("unknown profile `junos`"), "{e}");
        let e = error_of("[[stands]]\nprofile = \"junos-space\"\n[stands.options]\ncookie_style = \"x\"\n");
        assert!(e.contains("options: unknown variant `x`"), "{e}");
        assert!(e.contains("s.toml:1:1: stands[0]") || e.contains("s.toml:2:1: stands[0]"), "{e}");
    }

    #[test]
    fn duplicate_ids_and_ports_are_errors() {
        let e = error_of("[[stands]]\nprofile = \"junos-space\"\n\n[[stands]]\nprofile = \"junos-space\"\n");
        assert_eq!(
            e,
            "s.toml:4:1: stands[1].id: duplicate stand id `junos-space` (also stands[0]); give each stand its own `id`"
        );
    }

    #[test]
    fn json_uses_the_same_schema() {
        let s = Scenario::parse(r#"{"seed": 3, "stands": [{"profile": "junos-space", "port": 0}]}"#, "s.json").unwrap();
        assert_eq!(s.stands[0].setup.seed, Some(3));
        let e = Scenario::parse("{\"stands\": [{\"profile\": \"junos-space\",\n \"prot\": 0}]}", "s.json").unwrap_err();
        assert_eq!((e.line, e.path.as_str()), (2, "stands[0].prot"), "{e}");
    }

    #[test]
    fn manual_clock_and_policy_inherit_and_override() {
        let s = Scenario::parse(
            "seed = 9\n[clock]\nmode = \"manual\"\nstart = \"2026-02-01T00:00:00Z\"\n[[stands]]\nprofile = \"junos-space\"\n[stands.policy]\nidle_timeout = \"none\"\n",
            "s.toml",
        )
        .unwrap();
        let st = &s.stands[0];
        assert_eq!(st.manual_clock, Some(Timestamp::parse_rfc3339("2026-02-01T00:00:00Z").unwrap()));
        assert_eq!(st.setup.policy.idle_timeout, None);
        assert_eq!(st.setup.seed, Some(9));
    }

    #[test]
    fn tls_tables_are_validated_with_positions() {
        let stand = "[[stands]]\nprofile = \"junos-space\"\n[stands.tls]\n";
        let e = error_of(&format!("{stand}generate = true\ncert = \"a.pem\"\nkey = \"b.pem\"\n"));
        assert!(e.starts_with("s.toml:3:1: stands[0].tls") || e.starts_with("s.toml:4:1: stands[0].tls"), "{e}");
        assert!(e.contains("not both"), "{e}");
        let e = error_of(&format!("{stand}generate = true\nclient_auth = \"optional\"\n"));
        assert!(e.contains("client_ca: missing"), "{e}");
        let e = error_of(&format!("{stand}generate = true\nclient_auth = \"sometimes\"\n"));
        assert!(e.starts_with("s.toml:5:15: stands[0].tls.client_auth"), "{e}");
        let e = error_of(&format!("{stand}cert = \"a.pem\"\n"));
        assert!(e.contains("key: missing"), "{e}");
        let e = error_of(&format!("{stand}cert = \"no-such.pem\"\nkey = \"no-such-key.pem\"\n"));
        assert!(e.starts_with("s.toml:1:1: stands[0].tls.cert: cannot read no-such.pem"), "{e}");
        let e = Scenario::parse(&format!("{stand}generate = true\nca_file = \"/tmp/x.pem\"\n"), REQUEST_ORIGIN)
            .unwrap_err()
            .to_string();
        assert!(e.contains("stands[0].tls.ca_file: not allowed"), "{e}");
    }

    #[test]
    fn certificate_identities_are_validated_with_positions() {
        let account = "[[stands]]\nprofile = \"junos-space\"\n[[stands.accounts]]\nname = \"a\"\npassword = \"b\"\n";
        let e = error_of(&format!("{account}certificate_fields = {{ CN = \"a\", UID = \"b\" }}\n"));
        assert!(e.starts_with("s.toml:6:22: stands[0].accounts[0].certificate_fields"), "{e}");
        assert!(e.contains("unknown field `UID`"), "{e}");
        let five = "{ CN = \"a\", OU = \"b\", O = \"c\", L = \"d\", C = \"e\" }";
        let e = error_of(&format!("{account}certificate_fields = {five}\n"));
        assert!(e.contains("between one and four fields, found 5"), "{e}");
        let e = error_of(&format!("{account}certificate_fields = {{ cn = \"a\", CN = \"b\" }}\n"));
        assert!(e.contains("field `CN` is given twice"), "{e}");
        let e = error_of(&format!("{account}certificate = \"x.pem\"\ncertificate_fields = {{ CN = \"a\" }}\n"));
        assert!(e.contains("stands[0].accounts[0]: give `certificate` or `certificate_fields`, not both"), "{e}");
        let s = Scenario::parse(
            &format!("{account}certificate_fields = {{ cn = \"a\", emailaddress = \"a@b\" }}\n"),
            "s.toml",
        )
        .unwrap();
        assert_eq!(
            s.stands[0].setup.accounts[0].certificate,
            Some(CertificateIdentity::Fields(vec![("CN".into(), "a".into()), ("EMAILADDRESS".into(), "a@b".into())]))
        );
    }
}
