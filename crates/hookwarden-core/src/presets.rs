//! Ready schemes for the providers hookwarden serves.
//!
//! Each function states the provider's documented format and any assumption
//! made where the documentation leaves the layout open; every part can be
//! changed with the [`Scheme`] setters.
//!
//! ```
//! use hookwarden_core::presets;
//!
//! let scheme = presets::by_name("4pay-sha512").unwrap();
//! assert_eq!(scheme.name(), "4pay-sha512");
//! assert!(presets::NAMES.iter().all(|name| presets::by_name(name).is_some()));
//! ```

use http::HeaderName;

use crate::{
    Algorithm, DeliveryIdSource, Encoding, JsonPointer, Part, Scheme, SecretEncoding,
    SignatureSyntax, TimestampFormat, TimestampSource,
};

/// The preset names, as the CLI and [`by_name`] take them.
pub const NAMES: &[&str] = &[
    "ntxpay",
    "paynetworx",
    "4pay",
    "4pay-sha512",
    "terminal",
    "standard-webhooks",
    "svix",
    "stripe",
    "github",
    "shopify",
    "slack",
];

/// The preset called `name` (one of [`NAMES`]), or `None`.
pub fn by_name(name: &str) -> Option<Scheme> {
    Some(match name {
        "ntxpay" => ntxpay(),
        "paynetworx" => paynetworx(),
        "4pay" => fourpay(),
        "4pay-sha512" => fourpay_sha512(),
        "terminal" => terminal(),
        "standard-webhooks" => standard_webhooks(),
        "svix" => svix(),
        "stripe" => stripe(),
        "github" => github(),
        "shopify" => shopify(),
        "slack" => slack(),
        _ => return None,
    })
}

const fn header(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

/// NTX Pay: `X-NTXPay-Signature` is the hex HMAC-SHA256 of the raw body;
/// `X-NTXPay-Delivery` is the delivery ID. Secrets are 8–128 characters
/// (checked as 8–128 bytes, the same for the ASCII secrets NTX Pay issues)
/// and are used as-is, `whsec_` prefix included (not base64). No timestamp, and
/// the delivery header is not signed, so a replay is caught only by dedupe,
/// which keys on the body's digest ([`dedupe_key`](crate::dedupe_key)).
pub fn ntxpay() -> Scheme {
    Scheme::new("ntxpay", header("x-ntxpay-signature"))
        .with_delivery_id(DeliveryIdSource::Header(header("x-ntxpay-delivery")))
        .with_secret_length(8, 128)
}

/// PayNetworx Notifications: `X-Webhook-Signature` is the hex HMAC-SHA256 of
/// the raw body; deliveries come by POST or PUT. The event ID is inside the
/// JSON body; this preset assumes the top-level member `id` (change it with
/// [`Scheme::with_delivery_id`] and [`JsonPointer`]). No timestamp.
pub fn paynetworx() -> Scheme {
    Scheme::new("paynetworx", header("x-webhook-signature")).with_delivery_id(
        DeliveryIdSource::JsonPointer(JsonPointer::from_segments(["id"])),
    )
}

/// 4pay cards and accounts: `X-Webhook-Signature` is the lowercase hex
/// HMAC-SHA256 of the raw body. 4pay sends no delivery ID, so the body's
/// SHA-256 stands in for it. No timestamp.
pub fn fourpay() -> Scheme {
    Scheme::new("4pay", header("x-webhook-signature"))
        .with_delivery_id(DeliveryIdSource::BodyDigest)
}

/// 4pay notification signing: `api-notification-sign` is the hex
/// HMAC-SHA512 of the raw body, made with the merchant's secret (or, where
/// the merchant set none, 4pay's own key: configure that key as the secret).
/// Dedupe on the body's SHA-256. No timestamp.
pub fn fourpay_sha512() -> Scheme {
    Scheme::new("4pay-sha512", header("api-notification-sign"))
        .with_algorithm(Algorithm::Sha512)
        .with_delivery_id(DeliveryIdSource::BodyDigest)
}

/// Payment terminal group endpoints: `x-signature` is the base64
/// HMAC-SHA256 of the timestamp followed by the body; `x-timestamp` is
/// ISO 8601. The documentation leaves the layout open: this preset assumes
/// the `x-timestamp` text immediately followed by the raw body, no separator
/// (change it with [`Scheme::with_signed_content`]), and reads the timestamp
/// as RFC 3339 (`2024-05-01T12:00:00Z`, fractions and offsets allowed).
/// Tolerance five minutes each way. Dedupe on the body's SHA-256.
pub fn terminal() -> Scheme {
    Scheme::new("terminal", header("x-signature"))
        .with_encoding(Encoding::Base64)
        .with_timestamp(
            TimestampSource::Header(header("x-timestamp")),
            TimestampFormat::Rfc3339,
        )
        .with_signed_content([Part::Timestamp, Part::Body])
        .with_delivery_id(DeliveryIdSource::BodyDigest)
}

/// Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64>`
/// entries over `<webhook-id>.<webhook-timestamp>.<body>`; the timestamp is
/// Unix seconds, tolerance five minutes each way; secrets are `whsec_` +
/// base64. Entries of other versions are ignored.
pub fn standard_webhooks() -> Scheme {
    versioned_list(
        "standard-webhooks",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    )
}

/// Svix: [`standard_webhooks`] under the `svix-id`, `svix-timestamp` and
/// `svix-signature` headers.
pub fn svix() -> Scheme {
    versioned_list("svix", "svix-id", "svix-timestamp", "svix-signature")
}

fn versioned_list(
    name: &'static str,
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
) -> Scheme {
    Scheme::new(name, header(signature))
        .with_encoding(Encoding::Base64)
        .with_syntax(SignatureSyntax::VersionedList {
            version: "v1".into(),
        })
        .with_timestamp(
            TimestampSource::Header(header(timestamp)),
            TimestampFormat::UnixSeconds,
        )
        .with_signed_content([
            Part::Header(header(id)),
            Part::literal(b"."),
            Part::Timestamp,
            Part::literal(b"."),
            Part::Body,
        ])
        .with_delivery_id(DeliveryIdSource::Header(header(id)))
        .with_secret_encoding(SecretEncoding::WhsecBase64)
}

/// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>,v1=<hex>` over
/// `<t>.<body>`; every `v1` entry is tried (Stripe sends one per active
/// secret), `v0` entries are ignored. Tolerance five minutes each way. The
/// `whsec_…` secret is used as raw bytes. The event ID is the body's `id`.
pub fn stripe() -> Scheme {
    Scheme::new("stripe", header("stripe-signature"))
        .with_syntax(SignatureSyntax::KeyValueList {
            signature_key: "v1".into(),
        })
        .with_timestamp(
            TimestampSource::SignatureParam("t".into()),
            TimestampFormat::UnixSeconds,
        )
        .with_signed_content([Part::Timestamp, Part::literal(b"."), Part::Body])
        .with_delivery_id(DeliveryIdSource::JsonPointer(JsonPointer::from_segments([
            "id",
        ])))
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the raw body;
/// `X-GitHub-Delivery` is the delivery ID. No timestamp.
pub fn github() -> Scheme {
    Scheme::new("github", header("x-hub-signature-256"))
        .with_syntax(SignatureSyntax::Prefixed("sha256=".into()))
        .with_delivery_id(DeliveryIdSource::Header(header("x-github-delivery")))
}

/// Shopify: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw
/// body; `X-Shopify-Webhook-Id` is the delivery ID. No timestamp.
pub fn shopify() -> Scheme {
    Scheme::new("shopify", header("x-shopify-hmac-sha256"))
        .with_encoding(Encoding::Base64)
        .with_delivery_id(DeliveryIdSource::Header(header("x-shopify-webhook-id")))
}

/// Slack: `X-Slack-Signature: v0=<hex>` over `v0:<timestamp>:<body>`, with
/// `X-Slack-Request-Timestamp` in Unix seconds, tolerance five minutes each
/// way. Slack sends no delivery ID: dedupe on the body's SHA-256.
pub fn slack() -> Scheme {
    Scheme::new("slack", header("x-slack-signature"))
        .with_syntax(SignatureSyntax::Prefixed("v0=".into()))
        .with_timestamp(
            TimestampSource::Header(header("x-slack-request-timestamp")),
            TimestampFormat::UnixSeconds,
        )
        .with_signed_content([
            Part::literal(b"v0:"),
            Part::Timestamp,
            Part::literal(b":"),
            Part::Body,
        ])
        .with_delivery_id(DeliveryIdSource::BodyDigest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_consistent_and_named_as_listed() {
        for name in NAMES {
            let scheme = by_name(name).unwrap();
            assert_eq!(scheme.name(), *name);
            scheme.validate().unwrap();
        }
        assert!(by_name("nope").is_none());
    }
}
