//! Rotating a webhook secret without dropping a delivery: NTX Pay webhooks
//! received by axum, checked against the current and the previous secret.
//!
//! Run with: cargo run --example axum_rotation
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/ntxpay --scheme ntxpay --secret whsec_hookwarden_dev_ntxpay
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `NTXPAY_SECRET`: the current secret (default: [`DEV_SECRET`], for local
//!   development only).
//! - `NTXPAY_PREVIOUS_SECRET`: the secret being retired, accepted too while
//!   set (default: unset).
//!
//! To rotate: deploy with the new secret in `NTXPAY_SECRET` and the old one
//! in `NTXPAY_PREVIOUS_SECRET`; change the secret in the NTX Pay dashboard;
//! once no delivery has been logged as signed with the previous secret for
//! longer than the provider retries, unset `NTXPAY_PREVIOUS_SECRET`.
//! [`Verified::secret_index`](hookwarden::Verified::secret_index) says which
//! secret matched: 0 the current one, 1 the previous one.

use std::error::Error;

use axum::http::StatusCode;
use axum::{extract::State, routing::post, Router};
use bytes::Bytes;
use hookwarden::tower::Delivery;
use hookwarden::{presets, BuildError, Verifier, WebhookLayer};
use tokio::sync::mpsc;

/// The secret used when `NTXPAY_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_ntxpay";

/// Where verified events wait for the slow work, with the index of the
/// secret that matched.
type Queue = mpsc::Sender<(usize, Bytes)>;

/// The app: one route, accepting deliveries signed with `current` or, if
/// given, `previous`; verified events go to `queue`.
fn app(current: &str, previous: Option<&str>, queue: Queue) -> Result<Router, BuildError> {
    let mut verifier = Verifier::new(presets::ntxpay(), current)?;
    if let Some(previous) = previous {
        verifier = verifier.with_secret(previous)?;
    }
    Ok(Router::new()
        .route(
            "/webhooks/ntxpay",
            post(on_event).route_layer(WebhookLayer::new(verifier)),
        )
        .with_state(queue))
}

/// Runs once per verified, first-time event: notes which secret signed it,
/// queues it and answers at once. A full queue answers 503: the event stays
/// unhandled, so a retry runs it.
async fn on_event(State(queue): State<Queue>, delivery: Delivery, body: Bytes) -> StatusCode {
    let secret_index = delivery.secret_index();
    if secret_index > 0 {
        tracing::info!(secret_index, "delivery signed with the previous secret");
    }
    match queue.try_send((secret_index, body)) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt().init();
    let addr = std::env::var("HOOKWARDEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let current = std::env::var("NTXPAY_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let previous = std::env::var("NTXPAY_PREVIOUS_SECRET").ok();
    let (queue, mut events) = mpsc::channel::<(usize, Bytes)>(1024);
    tokio::spawn(async move {
        while let Some((secret_index, event)) = events.recv().await {
            tracing::info!(secret_index, bytes = event.len(), "processing an event");
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on http://{addr}/webhooks/ntxpay");
    axum::serve(listener, app(&current, previous.as_deref(), queue)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use hookwarden::{SignOptions, Signer};
    use hookwarden_cli::check::Check;
    use http::HeaderMap;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const PREVIOUS: &str = "whsec_hookwarden_dev_ntxpay_previous";

    /// The answer as `"<status> <body>"`.
    async fn send(app: &Router, headers: HeaderMap, body: &str) -> String {
        let request = http::Request::post("/webhooks/ntxpay");
        let mut request = request.body(Body::from(body.to_owned())).unwrap();
        *request.headers_mut() = headers;
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        format!("{status} {}", String::from_utf8_lossy(&bytes))
    }

    fn signed(secret: &str, body: &str) -> HeaderMap {
        let signer = Signer::new(presets::ntxpay(), secret).unwrap();
        signer.sign(body.as_bytes(), &SignOptions::new()).unwrap()
    }

    #[tokio::test]
    async fn current_and_previous_secrets_pass_a_third_does_not() {
        let (queue, mut events) = mpsc::channel(8);
        let app = app(DEV_SECRET, Some(PREVIOUS), queue).unwrap();

        for (index, secret, body) in [
            (0, DEV_SECRET, r#"{"event":"cash_in","amount":1}"#),
            (1, PREVIOUS, r#"{"event":"cash_in","amount":2}"#),
        ] {
            assert_eq!(send(&app, signed(secret, body), body).await, "200 ");
            assert_eq!(events.try_recv().unwrap(), (index, Bytes::from(body)));
            let again = send(&app, signed(secret, body), body).await;
            assert_eq!(again, r#"200 {"status":"duplicate"}"#);
        }

        let body = r#"{"event":"cash_in","amount":3}"#;
        let third = send(&app, signed("whsec_some_other_secret", body), body).await;
        assert_eq!(third, r#"401 {"error":"signature_mismatch"}"#);
        let missing = send(&app, HeaderMap::new(), body).await;
        assert_eq!(missing, r#"401 {"error":"missing_signature"}"#);
        assert!(events.try_recv().is_err());

        // Once the previous secret is retired, it no longer passes.
        let (queue, _events) = mpsc::channel(8);
        let retired = super::app(DEV_SECRET, None, queue).unwrap();
        let old = send(&retired, signed(PREVIOUS, body), body).await;
        assert_eq!(old, r#"401 {"error":"signature_mismatch"}"#);
    }

    /// Serves `app` on a free port of 127.0.0.1 until the test ends.
    async fn serve(app: Router) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[tokio::test]
    async fn hookwarden_check_passes_with_either_secret() {
        let (queue, mut events) = mpsc::channel(8);
        let addr = serve(app(DEV_SECRET, Some(PREVIOUS), queue).unwrap()).await;
        let url = format!("http://{addr}/webhooks/ntxpay");
        for (index, secret) in [(0, DEV_SECRET), (1, PREVIOUS)] {
            let check = Check::new(&url, presets::ntxpay(), secret).unwrap();
            let report = check.run(|_| {}).await.unwrap();
            assert!(report.passed(), "secret {index}\n{report}");
            // The valid delivery was queued, matched by that secret; its duplicate was not.
            assert_eq!(events.try_recv().unwrap().0, index);
            assert!(events.try_recv().is_err());
        }
    }
}
