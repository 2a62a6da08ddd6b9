//! GitHub webhooks received by axum: verified, deduplicated in memory, and
//! queued for the slow work.
//!
//! Run with: cargo run --example axum_github
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/github --scheme github --secret hookwarden_dev_github
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `GITHUB_WEBHOOK_SECRET`: the webhook's secret, as entered in the
//!   repository or organization settings (default: [`DEV_SECRET`], for local
//!   development only).
//!
//! ```sh
//! echo '{"action":"opened","number":1}' > body.json
//! cargo run -p hookwarden-cli -- sign --scheme github --secret 'hookwarden_dev_github' \
//!     --body-file body.json --id d-1
//! curl -i http://127.0.0.1:3000/webhooks/github --data-binary @body.json \
//!     -H 'x-github-delivery: d-1' -H 'x-hub-signature-256: <from above>'
//! ```
//!
//! `X-Hub-Signature-256: sha256=<hex>` covers the body only. GitHub does not
//! sign `X-GitHub-Delivery`, so the body is the dedupe key (a redelivery
//! resends the same body). The `ping` sent when a webhook is created is
//! signed like any delivery, so it is answered 200 like any. GitHub does not
//! redeliver a failed delivery by itself (GitHub docs, "Handling failed
//! webhook deliveries"): redeliver it from the webhook's settings or API.

use std::error::Error;

use axum::http::StatusCode;
use axum::{extract::State, routing::post, Router};
use bytes::Bytes;
use hookwarden::tower::Delivery;
use hookwarden::{presets, BuildError, Verifier, WebhookLayer};
use tokio::sync::mpsc;

/// The secret used when `GITHUB_WEBHOOK_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "hookwarden_dev_github";

/// Where verified events wait for the slow work.
type Queue = mpsc::Sender<Bytes>;

/// The app: one route, behind hookwarden; verified events go to `queue`.
fn app(secret: &str, queue: Queue) -> Result<Router, BuildError> {
    let verifier = Verifier::new(presets::github(), secret)?;
    Ok(Router::new()
        .route(
            "/webhooks/github",
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
    let secret = std::env::var("GITHUB_WEBHOOK_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let (queue, mut events) = mpsc::channel::<Bytes>(1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::info!(bytes = event.len(), "processing a GitHub event");
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on http://{addr}/webhooks/github");
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
    use tower::ServiceExt;

    /// The answer as `"<status> <body>"`.
    async fn send(app: &Router, headers: HeaderMap, body: &str) -> String {
        let request = http::Request::post("/webhooks/github");
        let mut request = request.body(Body::from(body.to_owned())).unwrap();
        *request.headers_mut() = headers;
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        format!("{status} {}", String::from_utf8_lossy(&bytes))
    }

    #[tokio::test]
    async fn verified_once_then_duplicate_and_forgeries_refused() {
        let (queue, mut events) = mpsc::channel(8);
        let app = app(DEV_SECRET, queue).unwrap();
        let signer = hookwarden::Signer::new(presets::github(), DEV_SECRET).unwrap();
        let sign =
            |body: &str, options: SignOptions| signer.sign(body.as_bytes(), &options).unwrap();

        let body = r#"{"action":"opened","number":1}"#;
        let headers = sign(body, SignOptions::new().with_id("d-1"));
        assert_eq!(send(&app, headers.clone(), body).await, "200 ");
        assert_eq!(events.try_recv().unwrap(), body.as_bytes());
        let again = send(&app, headers.clone(), body).await;
        assert_eq!(again, r#"200 {"status":"duplicate"}"#);

        // `X-GitHub-Delivery` is not signed: a replay under another ID is still a duplicate.
        let mut replay = headers.clone();
        replay.insert("x-github-delivery", HeaderValue::from_static("d-2"));
        let replay = send(&app, replay, body).await;
        assert_eq!(replay, r#"200 {"status":"duplicate"}"#);

        let forged = send(&app, sign("{}", SignOptions::new().with_id("d-1")), body).await;
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
        let url = format!("http://{addr}/webhooks/github");
        let check = Check::new(&url, presets::github(), DEV_SECRET).unwrap();
        let report = check.run(|_| {}).await.unwrap();
        assert!(report.passed(), "{report}");
        // The valid delivery was queued; its duplicate was not.
        assert!(events.try_recv().is_ok());
        assert!(events.try_recv().is_err());
    }
}
