//! Payment terminal group-endpoint webhooks received by actix-web: signed
//! timestamp + body, a five-minute window, and the validation ping the
//! network sends when the endpoint is created.
//!
//! Run with: cargo run --example actix_terminal
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/terminal --scheme terminal --secret whsec_hookwarden_dev_terminal
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `TERMINAL_SECRET`: the group endpoint's secret
//!   (default: [`DEV_SECRET`], for local development only).
//!
//! Try it as in `examples/axum_terminal.rs`.
//!
//! Assumption: the network's documentation only says that a validation ping
//! on endpoint creation must get a 2xx. This example takes the ping to be a
//! delivery signed like any other whose JSON `event` is `validation` (or
//! `ping`). It passes the same checks, is answered 200, and goes no further.
//! An unsigned ping is refused (401), and endpoint creation then fails
//! loudly rather than a bypass opening.

use actix_web::{web, App, HttpResponse, HttpServer};
use hookwarden::actix::{Delivery, Webhook};
use hookwarden::{presets, BuildError, Verifier};
use tokio::sync::mpsc;

/// The secret used when `TERMINAL_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_terminal";

/// Where verified events wait for the slow work.
type Queue = mpsc::Sender<web::Bytes>;

/// The app's routes: one, behind hookwarden; verified events go to `queue`.
/// Call it once, outside `HttpServer::new`'s factory, so every worker shares
/// one dedupe store.
fn routes(
    secret: &str,
    queue: Queue,
) -> Result<impl Fn(&mut web::ServiceConfig) + Clone, BuildError> {
    let webhook = Webhook::new(Verifier::new(presets::terminal(), secret)?);
    Ok(move |config: &mut web::ServiceConfig| {
        config.app_data(web::Data::new(queue.clone())).service(
            web::resource("/webhooks/terminal")
                .route(web::post().to(on_event).wrap(webhook.clone())),
        );
    })
}

/// Runs once per verified, first-time delivery (taking `Delivery` makes a
/// route without the middleware fail with 500). The validation ping is
/// answered 200; events are queued, or answered 503 when the queue is full.
async fn on_event(queue: web::Data<Queue>, _: Delivery, body: web::Bytes) -> HttpResponse {
    if is_validation_ping(&body) {
        tracing::info!("terminal endpoint validation ping answered");
        return HttpResponse::Ok().finish();
    }
    match queue.try_send(body) {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// Whether a verified body is the validation ping (see the module docs).
fn is_validation_ping(body: &[u8]) -> bool {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let event = json.as_ref().and_then(|json| json.get("event")?.as_str());
    matches!(event, Some("validation" | "ping"))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let addr = std::env::var("HOOKWARDEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let secret = std::env::var("TERMINAL_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let (queue, mut events) = mpsc::channel::<web::Bytes>(1024);
    actix_web::rt::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::info!(bytes = event.len(), "processing a terminal event");
        }
    });
    let routes = routes(&secret, queue)?;
    tracing::info!("listening on http://{addr}/webhooks/terminal");
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
    use hookwarden::SignOptions;
    use hookwarden_cli::check::Check;
    use http::HeaderMap;
    use std::time::{Duration, SystemTime};

    #[actix_web::test]
    async fn ping_answered_events_once_and_stale_or_forged_refused() {
        let (queue, mut events) = mpsc::channel(8);
        let app = init_service(App::new().configure(routes(DEV_SECRET, queue).unwrap())).await;
        // The answer as `"<status> <body>"`.
        let send = |headers: HeaderMap, body: &'static str| {
            let mut request = TestRequest::post()
                .uri("/webhooks/terminal")
                .set_payload(body);
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
        let signer = hookwarden::Signer::new(presets::terminal(), DEV_SECRET).unwrap();
        let sign = |body: &str, options| signer.sign(body.as_bytes(), &options).unwrap();

        let ping = r#"{"event":"validation"}"#;
        let unsigned = send(HeaderMap::new(), ping).await;
        assert_eq!(unsigned, r#"401 {"error":"missing_signature"}"#);
        assert_eq!(send(sign(ping, SignOptions::new()), ping).await, "200 ");
        assert!(events.try_recv().is_err(), "a ping is not an event");

        let body = r#"{"event":"payment.completed","amount":100}"#;
        let headers = sign(body, SignOptions::new());
        assert_eq!(send(headers.clone(), body).await, "200 ");
        assert_eq!(events.try_recv().unwrap(), body.as_bytes());
        let again = send(headers, body).await;
        assert_eq!(again, r#"200 {"status":"duplicate"}"#);

        let old = SystemTime::now() - Duration::from_secs(600);
        let stale = send(sign(body, SignOptions::new().with_timestamp(old)), body).await;
        assert_eq!(stale, r#"401 {"error":"stale_timestamp"}"#);
        let forged = send(sign("{}", SignOptions::new()), body).await;
        assert_eq!(forged, r#"401 {"error":"signature_mismatch"}"#);
        assert!(events.try_recv().is_err());
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
    async fn hookwarden_check_passes() {
        let (queue, mut events) = mpsc::channel(8);
        let (addr, server) = serve(routes(DEV_SECRET, queue).unwrap());
        let url = format!("http://{addr}/webhooks/terminal");
        let check = Check::new(&url, presets::terminal(), DEV_SECRET).unwrap();
        let report = check.run(|_| {}).await.unwrap();
        server.stop(false).await;
        assert!(report.passed(), "{report}");
        // The valid delivery was queued; its duplicate was not.
        assert!(events.try_recv().is_ok());
        assert!(events.try_recv().is_err());
    }
}
