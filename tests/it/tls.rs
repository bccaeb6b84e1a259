//! HTTPS stands and Junos Space X.509 certificate authentication through a real TLS socket
//! (rustls client, ring provider), with the certificates of fixtures/tls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use standin::Stand;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

const LOGIN: &str = "/api/space/user-management/login";
const STATUS: &str = "/api/space/user-management/login-status";
const USERS: &str = "/api/space/user-management/users";
const BASIC_SUPER: &str = "Basic c3VwZXI6anVuaXBlcjEyMw==";
const FIXTURES: &str = "fixtures/tls";

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `JSESSIONIDSSO=…; JSESSIONID=…` from the login's Set-Cookie headers.
    fn cookie_header(&self) -> String {
        self.headers_named("set-cookie").filter_map(|c| c.split(';').next()).collect::<Vec<_>>().join("; ")
    }
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{FIXTURES}/{name}: {e}"))
}

/// A client that trusts `ca_pem` and presents `identity` (a fixture name such as `super`).
fn connector(ca_pem: &[u8], identity: Option<&str>) -> TlsConnector {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(ca.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(name) => {
            let chain: Vec<_> =
                CertificateDer::pem_slice_iter(&pem(&format!("{name}.pem"))).collect::<Result<_, _>>().unwrap();
            let key = PrivateKeyDer::from_pem_slice(&pem(&format!("{name}-key.pem"))).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    TlsConnector::from(Arc::new(config))
}

/// Sends one request over a fresh TLS connection and reads the response (by Content-Length).
/// `Err` when the handshake or the connection fails before a whole response arrived.
async fn send(
    addr: SocketAddr,
    tls: &TlsConnector,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Answer> {
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let mut s = tls.connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n");
        for (n, v) in headers {
            request += &format!("{n}: {v}\r\n");
        }
        request += "\r\n";
        s.write_all(request.as_bytes()).await?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(answer) = parse(&got) {
                return Ok(answer);
            }
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before a whole response"));
            }
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} timed out"))
}

fn parse(bytes: &[u8]) -> Option<Answer> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(": ")).map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
    let len: usize =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok())?;
    (body.len() >= len).then(|| Answer { status, headers, body: body[..len].to_owned() })
}

/// A junos-space HTTPS stand with the fixture server certificate, `client_auth` against the
/// fixture CA, and the `[[stands.accounts]]` tables in `accounts`.
async fn stand(client_auth: &str, accounts: &str) -> Stand {
    let text = format!(
        "[[stands]]\nprofile = \"junos-space\"\nport = 0\n\
         [stands.tls]\ncert = \"{FIXTURES}/server.pem\"\nkey = \"{FIXTURES}/server-key.pem\"\n\
         client_auth = \"{client_auth}\"\nclient_ca = \"{FIXTURES}/ca.pem\"\n{accounts}"
    );
    Stand::builder("junos-space").scenario_str(&text).expect("scenario").start().await.expect("start")
}

const SUPER_COMPLETE: &str = "[[stands.accounts]]\nname = \"super\"\npassword = \"juniper123\"\nid = 131074\n\
     certificate = \"fixtures/tls/super.pem\"\n\
     [[stands.accounts]]\nname = \"operator\"\npassword = \"operator123\"\nid = 131075\n";

#[actix_web::test]
async fn complete_certificate_logs_in_and_opens_every_resource() {
    let stand = stand("optional", SUPER_COMPLETE).await;
    assert!(stand.url().starts_with("https://127.0.0.1:"), "{}", stand.url());
    let ca = pem("ca.pem");
    let (addr, as_super) = (stand.addr(), connector(&ca, Some("super")));

    let login = send(addr, &as_super, "POST", LOGIN, &[]).await.unwrap();
    assert_eq!((login.status, login.body.as_str()), (200, "User logged in"));
    let cookies = login.cookie_header();
    assert!(cookies.starts_with("JSESSIONIDSSO=") && cookies.contains("; JSESSIONID="), "{cookies}");
    assert_eq!(stand.sessions()[0].account.name, "super");

    // The cookies alone keep the session, without a certificate.
    let anonymous = connector(&ca, None);
    let status = send(addr, &anonymous, "GET", STATUS, &[("Cookie", &cookies)]).await.unwrap();
    assert_eq!((status.status, status.body.as_str()), (200, "User is logged in"));

    // Every protected resource accepts the certificate on its own, without a session.
    let users = send(addr, &as_super, "GET", USERS, &[]).await.unwrap();
    assert_eq!(users.status, 200);
    assert!(users.body.contains("<name>super</name>"), "{}", users.body);
    assert_eq!(stand.sessions().len(), 1, "stateless use creates no session");
}

#[actix_web::test]
async fn another_users_certificate_is_the_documented_401() {
    // operator's certificate is trusted, but operator's account has no certificate identity.
    let stand = stand("optional", SUPER_COMPLETE).await;
    let as_operator = connector(&pem("ca.pem"), Some("operator"));
    let login = send(stand.addr(), &as_operator, "POST", LOGIN, &[]).await.unwrap();
    assert_eq!((login.status, login.body.as_str()), (401, "User is not logged in"));
    assert!(login.header("set-cookie").is_none());
    let users = send(stand.addr(), &as_operator, "GET", USERS, &[]).await.unwrap();
    assert_eq!(users.status, 401);
    assert_eq!(users.header("www-authenticate"), Some("Basic realm=\"Junos Space\""));
    assert!(users.body.contains("This request requires HTTP authentication"), "{}", users.body);
    assert!(stand.sessions().is_empty());
}

#[actix_web::test]
async fn parameter_based_identity_matches_up_to_four_subject_fields() {
    let accounts = "[[stands.accounts]]\nname = \"operator\"\npassword = \"operator123\"\n\
         certificate_fields = { CN = \"operator\", OU = \"Device Management\", rfc822Name = \"operator@example.com\", msUPN = \"OPERATOR@example.com\" }\n\
         [[stands.accounts]]\nname = \"super\"\npassword = \"juniper123\"\n\
         certificate_fields = { CN = \"super\", O = \"Another Company\" }\n";
    let stand = stand("optional", accounts).await;
    let ca = pem("ca.pem");
    let login = send(stand.addr(), &connector(&ca, Some("operator")), "POST", LOGIN, &[]).await.unwrap();
    assert_eq!((login.status, login.body.as_str()), (200, "User logged in"));
    assert_eq!(stand.sessions()[0].account.name, "operator");
    // super's certificate says O = "Standin Example": one field differs, no match.
    let login = send(stand.addr(), &connector(&ca, Some("super")), "POST", LOGIN, &[]).await.unwrap();
    assert_eq!((login.status, login.body.as_str()), (401, "User is not logged in"));
    let users = send(stand.addr(), &connector(&ca, Some("super")), "GET", USERS, &[]).await.unwrap();
    assert_eq!(users.status, 401);
}

#[actix_web::test]
async fn optional_client_auth_serves_basic_without_a_certificate_and_refuses_an_untrusted_one_with_401() {
    let stand = stand("optional", SUPER_COMPLETE).await;
    let ca = pem("ca.pem");
    let anonymous = connector(&ca, None);
    let login = send(stand.addr(), &anonymous, "POST", LOGIN, &[("Authorization", BASIC_SUPER)]).await.unwrap();
    assert_eq!((login.status, login.body.as_str()), (200, "User logged in"));
    let users = send(stand.addr(), &anonymous, "GET", USERS, &[("Authorization", BASIC_SUPER)]).await.unwrap();
    assert_eq!(users.status, 200);
    let nothing = send(stand.addr(), &anonymous, "POST", LOGIN, &[]).await.unwrap();
    assert_eq!((nothing.status, nothing.body.as_str()), (401, "User is not logged in"));

    // untrusted.pem names super in every field but comes from another CA: it identifies nobody.
    let untrusted = connector(&ca, Some("untrusted"));
    let login = send(stand.addr(), &untrusted, "POST", LOGIN, &[]).await.unwrap();
    assert_eq!((login.status, login.body.as_str()), (401, "User is not logged in"));
    assert_eq!(send(stand.addr(), &untrusted, "GET", USERS, &[]).await.unwrap().status, 401);
    assert_eq!(stand.sessions().len(), 1);
}

#[actix_web::test]
async fn required_client_auth_refuses_the_handshake_without_a_trusted_certificate() {
    let stand = stand("required", SUPER_COMPLETE).await;
    let ca = pem("ca.pem");
    let no_cert = send(stand.addr(), &connector(&ca, None), "POST", LOGIN, &[("Authorization", BASIC_SUPER)]).await;
    assert!(no_cert.is_err(), "no certificate: {no_cert:?}");
    let untrusted = send(stand.addr(), &connector(&ca, Some("untrusted")), "POST", LOGIN, &[]).await;
    assert!(untrusted.is_err(), "untrusted certificate: {untrusted:?}");

    let as_super = connector(&ca, Some("super"));
    let login = send(stand.addr(), &as_super, "POST", LOGIN, &[]).await.unwrap();
    assert_eq!((login.status, login.body.as_str()), (200, "User logged in"));
    // A trusted certificate that matches no account still reaches the application: 401.
    let stranger = send(stand.addr(), &connector(&ca, Some("stranger")), "POST", LOGIN, &[]).await.unwrap();
    assert_eq!(stranger.status, 401);
    // Basic works with any trusted certificate.
    let basic = send(stand.addr(), &connector(&ca, Some("stranger")), "POST", LOGIN, &[("Authorization", BASIC_SUPER)])
        .await
        .unwrap();
    assert_eq!(basic.status, 200);
}

#[actix_web::test]
async fn client_auth_off_ignores_certificates_and_basic_still_works() {
    let text = format!(
        "[[stands]]\nprofile = \"junos-space\"\nport = 0\n\
         [stands.tls]\ncert = \"{FIXTURES}/server.pem\"\nkey = \"{FIXTURES}/server-key.pem\"\n{SUPER_COMPLETE}"
    );
    let stand = Stand::builder("junos-space").scenario_str(&text).unwrap().start().await.unwrap();
    let ca = pem("ca.pem");
    // The server does not ask, so the client sends no certificate: nobody is identified.
    let login = send(stand.addr(), &connector(&ca, Some("super")), "POST", LOGIN, &[]).await.unwrap();
    assert_eq!(login.status, 401);
    let login =
        send(stand.addr(), &connector(&ca, None), "POST", LOGIN, &[("Authorization", BASIC_SUPER)]).await.unwrap();
    assert_eq!((login.status, login.body.as_str()), (200, "User logged in"));
}

#[actix_web::test]
async fn a_generated_certificate_is_trusted_through_the_ca_the_stand_reports() {
    let text = "[[stands]]\nprofile = \"oracle-sdm\"\nport = 0\n[stands.tls]\ngenerate = true\n";
    let stand = Stand::builder("oracle-sdm").scenario_str(text).unwrap().start().await.unwrap();
    let (ca_pem, ca_file) = stand.generated_ca().expect("a generated CA");
    assert_eq!(std::fs::read_to_string(ca_file).unwrap(), ca_pem);
    let ca_file = ca_file.to_owned();
    let body = r#"{"userName":"admin","password":"password"}"#;
    let tls = connector(ca_pem.as_bytes(), None);
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(stand.addr()).await?;
        let mut s = tls.connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
        let request = format!(
            "POST /rest/v1.3/admin/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(request.as_bytes()).await?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while parse(&got).is_none() {
            let n = s.read(&mut buf).await?;
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
        std::io::Result::Ok(parse(&got).unwrap())
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), exchange).await.unwrap().unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    // Not trusted by the fixture CA: the certificate really is the generated one.
    assert!(send(stand.addr(), &connector(&pem("ca.pem"), None), "GET", "/", &[]).await.is_err());
    stand.stop().await;
    assert!(!ca_file.exists(), "a temporary CA file is removed when the stand stops");
}

#[actix_web::test]
async fn connection_faults_work_on_https_stands() {
    let text = format!(
        "[[stands]]\nprofile = \"junos-space\"\nport = 0\n\
         [stands.tls]\ncert = \"{FIXTURES}/server.pem\"\nkey = \"{FIXTURES}/server-key.pem\"\n\
         [[stands.faults]]\nwhen = {{ op = \"login\" }}\nthen = {{ action = \"reset\" }}\n"
    );
    let stand = Stand::builder("junos-space").scenario_str(&text).unwrap().start().await.unwrap();
    let tls = connector(&pem("ca.pem"), None);
    let reset = send(stand.addr(), &tls, "POST", LOGIN, &[("Authorization", BASIC_SUPER)]).await;
    assert!(reset.is_err(), "{reset:?}");
    let users = send(stand.addr(), &tls, "GET", USERS, &[("Authorization", BASIC_SUPER)]).await.unwrap();
    assert_eq!(users.status, 200);
}

#[actix_web::test]
async fn the_default_scenario_serves_junos_space_over_https_with_both_modes() {
    let scenario = standin::Scenario::embedded_default();
    let mut spec = scenario.stands.into_iter().find(|s| s.id == "junos-space-tls").expect("junos-space-tls");
    assert_eq!(spec.port, 7441);
    spec.port = 0;
    let stand = Stand::start_spec(spec, "127.0.0.1".parse().unwrap(), 1).unwrap();
    let ca = pem("ca.pem");
    for (who, name) in [("super", "super"), ("operator", "operator")] {
        let login = send(stand.addr(), &connector(&ca, Some(who)), "POST", LOGIN, &[]).await.unwrap();
        assert_eq!((login.status, login.body.as_str()), (200, "User logged in"), "{who}");
        assert_eq!(stand.sessions().last().unwrap().account.name, name);
    }
    for who in ["stranger", "untrusted"] {
        let login = send(stand.addr(), &connector(&ca, Some(who)), "POST", LOGIN, &[]).await.unwrap();
        assert_eq!((login.status, login.body.as_str()), (401, "User is not logged in"), "{who}");
    }
    let basic =
        send(stand.addr(), &connector(&ca, None), "POST", LOGIN, &[("Authorization", BASIC_SUPER)]).await.unwrap();
    assert_eq!(basic.status, 200);
}
