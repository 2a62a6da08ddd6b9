//! 4pay webhooks received by axum: card and account events signed with
//! `X-Webhook-Signature` (SHA-256), and notifications signed with
//! `api-notification-sign` (SHA-512), each on its own route.
//!
//! Run with: cargo run --example axum_fourpay
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/4pay --scheme 4pay --secret whsec_hookwarden_dev_4pay
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `FOURPAY_SECRET`: the webhook secret configured at 4pay
//!   (default: [`DEV_SECRET`], for local development only).
//! - `FOURPAY_NOTIFICATION_SECRET`: the key of `api-notification-sign`: the
//!   merchant's secret, or 4pay's own key where the merchant set none
//!   (default: the value of `FOURPAY_SECRET`).
//!
//! ```sh
//! echo '{"type":"card_transaction","amount":100}' > body.json
//! cargo run -p hookwarden-cli -- sign --scheme 4pay-sha512 --secret whsec_hookwarden_dev_4pay \
//!     --body-file body.json
//! curl -i http://127.0.0.1:3000/webhooks/4pay/notifications --data-binary @body.json \
//!     -H 'api-notification-sign: <from the line above>'
//! ```
//!
//! Each route checks only its own header: a delivery is never trusted for
//! naming one. 4pay sends no delivery ID, so a retry is recognised by its
//! body; it expects a 2xx within 10 seconds, hence the queue.

use std::error::Error;

use axum::http::StatusCode;
use axum::{extract::State, routing::post, Router};
use bytes::Bytes;
use hookwarden::tower::Delivery;
use hookwarden::{presets, BuildError, Verifier, WebhookLayer};
use tokio::sync::mpsc;

/// The secret used when `FOURPAY_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_4pay";

/// Where verified events wait for the slow work.
type Queue = mpsc::Sender<Bytes>;

/// The app: two routes, one per 4pay signature; verified events go to `queue`.
fn app(secret: &str, notification_secret: &str, queue: Queue) -> Result<Router, BuildError> {
    let events = WebhookLayer::new(Verifier::new(presets::fourpay(), secret)?);
    let notifications = Verifier::new(presets::fourpay_sha512(), notification_secret)?;
    let notifications = WebhookLayer::new(notifications);
    Ok(Router::new()
        .route("/webhooks/4pay", post(on_event).route_layer(events))
        .route(
            "/webhooks/4pay/notifications",
            post(on_event).route_layer(notifications),
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
    let secret = std::env::var("FOURPAY_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let notification_secret =
        std::env::var("FOURPAY_NOTIFICATION_SECRET").unwrap_or_else(|_| secret.clone());
    let (queue, mut events) = mpsc::channel::<Bytes>(1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::info!(bytes = event.len(), "processing a 4pay event");
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on http://{addr}/webhooks/4pay and …/4pay/notifications");
    axum::serve(listener, app(&secret, &notification_secret, queue)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use hookwarden_cli::check::Check;
    use http::HeaderMap;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// The answer as `"<status> <body>"`.
    async fn send(app: &Router, uri: &str, headers: HeaderMap, body: &str) -> String {
        let mut request = http::Request::post(uri)
            .body(Body::from(body.to_owned()))
            .unwrap();
        *request.headers_mut() = headers;
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        format!("{status} {}", String::from_utf8_lossy(&bytes))
    }

    #[tokio::test]
    async fn both_signatures_verified_once_each_on_its_route() {
        let (queue, mut events) = mpsc::channel(8);
        let app = app(DEV_SECRET, "4pay_own_notification_key", queue).unwrap();
        let body = r#"{"type":"card_transaction","amount":100}"#;
        let sha256 = hookwarden::Signer::new(presets::fourpay(), DEV_SECRET).unwrap();
        let sha256 = sha256.sign(body.as_bytes(), &Default::default()).unwrap();
        let sha512 = presets::fourpay_sha512();
        let sha512 = hookwarden::Signer::new(sha512, "4pay_own_notification_key").unwrap();
        let sha512 = sha512.sign(body.as_bytes(), &Default::default()).unwrap();

        for (uri, headers) in [
            ("/webhooks/4pay", &sha256),
            ("/webhooks/4pay/notifications", &sha512),
        ] {
            assert_eq!(send(&app, uri, headers.clone(), body).await, "200 ");
            assert_eq!(events.try_recv().unwrap(), body.as_bytes());
            let again = send(&app, uri, headers.clone(), body).await;
            assert_eq!(again, r#"200 {"status":"duplicate"}"#);
        }

        // Each route reads its own header only.
        let other = send(&app, "/webhooks/4pay", sha512.clone(), body).await;
        assert_eq!(other, r#"401 {"error":"missing_signature"}"#);
        let other = send(&app, "/webhooks/4pay/notifications", sha256, body).await;
        assert_eq!(other, r#"401 {"error":"missing_signature"}"#);
        let forged = send(&app, "/webhooks/4pay/notifications", sha512, "{}").await;
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
    async fn hookwarden_check_passes_on_both_routes() {
        let (queue, mut events) = mpsc::channel(8);
        let addr = serve(app(DEV_SECRET, DEV_SECRET, queue).unwrap()).await;
        for (route, scheme) in [
            ("4pay", presets::fourpay()),
            ("4pay/notifications", presets::fourpay_sha512()),
        ] {
            let url = format!("http://{addr}/webhooks/{route}");
            let check = Check::new(&url, scheme, DEV_SECRET).unwrap();
            let report = check.run(|_| {}).await.unwrap();
            assert!(report.passed(), "{url}\n{report}");
            // The valid delivery was queued; its duplicate was not.
            assert!(events.try_recv().is_ok());
            assert!(events.try_recv().is_err());
        }
    }
}
