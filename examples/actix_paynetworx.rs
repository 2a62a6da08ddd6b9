//! PayNetworx Notifications received by actix-web: POST or PUT, a bearer
//! token, then the signature, dedupe, and a queue for the slow work.
//!
//! Run with: cargo run --example actix_paynetworx
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/paynetworx --scheme paynetworx --secret whsec_hookwarden_dev_paynetworx --method PUT --header 'Authorization: Bearer hookwarden_dev_token'
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `PAYNETWORX_SECRET`: the destination's signing secret
//!   (default: [`DEV_SECRET`], for local development only).
//! - `PAYNETWORX_TOKEN`: the token in the extra header set on the destination,
//!   `Authorization: Bearer <token>` (default: [`DEV_TOKEN`], for local
//!   development only).
//!
//! Try it as in `examples/axum_paynetworx.rs`. The token is checked first,
//! in constant time, and can only refuse (401 `{"error":"invalid_token"}`):
//! PayNetworx sends the header as configured, so it is compared whole. The
//! event ID (the body's `id`) is the dedupe key, whichever method a retry uses.
//!
//! Assumption: PayNetworx sends a confirmation request when a destination
//! is created, and its format is not documented here. This example takes
//! it to be signed, and to carry the token, like any delivery: it then gets
//! 200 and reaches the queue as an event like the others, where the slow
//! work can tell it by its type. Were it unsigned, it would be refused 401
//! (logged as `missing_signature`) and the destination could not be created.

use std::error::Error;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpResponse, HttpServer, Route};
use hookwarden::actix::{Delivery, Webhook};
use hookwarden::{presets, BuildError, Verifier};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;

/// The secret used when `PAYNETWORX_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_paynetworx";
/// The token used when `PAYNETWORX_TOKEN` is unset. For local development only.
const DEV_TOKEN: &str = "hookwarden_dev_token";

/// Where verified events wait for the slow work.
type Queue = mpsc::Sender<web::Bytes>;

/// The app's routes: one resource taking POST and PUT, behind the token
/// check and hookwarden; verified events go to `queue`. Call it once,
/// outside `HttpServer::new`'s factory, so every worker shares one dedupe store.
fn routes(
    secret: &str,
    token: &str,
    queue: Queue,
) -> Result<impl Fn(&mut web::ServiceConfig) + Clone, BuildError> {
    if token.is_empty() {
        return Err(BuildError::EmptySecret);
    }
    let webhook = Webhook::new(Verifier::new(presets::paynetworx(), secret)?);
    // The `Authorization` value to expect. Never logged.
    let expected: Arc<[u8]> = format!("Bearer {token}").into_bytes().into();
    Ok(move |config: &mut web::ServiceConfig| {
        let expected = Arc::clone(&expected);
        let check = move |req: ServiceRequest, next: Next<_>| {
            require_token(Arc::clone(&expected), req, next)
        };
        let route = |method: Route| {
            method
                .to(on_event)
                .wrap(webhook.clone())
                // Wrapped last, so it runs first: before the body is read.
                .wrap(from_fn(check.clone()))
        };
        config.app_data(web::Data::new(queue.clone())).service(
            web::resource("/webhooks/paynetworx")
                .route(route(web::post()))
                .route(route(web::put())),
        );
    })
}

/// Refuses a request whose `Authorization` is not the expected one. The
/// comparison time depends on the lengths only.
async fn require_token<B: MessageBody>(
    expected: Arc<[u8]>,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let given = req.headers().get(header::AUTHORIZATION);
    let given = given.map_or(&b""[..], |value| value.as_bytes());
    if bool::from(given.ct_eq(&expected)) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    tracing::warn!(code = "invalid_token", "PayNetworx request refused");
    let refusal =
        HttpResponse::Unauthorized().json(serde_json::json!({ "error": "invalid_token" }));
    Ok(req.into_response(refusal).map_into_right_body())
}

/// Runs once per verified, first-time event (taking `Delivery` makes a route
/// without the middleware fail with 500): queues it and answers at once. A full
/// queue answers 503: the event stays unhandled, so a retry runs it.
async fn on_event(queue: web::Data<Queue>, _: Delivery, body: web::Bytes) -> HttpResponse {
    match queue.try_send(body) {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt().init();
    let addr = std::env::var("HOOKWARDEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let secret = std::env::var("PAYNETWORX_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let token = std::env::var("PAYNETWORX_TOKEN").unwrap_or_else(|_| DEV_TOKEN.into());
    let (queue, mut events) = mpsc::channel::<web::Bytes>(1024);
    actix_web::rt::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::info!(bytes = event.len(), "processing a PayNetworx event");
        }
    });
    let routes = routes(&secret, &token, queue)?;
    tracing::info!("listening on http://{addr}/webhooks/paynetworx");
    HttpServer::new(move || App::new().configure(routes.clone()))
        .bind(&addr)?
        .run()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::{call_service, init_service, read_body, TestRequest};
    use hookwarden_cli::check::{Check, Kind};
    use http::{HeaderMap, HeaderValue};
    use http::{Method, StatusCode};

    fn signed(body: &str, authorization: &'static str) -> HeaderMap {
        let signer = hookwarden::Signer::new(presets::paynetworx(), DEV_SECRET).unwrap();
        let mut headers = signer.sign(body.as_bytes(), &Default::default()).unwrap();
        if !authorization.is_empty() {
            let value = HeaderValue::from_static(authorization);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        headers
    }

    #[actix_web::test]
    async fn post_and_put_verified_once_behind_the_token() {
        let (queue, mut events) = mpsc::channel(8);
        let routes = routes(DEV_SECRET, DEV_TOKEN, queue).unwrap();
        let app = init_service(App::new().configure(routes)).await;
        // The answer as `"<status> <body>"`.
        let send = |request: TestRequest, headers: HeaderMap, body: &'static str| {
            let mut request = request.uri("/webhooks/paynetworx").set_payload(body);
            for (name, value) in &headers {
                request = request.insert_header((name.as_str(), value.as_bytes()));
            }
            let app = &app;
            async move {
                let response = call_service(app, request.to_request()).await;
                let status = response.status().as_u16();
                format!(
                    "{status} {}",
                    String::from_utf8_lossy(&read_body(response).await)
                )
            }
        };
        let bearer = "Bearer hookwarden_dev_token";

        // Refused before the signature, using nothing up.
        let first = r#"{"id":"evt_1","type":"payment.settled"}"#;
        for wrong in ["", "Bearer wrong", "bearer hookwarden_dev_token"] {
            let refused = send(TestRequest::post(), signed(first, wrong), first).await;
            assert_eq!(refused, r#"401 {"error":"invalid_token"}"#);
        }
        let accepted = send(TestRequest::post(), signed(first, bearer), first).await;
        assert_eq!(accepted, "200 ");
        assert_eq!(events.try_recv().unwrap(), first.as_bytes());
        // A retry by PUT is the same event.
        let again = send(TestRequest::put(), signed(first, bearer), first).await;
        assert_eq!(again, r#"200 {"status":"duplicate"}"#);

        let second = r#"{"id":"evt_2","type":"payment.refunded"}"#;
        let accepted = send(TestRequest::put(), signed(second, bearer), second).await;
        assert_eq!(accepted, "200 ");
        assert_eq!(events.try_recv().unwrap(), second.as_bytes());

        let forged = send(TestRequest::post(), signed("{}", bearer), first).await;
        assert_eq!(forged, r#"401 {"error":"signature_mismatch"}"#);
        let mut unsigned = signed(first, bearer);
        unsigned.remove("x-webhook-signature");
        let missing = send(TestRequest::put(), unsigned, first).await;
        assert_eq!(missing, r#"401 {"error":"missing_signature"}"#);
        assert!(events.try_recv().is_err());
        assert!(super::routes(DEV_SECRET, "", mpsc::channel(1).0).is_err());
    }

    /// Serves the routes on a free port of 127.0.0.1 until the handle stops them.
    fn serve(
        routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    ) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (addr, handle)
    }

    #[actix_web::test]
    async fn hookwarden_check_passes_by_post_and_put_with_the_token_only() {
        let (queue, mut events) = mpsc::channel(8);
        let (addr, server) = serve(routes(DEV_SECRET, DEV_TOKEN, queue).unwrap());
        let url = format!("http://{addr}/webhooks/paynetworx");
        let check = Check::new(&url, presets::paynetworx(), DEV_SECRET).unwrap();
        let bearer = HeaderValue::from_static("Bearer hookwarden_dev_token");
        for method in [Method::POST, Method::PUT] {
            let with_token = check.clone().with_method(method.clone());
            let with_token = with_token.with_header(http::header::AUTHORIZATION, bearer.clone());
            let report = with_token.run(|_| {}).await.unwrap();
            assert!(report.passed(), "{method}\n{report}");
            // The valid delivery was queued; its duplicate was not.
            assert!(events.try_recv().is_ok());
            assert!(events.try_recv().is_err());
        }

        // Without the token, even a validly signed delivery is refused.
        let report = check.run(|_| {}).await.unwrap();
        server.stop(false).await;
        let valid = report.get(Kind::Valid).unwrap();
        assert_eq!(valid.status(), Some(StatusCode::UNAUTHORIZED), "{report}");
        assert!(valid.reason().contains("invalid_token"), "{report}");
        let failed: Vec<_> = report.failed().collect();
        let expected = [Kind::Valid, Kind::Duplicate, Kind::OversizedBody];
        assert_eq!(failed, expected, "{report}");
        assert!(events.try_recv().is_err());
    }
}
