//! The library as an app's own test suite uses it: `check::Check` and
//! `send::Delivery` against an app served on 127.0.0.1:0, from
//! `#[tokio::test]` (one thread) and from `#[actix_web::test]`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use hookwarden_cli::check::{Check, Kind, Progress, Verdict};
use hookwarden_cli::send::Delivery;
use hookwarden_core::{presets, Verifier, DUPLICATE_BODY};

const SECRET: &str = "whsec_cli_library_test";

/// An NTX Pay route behind hookwarden on axum, counting handler runs.
async fn serve_axum(runs: Arc<AtomicUsize>) -> SocketAddr {
    let layer =
        hookwarden_tower::WebhookLayer::new(Verifier::new(presets::ntxpay(), SECRET).unwrap());
    let app = Router::new()
        .route(
            "/hook",
            post(move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }),
        )
        .route_layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn check_runs_from_a_single_threaded_tokio_test() {
    let runs = Arc::new(AtomicUsize::new(0));
    let addr = serve_axum(runs.clone()).await;
    let mut events = Vec::new();
    let report = Check::new(&format!("http://{addr}/hook"), presets::ntxpay(), SECRET)
        .unwrap()
        .run(|progress| {
            events.push(match progress {
                Progress::Sending { index, total, .. } => format!("sending {index}/{total}"),
                Progress::Done(outcome) => format!("done {}", outcome.kind()),
                _ => "other".to_owned(),
            })
        })
        .await
        .unwrap();

    assert!(report.passed(), "{report}");
    assert_eq!(report.failed().count(), 0);
    assert_eq!(report.outcomes().len(), Kind::ALL.len());
    assert_eq!(events.len(), 2 * Kind::ALL.len());
    assert_eq!(events[0], "sending 1/6");
    assert_eq!(events[11], "done oversized body");
    let valid = report.get(Kind::Valid).unwrap();
    assert_eq!(
        (valid.verdict(), valid.status()),
        (Verdict::Pass, Some(http_ok()))
    );
    let stale = report.get(Kind::StaleTimestamp).unwrap();
    assert_eq!(
        (stale.verdict(), stale.status()),
        (Verdict::NotApplicable, None)
    );
    assert_eq!(
        report
            .get(Kind::OversizedBody)
            .unwrap()
            .status()
            .map(|s| s.as_u16()),
        Some(413)
    );
    assert!(report
        .to_string()
        .ends_with("5 passed, 0 failed, 1 not applicable"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

fn http_ok() -> hookwarden_core::http::StatusCode {
    hookwarden_core::http::StatusCode::OK
}

#[tokio::test]
async fn a_wrong_secret_fails_the_valid_delivery_and_its_duplicate() {
    let addr = serve_axum(Arc::default()).await;
    let report = Check::new(
        &format!("http://{addr}/hook"),
        presets::ntxpay(),
        "whsec_another_secret",
    )
    .unwrap()
    .run(|_| {})
    .await
    .unwrap();
    assert!(!report.passed());
    assert_eq!(
        report.failed().collect::<Vec<_>>(),
        [Kind::Valid, Kind::Duplicate]
    );
    assert!(report
        .get(Kind::Valid)
        .unwrap()
        .reason()
        .contains("signature_mismatch"));
}

/// An endpoint that answers every verified delivery as a duplicate (a
/// dedupe key the same for all, say) processes none of them: its first,
/// fresh delivery must not pass, nor its duplicate with it.
#[tokio::test]
async fn a_fresh_delivery_answered_as_a_duplicate_fails() {
    let layer =
        hookwarden_tower::WebhookLayer::new(Verifier::new(presets::ntxpay(), SECRET).unwrap());
    let app = Router::new()
        .route("/hook", post(|| async { DUPLICATE_BODY }))
        .route_layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let report = Check::new(&format!("http://{addr}/hook"), presets::ntxpay(), SECRET)
        .unwrap()
        .run(|_| {})
        .await
        .unwrap();
    assert_eq!(
        report.failed().collect::<Vec<_>>(),
        [Kind::Valid, Kind::Duplicate],
        "{report}"
    );
    let valid = report.get(Kind::Valid).unwrap();
    assert_eq!(valid.status(), Some(http_ok()));
    assert!(valid.reason().contains("fresh ID"), "{report}");
}

#[tokio::test]
async fn send_answers_and_duplicates() {
    let runs = Arc::new(AtomicUsize::new(0));
    let addr = serve_axum(runs.clone()).await;
    let delivery = Delivery::new(&format!("http://{addr}/hook"), presets::ntxpay(), SECRET)
        .unwrap()
        .with_id("dlv_lib_1");
    let body = br#"{"event":"cash_in"}"#.to_vec();

    let first = delivery.send(body.clone()).await.unwrap();
    assert!(first.is_success());
    assert_eq!(first.body(), b"");
    let again = delivery.send(body).await.unwrap();
    assert_eq!(
        (again.status().as_u16(), again.body()),
        (200, DUPLICATE_BODY.as_bytes())
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_endpoint_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/hook");
    let err = Check::new(&url, presets::ntxpay(), SECRET)
        .unwrap()
        .run(|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect_failed");
    let err = Delivery::new(&url, presets::ntxpay(), SECRET)
        .unwrap()
        .send(b"{}".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connect_failed");
    assert!(err
        .to_string()
        .starts_with(&format!("cannot connect to http://{addr}")));
}

#[actix_web::test]
async fn check_runs_from_an_actix_web_test() {
    use actix_web::{web, App, HttpResponse, HttpServer};
    use hookwarden_actix::Webhook;

    let webhook = Webhook::new(Verifier::new(presets::fourpay(), SECRET).unwrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        App::new().service(
            web::resource("/hook").route(web::post().to(HttpResponse::Ok).wrap(webhook.clone())),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let report = Check::new(&format!("http://{addr}/hook"), presets::fourpay(), SECRET)
        .unwrap()
        .run(|_| {})
        .await
        .unwrap();
    handle.stop(false).await;
    assert!(report.passed(), "{report}");
    assert_eq!(
        report.get(Kind::Duplicate).unwrap().verdict(),
        Verdict::Pass
    );
}
