//! Stripe webhooks received by actix-web: verified, deduplicated in memory,
//! and queued for the slow work.
//!
//! Run with: cargo run --example actix_stripe
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/stripe --scheme stripe --secret whsec_hookwarden_dev_stripe
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `STRIPE_WEBHOOK_SECRET`: the endpoint's signing secret (`whsec_…`) from
//!   the Stripe dashboard, used as-is (default: [`DEV_SECRET`], for local
//!   development only).
//!
//! Try it as in `examples/axum_stripe.rs`.
//!
//! `Stripe-Signature` carries the timestamp `t` and one `v1` signature per
//! active secret; any may match, and `t` must be within five minutes. The
//! event's `id` in the body is the dedupe key.

use actix_web::{web, App, HttpResponse, HttpServer};
use hookwarden::actix::{Delivery, Webhook};
use hookwarden::{presets, BuildError, Verifier};
use tokio::sync::mpsc;

/// The secret used when `STRIPE_WEBHOOK_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_stripe";

/// Where verified events wait for the slow work.
type Queue = mpsc::Sender<web::Bytes>;

/// The app's routes: one, behind hookwarden; verified events go to `queue`.
/// Call it once, outside `HttpServer::new`'s factory, so every worker shares
/// one dedupe store.
fn routes(
    secret: &str,
    queue: Queue,
) -> Result<impl Fn(&mut web::ServiceConfig) + Clone, BuildError> {
    let webhook = Webhook::new(Verifier::new(presets::stripe(), secret)?);
    Ok(move |config: &mut web::ServiceConfig| {
        config.app_data(web::Data::new(queue.clone())).service(
            web::resource("/webhooks/stripe").route(web::post().to(on_event).wrap(webhook.clone())),
        );
    })
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
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let addr = std::env::var("HOOKWARDEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let secret = std::env::var("STRIPE_WEBHOOK_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let (queue, mut events) = mpsc::channel::<web::Bytes>(1024);
    actix_web::rt::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::info!(bytes = event.len(), "processing a Stripe event");
        }
    });
    let routes = routes(&secret, queue)?;
    tracing::info!("listening on http://{addr}/webhooks/stripe");
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
    use http::{HeaderMap, HeaderValue};
    use std::time::{Duration, SystemTime};

    #[actix_web::test]
    async fn verified_once_then_duplicate_and_stale_or_forged_refused() {
        let (queue, mut events) = mpsc::channel(8);
        let app = init_service(App::new().configure(routes(DEV_SECRET, queue).unwrap())).await;
        // The answer as `"<status> <body>"`.
        let send = |headers: HeaderMap, body: &'static str| {
            let mut request = TestRequest::post()
                .uri("/webhooks/stripe")
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
        let signer = hookwarden::Signer::new(presets::stripe(), DEV_SECRET).unwrap();
        let sign =
            |body: &str, options: SignOptions| signer.sign(body.as_bytes(), &options).unwrap();

        let body = r#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded"}"#;
        let second = r#"{"id":"evt_2","object":"event","type":"charge.refunded"}"#;
        let headers = sign(body, SignOptions::new());
        assert_eq!(send(headers.clone(), body).await, "200 ");
        assert_eq!(events.try_recv().unwrap(), body.as_bytes());
        let again = send(headers.clone(), body).await;
        assert_eq!(again, r#"200 {"status":"duplicate"}"#);

        // While a secret is rolled, Stripe sends a `v1` per secret: any may match.
        let mut rolled = sign(second, SignOptions::new());
        let value = rolled["stripe-signature"].to_str().unwrap();
        let value = value.replacen(",v1=", &format!(",v1={},v1=", "0".repeat(64)), 1);
        rolled.insert("stripe-signature", HeaderValue::from_str(&value).unwrap());
        assert_eq!(send(rolled, second).await, "200 ");
        assert_eq!(events.try_recv().unwrap(), second.as_bytes());

        let old = SignOptions::new().with_timestamp(SystemTime::now() - Duration::from_secs(600));
        let stale = send(sign(body, old), body).await;
        assert_eq!(stale, r#"401 {"error":"stale_timestamp"}"#);

        let forged = send(sign("{}", SignOptions::new()), body).await;
        assert_eq!(forged, r#"401 {"error":"signature_mismatch"}"#);
        let missing = send(HeaderMap::new(), body).await;
        assert_eq!(missing, r#"401 {"error":"missing_signature"}"#);
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
        let url = format!("http://{addr}/webhooks/stripe");
        let check = Check::new(&url, presets::stripe(), DEV_SECRET).unwrap();
        let report = check.run(|_| {}).await.unwrap();
        server.stop(false).await;
        assert!(report.passed(), "{report}");
        // The valid delivery was queued; its duplicate was not.
        assert!(events.try_recv().is_ok());
        assert!(events.try_recv().is_err());
    }
}
