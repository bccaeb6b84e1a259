//! Which account a verified client certificate belongs to (Junos Space's two certificate modes,
//! spec/junos-space.md "X.509"): the whole certificate equals the account's, or every subject
//! field the account lists (up to four) has the account's value.

use std::sync::Arc;

use x509_parser::asn1_rs::{Any, FromDer};
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    OID_PKCS9_EMAIL_ADDRESS, OID_X509_COMMON_NAME, OID_X509_COUNTRY_NAME, OID_X509_LOCALITY_NAME,
    OID_X509_ORGANIZATION_NAME, OID_X509_ORGANIZATIONAL_UNIT, OID_X509_STATE_OR_PROVINCE_NAME, Oid,
};

use crate::engine::{Account, AccountId, CertificateIdentity};

/// The fields a parameter-based identity can name, in their canonical spelling: subject
/// attributes, then the subject alternative names `rfc822Name` and `msUPN` (the Microsoft
/// user principal name, otherName 1.3.6.1.4.1.311.20.2.3).
pub const FIELDS: [&str; 9] = ["CN", "OU", "O", "L", "ST", "C", "EMAILADDRESS", "rfc822Name", "msUPN"];

/// The canonical spelling of a field name given in any letter case.
pub fn canonical_field(name: &str) -> Option<&'static str> {
    FIELDS.iter().copied().find(|f| f.eq_ignore_ascii_case(name))
}

/// The account whose certificate identity matches the certificate `der`; the first in scenario
/// order when several do. `None` when none does or the certificate cannot be parsed.
pub fn identify(accounts: &[Arc<Account>], der: &[u8]) -> Option<AccountId> {
    let fields = subject_fields(der);
    accounts
        .iter()
        .position(|a| a.certificate.as_ref().is_some_and(|id| check(id, der, fields.as_deref())))
        .map(|i| AccountId(u32::try_from(i).unwrap_or(u32::MAX)))
}

/// Whether the certificate `der` matches one identity.
pub fn matches(identity: &CertificateIdentity, der: &[u8]) -> bool {
    check(identity, der, subject_fields(der).as_deref())
}

fn check(identity: &CertificateIdentity, der: &[u8], fields: Option<&[(&'static str, String)]>) -> bool {
    match identity {
        CertificateIdentity::Complete(stored) => stored.as_slice() == der,
        CertificateIdentity::Fields(wanted) => {
            let Some(have) = fields else { return false };
            !wanted.is_empty()
                && wanted.iter().all(|(name, value)| {
                    have.iter().any(|(n, v)| {
                        n.eq_ignore_ascii_case(name)
                            && if matches!(*n, "EMAILADDRESS" | "rfc822Name" | "msUPN") {
                                v.eq_ignore_ascii_case(value)
                            } else {
                                v == value
                            }
                    })
                })
        }
    }
}

/// Every field of [`FIELDS`] the certificate carries, as (canonical name, value); a name may
/// repeat (two OUs). `None` if the certificate does not parse.
pub fn subject_fields(der: &[u8]) -> Option<Vec<(&'static str, String)>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let attributes: [(&Oid<'static>, &'static str); 7] = [
        (&OID_X509_COMMON_NAME, "CN"),
        (&OID_X509_ORGANIZATIONAL_UNIT, "OU"),
        (&OID_X509_ORGANIZATION_NAME, "O"),
        (&OID_X509_LOCALITY_NAME, "L"),
        (&OID_X509_STATE_OR_PROVINCE_NAME, "ST"),
        (&OID_X509_COUNTRY_NAME, "C"),
        (&OID_PKCS9_EMAIL_ADDRESS, "EMAILADDRESS"),
    ];
    let mut out = Vec::new();
    for attr in cert.subject().iter_attributes() {
        if let Some((_, name)) = attributes.iter().find(|(oid, _)| *oid == attr.attr_type())
            && let Ok(value) = attr.as_str()
        {
            out.push((*name, value.to_owned()));
        }
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::RFC822Name(mail) => out.push(("rfc822Name", (*mail).to_owned())),
                GeneralName::OtherName(oid, value) if oid.to_id_string() == MS_UPN => {
                    if let Some(upn) = explicit_utf8(value) {
                        out.push(("msUPN", upn));
                    }
                }
                _ => {}
            }
        }
    }
    Some(out)
}

/// OID of the Microsoft user principal name otherName.
const MS_UPN: &str = "1.3.6.1.4.1.311.20.2.3";

/// The string inside an otherName value, `[0] EXPLICIT UTF8String`.
fn explicit_utf8(value: &[u8]) -> Option<String> {
    let (_, outer) = Any::from_der(value).ok()?;
    let (_, inner) = Any::from_der(outer.data).ok()?;
    String::from_utf8(inner.data.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(pem: &[u8]) -> Vec<u8> {
        crate::tls::parse_certificate(pem).unwrap().to_vec()
    }

    #[test]
    fn every_documented_field_is_read_from_the_subject_and_alternative_names() {
        let fields = subject_fields(&der(include_bytes!("../../fixtures/tls/super.pem"))).unwrap();
        let get = |name: &str| fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("CN"), Some("super"));
        assert_eq!(get("OU"), Some("Network Operations"));
        assert_eq!(get("O"), Some("Standin Example"));
        assert_eq!(get("L"), Some("Sunnyvale"));
        assert_eq!(get("ST"), Some("California"));
        assert_eq!(get("C"), Some("US"));
        assert_eq!(get("EMAILADDRESS"), Some("super@example.com"));
        assert_eq!(get("rfc822Name"), Some("super@example.com"));
        assert_eq!(get("msUPN"), Some("super@example.com"));
    }

    #[test]
    fn identities_match_whole_certificates_or_every_listed_field() {
        let sup = der(include_bytes!("../../fixtures/tls/super.pem"));
        let op = der(include_bytes!("../../fixtures/tls/operator.pem"));
        assert!(matches(&CertificateIdentity::Complete(sup.clone()), &sup));
        assert!(!matches(&CertificateIdentity::Complete(sup.clone()), &op));
        let fields = |pairs: &[(&str, &str)]| {
            CertificateIdentity::Fields(pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect())
        };
        assert!(matches(&fields(&[("CN", "operator"), ("C", "US")]), &op));
        assert!(matches(&fields(&[("EMAILADDRESS", "Operator@Example.com")]), &op), "mail is case-insensitive");
        assert!(!matches(&fields(&[("CN", "Operator")]), &op), "CN is compared exactly");
        assert!(!matches(&fields(&[("CN", "operator"), ("O", "Juniper")]), &op));
        assert!(!matches(&fields(&[]), &op), "an empty identity matches nothing");
        assert!(!matches(&fields(&[("CN", "operator")]), b"not a certificate"));

        let accounts: Vec<Arc<Account>> = [None, Some(fields(&[("CN", "operator")])), Some(fields(&[("C", "US")]))]
            .into_iter()
            .map(|certificate| Arc::new(Account { certificate, ..Account::default() }))
            .collect();
        assert_eq!(identify(&accounts, &op), Some(AccountId(1)), "first match in scenario order");
        assert_eq!(identify(&accounts, &sup), Some(AccountId(2)));
    }

    #[test]
    fn field_names_take_any_letter_case() {
        assert_eq!(canonical_field("cn"), Some("CN"));
        assert_eq!(canonical_field("emailaddress"), Some("EMAILADDRESS"));
        assert_eq!(canonical_field("RFC822NAME"), Some("rfc822Name"));
        assert_eq!(canonical_field("UID"), None);
    }
}
