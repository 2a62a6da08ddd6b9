//! NTX Pay webhooks received by two replicas of an axum app that share one
//! Redis: a delivery is handled once, whichever replica its copies reach.
//!
//! Run with: cargo run --example axum_redis --features redis
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/ntxpay --scheme ntxpay --secret whsec_hookwarden_dev_ntxpay
//!
//! - `REDIS_URL`: the shared Redis, 7.0 or later (default
//!   `redis://127.0.0.1:6379`; `redis://:password@host:6379/0` with a
//!   password). Never logged.
//! - `HOOKWARDEN_ADDRS`: where the replicas listen, comma-separated (default
//!   `127.0.0.1:3000,127.0.0.1:3001`). Real replicas are separate machines;
//!   here they are two listeners in one process, each with its own
//!   connection to Redis.
//! - `NTXPAY_SECRET`: the endpoint's secret from the NTX Pay dashboard
//!   (default: [`DEV_SECRET`], for local development only).
//!
//! Send the same signed delivery to both replicas: the first answers 200
//! from the handler, the second `{"status":"duplicate"}`.
//!
//! ```sh
//! echo '{"event":"cash_in","amount":100}' > body.json
//! cargo run -p hookwarden-cli -- sign --scheme ntxpay --secret whsec_hookwarden_dev_ntxpay \
//!     --id dlv_1 --body-file body.json
//! for port in 3000 3001; do
//!   curl -i http://127.0.0.1:$port/webhooks/ntxpay --data-binary @body.json \
//!       -H 'x-ntxpay-delivery: dlv_1' -H 'x-ntxpay-signature: <from the line above>'
//! done
//! ```
//!
//! If Redis is down or hung, deliveries are answered 503 (after at most the
//! store's timeout, 500 ms by default) and NTX Pay retries them later; the
//! replicas reconnect by themselves once Redis is back.

use std::error::Error;

use axum::http::StatusCode;
use axum::{routing::post, Router};
use bytes::Bytes;
use hookwarden::redis::RedisStore;
use hookwarden::tower::Delivery;
use hookwarden::{presets, BuildError, Gate, Verifier, WebhookLayer};

/// The secret used when `NTXPAY_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_ntxpay";

/// One replica's app: one route, behind hookwarden, deduplicating in `store`.
fn app(secret: &str, store: RedisStore) -> Result<Router, BuildError> {
    let verifier = Verifier::new(presets::ntxpay(), secret)?;
    Ok(Router::new().route(
        "/webhooks/ntxpay",
        post(on_delivery).route_layer(WebhookLayer::new(Gate::new(verifier).with_store(store))),
    ))
}

/// Runs once per verified, first-time delivery, on one replica only.
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
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let secret = std::env::var("NTXPAY_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let addrs = std::env::var("HOOKWARDEN_ADDRS")
        .unwrap_or_else(|_| "127.0.0.1:3000,127.0.0.1:3001".into());

    let mut replicas = tokio::task::JoinSet::new();
    for addr in addrs.split(',').map(str::trim) {
        // The error says why, never the URL or its password.
        let store = RedisStore::connect(&redis_url).await?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!("replica listening on http://{addr}/webhooks/ntxpay");
        let app = app(&secret, store)?;
        replicas.spawn(async move { axum::serve(listener, app).await });
    }
    while let Some(served) = replicas.join_next().await {
        served??;
    }
    Ok(())
}

#[cfg(test)]
#[path = "../tests/redis_harness/mod.rs"]
mod redis_harness;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis_harness::RedisServer;
    use axum::body::Body;
    use hookwarden_cli::check::Check;
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
    async fn a_copy_on_the_other_replica_is_a_duplicate() {
        let Some(redis) = RedisServer::start() else {
            return;
        };
        let replica = || async {
            let store = RedisStore::connect(&redis.url()).await.unwrap();
            app(DEV_SECRET, store).unwrap()
        };
        let (first, second) = (replica().await, replica().await);

        let body = r#"{"event":"cash_in","amount":100}"#;
        let signer = hookwarden::Signer::new(presets::ntxpay(), DEV_SECRET).unwrap();
        let headers = signer
            .sign(
                body.as_bytes(),
                &hookwarden::SignOptions::new().with_id("dlv_1"),
            )
            .unwrap();
        assert_eq!(send(&first, body, &headers).await, (200, String::new()));
        assert_eq!(
            send(&second, body, &headers).await,
            (200, hookwarden::DUPLICATE_BODY.to_owned())
        );
        assert_eq!(
            send(&first, body, &headers).await,
            (200, hookwarden::DUPLICATE_BODY.to_owned())
        );

        let forged = signer
            .sign(b"{}", &hookwarden::SignOptions::new().with_id("dlv_2"))
            .unwrap();
        assert_eq!(
            send(&second, body, &forged).await,
            (401, r#"{"error":"signature_mismatch"}"#.to_owned())
        );
    }

    #[tokio::test]
    async fn redis_down_is_503_store_unavailable() {
        let Some(mut redis) = RedisServer::start() else {
            return;
        };
        let store = RedisStore::connect(&redis.url()).await.unwrap();
        let app = app(DEV_SECRET, store).unwrap();
        redis.stop();

        let body = r#"{"event":"refund_in","amount":5}"#;
        let headers = hookwarden::Signer::new(presets::ntxpay(), DEV_SECRET)
            .unwrap()
            .sign(body.as_bytes(), &hookwarden::SignOptions::new())
            .unwrap();
        assert_eq!(
            send(&app, body, &headers).await,
            (503, r#"{"error":"store_unavailable"}"#.to_owned())
        );
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
        let Some(redis) = RedisServer::start() else {
            return;
        };
        let store = RedisStore::connect(&redis.url()).await.unwrap();
        let addr = serve(app(DEV_SECRET, store).unwrap()).await;
        let url = format!("http://{addr}/webhooks/ntxpay");
        let check = Check::new(&url, presets::ntxpay(), DEV_SECRET).unwrap();
        let report = check.run(|_| {}).await.unwrap();
        assert!(report.passed(), "{report}");
    }
}
