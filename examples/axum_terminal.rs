//! Payment terminal group-endpoint webhooks received by axum: signed
//! timestamp + body, a five-minute window, and the validation ping the
//! network sends when the endpoint is created.
//!
//! Run with: cargo run --example axum_terminal
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/terminal --scheme terminal --secret whsec_hookwarden_dev_terminal
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `TERMINAL_SECRET`: the group endpoint's secret
//!   (default: [`DEV_SECRET`], for local development only).
//!
//! ```sh
//! echo '{"event":"payment.completed","amount":100}' > body.json
//! cargo run -p hookwarden-cli -- sign --scheme terminal --secret whsec_hookwarden_dev_terminal \
//!     --body-file body.json
//! curl -i http://127.0.0.1:3000/webhooks/terminal --data-binary @body.json \
//!     -H 'x-timestamp: <from above>' -H 'x-signature: <from above>'
//! ```
//!
//! Assumption: the network's documentation only says that a validation ping
//! on endpoint creation must get a 2xx. This example takes the ping to be a
//! delivery signed like any other whose JSON `event` is `validation` (or
//! `ping`). It passes the same checks, is answered 200, and goes no further.
//! An unsigned ping is refused (401), and endpoint creation then fails
//! loudly rather than a bypass opening.

use std::error::Error;

use axum::http::StatusCode;
use axum::{extract::State, routing::post, Router};
use bytes::Bytes;
use hookwarden::tower::Delivery;
use hookwarden::{presets, BuildError, Verifier, WebhookLayer};
use tokio::sync::mpsc;

/// The secret used when `TERMINAL_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_terminal";

/// Where verified events wait for the slow work.
type Queue = mpsc::Sender<Bytes>;

/// The app: one route, behind hookwarden; verified events go to `queue`.
fn app(secret: &str, queue: Queue) -> Result<Router, BuildError> {
    let verifier = Verifier::new(presets::terminal(), secret)?;
    Ok(Router::new()
        .route(
            "/webhooks/terminal",
            post(on_event).route_layer(WebhookLayer::new(verifier)),
        )
        .with_state(queue))
}

/// Runs once per verified, first-time delivery (taking `Delivery` makes a
/// route without the layer fail with 500). The validation ping is answered
/// 200; events are queued, or answered 503 when the queue is full.
async fn on_event(State(queue): State<Queue>, _: Delivery, body: Bytes) -> StatusCode {
    if is_validation_ping(&body) {
        tracing::info!("terminal endpoint validation ping answered");
        return StatusCode::OK;
    }
    match queue.try_send(body) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Whether a verified body is the validation ping (see the module docs).
fn is_validation_ping(body: &[u8]) -> bool {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let event = json.as_ref().and_then(|json| json.get("event")?.as_str());
    matches!(event, Some("validation" | "ping"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt().init();
    let addr = std::env::var("HOOKWARDEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let secret = std::env::var("TERMINAL_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let (queue, mut events) = mpsc::channel::<Bytes>(1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::info!(bytes = event.len(), "processing a terminal event");
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on http://{addr}/webhooks/terminal");
    axum::serve(listener, app(&secret, queue)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use hookwarden::SignOptions;
    use hookwarden_cli::check::Check;
    use http::HeaderMap;
    use http_body_util::BodyExt;
    use std::time::{Duration, SystemTime};
    use tower::ServiceExt;

    /// The answer as `"<status> <body>"`.
    async fn send(app: &Router, headers: HeaderMap, body: &str) -> String {
        let request = http::Request::post("/webhooks/terminal");
        let mut request = request.body(Body::from(body.to_owned())).unwrap();
        *request.headers_mut() = headers;
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        format!("{status} {}", String::from_utf8_lossy(&bytes))
    }

    #[tokio::test]
    async fn ping_answered_events_once_and_stale_or_forged_refused() {
        let (queue, mut events) = mpsc::channel(8);
        let app = app(DEV_SECRET, queue).unwrap();
        let signer = hookwarden::Signer::new(presets::terminal(), DEV_SECRET).unwrap();
        let sign = |body: &str, options| signer.sign(body.as_bytes(), &options).unwrap();

        let ping = r#"{"event":"validation"}"#;
        let unsigned = send(&app, HeaderMap::new(), ping).await;
        assert_eq!(unsigned, r#"401 {"error":"missing_signature"}"#);
        assert_eq!(
            send(&app, sign(ping, SignOptions::new()), ping).await,
            "200 "
        );
        assert!(events.try_recv().is_err(), "a ping is not an event");

        let body = r#"{"event":"payment.completed","amount":100}"#;
        let headers = sign(body, SignOptions::new());
        assert_eq!(send(&app, headers.clone(), body).await, "200 ");
        assert_eq!(events.try_recv().unwrap(), body.as_bytes());
        let again = send(&app, headers, body).await;
        assert_eq!(again, r#"200 {"status":"duplicate"}"#);

        let old = SystemTime::now() - Duration::from_secs(600);
        let stale = send(
            &app,
            sign(body, SignOptions::new().with_timestamp(old)),
            body,
        )
        .await;
        assert_eq!(stale, r#"401 {"error":"stale_timestamp"}"#);
        let forged = send(&app, sign("{}", SignOptions::new()), body).await;
        assert_eq!(forged, r#"401 {"error":"signature_mismatch"}"#);
        assert!(events.try_recv().is_err());
    }

    /// Serves `app` on a free port of 127.0.0.1 until the test ends.
    async fn serve(app: Router) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[tokio::test]
    async fn hookwarden_check_passes() {
        let (queue, mut events) = mpsc::channel(8);
        let addr = serve(app(DEV_SECRET, queue).unwrap()).await;
        let url = format!("http://{addr}/webhooks/terminal");
        let check = Check::new(&url, presets::terminal(), DEV_SECRET).unwrap();
        let report = check.run(|_| {}).await.unwrap();
        assert!(report.passed(), "{report}");
        // The valid delivery was queued; its duplicate was not.
        assert!(events.try_recv().is_ok());
        assert!(events.try_recv().is_err());
    }
}
