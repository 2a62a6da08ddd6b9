//! The axum extractors: `Delivery` without a layer, and `VerifiedWebhook`
//! taking its `Verifier` from the router's state.
#![cfg(feature = "axum")]

mod support;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::post;
use axum::Router;
use hookwarden_core::Verifier;
use hookwarden_tower::VerifiedWebhook;
use support::*;

const BODY: &[u8] = b"{ \"id\" : \"evt\",\n \"b\":1, \"a\":2 }\xff";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_without_the_layer_is_a_500() {
    for kind in KINDS {
        let probe = Probe::new();
        let app = Router::new()
            .route("/hook", post(handler))
            .with_state(probe.clone());
        let client = kind.client(app).await;
        let response = client.send(&Req::signed("/hook", BODY, "evt-1")).await;
        response.assert_rejected(500, "webhook_layer_missing");
        assert_eq!(probe.calls(), 0, "{kind:?}");
    }
}

#[derive(Clone)]
struct AppState {
    verifier: Verifier,
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// `/hook` taking a `VerifiedWebhook`, with bodies limited to 1 KiB.
fn verified_app(probe: &Arc<Probe>) -> Router {
    let probe = Arc::clone(probe);
    let on_hook = move |webhook: VerifiedWebhook| async move {
        let id = webhook
            .verified
            .delivery_id()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        probe.record(webhook.body, Some(webhook.verified), None);
        probe.run(&id).await.1
    };
    Router::new()
        .route("/hook", post(on_hook))
        .layer(DefaultBodyLimit::max(LIMIT))
        .with_state(AppState {
            verifier: verifier(),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_webhook_hands_over_the_exact_body() {
    for kind in KINDS {
        let probe = Probe::new();
        let client = kind.client(verified_app(&probe)).await;
        for chunked in [None, Some(5)] {
            let mut req = Req::signed("/hook", BODY, "evt-ok");
            if let Some(size) = chunked {
                req = req.chunked(size);
            }
            client.send(&req).await.assert_handled(200, "evt-ok");
            let seen = probe.last();
            assert_eq!(seen.body, BODY, "{kind:?}");
            let verified = seen.delivery.unwrap();
            assert_eq!(verified.scheme(), "ntxpay");
            assert_eq!(verified.delivery_id().unwrap().as_str(), "evt-ok");
        }
        // As documented, the extractor verifies but does not deduplicate.
        assert_eq!(probe.calls(), 2, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_webhook_rejections_are_the_layers() {
    for kind in KINDS {
        let probe = Probe::new();
        let client = kind.client(verified_app(&probe)).await;
        let signed = Req::signed("/hook", BODY, "evt-x");
        let signature = signed.value("x-ntxpay-signature").unwrap().to_vec();
        let cases = [
            (signed.clone().body(b"{}"), 401, "signature_mismatch"),
            (
                signed.clone().without("x-ntxpay-signature"),
                401,
                "missing_signature",
            ),
            (
                signed.clone().header("x-ntxpay-signature", &signature),
                400,
                "duplicate_header",
            ),
            (
                Req::signed("/hook", &[b'a'; LIMIT + 1], "evt-big"),
                413,
                "body_too_large",
            ),
            (
                Req::signed("/hook", &[b'a'; 4 * LIMIT], "evt-big").chunked(512),
                413,
                "body_too_large",
            ),
        ];
        for (req, status, code) in cases {
            let response = client.send(&req).await;
            response.assert_rejected(status, code);
            let sig = String::from_utf8_lossy(&signature);
            assert!(!response.text().contains(&*sig), "{kind:?}");
            assert!(!response.text().contains(SECRET), "{kind:?}");
        }
        assert_eq!(probe.calls(), 0, "{kind:?}");
    }
}

/// `VerifiedWebhook` reads under the default read timeout too (on tokio's
/// paused clock, which jumps to the deadline when every task waits).
#[tokio::test(start_paused = true)]
async fn verified_webhook_answers_a_stalled_body_with_408() {
    let probe = Probe::new();
    let app = verified_app(&probe);
    let mut req = Req::signed("/hook", BODY, "evt-stalled").to_http();
    *req.body_mut() = axum::body::Body::new(Chunks::new([&BODY[..3]]).stalled());

    let started = tokio::time::Instant::now();
    let response = tower::ServiceExt::oneshot(app, req).await.unwrap();
    assert_eq!(response.status(), 408);
    assert!(started.elapsed() >= hookwarden_core::DEFAULT_READ_TIMEOUT);
    let text = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&text[..], br#"{"error":"body_read_timeout"}"#);
    assert_eq!(probe.calls(), 0);
}
