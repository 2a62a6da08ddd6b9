//! 4pay webhooks received by actix-web: card and account events signed with
//! `X-Webhook-Signature` (SHA-256), and notifications signed with
//! `api-notification-sign` (SHA-512), each on its own route.
//!
//! Run with: cargo run --example actix_fourpay
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/4pay --scheme 4pay --secret whsec_hookwarden_dev_4pay
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `FOURPAY_SECRET`: the webhook secret configured at 4pay
//!   (default: [`DEV_SECRET`], for local development only).
//! - `FOURPAY_NOTIFICATION_SECRET`: the key of `api-notification-sign`: the
//!   merchant's secret, or 4pay's own key where the merchant set none
//!   (default: the value of `FOURPAY_SECRET`).
//!
//! Send it a signed delivery with the CLI:
//!
//! ```sh
//! echo '{"type":"card_transaction","amount":100}' > body.json
//! cargo run -p hookwarden-cli -- sign --scheme 4pay --secret whsec_hookwarden_dev_4pay --body-file body.json
//! curl -i http://127.0.0.1:3000/webhooks/4pay --data-binary @body.json \
//!     -H 'x-webhook-signature: <from the line above>'
//! ```
//!
//! Each route checks only its own header: a delivery is never trusted for
//! naming one. 4pay sends no delivery ID, so a retry is recognised by its
//! body; it expects a 2xx within 10 seconds, hence the queue.

use actix_web::{web, App, HttpResponse, HttpServer};
use hookwarden::actix::{Delivery, Webhook};
use hookwarden::{presets, BuildError, Verifier};
use tokio::sync::mpsc;

/// The secret used when `FOURPAY_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_4pay";

/// Where verified events wait for the slow work.
type Queue = mpsc::Sender<web::Bytes>;

/// The app's routes: one per 4pay signature; verified events go to `queue`.
/// Call it once, outside `HttpServer::new`'s factory, so every worker shares
/// one dedupe store.
fn routes(
    secret: &str,
    notification_secret: &str,
    queue: Queue,
) -> Result<impl Fn(&mut web::ServiceConfig) + Clone, BuildError> {
    let events = Webhook::new(Verifier::new(presets::fourpay(), secret)?);
    let notifications = Verifier::new(presets::fourpay_sha512(), notification_secret)?;
    let notifications = Webhook::new(notifications);
    Ok(move |config: &mut web::ServiceConfig| {
        config
            .app_data(web::Data::new(queue.clone()))
            .service(
                web::resource("/webhooks/4pay")
                    .route(web::post().to(on_event).wrap(events.clone())),
            )
            .service(
                web::resource("/webhooks/4pay/notifications")
                    .route(web::post().to(on_event).wrap(notifications.clone())),
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
    let secret = std::env::var("FOURPAY_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let notification_secret =
        std::env::var("FOURPAY_NOTIFICATION_SECRET").unwrap_or_else(|_| secret.clone());
    let (queue, mut events) = mpsc::channel::<web::Bytes>(1024);
    actix_web::rt::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::info!(bytes = event.len(), "processing a 4pay event");
        }
    });
    let routes = routes(&secret, &notification_secret, queue)?;
    tracing::info!("listening on http://{addr}/webhooks/4pay and …/4pay/notifications");
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
    use hookwarden::Signer;
    use hookwarden_cli::check::Check;
    use http::HeaderMap;

    #[actix_web::test]
    async fn both_signatures_verified_once_each_on_its_route() {
        let (queue, mut events) = mpsc::channel(8);
        let routes = routes(DEV_SECRET, "4pay_own_notification_key", queue).unwrap();
        let app = init_service(App::new().configure(routes)).await;
        // The answer as `"<status> <body>"`.
        let send = |uri: &'static str, headers: &HeaderMap, body: &'static str| {
            let mut request = TestRequest::post().uri(uri).set_payload(body);
            for (name, value) in headers {
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
        let body = r#"{"type":"card_transaction","amount":100}"#;
        let sha256 = Signer::new(presets::fourpay(), DEV_SECRET).unwrap();
        let sha256 = sha256.sign(body.as_bytes(), &Default::default()).unwrap();
        let sha512 = presets::fourpay_sha512();
        let sha512 = Signer::new(sha512, "4pay_own_notification_key").unwrap();
        let sha512 = sha512.sign(body.as_bytes(), &Default::default()).unwrap();

        for (uri, headers) in [
            ("/webhooks/4pay", &sha256),
            ("/webhooks/4pay/notifications", &sha512),
        ] {
            assert_eq!(send(uri, headers, body).await, "200 ");
            assert_eq!(events.try_recv().unwrap(), body.as_bytes());
            let again = send(uri, headers, body).await;
            assert_eq!(again, r#"200 {"status":"duplicate"}"#);
        }

        // Each route reads its own header only.
        let other = send("/webhooks/4pay", &sha512, body).await;
        assert_eq!(other, r#"401 {"error":"missing_signature"}"#);
        let other = send("/webhooks/4pay/notifications", &sha256, body).await;
        assert_eq!(other, r#"401 {"error":"missing_signature"}"#);
        let forged = send("/webhooks/4pay/notifications", &sha512, "{}").await;
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
    async fn hookwarden_check_passes_on_both_routes() {
        let (queue, mut events) = mpsc::channel(8);
        let (addr, server) = serve(routes(DEV_SECRET, DEV_SECRET, queue).unwrap());
        for (route, scheme) in [
            ("4pay", presets::fourpay()),
            ("4pay/notifications", presets::fourpay_sha512()),
        ] {
            let url = format!("http://{addr}/webhooks/{route}");
            let check = Check::new(&url, scheme, DEV_SECRET).unwrap();
            let report = check.run(|_| {}).await.unwrap();
            assert!(report.passed(), "{url}\n{report}");
            // The valid delivery was queued; its duplicate was not.
            assert!(events.try_recv().is_ok());
            assert!(events.try_recv().is_err());
        }
        server.stop(false).await;
    }
}
