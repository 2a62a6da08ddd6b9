//! What the layer logs with `tracing` when it rejects: the code and scheme,
//! never the secret or the signature.
#![cfg(feature = "axum")]

mod support;

use std::sync::{Arc, Mutex};

use hookwarden_tower::WebhookLayer;
use support::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every event, as `name=value` fields.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Vec<String>>>>);

struct Fields<'a>(&'a mut Vec<String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn rejections_are_logged_without_secret_or_signature() {
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.clone());

    let probe = Probe::scripted([Reply::Hold]);
    let client = Kind::Oneshot
        .client(app(&probe, WebhookLayer::new(verifier())))
        .await;
    let signed = Req::signed(HOOK, b"{}", "evt-log");
    let signature = signed.value("x-ntxpay-signature").unwrap().to_vec();
    let mut non_ascii = signature.clone();
    non_ascii[3] = 0xE9;
    let cases = [
        (signed.clone().body(b"{ }"), "signature_mismatch"),
        (
            signed.clone().header("x-ntxpay-signature", &signature),
            "duplicate_header",
        ),
        (
            signed.clone().replace("x-ntxpay-signature", &non_ascii),
            "invalid_header",
        ),
        (
            signed
                .clone()
                .replace("x-ntxpay-signature", &signature[..60]),
            "malformed_signature",
        ),
    ];
    for (req, code) in &cases {
        let before = capture.0.lock().unwrap().len();
        let response = client.send(req).await;
        assert_eq!(response.text(), format!(r#"{{"error":"{code}"}}"#));
        let events = capture.0.lock().unwrap()[before..].to_vec();
        assert!(
            events.iter().any(|fields| {
                fields.contains(&"message=webhook delivery rejected".to_owned())
                    && fields.contains(&format!("code={code:?}"))
                    && fields.contains(&"scheme=\"ntxpay\"".to_owned())
            }),
            "{code}: {events:?}"
        );
    }

    // One delivery held, its copy rejected 409: logged with its ID, which
    // NTX Pay does not sign, so as the sender's claim.
    let first = tokio::spawn(client.send(&signed));
    probe.entered.notified().await;
    client.send(&signed).await.assert_rejected(409, "in_flight");
    probe.release.notify_one();
    first.await.unwrap().assert_handled(200, "evt-log");

    let events = capture.0.lock().unwrap().clone();
    let in_flight = events
        .iter()
        .find(|f| f.contains(&"code=\"in_flight\"".to_owned()))
        .expect("the 409 is logged");
    assert!(
        in_flight.contains(&"claimed_delivery_id=\"evt-log\"".to_owned()),
        "{in_flight:?}"
    );
    assert!(
        !in_flight.iter().any(|x| x.starts_with("delivery_id=")),
        "{in_flight:?}"
    );
    let signature = String::from_utf8_lossy(&signature).into_owned();
    for fields in &events {
        for field in fields {
            assert!(!field.contains(&signature), "{field}");
            assert!(!field.contains(&signature[..16]), "{field}");
            assert!(!field.contains(SECRET), "{field}");
        }
    }
    assert_eq!(probe.calls(), 1);
}
