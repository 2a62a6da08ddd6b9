//! One axum app receiving webhooks from every provider, a route each:
//! `/webhooks/<preset name>`, each behind its own gate and dedupe namespace
//! in one shared store.
//!
//! Run with: cargo run --example axum_multi
//! Check it with: cargo run -p hookwarden-cli -- check http://127.0.0.1:3000/webhooks/stripe --scheme stripe --secret whsec_hookwarden_dev_stripe
//!
//! - `HOOKWARDEN_ADDR`: where to listen (default `127.0.0.1:3000`).
//! - One secret per provider, in the variables of [`PROVIDERS`] (each
//!   defaults to its development secret there, for local development only).
//!
//! Provider-specific extras live in the single-provider examples: the
//! PayNetworx bearer token (`axum_paynetworx`), the terminal validation ping
//! (`axum_terminal`).

use std::error::Error;

use axum::http::StatusCode;
use axum::{extract::State, routing::post, Router};
use bytes::Bytes;
use hookwarden::tower::Delivery;
use hookwarden::{presets, BuildError, Gate, MemoryStore, Scheme, Verifier, WebhookLayer};
use tokio::sync::mpsc;

/// Each provider: its preset name (and route), the variable holding its
/// secret, and the development secret used when that variable is unset.
#[rustfmt::skip]
const PROVIDERS: &[(&str, &str, &str)] = &[
    ("ntxpay", "NTXPAY_SECRET", "whsec_hookwarden_dev_ntxpay"),
    ("paynetworx", "PAYNETWORX_SECRET", "whsec_hookwarden_dev_paynetworx"),
    ("4pay", "FOURPAY_SECRET", "whsec_hookwarden_dev_4pay"),
    ("4pay-sha512", "FOURPAY_NOTIFICATION_SECRET", "whsec_hookwarden_dev_4pay"),
    ("terminal", "TERMINAL_SECRET", "whsec_hookwarden_dev_terminal"),
    ("standard-webhooks", "STANDARD_WEBHOOKS_SECRET", "whsec_aG9va3dhcmRlbl9kZXZfc3RhbmRhcmRfd2ViaG9va3M="),
    ("stripe", "STRIPE_WEBHOOK_SECRET", "whsec_hookwarden_dev_stripe"),
    ("github", "GITHUB_WEBHOOK_SECRET", "hookwarden_dev_github"),
];

/// Where verified events wait for the slow work, with their scheme's name.
type Queue = mpsc::Sender<(String, Bytes)>;

/// The app: a route `/webhooks/<scheme name>` per scheme, each checked with
/// its own secret; verified events go to `queue`.
fn app(providers: &[(Scheme, String)], queue: Queue) -> Result<Router, BuildError> {
    // One store; the namespaces keep the routes' deliveries apart.
    let store = MemoryStore::new();
    let mut router = Router::new();
    for (scheme, secret) in providers {
        let name = scheme.name().to_owned();
        let gate = Gate::new(Verifier::new(scheme.clone(), secret)?)
            .with_store(store.clone())
            .with_namespace(name.as_str());
        let route = post(on_event).route_layer(WebhookLayer::new(gate));
        router = router.route(&format!("/webhooks/{name}"), route);
    }
    Ok(router.with_state(queue))
}

/// Runs once per verified, first-time event: queues it with the name of the
/// scheme that verified it, and answers at once. A full queue answers 503:
/// the event stays unhandled, so a retry runs it.
async fn on_event(State(queue): State<Queue>, delivery: Delivery, body: Bytes) -> StatusCode {
    match queue.try_send((delivery.scheme().to_owned(), body)) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt().init();
    let addr = std::env::var("HOOKWARDEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let mut providers = Vec::new();
    for (name, variable, dev_secret) in PROVIDERS {
        let scheme = presets::by_name(name).ok_or("unknown preset")?;
        let secret = std::env::var(variable).unwrap_or_else(|_| (*dev_secret).into());
        providers.push((scheme, secret));
    }
    let (queue, mut events) = mpsc::channel::<(String, Bytes)>(1024);
    tokio::spawn(async move {
        while let Some((scheme, event)) = events.recv().await {
            tracing::info!(scheme, bytes = event.len(), "processing an event");
        }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on http://{addr}/webhooks/<provider>");
    axum::serve(listener, app(&providers, queue)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use hookwarden::{SignOptions, Signer};
    use hookwarden_cli::check::Check;
    use http::HeaderMap;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// The answer as `"<status> <body>"`.
    async fn send(app: &Router, uri: &str, headers: HeaderMap, body: &str) -> String {
        let request = http::Request::post(uri).body(Body::from(body.to_owned()));
        let mut request = request.unwrap();
        *request.headers_mut() = headers;
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        format!("{status} {}", String::from_utf8_lossy(&bytes))
    }

    /// Every provider with its development secret.
    fn dev_providers() -> Vec<(Scheme, String)> {
        PROVIDERS
            .iter()
            .map(|(name, _, secret)| (presets::by_name(name).unwrap(), secret.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn every_route_verifies_its_own_provider_once() {
        let providers = dev_providers();
        let (queue, mut events) = mpsc::channel(8);
        let app = app(&providers, queue).unwrap();
        // The same body everywhere: each route dedupes in its own namespace.
        let body = r#"{"id":"evt_1","event":"test"}"#;

        for (scheme, secret) in &providers {
            let uri = format!("/webhooks/{}", scheme.name());
            let signer = Signer::new(scheme.clone(), secret).unwrap();
            let headers = signer.sign(body.as_bytes(), &SignOptions::new()).unwrap();
            let accepted = send(&app, &uri, headers.clone(), body).await;
            assert_eq!(accepted, "200 ", "{uri}");
            let queued = events.try_recv().unwrap();
            assert_eq!(queued, (scheme.name().to_owned(), Bytes::from(body)));
            let again = send(&app, &uri, headers, body).await;
            assert_eq!(again, r#"200 {"status":"duplicate"}"#, "{uri}");

            let forged = signer.sign(b"{}", &SignOptions::new()).unwrap();
            let forged = send(&app, &uri, forged, body).await;
            assert_eq!(forged, r#"401 {"error":"signature_mismatch"}"#, "{uri}");
            let missing = send(&app, &uri, HeaderMap::new(), body).await;
            assert_eq!(missing, r#"401 {"error":"missing_signature"}"#, "{uri}");
        }
        assert!(events.try_recv().is_err());
    }

    /// Serves `app` on a free port of 127.0.0.1 until the test ends.
    async fn serve(app: Router) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[tokio::test]
    async fn hookwarden_check_passes_on_every_route() {
        let (queue, mut events) = mpsc::channel(8);
        let providers = dev_providers();
        let addr = serve(app(&providers, queue).unwrap()).await;
        for (scheme, secret) in providers {
            let url = format!("http://{addr}/webhooks/{}", scheme.name());
            let check = Check::new(&url, scheme.clone(), &secret).unwrap();
            let report = check.run(|_| {}).await.unwrap();
            assert!(report.passed(), "{url}\n{report}");
            // The valid delivery was queued; its duplicate was not.
            assert_eq!(events.try_recv().unwrap().0, scheme.name());
            assert!(events.try_recv().is_err());
        }
    }
}
