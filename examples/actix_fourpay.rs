//! 4pay card and account webhooks received by actix-web, verified and
//! deduplicated in memory.
//!
//! Run with: cargo run --example actix_fourpay
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - `FOURPAY_SECRET`: the webhook secret configured at 4pay
//!   (default: [`DEV_SECRET`], for local development only).
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
//! 4pay expects a 2xx within 10 seconds: answer first, do slow work after.
//! 4pay sends no delivery ID, so a retry is recognised by its body.

use actix_web::{web, App, HttpResponse, HttpServer};
use hookwarden::actix::{Delivery, Webhook};
use hookwarden::{presets, BuildError, Verifier};

/// The secret used when `FOURPAY_SECRET` is unset. For local development only.
const DEV_SECRET: &str = "whsec_hookwarden_dev_4pay";

/// The middleware, built once so that every worker shares its dedupe store.
fn webhook(secret: &str) -> Result<Webhook, BuildError> {
    Ok(Webhook::new(Verifier::new(presets::fourpay(), secret)?))
}

/// The app's routes: one, behind hookwarden.
fn routes(webhook: Webhook) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |config| {
        config.service(
            web::resource("/webhooks/4pay")
                .wrap(webhook.clone())
                .route(web::post().to(on_delivery)),
        );
    }
}

/// Runs once per verified, first-time delivery, with the exact signed bytes.
async fn on_delivery(delivery: Delivery, body: web::Bytes) -> HttpResponse {
    tracing::info!(
        scheme = delivery.scheme(),
        bytes = body.len(),
        "4pay delivery received"
    );
    HttpResponse::Ok().finish()
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let addr = std::env::var("HOOKWARDEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let secret = std::env::var("FOURPAY_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let routes = routes(webhook(&secret)?);
    tracing::info!("listening on http://{addr}/webhooks/4pay");
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
    use hookwarden::{SignOptions, Signer};

    /// A POST of `body` with `headers` (named with `http` 1, as the signer makes them).
    fn request(body: &'static str, headers: &http::HeaderMap) -> TestRequest {
        let mut request = TestRequest::post().uri("/webhooks/4pay").set_payload(body);
        for (name, value) in headers {
            request = request.insert_header((name.as_str(), value.as_bytes()));
        }
        request
    }

    #[actix_web::test]
    async fn verified_once_then_duplicate_and_forgeries_refused() {
        let app = init_service(App::new().configure(routes(webhook(DEV_SECRET).unwrap()))).await;
        let body = r#"{"type":"card_transaction","amount":100}"#;
        let signer = Signer::new(presets::fourpay(), DEV_SECRET).unwrap();
        let headers = signer.sign(body.as_bytes(), &SignOptions::new()).unwrap();
        assert!(headers.contains_key("x-webhook-signature"));

        let send = |headers: http::HeaderMap| {
            let app = &app;
            async move {
                let response = call_service(app, request(body, &headers).to_request()).await;
                let status = response.status().as_u16();
                (
                    status,
                    String::from_utf8_lossy(&read_body(response).await).into_owned(),
                )
            }
        };
        assert_eq!(send(headers.clone()).await, (200, String::new()));
        assert_eq!(
            send(headers).await,
            (200, hookwarden::DUPLICATE_BODY.to_owned())
        );

        let forged = signer.sign(b"{}", &SignOptions::new()).unwrap();
        assert_eq!(
            send(forged).await,
            (401, r#"{"error":"signature_mismatch"}"#.to_owned())
        );
        assert_eq!(
            send(http::HeaderMap::new()).await,
            (401, r#"{"error":"missing_signature"}"#.to_owned())
        );
    }

    #[test]
    fn the_development_secret_is_a_valid_fourpay_secret() {
        assert!(webhook(DEV_SECRET).is_ok());
        assert!(webhook("").is_err());
    }
}
