//! Drives the built binary's `send` and `check` against real HTTP servers on
//! 127.0.0.1: an axum app behind hookwarden's `WebhookLayer` (every check
//! passes), and a deliberately naive receiver whose flaws `check` must find,
//! each on its own line.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use axum::Router;
use hmac::{Hmac, KeyInit, Mac};
use hookwarden_core::{presets, Verifier, DEFAULT_BODY_LIMIT, DUPLICATE_BODY};
use hookwarden_tower::WebhookLayer;
use sha2::Sha256;

const NTXPAY_SECRET: &str = "whsec_cli_test_ntxpay";
const STRIPE_SECRET: &str = "whsec_cli_test_stripe";
const SW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const PNX_SECRET: &str = "pnx_cli_test_secret";
const PNX_TOKEN: &str = "Bearer pnx-destination-token";

/// Serves `app` on a free port of 127.0.0.1.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Handler runs per route.
#[derive(Clone, Default)]
struct Runs(Arc<AtomicUsize>);

impl Runs {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// hookwarden in front of four routes: NTX Pay, Stripe and Standard
/// Webhooks by POST, PayNetworx by PUT with the merchant's `Authorization`.
fn hookwarden_app(runs: &Runs) -> Router {
    let route = |scheme, secret: &str| {
        let runs = runs.clone();
        let layer = WebhookLayer::new(Verifier::new(scheme, secret).unwrap());
        (
            move || async move {
                runs.0.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            },
            layer,
        )
    };
    let (ntxpay, ntxpay_layer) = route(presets::ntxpay(), NTXPAY_SECRET);
    let (stripe, stripe_layer) = route(presets::stripe(), STRIPE_SECRET);
    let (sw, sw_layer) = route(presets::standard_webhooks(), SW_SECRET);
    let pnx_runs = runs.clone();
    // Runs after the signature passed, so the header only ever rejects.
    let pnx = move |headers: HeaderMap| async move {
        if headers.get("authorization").map(|v| v.as_bytes()) != Some(PNX_TOKEN.as_bytes()) {
            return StatusCode::UNAUTHORIZED;
        }
        pnx_runs.0.fetch_add(1, Ordering::SeqCst);
        StatusCode::OK
    };
    let pnx_layer = WebhookLayer::new(Verifier::new(presets::paynetworx(), PNX_SECRET).unwrap());
    Router::new()
        .route("/ntxpay", post(ntxpay).route_layer(ntxpay_layer))
        .route("/stripe", post(stripe).route_layer(stripe_layer))
        .route("/sw", post(sw).route_layer(sw_layer))
        .route("/pnx", put(pnx).route_layer(pnx_layer))
}

/// The flaws the naive receiver can have, one at a time or together.
#[derive(Clone, Copy, Default)]
struct Flaws {
    /// Runs the handler for every valid delivery, duplicates included.
    no_dedupe: bool,
    /// Verifies the HMAC of `serde_json::to_vec(&parsed)`, not of the raw body.
    reserialize: bool,
    /// Reads bodies of any size.
    no_size_limit: bool,
}

struct Naive {
    flaws: Flaws,
    seen: Mutex<HashSet<Vec<u8>>>,
    runs: Runs,
}

/// A deliberately naive NTX Pay receiver, to be found out by `check`.
fn naive_app(flaws: Flaws, runs: &Runs) -> Router {
    let state = Arc::new(Naive {
        flaws,
        seen: Mutex::new(HashSet::new()),
        runs: runs.clone(),
    });
    let limit = if flaws.no_size_limit {
        DefaultBodyLimit::disable()
    } else {
        DefaultBodyLimit::max(DEFAULT_BODY_LIMIT)
    };
    Router::new()
        .route("/naive", post(naive))
        .layer(limit)
        .with_state(state)
}

async fn naive(
    State(naive): State<Arc<Naive>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let Some(signature) = headers.get("x-ntxpay-signature") else {
        return (StatusCode::UNAUTHORIZED, "missing signature".into());
    };
    let signed = if naive.flaws.reserialize {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(value) => serde_json::to_vec(&value).unwrap(),
            Err(_) => return (StatusCode::BAD_REQUEST, "not JSON".into()),
        }
    } else {
        body.to_vec()
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(NTXPAY_SECRET.as_bytes()).unwrap();
    mac.update(&signed);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Deliberately naive: `==` on text is not constant-time. Never do this.
    if signature.as_bytes() != expected.as_bytes() {
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    if !naive.flaws.no_dedupe {
        let id = headers
            .get("x-ntxpay-delivery")
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        if !naive.seen.lock().unwrap().insert(id) {
            return (StatusCode::OK, DUPLICATE_BODY.into());
        }
    }
    naive.runs.0.fetch_add(1, Ordering::SeqCst);
    (StatusCode::OK, "ok".into())
}

/// Runs the binary with `args` off the async runtime.
async fn hookwarden(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_hookwarden"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The check names `check` printed with their verdicts, in order; panics
/// unless each of the six checks has exactly one line.
fn verdicts(output: &Output) -> BTreeMap<String, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = BTreeMap::new();
    for line in stdout.lines() {
        let Some((verdict, rest)) = line.split_once("  ") else {
            continue;
        };
        if !["PASS", "FAIL", "SKIP"].contains(&verdict) {
            continue;
        }
        let name = rest.get(..18).unwrap_or(rest).trim().to_owned();
        assert!(
            lines.insert(name.clone(), verdict.to_owned()).is_none(),
            "{name} twice\n{}",
            describe(output)
        );
    }
    let names: Vec<&str> = lines.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "duplicate delivery",
            "forged signature",
            "missing signature",
            "oversized body",
            "stale timestamp",
            "valid delivery",
        ],
        "{}",
        describe(output)
    );
    lines
}

/// The names of the checks that failed.
fn failed(output: &Output) -> Vec<String> {
    verdicts(output)
        .into_iter()
        .filter(|(_, verdict)| verdict == "FAIL")
        .map(|(name, _)| name)
        .collect()
}

fn check_args(url: &str, scheme: &str, secret: &str) -> Vec<String> {
    args(&["check", url, "--scheme", scheme, "--secret", secret])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_against_hookwarden_for_every_scheme() {
    let runs = Runs::default();
    let addr = serve(hookwarden_app(&runs)).await;
    let cases: [(&str, &str, &str, &[&str]); 4] = [
        ("ntxpay", "/ntxpay", NTXPAY_SECRET, &[]),
        ("stripe", "/stripe", STRIPE_SECRET, &[]),
        ("standard-webhooks", "/sw", SW_SECRET, &[]),
        (
            "paynetworx",
            "/pnx",
            PNX_SECRET,
            &[
                "--method",
                "PUT",
                "--header",
                "Authorization: Bearer pnx-destination-token",
            ],
        ),
    ];
    for (scheme, path, secret, extra) in cases {
        let before = runs.get();
        let mut list = check_args(&format!("http://{addr}{path}"), scheme, secret);
        list.extend(args(extra));
        let output = hookwarden(list).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{scheme}\n{}",
            describe(&output)
        );
        let verdicts = verdicts(&output);
        let stale = if scheme == "ntxpay" || scheme == "paynetworx" {
            "SKIP"
        } else {
            "PASS"
        };
        assert_eq!(verdicts["stale timestamp"], stale, "{scheme}");
        assert!(
            verdicts
                .iter()
                .all(|(name, v)| v == "PASS" || name == "stale timestamp"),
            "{scheme}\n{}",
            describe(&output)
        );
        // Six deliveries, one of them processed: the valid one, once.
        assert_eq!(runs.get() - before, 1, "{scheme}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("[1/6] valid delivery"), "{stderr}");
        assert!(stderr.contains("[6/6] oversized body"), "{stderr}");
        assert!(
            !stderr.contains(secret) && !String::from_utf8_lossy(&output.stdout).contains(secret)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fails_paynetworx_without_its_authorization_header_or_by_post() {
    let runs = Runs::default();
    let addr = serve(hookwarden_app(&runs)).await;
    let url = format!("http://{addr}/pnx");

    // Without the header the handler refuses the valid delivery.
    let mut list = check_args(&url, "paynetworx", PNX_SECRET);
    list.extend(args(&["--method", "PUT"]));
    let output = hookwarden(list).await;
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(failed(&output), ["duplicate delivery", "valid delivery"]);

    // POST to a PUT route: 405 to all of them.
    let output = hookwarden(check_args(&url, "paynetworx", PNX_SECRET)).await;
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("405 Method Not Allowed"));
    assert_eq!(runs.get(), 0);
}

/// `check` against the naive receiver with `flaws`: exit 1 (0 when none)
/// and exactly `expected` failing.
async fn check_naive(flaws: Flaws, extra: &[&str], expected: &[&str]) {
    let runs = Runs::default();
    let addr = serve(naive_app(flaws, &runs)).await;
    let mut list = check_args(&format!("http://{addr}/naive"), "ntxpay", NTXPAY_SECRET);
    list.extend(args(extra));
    let output = hookwarden(list).await;
    let code = if expected.is_empty() { 0 } else { 1 };
    assert_eq!(output.status.code(), Some(code), "{}", describe(&output));
    assert_eq!(failed(&output), expected, "{}", describe(&output));
    assert_eq!(verdicts(&output)["stale timestamp"], "SKIP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_receiver_without_flaws_passes() {
    // The `==` compare is a flaw no black-box check can see.
    check_naive(Flaws::default(), &[], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_receiver_without_dedupe_fails_the_duplicate_check() {
    let flaws = Flaws {
        no_dedupe: true,
        ..Flaws::default()
    };
    check_naive(flaws, &[], &["duplicate delivery"]).await;
    // Unless the endpoint is trusted to dedupe silently: the flag says so.
    check_naive(flaws, &["--allow-silent-dedupe"], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_receiver_verifying_reserialized_json_fails_the_valid_delivery() {
    let flaws = Flaws {
        reserialize: true,
        ..Flaws::default()
    };
    // No accepted delivery, so no duplicate to check either.
    check_naive(flaws, &[], &["duplicate delivery", "valid delivery"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_receiver_without_size_limit_fails_the_oversized_body() {
    let flaws = Flaws {
        no_size_limit: true,
        ..Flaws::default()
    };
    check_naive(flaws, &[], &["oversized body"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_receiver_with_every_flaw_fails_each_of_their_lines() {
    let flaws = Flaws {
        no_dedupe: true,
        reserialize: true,
        no_size_limit: true,
    };
    check_naive(
        flaws,
        &[],
        &["duplicate delivery", "oversized body", "valid delivery"],
    )
    .await;
}

/// A `--stale-by` reaching before 1970 signs at 1970, which any tolerance
/// refuses: hookwarden passes, rather than a `t=-…` it must call malformed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_by_before_1970_still_checks_the_window() {
    let runs = Runs::default();
    let addr = serve(hookwarden_app(&runs)).await;
    let mut list = check_args(&format!("http://{addr}/stripe"), "stripe", STRIPE_SECRET);
    list.extend(args(&["--stale-by", "4000000000"]));
    let output = hookwarden(list).await;
    assert_eq!(
        verdicts(&output)["stale timestamp"],
        "PASS",
        "{}",
        describe(&output)
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

/// Output that cannot be written (a full disk, a closed pipe) is exit 2
/// with a message, not a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_with_an_unwritable_stdout_exits_2() {
    let runs = Runs::default();
    let addr = serve(hookwarden_app(&runs)).await;
    let list = check_args(&format!("http://{addr}/ntxpay"), "ntxpay", NTXPAY_SECRET);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_hookwarden"))
            .args(&list)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        stderr.contains("error: cannot write the output"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_oversize_is_configurable() {
    // 512 KiB is under the naive receiver's 1 MiB limit: accepted, so FAIL.
    check_naive(
        Flaws::default(),
        &["--oversize", "524288"],
        &["oversized body"],
    )
    .await;
}

/// A body file in the system temp dir, removed when dropped.
struct BodyFile(std::path::PathBuf);

impl BodyFile {
    fn new(body: &[u8]) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "hookwarden-send-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, body).unwrap();
        Self(path)
    }

    fn path(&self) -> String {
        self.0.to_str().unwrap().to_owned()
    }
}

impl Drop for BodyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn send_args(url: &str, scheme: &str, secret: &str, body: &BodyFile) -> Vec<String> {
    args(&[
        "send",
        url,
        "--scheme",
        scheme,
        "--secret",
        secret,
        "--body-file",
        &body.path(),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_exits_0_on_2xx_and_1_on_401() {
    let runs = Runs::default();
    let addr = serve(hookwarden_app(&runs)).await;
    let url = format!("http://{addr}/ntxpay");
    let body = BodyFile::new(br#"{"event":"cash_in","amount":100}"#);

    let mut list = send_args(&url, "ntxpay", NTXPAY_SECRET, &body);
    list.extend(args(&["--id", "dlv_send_1"]));
    let output = hookwarden(list.clone()).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("200 OK in "), "{stdout}");
    assert!(stdout.lines().next().unwrap().ends_with(" ms"), "{stdout}");
    assert_eq!(runs.get(), 1);

    // The same again: a duplicate, answered 200 with its marker.
    let output = hookwarden(list).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains(DUPLICATE_BODY));
    assert_eq!(runs.get(), 1);

    // Another secret: 401 and its code, exit 1.
    let output = hookwarden(send_args(&url, "ntxpay", "whsec_not_the_secret", &body)).await;
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("401 Unauthorized in "), "{stdout}");
    assert!(
        stdout.contains(r#"{"error":"signature_mismatch"}"#),
        "{stdout}"
    );
    assert_eq!(runs.get(), 1);
}

/// Answers each connection with `answer`, then holds it open.
async fn serve_raw(answer: Vec<u8>) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(&answer).await;
            held.push(socket);
        }
    });
    addr
}

/// The note after a cut answer says why: over 64 KiB, or broken off (here
/// by the timeout), each on a line of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_says_why_an_answer_was_cut() {
    let body = BodyFile::new(b"{}");
    let broken = serve_raw(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart\n".to_vec()).await;
    let mut long = b"HTTP/1.1 200 OK\r\ncontent-length: 70000\r\n\r\n".to_vec();
    long.resize(long.len() + 70_000, b'x');
    let long = serve_raw(long).await;

    let cut = format!("{}\n[answer cut at 64 KiB]\n", "x".repeat(64 * 1024));
    for (addr, expected) in [(broken, "part\n[answer broken off]\n"), (long, &cut)] {
        let mut list = send_args(&format!("http://{addr}/"), "github", "s3cret", &body);
        list.extend(args(&["--timeout", "1"]));
        let output = hookwarden(list).await;
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let (status, answer) = stdout.split_once('\n').unwrap();
        assert!(status.starts_with("200 OK in "), "{stdout:.200}");
        assert!(
            answer == expected,
            "{:?}",
            &answer[answer.len().saturating_sub(60)..]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_puts_with_extra_headers() {
    let runs = Runs::default();
    let addr = serve(hookwarden_app(&runs)).await;
    let url = format!("http://{addr}/pnx");
    let body = BodyFile::new(br#"{"id":"evt_pnx_1","type":"payment.completed"}"#);

    let mut list = send_args(&url, "paynetworx", PNX_SECRET, &body);
    list.extend(args(&[
        "--method",
        "put",
        "--header",
        &format!("Authorization: {PNX_TOKEN}"),
    ]));
    let output = hookwarden(list).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(runs.get(), 1);

    // Without the header the handler refuses (a new event ID, so not a duplicate).
    let body = BodyFile::new(br#"{"id":"evt_pnx_2","type":"payment.completed"}"#);
    let mut list = send_args(&url, "paynetworx", PNX_SECRET, &body);
    list.extend(args(&["--method", "PUT"]));
    let output = hookwarden(list).await;
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(runs.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_exit_2_with_a_clear_message() {
    // A port that was free a moment ago, with nothing listening now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/hook");
    let body = BodyFile::new(b"{}");
    let secret = "whsec_never_printed_anywhere";

    for list in [
        send_args(&url, "ntxpay", secret, &body),
        check_args(&url, "ntxpay", secret),
    ] {
        let output = hookwarden(list).await;
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("error: cannot connect to http://{addr}: "))
                && stderr.to_lowercase().contains("refused"),
            "{stderr}"
        );
        assert!(!stderr.contains(secret), "{stderr}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains("PASS"));
    }
}

/// The URL parser takes `https:user:pass@host` and backslashes for
/// slashes: `check`'s first line must not show that password either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_never_shows_a_url_password() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    for url in [
        format!("http:merchant:hunter2@{addr}/hook"),
        format!("http:\\\\merchant:hunter2@{addr}\\hook"),
        format!("http://merchant:hunter2@{addr}/hook?token=t0k3n"),
    ] {
        let output = hookwarden(check_args(&url, "ntxpay", "whsec_testsecret")).await;
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("checking POST http://{addr}/hook as ntxpay")),
            "{stderr}"
        );
        for secret in ["hunter2", "merchant", "t0k3n"] {
            assert!(!stderr.contains(secret), "{secret} in {stderr}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_are_exit_2() {
    let body = BodyFile::new(b"{}");
    let secret = "whsec_never_printed_anywhere";
    let cases: [(Vec<String>, &str); 6] = [
        (
            send_args("ftp://127.0.0.1/", "ntxpay", secret, &body),
            "invalid URL",
        ),
        (
            send_args("not a url", "ntxpay", secret, &body),
            "invalid URL",
        ),
        (
            send_args("http://127.0.0.1:9/", "ntxpay", "short", &body),
            "secret",
        ),
        (check_args("http://127.0.0.1:9/", "nope", secret), "nope"),
        (
            {
                let mut list = send_args("http://127.0.0.1:9/", "ntxpay", secret, &body);
                list.extend(args(&["--method", "GET"]));
                list
            },
            "GET",
        ),
        (
            {
                let mut list = send_args("http://127.0.0.1:9/", "stripe", secret, &body);
                list.extend(args(&["--id", "evt_1"]));
                list
            },
            "cannot sign",
        ),
    ];
    for (list, needle) in cases {
        let output = hookwarden(list.clone()).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{list:?}\n{}",
            describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{list:?}\n{stderr}");
        assert!(!stderr.contains(secret), "{stderr}");
        assert!(output.stdout.is_empty(), "{}", describe(&output));
    }
}
