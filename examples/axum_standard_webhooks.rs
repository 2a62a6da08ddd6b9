//! Standard Webhooks (and Svix, with `presets::svix()`) received by axum:
//! verified, deduplicated in memory, and queued for the slow work.
//!
//! Run with: cargo run --example axum_standard_webhooks
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/standard --scheme standard-webhooks --secret whsec_aG9va3dhcmRlbl9kZXZfc3RhbmRhcmRfd2ViaG9va3M=
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `STANDARD_WEBHOOKS_SECRET`: the endpoint's secret, `whsec_` + base64
//!   (default: [`DEV_SECRET`], for local development only).
//!
//! ```sh
//! echo '{"type":"invoice.paid","data":{"id":"inv_1"}}' > body.json
//! cargo run -p hookwarden-cli -- sign --scheme standard-webhooks --secret 'whsec_aG9va3dhcmRlbl9kZXZfc3RhbmRhcmRfd2ViaG9va3M=' \
//!     --body-file body.json --id msg_1
//! curl -i http://127.0.0.1:3000/webhooks/standard --data-binary @body.json \
//!     -H 'webhook-id: msg_1' -H 'webhook-timestamp: <from above>' -H 'webhook-signature: <from above>'
//! ```
//!
//! `webhook-signature` holds `v1,<base64>` entries over
//! `<webhook-id>.<webhook-timestamp>.<body>`; the timestamp must be within
//! five minutes. `webhook-id` is signed, so it is the dedupe key.

use std::error::Error;

use axum::http::StatusCode;
use axum::{extract::State, routing::post, Router};
use bytes::Bytes;
use hookwarden::tower::Delivery;
use hookwarden::{presets, BuildError, Verifier, WebhookLayer};
use tokio::sync::mpsc;

/// The secret used when `STANDARD_WEBHOOKS_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_aG9va3dhcmRlbl9kZXZfc3RhbmRhcmRfd2ViaG9va3M=";

/// Where verified events wait for the slow work.
type Queue = mpsc::Sender<Bytes>;

/// The app: one route, behind hookwarden; verified events go to `queue`.
fn app(secret: &str, queue: Queue) -> Result<Router, BuildError> {
    let verifier = Verifier::new(presets::standard_webhooks(), secret)?;
    Ok(Router::new()
        .route(
            "/webhooks/standard",
            post(on_event).route_layer(WebhookLayer::new(verifier)),
        )
        .with_state(queue))
}

/// Runs once per verified, first-time event (taking `Delivery` makes a route
/// without the layer fail with 500): queues it and answers at once. A full
/// queue answers 503: the event stays unhandled, so a retry runs it.
async fn on_event(State(queue): State<Queue>, _: Delivery, body: Bytes) -> StatusCode {
    match queue.try_send(body) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt().init();
    let addr = std::env::var("HOOKWARDEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let secret = std::env::var("STANDARD_WEBHOOKS_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let (queue, mut events) = mpsc::channel::<Bytes>(1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::info!(bytes = event.len(), "processing a Standard Webhooks event");
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on http://{addr}/webhooks/standard");
    axum::serve(listener, app(&secret, queue)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use hookwarden::SignOptions;
    use hookwarden_cli::check::Check;
    use http::{HeaderMap, HeaderValue};
    use http_body_util::BodyExt;
    use std::time::{Duration, SystemTime};
    use tower::ServiceExt;

    /// The answer as `"<status> <body>"`.
    async fn send(app: &Router, headers: HeaderMap, body: &str) -> String {
        let request = http::Request::post("/webhooks/standard");
        let mut request = request.body(Body::from(body.to_owned())).unwrap();
        *request.headers_mut() = headers;
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        format!("{status} {}", String::from_utf8_lossy(&bytes))
    }

    #[tokio::test]
    async fn verified_once_then_duplicate_and_stale_or_forged_refused() {
        let (queue, mut events) = mpsc::channel(8);
        let app = app(DEV_SECRET, queue).unwrap();
        let signer = hookwarden::Signer::new(presets::standard_webhooks(), DEV_SECRET).unwrap();
        let sign =
            |body: &str, options: SignOptions| signer.sign(body.as_bytes(), &options).unwrap();

        let body = r#"{"type":"invoice.paid","data":{"id":"inv_1"}}"#;
        let headers = sign(body, SignOptions::new().with_id("msg_1"));
        assert_eq!(send(&app, headers.clone(), body).await, "200 ");
        assert_eq!(events.try_recv().unwrap(), body.as_bytes());
        let again = send(&app, headers.clone(), body).await;
        assert_eq!(again, r#"200 {"status":"duplicate"}"#);

        // Signed again later under the same `webhook-id`: the same message.
        let retry = SignOptions::new().with_id("msg_1");
        let retry = sign(
            body,
            retry.with_timestamp(SystemTime::now() - Duration::from_secs(60)),
        );
        assert_eq!(
            send(&app, retry, body).await,
            r#"200 {"status":"duplicate"}"#
        );

        // `webhook-id` is signed: a replay under another ID is refused.
        let mut replay = headers.clone();
        replay.insert("webhook-id", HeaderValue::from_static("msg_2"));
        let replay = send(&app, replay, body).await;
        assert_eq!(replay, r#"401 {"error":"signature_mismatch"}"#);

        let old = SignOptions::new()
            .with_id("msg_1")
            .with_timestamp(SystemTime::now() - Duration::from_secs(600));
        let stale = send(&app, sign(body, old), body).await;
        assert_eq!(stale, r#"401 {"error":"stale_timestamp"}"#);

        let forged = send(&app, sign("{}", SignOptions::new().with_id("msg_1")), body).await;
        assert_eq!(forged, r#"401 {"error":"signature_mismatch"}"#);
        let missing = send(&app, HeaderMap::new(), body).await;
        assert_eq!(missing, r#"401 {"error":"missing_signature"}"#);
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
        let url = format!("http://{addr}/webhooks/standard");
        let check = Check::new(&url, presets::standard_webhooks(), DEV_SECRET).unwrap();
        let report = check.run(|_| {}).await.unwrap();
        assert!(report.passed(), "{report}");
        // The valid delivery was queued; its duplicate was not.
        assert!(events.try_recv().is_ok());
        assert!(events.try_recv().is_err());
    }
}
