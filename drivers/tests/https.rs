//! `https://` targets of the `http` monitor and the `http` resolver against a real TLS
//! server of the test's own (rustls on 127.0.0.1), with a throw-away CA made here:
//! the certificate is checked by default, a `ca_file` makes the test CA trusted, and a
//! wrong CA or a certificate for another name is refused with a reason that says so.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baton_drivers::http::HttpTarget;
use baton_drivers::monitor::{check, MonitorSpec};
use baton_drivers::probe;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

const SECOND: Duration = Duration::from_secs(1);

/// A certificate authority of the test: its certificate (PEM written to `dir`) and key.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    pem_file: PathBuf,
}

fn make_ca(dir: &Path, name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, format!("baton test CA {name}"));
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA certificate");
    let pem_file = dir.join(format!("{name}.pem"));
    std::fs::write(&pem_file, cert.pem()).expect("write CA PEM");
    Ca { cert, key, pem_file }
}

/// A TLS server on 127.0.0.1 whose certificate (signed by `ca`) names `names` (DNS
/// names, or IP addresses when they parse as one); answers every request with `status`.
async fn tls_server(ca: &Ca, names: &[&str], status: &'static str) -> u16 {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    for n in names {
        params.subject_alt_names.push(match n.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*n).try_into().expect("dns name")),
        });
    }
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca.cert, &ca.key).expect("server certificate");
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = ServerConfig::builder().with_no_client_auth().with_single_cert(chain, private).expect("TLS config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (the client distrusts us) just ends this connection.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

fn spec(url: &str, ca_file: Option<&Path>) -> MonitorSpec {
    MonitorSpec::Http { target: HttpTarget::new(url, ca_file).expect("target") }
}

#[tokio::test]
async fn https_monitor_trusts_the_configured_ca_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = make_ca(dir.path(), "ca");
    let other = make_ca(dir.path(), "other");
    let port = tls_server(&ca, &["127.0.0.1", "localhost"], "200 OK").await;
    let url = format!("https://127.0.0.1:{port}/health");

    // The test CA configured: verified, healthy.
    let out = check(&spec(&url, Some(&ca.pem_file)), SECOND).await;
    assert!(out.healthy, "{out:?}");
    assert_eq!(out.detail, format!("{url}: 200 OK"));

    // By name as well as by address (both are in the certificate).
    let out = check(&spec(&format!("https://localhost:{port}/"), Some(&ca.pem_file)), SECOND).await;
    assert!(out.healthy, "{out:?}");

    // The system store does not know the test CA: refused, and the reason says why.
    let out = check(&spec(&url, None), SECOND).await;
    assert!(!out.healthy, "{out:?}");
    assert!(out.detail.contains("UnknownIssuer"), "{out:?}");

    // Another CA configured: the system store is not consulted, and this one refuses.
    let out = check(&spec(&url, Some(&other.pem_file)), SECOND).await;
    assert!(!out.healthy, "{out:?}");
    assert!(out.detail.contains("UnknownIssuer"), "{out:?}");

    // Plain http to a TLS port: no HTTP answer, unhealthy.
    let out = check(&spec(&format!("http://127.0.0.1:{port}/"), None), SECOND).await;
    assert!(!out.healthy, "{out:?}");
}

#[tokio::test]
async fn https_certificate_for_another_name_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = make_ca(dir.path(), "ca");
    let port = tls_server(&ca, &["db.example"], "200 OK").await;
    let out = check(&spec(&format!("https://127.0.0.1:{port}/"), Some(&ca.pem_file)), SECOND).await;
    assert!(!out.healthy, "{out:?}");
    assert!(out.detail.contains("certificate not valid for name \"127.0.0.1\""), "{out:?}");
}

#[tokio::test]
async fn https_status_is_judged_like_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = make_ca(dir.path(), "ca");
    let port = tls_server(&ca, &["127.0.0.1"], "503 Service Unavailable").await;
    let url = format!("https://127.0.0.1:{port}/");
    let out = check(&spec(&url, Some(&ca.pem_file)), SECOND).await;
    assert!(!out.healthy, "{out:?}");
    assert_eq!(out.detail, format!("{url}: 503 Service Unavailable"));

    // The resolver's probe: any HTTP answer counts (B31), a 503 too; an unverified
    // server does not.
    let verified = [HttpTarget::new(&url, Some(&ca.pem_file)).expect("target")];
    assert!(probe::http_any(&verified, SECOND).await);
    let unverified = [HttpTarget::new(&url, None).expect("target")];
    assert!(!probe::http_any(&unverified, SECOND).await);
    let round = probe::http_round(&unverified, SECOND).await;
    assert!(matches!(&round[..], [(u, Err(e))] if *u == url && e.contains("UnknownIssuer")), "{round:?}");
}
