//! NTX Pay webhooks received by axum, verified and deduplicated in memory.
//!
//! Run with: cargo run --example axum_ntxpay
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `NTXPAY_SECRET`: the endpoint's secret from the NTX Pay dashboard
//!   (default: [`DEV_SECRET`], for local development only).
//!
//! Send it a signed delivery with the CLI:
//!
//! ```sh
//! echo '{"event":"cash_in","amount":100}' > body.json
//! cargo run -p hookwarden-cli -- sign --scheme ntxpay --secret whsec_hookwarden_dev_ntxpay \
//!     --id dlv_1 --body-file body.json
//! curl -i http://127.0.0.1:3000/webhooks/ntxpay --data-binary @body.json \
//!     -H 'x-ntxpay-delivery: dlv_1' -H 'x-ntxpay-signature: <from the line above>'
//! ```
//!
//! NTX Pay expects a 200 within 10 seconds: answer first, do slow work after
//! (hand the event to a queue or a spawned task).

use std::error::Error;

use axum::http::StatusCode;
use axum::{routing::post, Router};
use bytes::Bytes;
use hookwarden::tower::Delivery;
use hookwarden::{presets, BuildError, Verifier, WebhookLayer};

/// The secret used when `NTXPAY_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_ntxpay";

/// The app: one route, behind hookwarden.
fn app(secret: &str) -> Result<Router, BuildError> {
    let verifier = Verifier::new(presets::ntxpay(), secret)?;
    Ok(Router::new()
        .route("/webhooks/ntxpay", post(on_delivery))
        .route_layer(WebhookLayer::new(verifier)))
}

/// Runs once per verified, first-time delivery, with the exact signed bytes.
async fn on_delivery(delivery: Delivery, body: Bytes) -> StatusCode {
    tracing::info!(
        delivery_id = ?delivery.delivery_id().map(|id| id.as_str()),
        bytes = body.len(),
        "NTX Pay delivery received"
    );
    StatusCode::OK
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt().init();
    let addr = std::env::var("HOOKWARDEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let secret = std::env::var("NTXPAY_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on http://{addr}/webhooks/ntxpay");
    axum::serve(listener, app(&secret)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn send(app: &Router, body: &'static str, headers: &http::HeaderMap) -> (u16, String) {
        let mut request = Request::post("/webhooks/ntxpay")
            .body(Body::from(body))
            .unwrap();
        request.headers_mut().extend(headers.clone());
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn verified_once_then_duplicate_and_forgeries_refused() {
        let app = app(DEV_SECRET).unwrap();
        let body = r#"{"event":"cash_in","amount":100}"#;
        let signer = hookwarden::Signer::new(presets::ntxpay(), DEV_SECRET).unwrap();
        let headers = signer
            .sign(
                body.as_bytes(),
                &hookwarden::SignOptions::new().with_id("dlv_1"),
            )
            .unwrap();

        assert_eq!(send(&app, body, &headers).await, (200, String::new()));
        assert_eq!(
            send(&app, body, &headers).await,
            (200, hookwarden::DUPLICATE_BODY.to_owned())
        );

        let forged = signer
            .sign(b"{}", &hookwarden::SignOptions::new().with_id("dlv_2"))
            .unwrap();
        assert_eq!(
            send(&app, body, &forged).await,
            (401, r#"{"error":"signature_mismatch"}"#.to_owned())
        );
        assert_eq!(
            send(&app, body, &http::HeaderMap::new()).await,
            (401, r#"{"error":"missing_signature"}"#.to_owned())
        );
    }

    #[test]
    fn the_development_secret_is_a_valid_ntxpay_secret() {
        assert!(app(DEV_SECRET).is_ok());
        assert!(app("short").is_err());
    }
}
