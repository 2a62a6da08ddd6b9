//! Run with: cargo run --example quickstart
//!
//! hookwarden in one command. Starts an axum receiver on 127.0.0.1 behind
//! hookwarden (Standard Webhooks scheme, in-memory dedupe), sends it real
//! HTTP deliveries signed as the `hookwarden` CLI signs them (through its
//! library, `hookwarden_cli::send`), and prints what each one got: the
//! status, the error code and whether the handler ran. Exits 0 only if
//! every outcome is the expected one.
//!
//! The same deliveries from a shell, against any endpoint:
//! `hookwarden send URL --scheme … --secret … --body-file …`, and all of
//! them at once: `hookwarden check URL --scheme … --secret …`.

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use axum::{routing::post, Router};
use hookwarden::{presets, BuildError, Gate, MemoryStore, Verifier, WebhookLayer};
use hookwarden_cli::send::Delivery;

/// The endpoint's secret (Standard Webhooks: `whsec_` + base64). For this
/// demo only.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Another secret of the same format: what a forger would sign with.
const FORGED_SECRET: &str = "whsec_q8dR0wWNeSeD2/9dzyRgeFW1oNA3xqtv";

/// The app: one webhook route behind hookwarden, counting its handler runs.
fn app(secret: &str, runs: Arc<AtomicUsize>) -> Result<Router, BuildError> {
    let verifier = Verifier::new(presets::standard_webhooks(), secret)?;
    let gate = Gate::new(verifier).with_store(MemoryStore::new());
    let handler = post(move || async move {
        runs.fetch_add(1, Ordering::SeqCst);
        StatusCode::OK
    });
    Ok(Router::new().route("/webhooks", handler.route_layer(WebhookLayer::new(gate))))
}

/// The answer a case should get: status, error code, whether the handler ran.
type Expected = (u16, &'static str, bool);

/// One delivery sent, what it got, and what it should have got.
struct Row {
    case: &'static str,
    status: u16,
    code: String,
    ran: bool,
    expected: Expected,
}

impl Row {
    fn as_expected(&self) -> bool {
        (self.status, self.code.as_str(), self.ran) == self.expected
    }
}

/// The error code of a hookwarden answer: `{"error":"<code>"}`, or
/// `duplicate` for `{"status":"duplicate"}`; `-` for any other body.
fn code(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = value.get("error").or_else(|| value.get("status"));
    code.and_then(|c| c.as_str()).unwrap_or("-").to_owned()
}

/// Sends each case to the app at `addr` and records what happened.
async fn scenario(addr: SocketAddr, runs: &AtomicUsize) -> Result<Vec<Row>, Box<dyn Error>> {
    let url = format!("http://{addr}/webhooks");
    let scheme = presets::standard_webhooks();
    let delivery = |secret: &str, id: &str| -> Result<Delivery, hookwarden_cli::Error> {
        Ok(Delivery::new(&url, scheme.clone(), secret)?.with_id(id))
    };
    let body =
        |id: &str| format!(r#"{{"id": "{id}", "type": "payment.completed", "amount": 1.50}}"#);
    let an_hour_ago = SystemTime::now()
        .checked_sub(Duration::from_secs(3600))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut oversized = body("evt_5").into_bytes();
    oversized.resize(2 * hookwarden::DEFAULT_BODY_LIMIT, b' ');

    // The valid delivery, kept to be sent again as the duplicate.
    let valid = delivery(SECRET, "evt_1")?.with_timestamp(SystemTime::now());
    let cases: Vec<(&'static str, Delivery, Vec<u8>, Expected)> = vec![
        (
            "valid",
            valid.clone(),
            body("evt_1").into_bytes(),
            (200, "-", true),
        ),
        (
            "duplicate",
            valid,
            body("evt_1").into_bytes(),
            (200, "duplicate", false),
        ),
        (
            "forged signature",
            delivery(FORGED_SECRET, "evt_2")?,
            body("evt_2").into_bytes(),
            (401, "signature_mismatch", false),
        ),
        (
            "stale timestamp",
            delivery(SECRET, "evt_3")?.with_timestamp(an_hour_ago),
            body("evt_3").into_bytes(),
            (401, "stale_timestamp", false),
        ),
        (
            "missing signature",
            delivery(SECRET, "evt_4")?.without_header(scheme.signature_header().clone()),
            body("evt_4").into_bytes(),
            (401, "missing_signature", false),
        ),
        (
            "oversized (2 MiB)",
            delivery(SECRET, "evt_5")?,
            oversized,
            (413, "body_too_large", false),
        ),
    ];

    let mut rows = Vec::new();
    for (case, delivery, body, expected) in cases {
        let before = runs.load(Ordering::SeqCst);
        let answer = delivery.send(body).await?;
        rows.push(Row {
            case,
            status: answer.status().as_u16(),
            code: code(answer.body()),
            ran: runs.load(Ordering::SeqCst) > before,
            expected,
        });
    }
    Ok(rows)
}

/// Serves the app on a free port of 127.0.0.1 and runs the scenario on it.
async fn run() -> Result<Vec<Row>, Box<dyn Error>> {
    let runs = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = app(SECRET, runs.clone())?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let rows = scenario(addr, &runs).await;
    server.abort();
    rows
}

fn print(rows: &[Row]) {
    let yes_no = |ran| if ran { "yes" } else { "no" };
    println!(
        "{:<18}  {:<6}  {:<18}  {:<11}  outcome",
        "case", "status", "error code", "handler ran"
    );
    for row in rows {
        let outcome = if row.as_expected() {
            "as expected".to_owned()
        } else {
            let (status, code, ran) = row.expected;
            format!(
                "UNEXPECTED: wanted {status} {code}, handler ran: {}",
                yes_no(ran)
            )
        };
        println!(
            "{:<18}  {:<6}  {:<18}  {:<11}  {outcome}",
            row.case,
            row.status,
            row.code,
            yes_no(row.ran)
        );
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    println!("hookwarden quickstart: an axum receiver on 127.0.0.1, six real deliveries\n");
    match run().await {
        Ok(rows) => {
            print(&rows);
            if rows.iter().all(Row::as_expected) {
                println!("\nevery delivery got the expected answer");
                ExitCode::SUCCESS
            } else {
                println!("\nsome deliveries did NOT get the expected answer");
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("quickstart failed: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_delivery_gets_the_expected_answer() {
        let rows = run().await.unwrap();
        let cases: Vec<_> = rows.iter().map(|row| row.case).collect();
        assert_eq!(
            cases,
            [
                "valid",
                "duplicate",
                "forged signature",
                "stale timestamp",
                "missing signature",
                "oversized (2 MiB)"
            ]
        );
        for row in &rows {
            assert!(
                row.as_expected(),
                "{}: got {} {} ran {}, wanted {:?}",
                row.case,
                row.status,
                row.code,
                row.ran,
                row.expected
            );
        }
        // The handler ran once, for the valid delivery.
        assert_eq!(rows.iter().filter(|row| row.ran).count(), 1);
    }

    #[test]
    fn the_secrets_are_valid_and_codes_are_read() {
        assert!(app(SECRET, Arc::default()).is_ok());
        assert!(app(FORGED_SECRET, Arc::default()).is_ok());
        assert_eq!(code(br#"{"error":"stale_timestamp"}"#), "stale_timestamp");
        assert_eq!(code(hookwarden::DUPLICATE_BODY.as_bytes()), "duplicate");
        assert_eq!(code(b""), "-");
    }
}
