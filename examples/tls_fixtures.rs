//! Regenerates the test certificates in `fixtures/tls/` (see fixtures/tls/README.md):
//!
//! ```sh
//! cargo run --example tls_fixtures            # writes fixtures/tls/
//! cargo run --example tls_fixtures -- DIR     # writes DIR instead
//! ```
//!
//! Every key is a fresh ECDSA P-256 key, for tests only. The certificates are valid from
//! 2025-01-01 to 2125-01-01 and carry the extensions strict verifiers (Python 3.13's
//! `VERIFY_X509_STRICT`, webpki) ask for: basicConstraints and keyUsage on the CAs, subject and
//! authority key identifiers, extendedKeyUsage on the leaves.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, OtherNameValue, SanType, date_time_ymd,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let dir = std::env::args().nth(1).map_or_else(|| PathBuf::from("fixtures/tls"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;

    let ca = authority(&dir, "ca", "Standin Test CA")?;
    leaf(&dir, "server", &ca, server_params()?)?;
    leaf(&dir, "super", &ca, client_params("super", "super@example.com", "Network Operations")?)?;
    leaf(&dir, "operator", &ca, client_params("operator", "operator@example.com", "Device Management")?)?;
    leaf(&dir, "stranger", &ca, client_params("stranger", "stranger@example.com", "Visitors")?)?;
    let untrusted = authority(&dir, "untrusted-ca", "Untrusted Test CA")?;
    leaf(&dir, "untrusted", &untrusted, client_params("super", "super@example.com", "Network Operations")?)?;
    println!("wrote test certificates to {}", dir.display());
    Ok(())
}

fn validity(p: &mut CertificateParams) {
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2125, 1, 1);
}

/// A self-signed CA: `<name>.pem` and `<name>-key.pem`.
fn authority(dir: &Path, name: &str, cn: &str) -> Result<Issuer<'static, KeyPair>> {
    let mut p = CertificateParams::default();
    validity(&mut p);
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, "Standin Example");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate()?;
    let cert = p.self_signed(&key)?;
    write(dir, name, &cert.pem(), &key.serialize_pem())?;
    Ok(Issuer::new(p, key))
}

fn leaf(dir: &Path, name: &str, ca: &Issuer<'_, KeyPair>, mut p: CertificateParams) -> Result<()> {
    validity(&mut p);
    p.use_authority_key_identifier_extension = true;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, ca)?;
    write(dir, name, &cert.pem(), &key.serialize_pem())
}

fn server_params() -> Result<CertificateParams> {
    let mut p = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()])?;
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.distinguished_name.push(DnType::OrganizationName, "Standin Example");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(p)
}

/// A client certificate with every field Junos Space's parameter-based mode can match.
fn client_params(user: &str, mail: &str, unit: &str) -> Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, user);
    p.distinguished_name.push(DnType::OrganizationalUnitName, unit);
    p.distinguished_name.push(DnType::OrganizationName, "Standin Example");
    p.distinguished_name.push(DnType::LocalityName, "Sunnyvale");
    p.distinguished_name.push(DnType::StateOrProvinceName, "California");
    p.distinguished_name.push(DnType::CountryName, "US");
    // emailAddress (PKCS #9), the subject field Junos Space calls EMAILADDRESS.
    p.distinguished_name
        .push(DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]), rcgen::DnValue::Ia5String(mail.try_into()?));
    p.subject_alt_names = vec![
        SanType::Rfc822Name(mail.try_into()?),
        SanType::OtherName((vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3], OtherNameValue::Utf8String(mail.to_owned()))),
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    Ok(p)
}

fn write(dir: &Path, name: &str, cert: &str, key: &str) -> Result<()> {
    std::fs::write(dir.join(format!("{name}.pem")), cert)?;
    std::fs::write(dir.join(format!("{name}-key.pem")), key)?;
    Ok(())
}
