//! `send` and `check` over HTTPS. hookwarden behind axum on 127.0.0.1 is
//! served with TLS, by a certificate from a throwaway CA. The binary trusts
//! that CA only through `SSL_CERT_FILE`, which rustls-native-certs reads
//! for rustls-platform-verifier on Linux: the same trust path as a deployed
//! endpoint's public CA. Without it, the certificate is refused.

#![cfg(target_os = "linux")]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use hookwarden_core::{presets, Verifier};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

const SECRET: &str = "whsec_cli_https_test";

/// A CA called `name` (its PEM) and a server configuration with a
/// certificate it issued for `127.0.0.1` and `localhost`.
fn pki(name: &str) -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, name);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    (ca_cert.pem(), Arc::new(config))
}

/// Serves `app` over TLS on a free port of 127.0.0.1.
async fn serve_tls(app: Router, config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
        }
    });
    addr
}

fn app(runs: Arc<AtomicUsize>) -> Router {
    let layer =
        hookwarden_tower::WebhookLayer::new(Verifier::new(presets::stripe(), SECRET).unwrap());
    Router::new()
        .route(
            "/hook",
            post(move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }),
        )
        .route_layer(layer)
}

/// A file in the system temp dir, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!(
            "hookwarden-https-test-{}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, contents).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the binary trusting only the CA in `ca_file`.
async fn hookwarden(ca_file: &TempFile, args: Vec<String>) -> Output {
    let ca = ca_file.0.clone();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_hookwarden"))
            .args(&args)
            .env("SSL_CERT_FILE", ca)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_check_work_over_https_with_a_trusted_ca() {
    let (ca_pem, config) = pki("hookwarden test CA");
    let runs = Arc::new(AtomicUsize::new(0));
    let addr = serve_tls(app(runs.clone()), config).await;
    let url = format!("https://{addr}/hook");
    let ca = TempFile::new("ca.pem", ca_pem.as_bytes());
    let body = TempFile::new(
        "body.json",
        br#"{"id":"evt_https_1","type":"payment.completed"}"#,
    );

    let send = vec![
        "send".to_owned(),
        url.clone(),
        "--scheme".into(),
        "stripe".into(),
        "--secret".into(),
        SECRET.into(),
        "--body-file".into(),
        body.0.to_str().unwrap().to_owned(),
    ];
    let output = hookwarden(&ca, send.clone()).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("200 OK in "));
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // Over 1 MiB: refused with 413 before hookwarden reads the body, and
    // the answer is read though the server hangs up mid-body.
    let mut large = br#"{"id":"evt_https_2","type":"payment.completed"}"#.to_vec();
    large.resize(2 * 1024 * 1024, b' ');
    let large = TempFile::new("large.json", &large);
    for _ in 0..5 {
        let mut args = send.clone();
        *args.last_mut().unwrap() = large.0.to_str().unwrap().to_owned();
        let output = hookwarden(&ca, args).await;
        assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.starts_with("413 Payload Too Large in "), "{stdout}");
        assert!(stdout.contains(r#"{"error":"body_too_large"}"#), "{stdout}");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let check = ["check", &url, "--scheme", "stripe", "--secret", SECRET];
    let output = hookwarden(&ca, check.iter().map(|s| (*s).to_owned()).collect()).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("6 passed, 0 failed"));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_connection_error() {
    let (_, config) = pki("hookwarden test CA");
    let (other_ca, _) = pki("another CA");
    let runs = Arc::new(AtomicUsize::new(0));
    let addr = serve_tls(app(runs.clone()), config).await;
    let ca = TempFile::new("other-ca.pem", other_ca.as_bytes());

    let check = [
        "check",
        &format!("https://{addr}/hook"),
        "--scheme",
        "stripe",
        "--secret",
        SECRET,
    ]
    .map(|s| s.to_owned())
    .to_vec();
    let output = hookwarden(&ca, check).await;
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("error: cannot connect to https://{addr}: "))
            && stderr.contains("invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}
