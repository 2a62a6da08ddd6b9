//! PayNetworx Notifications received by axum: POST or PUT, a bearer token,
//! then the signature, dedupe, and a queue for the slow work.
//!
//! Run with: cargo run --example axum_paynetworx
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/paynetworx --scheme paynetworx --secret whsec_hookwarden_dev_paynetworx --method PUT --header 'Authorization: Bearer hookwarden_dev_token'
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `PAYNETWORX_SECRET`: the destination's signing secret
//!   (default: [`DEV_SECRET`], for local development only).
//! - `PAYNETWORX_TOKEN`: the token in the extra header set on the destination,
//!   `Authorization: Bearer <token>` (default: [`DEV_TOKEN`], for local
//!   development only).
//!
//! ```sh
//! echo '{"id":"evt_1","type":"payment.settled"}' > body.json
//! cargo run -p hookwarden-cli -- sign --scheme paynetworx \
//!     --secret whsec_hookwarden_dev_paynetworx --body-file body.json
//! curl -i -X PUT http://127.0.0.1:3000/webhooks/paynetworx --data-binary @body.json \
//!     -H 'authorization: Bearer hookwarden_dev_token' -H 'x-webhook-signature: <from above>'
//! ```
//!
//! The token is checked first, in constant time, and can only refuse (401
//! `{"error":"invalid_token"}`): PayNetworx sends the header as configured,
//! so it is compared whole. The event ID (the body's `id`) is the dedupe key,
//! whichever method a retry uses.
//!
//! Assumption: PayNetworx sends a confirmation request when a destination
//! is created, and its format is not documented here. This example takes
//! it to be signed, and to carry the token, like any delivery: it then gets
//! 200 and reaches the queue as an event like the others, where the slow
//! work can tell it by its type. Were it unsigned, it would be refused 401
//! (logged as `missing_signature`) and the destination could not be created.

use std::error::Error;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{routing::post, Json, Router};
use bytes::Bytes;
use hookwarden::tower::Delivery;
use hookwarden::{presets, BuildError, Verifier, WebhookLayer};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;

/// The secret used when `PAYNETWORX_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_paynetworx";
/// The token used when `PAYNETWORX_TOKEN` is unset. For local development only.
const DEV_TOKEN: &str = "hookwarden_dev_token";

/// Where verified events wait for the slow work.
type Queue = mpsc::Sender<Bytes>;

/// The `Authorization` value to expect. Never logged.
#[derive(Clone)]
struct Expected(Arc<[u8]>);

/// The app: one route taking POST and PUT, behind the token check and
/// hookwarden; verified events go to `queue`.
fn app(secret: &str, token: &str, queue: Queue) -> Result<Router, BuildError> {
    if token.is_empty() {
        return Err(BuildError::EmptySecret);
    }
    let verifier = Verifier::new(presets::paynetworx(), secret)?;
    let expected = Expected(format!("Bearer {token}").into_bytes().into());
    let route = post(on_event)
        .put(on_event)
        .route_layer(WebhookLayer::new(verifier))
        // Added last, so it runs first: before the body is read.
        .route_layer(middleware::from_fn_with_state(expected, require_token));
    Ok(Router::new()
        .route("/webhooks/paynetworx", route)
        .with_state(queue))
}

/// Refuses a request whose `Authorization` is not the expected one. The
/// comparison time depends on the lengths only.
async fn require_token(State(expected): State<Expected>, request: Request, next: Next) -> Response {
    let given = request.headers().get(header::AUTHORIZATION);
    let given = given.map_or(&b""[..], |value| value.as_bytes());
    if bool::from(given.ct_eq(&expected.0)) {
        return next.run(request).await;
    }
    tracing::warn!(code = "invalid_token", "PayNetworx request refused");
    let body = Json(serde_json::json!({ "error": "invalid_token" }));
    (StatusCode::UNAUTHORIZED, body).into_response()
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
    let secret = std::env::var("PAYNETWORX_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let token = std::env::var("PAYNETWORX_TOKEN").unwrap_or_else(|_| DEV_TOKEN.into());
    let (queue, mut events) = mpsc::channel::<Bytes>(1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::info!(bytes = event.len(), "processing a PayNetworx event");
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on http://{addr}/webhooks/paynetworx");
    axum::serve(listener, app(&secret, &token, queue)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use hookwarden_cli::check::{Check, Kind};
    use http::{HeaderMap, HeaderValue, Method};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// The answer as `"<status> <body>"`.
    async fn send(app: &Router, method: Method, headers: HeaderMap, body: &str) -> String {
        let uri = "/webhooks/paynetworx";
        let mut request = http::Request::builder().method(method).uri(uri);
        *request.headers_mut().unwrap() = headers;
        let request = request.body(Body::from(body.to_owned())).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        format!("{status} {}", String::from_utf8_lossy(&bytes))
    }

    fn signed(body: &str, authorization: &'static str) -> HeaderMap {
        let signer = hookwarden::Signer::new(presets::paynetworx(), DEV_SECRET).unwrap();
        let mut headers = signer.sign(body.as_bytes(), &Default::default()).unwrap();
        if !authorization.is_empty() {
            let value = HeaderValue::from_static(authorization);
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    #[tokio::test]
    async fn post_and_put_verified_once_behind_the_token() {
        let (queue, mut events) = mpsc::channel(8);
        let app = app(DEV_SECRET, DEV_TOKEN, queue).unwrap();
        let bearer = "Bearer hookwarden_dev_token";
        let (post, put) = (Method::POST, Method::PUT);

        // Refused before the signature, using nothing up.
        let first = r#"{"id":"evt_1","type":"payment.settled"}"#;
        for wrong in ["", "Bearer wrong", "bearer hookwarden_dev_token"] {
            let refused = send(&app, post.clone(), signed(first, wrong), first).await;
            assert_eq!(refused, r#"401 {"error":"invalid_token"}"#);
        }
        assert_eq!(
            send(&app, post.clone(), signed(first, bearer), first).await,
            "200 "
        );
        assert_eq!(events.try_recv().unwrap(), first.as_bytes());
        // A retry by PUT is the same event.
        let again = send(&app, put.clone(), signed(first, bearer), first).await;
        assert_eq!(again, r#"200 {"status":"duplicate"}"#);

        let second = r#"{"id":"evt_2","type":"payment.refunded"}"#;
        assert_eq!(
            send(&app, put.clone(), signed(second, bearer), second).await,
            "200 "
        );
        assert_eq!(events.try_recv().unwrap(), second.as_bytes());

        let forged = send(&app, post, signed("{}", bearer), first).await;
        assert_eq!(forged, r#"401 {"error":"signature_mismatch"}"#);
        let mut unsigned = signed(first, bearer);
        unsigned.remove("x-webhook-signature");
        let missing = send(&app, put, unsigned, first).await;
        assert_eq!(missing, r#"401 {"error":"missing_signature"}"#);
        assert!(events.try_recv().is_err());
        assert!(super::app(DEV_SECRET, "", mpsc::channel(1).0).is_err());
    }

    /// Serves `app` on a free port of 127.0.0.1 until the test ends.
    async fn serve(app: Router) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[tokio::test]
    async fn hookwarden_check_passes_by_post_and_put_with_the_token_only() {
        let (queue, mut events) = mpsc::channel(8);
        let addr = serve(app(DEV_SECRET, DEV_TOKEN, queue).unwrap()).await;
        let url = format!("http://{addr}/webhooks/paynetworx");
        let check = Check::new(&url, presets::paynetworx(), DEV_SECRET).unwrap();
        let bearer = HeaderValue::from_static("Bearer hookwarden_dev_token");
        for method in [Method::POST, Method::PUT] {
            let with_token = check.clone().with_method(method.clone());
            let with_token = with_token.with_header(header::AUTHORIZATION, bearer.clone());
            let report = with_token.run(|_| {}).await.unwrap();
            assert!(report.passed(), "{method}\n{report}");
            // The valid delivery was queued; its duplicate was not.
            assert!(events.try_recv().is_ok());
            assert!(events.try_recv().is_err());
        }

        // Without the token, even a validly signed delivery is refused.
        let report = check.run(|_| {}).await.unwrap();
        let valid = report.get(Kind::Valid).unwrap();
        assert_eq!(valid.status(), Some(StatusCode::UNAUTHORIZED), "{report}");
        assert!(valid.reason().contains("invalid_token"), "{report}");
        let failed: Vec<_> = report.failed().collect();
        let expected = [Kind::Valid, Kind::Duplicate, Kind::OversizedBody];
        assert_eq!(failed, expected, "{report}");
        assert!(events.try_recv().is_err());
    }
}
