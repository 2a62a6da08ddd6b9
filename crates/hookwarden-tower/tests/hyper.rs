//! `WebhookLayer` with plain hyper and tower, no axum: `Incoming` boxed by
//! `map_request`, served by `hyper::server::conn::http1`.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use hookwarden_core::{Gate, Verified};
use hookwarden_tower::WebhookLayer;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use support::*;

const BODY: &[u8] = b"{\"z\":0,  \"a\" :\t[1,2]}\n\xfe\xff";

/// Serves the layered handler on 127.0.0.1.
async fn serve_hyper(probe: &Arc<Probe>, store: CountingStore) -> SocketAddr {
    let probe = Arc::clone(probe);
    let service = tower::ServiceBuilder::new()
        .map_request(|req: Request<Incoming>| req.map(BodyExt::boxed))
        .layer(WebhookLayer::new(
            Gate::new(verifier())
                .with_store(store)
                .with_body_limit(LIMIT),
        ))
        .service_fn(move |req: Request<BoxBody<Bytes, hyper::Error>>| {
            let probe = Arc::clone(&probe);
            async move {
                let verified = req.extensions().get::<Verified>().cloned();
                let body = req.into_body().collect().await?.to_bytes();
                let id = verified
                    .as_ref()
                    .and_then(|v| v.delivery_id())
                    .map(|id| id.as_str().to_owned())
                    .unwrap_or_default();
                probe.record(body, verified, None);
                let (status, text) = probe.run(&id).await;
                let mut response = Response::new(Full::new(Bytes::from(text)));
                *response.status_mut() = StatusCode::from_u16(status).expect("status");
                Ok::<_, hyper::Error>(response)
            }
        });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_hyper_gets_exact_bytes_and_rejections() {
    let probe = Probe::new();
    let store = CountingStore::new();
    let addr = serve_hyper(&probe, store.clone()).await;

    for chunked in [None, Some(4)] {
        let id = format!("evt-hyper-{chunked:?}");
        // NTX Pay does not sign its ID header, so deliveries are told apart
        // by their bodies: each iteration sends a body of its own.
        let body = [BODY, id.as_bytes()].concat();
        let mut req = Req::signed("/any/path", &body, &id);
        if let Some(size) = chunked {
            req = req.chunked(size);
        }
        raw_send(addr, &req).await.unwrap().assert_handled(200, &id);
        let seen = probe.last();
        assert_eq!(seen.body, body);
        let verified = seen.delivery.expect("Verified in the extensions");
        assert_eq!(verified.delivery_id().unwrap().as_str(), id);
        raw_send(addr, &req).await.unwrap().assert_duplicate();
    }
    assert_eq!(probe.calls(), 2);
    assert_eq!(store.counts(), (4, 2, 0));

    let forged = Req::post("/any/path")
        .headers(&ntxpay_headers(
            "whsec_an_attackers_secret",
            BODY,
            "evt-forged",
        ))
        .body(BODY);
    raw_send(addr, &forged)
        .await
        .unwrap()
        .assert_rejected(401, "signature_mismatch");
    let big = Req::signed("/", &[b'a'; 4 * LIMIT], "evt-big").chunked(1000);
    raw_send(addr, &big)
        .await
        .unwrap()
        .assert_rejected(413, "body_too_large");
    let lying = Req::signed("/", b"", "evt-lying")
        .content_length(1 << 30)
        .stall();
    raw_send(addr, &lying)
        .await
        .unwrap()
        .assert_rejected(413, "body_too_large");
    assert_eq!(probe.calls(), 2);
    assert_eq!(store.counts(), (4, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_hyper_store_down_is_503() {
    let probe = Probe::new();
    let addr = serve_hyper(&probe, CountingStore::down()).await;
    let response = raw_send(addr, &Req::signed("/", BODY, "evt-down"))
        .await
        .unwrap();
    response.assert_rejected(503, "store_unavailable");
    assert!(!response.text().contains(STORE_ERROR_TEXT));
    assert_eq!(probe.calls(), 0);
}

/// tower-http's `RequestBodyLimitLayer` in front, as plain hyper apps set a
/// limit: its `Limited` body fails with a `BoxError`, which is no
/// `std::error::Error`, so boxed it is a `BoxBody<Bytes, BoxError>`. The
/// layer takes that body (it accepted only errors implementing `Error`, so
/// this app did not compile), and a body past the outer limit is 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_hyper_behind_a_request_body_limit() {
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let store = CountingStore::new();
    let service = tower::ServiceBuilder::new()
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY.len()))
        .map_request(|req: Request<tower_http::body::Limited<Incoming>>| req.map(BodyExt::boxed))
        .layer(WebhookLayer::new(
            Gate::new(verifier()).with_store(store.clone()),
        ))
        .service_fn(|req: Request<BoxBody<Bytes, BoxError>>| async move {
            let body = req.into_body().collect().await?.to_bytes();
            Ok::<_, BoxError>(Response::new(Full::new(body)))
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });

    let within = raw_send(addr, &Req::signed("/", BODY, "evt-within").chunked(4))
        .await
        .unwrap();
    assert_eq!((within.status, within.body.as_slice()), (200, BODY));
    let over = [BODY, b" "].concat();
    raw_send(addr, &Req::signed("/", &over, "evt-over").chunked(4))
        .await
        .unwrap()
        .assert_rejected(413, "body_too_large");
    assert_eq!(store.counts(), (1, 1, 0));
}
