//! HTTPS for stands: the rustls server configuration of a stand, certificates generated at start-up,
//! and who a verified client certificate belongs to ([`identify`]).
//!
//! rustls runs on the `ring` provider only (no C toolchain beyond a C compiler is needed).
//! Client certificates are checked against the scenario's `client_ca` here, once per connection
//! ([`Tls::trusted_client_cert`]); profiles only ever see a certificate that passed.

mod identity;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

pub use identity::{FIELDS, canonical_field, identify, matches};

/// A stand's HTTPS settings, validated from the scenario's `[stands.tls]`.
#[derive(Clone)]
pub struct TlsSpec {
    /// Where the server certificate comes from.
    pub server: ServerCert,
    /// Whether clients are asked for a certificate.
    pub client_auth: ClientAuth,
    /// The CA certificates client certificates must chain to (empty when `client_auth` is off).
    pub client_ca: Vec<CertificateDer<'static>>,
}

/// The server certificate of an HTTPS stand.
#[derive(Clone)]
pub enum ServerCert {
    /// A chain (leaf first) and its private key, read from files.
    Files {
        /// Leaf first, then intermediates.
        chain: Vec<CertificateDer<'static>>,
        /// The leaf's key.
        key: Arc<PrivateKeyDer<'static>>,
    },
    /// Generated at start-up for `hosts`, signed by a CA generated with it, whose certificate is
    /// written to `ca_file` (a temporary file when `None`).
    Generate {
        /// DNS names and IP addresses of the certificate (the stand's bind address is added).
        hosts: Vec<String>,
        /// Where the CA certificate (PEM) goes.
        ca_file: Option<PathBuf>,
    },
}

/// Whether an HTTPS stand asks clients for a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// Not asked for.
    Off,
    /// Asked for; a connection without one is served. A certificate that does not chain to
    /// `client_ca` is accepted by the handshake but identifies nobody (the profile's 401).
    Optional,
    /// Asked for; the handshake fails without a certificate that chains to `client_ca`.
    Required,
}

impl fmt::Debug for TlsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = match &self.server {
            ServerCert::Files { chain, .. } => format!("files ({} certificates, key redacted)", chain.len()),
            ServerCert::Generate { hosts, ca_file } => format!("generate {hosts:?}, CA to {ca_file:?}"),
        };
        f.debug_struct("TlsSpec")
            .field("server", &server)
            .field("client_auth", &self.client_auth)
            .field("client_ca", &self.client_ca.len())
            .finish()
    }
}

/// Host names a generated certificate covers unless the scenario lists its own.
pub const DEFAULT_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Every PEM `CERTIFICATE` block of `pem` (at least one).
pub fn parse_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM CERTIFICATE block found".into());
    }
    Ok(certs)
}

/// One certificate from a PEM file (its first block) or a DER file.
pub fn parse_certificate(bytes: &[u8]) -> Result<CertificateDer<'static>, String> {
    if bytes.first() != Some(&0x30) {
        return parse_certificates(bytes).map(|mut c| c.swap_remove(0));
    }
    let der = CertificateDer::from(bytes.to_vec());
    x509_parser::parse_x509_certificate(&der).map_err(|e| format!("not a PEM or DER certificate: {e}"))?;
    Ok(der)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("no PEM private key found: {e}"))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A stand's TLS, ready to serve.
pub struct Tls {
    /// The rustls server configuration (ALPN: http/1.1 only).
    pub config: Arc<ServerConfig>,
    /// Verifies client certificates against `client_ca` (when client auth is on).
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    /// The generated CA (PEM) and the file it was written to.
    pub generated_ca: Option<(String, PathBuf)>,
    /// The CA file went to the temporary directory: remove it when the stand stops.
    remove_ca_file: bool,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("generated_ca", &self.generated_ca.as_ref().map(|(_, p)| p)).finish()
    }
}

impl Tls {
    /// Removes the generated CA file if it went to the temporary directory (the stand stops).
    pub fn remove_temporary_ca(&self) {
        if self.remove_ca_file
            && let Some((_, path)) = &self.generated_ca
        {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Builds the server configuration of stand `id` bound to `host:port`, generating (and
    /// writing out) its certificate if the spec asks for one.
    pub fn prepare(spec: &TlsSpec, id: &str, host: IpAddr, port: u16) -> Result<Tls, String> {
        let (chain, key, generated_ca, remove_ca_file) = match &spec.server {
            ServerCert::Files { chain, key } => (chain.clone(), key.clone_key(), None, false),
            ServerCert::Generate { hosts, ca_file } => {
                let mut hosts = hosts.clone();
                if !host.is_unspecified() && !hosts.iter().any(|h| h.parse::<IpAddr>().ok() == Some(host)) {
                    hosts.push(host.to_string());
                }
                let g = generate(&hosts, id)?;
                let (path, temporary) = match ca_file {
                    Some(p) => (p.clone(), false),
                    None => {
                        (std::env::temp_dir().join(format!("standin-{}-{id}-{port}-ca.pem", std::process::id())), true)
                    }
                };
                std::fs::write(&path, &g.ca_pem)
                    .map_err(|e| format!("cannot write the generated CA to {}: {e}", path.display()))?;
                let path = std::fs::canonicalize(&path).unwrap_or(path);
                (g.chain, g.key, Some((g.ca_pem, path)), temporary)
            }
        };
        let verifier = match spec.client_auth {
            ClientAuth::Off => None,
            ClientAuth::Optional | ClientAuth::Required => {
                let mut roots = RootCertStore::empty();
                for ca in &spec.client_ca {
                    roots.add(ca.clone()).map_err(|e| format!("client_ca: not a usable CA certificate: {e}"))?;
                }
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .map_err(|e| format!("client_ca: {e}"))?;
                Some(v)
            }
        };
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match (&verifier, spec.client_auth) {
            (Some(v), ClientAuth::Required) => builder.with_client_cert_verifier(v.clone()),
            (Some(v), _) => builder.with_client_cert_verifier(Arc::new(Lenient(v.clone()))),
            (None, _) => builder.with_no_client_auth(),
        };
        let mut config =
            builder.with_single_cert(chain, key).map_err(|e| format!("the certificate and key do not fit: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls { config: Arc::new(config), verifier, generated_ca, remove_ca_file })
    }

    /// The leaf of a connection's client certificate chain, if it chains to `client_ca`.
    pub fn trusted_client_cert(&self, chain: Option<&[CertificateDer<'_>]>) -> Option<Vec<u8>> {
        let verifier = self.verifier.as_ref()?;
        let (leaf, rest) = chain?.split_first()?;
        match verifier.verify_client_cert(leaf, rest, UnixTime::now()) {
            Ok(_) => Some(leaf.to_vec()),
            Err(e) => {
                tracing::debug!(error = %e, "client certificate not trusted");
                None
            }
        }
    }
}

/// Optional client auth that lets an untrusted certificate through the handshake (its signature
/// still proves the client holds the key): the application then answers it as the vendor does
/// an unknown certificate, with a 401, instead of the connection failing.
#[derive(Debug)]
struct Lenient(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for Lenient {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A certificate generated at start-up.
struct Generated {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca_pem: String,
}

/// A throw-away CA and a server certificate it signs for `hosts` (ECDSA P-256).
fn generate(hosts: &[String], id: &str) -> Result<Generated, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let fail = |e: rcgen::Error| format!("cannot generate a certificate: {e}");
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, format!("Standin start-up CA ({id})"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().map_err(fail)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(hosts.to_vec()).map_err(fail)?;
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name.push(DnType::CommonName, hosts.first().map_or("localhost", String::as_str));
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().map_err(fail)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(fail)?;
    Ok(Generated {
        chain: vec![leaf_cert.der().clone()],
        key: PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(|e| format!("generated key: {e}"))?,
        ca_pem: ca_cert.pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_serves_and_its_ca_is_written() {
        let dir = std::env::temp_dir().join(format!("standin-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_file = dir.join("ca.pem");
        let spec = TlsSpec {
            server: ServerCert::Generate {
                hosts: DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect(),
                ca_file: Some(ca_file.clone()),
            },
            client_auth: ClientAuth::Off,
            client_ca: Vec::new(),
        };
        let tls = Tls::prepare(&spec, "unit", IpAddr::from([127, 0, 0, 2]), 0).unwrap();
        let (pem, path) = tls.generated_ca.as_ref().unwrap();
        assert_eq!(path, &std::fs::canonicalize(&ca_file).unwrap());
        assert_eq!(&std::fs::read_to_string(&ca_file).unwrap(), pem);
        assert_eq!(parse_certificates(pem.as_bytes()).unwrap().len(), 1);
        assert_eq!(tls.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        tls.remove_temporary_ca();
        assert!(ca_file.exists(), "a CA file the scenario named is kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_pem_is_an_error_not_a_panic() {
        assert!(parse_certificates(b"hello").is_err());
        assert!(parse_certificate(&[0x30, 0x03, 0x02, 0x01]).is_err());
        assert!(parse_key(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").is_err());
    }
}
