//! The published test vectors of /work/shared/vectors.md, run through the
//! library: each accepted vector verifies and the signer reproduces its header
//! byte for byte; the rejected one is refused. Bodies are exact bytes.

mod common;

use std::time::SystemTime;

use common::{epoch, get};
use hookwarden_core::http::{HeaderMap, HeaderName, HeaderValue};
use hookwarden_core::{presets, Scheme, SignOptions, Signer, Verified, Verifier, VerifyError};

/// Headers from `(name, value)` pairs.
fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// Verifies `pairs` + `body` with `scheme` and `secret` as of `now`.
fn verify(
    scheme: Scheme,
    secret: &str,
    pairs: &[(&str, &str)],
    body: &[u8],
    now: SystemTime,
) -> Result<Verified, VerifyError> {
    Verifier::new(scheme, secret)
        .unwrap()
        .verify_at(&headers(pairs), body, now)
}

/// Signs `body` and returns the value of `header`.
fn signed_header(
    scheme: Scheme,
    secret: &str,
    body: &[u8],
    options: &SignOptions,
    header: &str,
) -> String {
    let signed = Signer::new(scheme, secret)
        .unwrap()
        .sign(body, options)
        .unwrap();
    get(&signed, header)
}

// --- GitHub ------------------------------------------------------------------

// Source: GitHub docs, "Validating webhook deliveries".
const GITHUB_DOCS_SECRET: &str = "It's a Secret to Everybody";
const GITHUB_DOCS_BODY: &[u8] = b"Hello, World!";
const GITHUB_DOCS_SIG: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn github_docs_vector() {
    let verified = verify(
        presets::github(),
        GITHUB_DOCS_SECRET,
        &[("x-hub-signature-256", GITHUB_DOCS_SIG)],
        GITHUB_DOCS_BODY,
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(verified.scheme(), "github");
    assert_eq!(verified.secret_index(), 0);
    assert_eq!(verified.delivery_id(), None);
    assert_eq!(verified.timestamp(), None);

    let header = signed_header(
        presets::github(),
        GITHUB_DOCS_SECRET,
        GITHUB_DOCS_BODY,
        &SignOptions::new().with_id("delivery-1"),
        "x-hub-signature-256",
    );
    assert_eq!(header, GITHUB_DOCS_SIG);
}

// Source: octokit/webhooks-methods.js `test/verify.test.ts`.
const OCTOKIT_SECRET: &str = "mysecret";
const OCTOKIT_BODY: &[u8] = br#"{"foo":"bar"}"#;
const OCTOKIT_SIG: &str = "sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3";

#[test]
fn github_octokit_vector() {
    let verified = verify(
        presets::github(),
        OCTOKIT_SECRET,
        &[
            ("x-hub-signature-256", OCTOKIT_SIG),
            ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ],
        OCTOKIT_BODY,
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(
        verified.delivery_id().map(|id| id.as_str()),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );

    let header = signed_header(
        presets::github(),
        OCTOKIT_SECRET,
        OCTOKIT_BODY,
        &SignOptions::new(),
        "x-hub-signature-256",
    );
    assert_eq!(header, OCTOKIT_SIG);
}

// --- Standard Webhooks ---------------------------------------------------------

// Source: standard-webhooks `libraries/rust/src/lib.rs` (`test_sign`).
const SW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const SW_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const SW_TS: i64 = 1_649_367_553;
const SW_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
const SW_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
// Same source: a signature that must be rejected for the same inputs.
const SW_REJECTED_SIG: &str = "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=";

fn sw_pairs(signature: &str) -> [(&str, &str); 3] {
    [
        ("webhook-id", SW_ID),
        ("webhook-timestamp", "1649367553"),
        ("webhook-signature", signature),
    ]
}

#[test]
fn standard_webhooks_vector() {
    let verified = verify(
        presets::standard_webhooks(),
        SW_SECRET,
        &sw_pairs(SW_SIG),
        SW_BODY,
        epoch(SW_TS),
    )
    .unwrap();
    assert_eq!(verified.scheme(), "standard-webhooks");
    assert_eq!(verified.delivery_id().map(|id| id.as_str()), Some(SW_ID));
    assert_eq!(verified.timestamp(), Some(epoch(SW_TS)));

    let signed = Signer::new(presets::standard_webhooks(), SW_SECRET)
        .unwrap()
        .sign(
            SW_BODY,
            &SignOptions::new()
                .with_id(SW_ID)
                .with_timestamp(epoch(SW_TS)),
        )
        .unwrap();
    assert_eq!(get(&signed, "webhook-signature"), SW_SIG);
    assert_eq!(get(&signed, "webhook-id"), SW_ID);
    assert_eq!(get(&signed, "webhook-timestamp"), "1649367553");
}

#[test]
fn standard_webhooks_rejected_vector() {
    let err = verify(
        presets::standard_webhooks(),
        SW_SECRET,
        &sw_pairs(SW_REJECTED_SIG),
        SW_BODY,
        epoch(SW_TS),
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::SignatureMismatch);
    assert_eq!(err.code(), "signature_mismatch");
    assert_eq!(err.status(), 401);
}

#[test]
fn svix_matches_standard_webhooks_vector() {
    // Svix is Standard Webhooks under other header names: the same inputs sign the same.
    let verified = verify(
        presets::svix(),
        SW_SECRET,
        &[
            ("svix-id", SW_ID),
            ("svix-timestamp", "1649367553"),
            ("svix-signature", SW_SIG),
        ],
        SW_BODY,
        epoch(SW_TS),
    )
    .unwrap();
    assert_eq!(verified.scheme(), "svix");
    assert_eq!(verified.delivery_id().map(|id| id.as_str()), Some(SW_ID));
}

// --- Stripe --------------------------------------------------------------------

// Source: async-stripe `async-stripe-webhook/src/webhook.rs` tests
// (`test_webhook_construct_event`), secret `secret`, t=1533204620.
const STRIPE_SECRET: &str = "secret";
const STRIPE_TS: i64 = 1_533_204_620;
const STRIPE_BODY: &[u8] = br#"{"account":"acct_123","api_version":"2017-05-25","created":1533204620,"data":{"object":{"amount":1000,"currency":"usd","customer":"cus_123","date":1533204620,"description":"Test Invoice Item","discountable":false,"id":"ii_123","invoice":"in_123","livemode":false,"metadata":{},"object":"invoiceitem","period":{"end":1533204620,"start":1533204620},"proration":false,"quantity":3,"quantity_decimal":"0"}},"id":"evt_123","livemode":false,"object":"event","pending_webhooks":1,"request":{"id":"req_123","idempotency_key":"idempotency-key-123"},"type":"invoiceitem.created"}"#;
const STRIPE_SIG: &str =
    "t=1533204620,v1=d7373bc68f4bd320b253cd7461f87af6e1cdf1b4d7db1614d8d1d746972d2d0a";

#[test]
fn stripe_async_stripe_vector() {
    let verified = verify(
        presets::stripe(),
        STRIPE_SECRET,
        &[("stripe-signature", STRIPE_SIG)],
        STRIPE_BODY,
        epoch(STRIPE_TS),
    )
    .unwrap();
    assert_eq!(verified.scheme(), "stripe");
    // The top-level `id`, not `data.object.id` or `request.id`.
    assert_eq!(
        verified.delivery_id().map(|id| id.as_str()),
        Some("evt_123")
    );
    assert_eq!(verified.timestamp(), Some(epoch(STRIPE_TS)));

    let header = signed_header(
        presets::stripe(),
        STRIPE_SECRET,
        STRIPE_BODY,
        &SignOptions::new().with_timestamp(epoch(STRIPE_TS)),
        "stripe-signature",
    );
    assert_eq!(header, STRIPE_SIG);
}

// --- Plain HMAC-SHA256 of the body ----------------------------------------------

// Source: stripe-node `test/crypto/helpers.ts`.
const PLAIN_SECRET: &str = "test_secret";
const PLAIN_VECTORS: [(&[u8], &str); 2] = [
    (
        b"",
        "f7f9bd47fb987337b5796fdc1fdb9ba221d0d5396814bfcaf9521f43fd8927fd",
    ),
    (
        br#"{"obj1":"hello","obj2":"world"}"#,
        "bebb1a643997f419b315ddba19e6f5411e1ce7f810ba6d3617ce72823092f363",
    ),
];

#[test]
fn plain_hmac_sha256_vectors() {
    // The same bytes through a custom scheme and the two bare-hex presets.
    let schemes: [(Scheme, &str); 3] = [
        (
            Scheme::new("plain", HeaderName::from_static("x-sig")),
            "x-sig",
        ),
        (presets::fourpay(), "x-webhook-signature"),
        (presets::ntxpay(), "x-ntxpay-signature"),
    ];
    for (scheme, header) in schemes {
        for (body, sig) in PLAIN_VECTORS {
            let name = scheme.name().to_owned();
            let verified = verify(
                scheme.clone(),
                PLAIN_SECRET,
                &[(header, sig)],
                body,
                SystemTime::now(),
            )
            .unwrap_or_else(|e| panic!("{name} {body:?}: {e}"));
            assert_eq!(verified.scheme(), name);

            let signed = signed_header(
                scheme.clone(),
                PLAIN_SECRET,
                body,
                &SignOptions::new(),
                header,
            );
            assert_eq!(signed, sig, "{name} {body:?}");
        }
    }
}

// --- Shopify -------------------------------------------------------------------

// Source: shopify-api-js `lib/webhooks/__tests__/validate.test.ts`.
const SHOPIFY_SECRET: &str = "test_secret_key";
const SHOPIFY_BODY: &[u8] = br#"{"foo": "bar"}"#;
const SHOPIFY_SIG: &str = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=";

#[test]
fn shopify_vector() {
    let verified = verify(
        presets::shopify(),
        SHOPIFY_SECRET,
        &[
            ("x-shopify-hmac-sha256", SHOPIFY_SIG),
            ("x-shopify-webhook-id", "123456789"),
        ],
        SHOPIFY_BODY,
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(verified.scheme(), "shopify");
    assert_eq!(
        verified.delivery_id().map(|id| id.as_str()),
        Some("123456789")
    );

    let signed = Signer::new(presets::shopify(), SHOPIFY_SECRET)
        .unwrap()
        .sign(SHOPIFY_BODY, &SignOptions::new().with_id("123456789"))
        .unwrap();
    assert_eq!(get(&signed, "x-shopify-hmac-sha256"), SHOPIFY_SIG);
    assert_eq!(get(&signed, "x-shopify-webhook-id"), "123456789");
}

// --- Slack ---------------------------------------------------------------------

// Source: Slack docs via python-slack-sdk
// `tests/slack_sdk/signature/test_signature_verifier.py`.
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TS: i64 = 1_531_420_618;
const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

#[test]
fn slack_vector() {
    let verified = verify(
        presets::slack(),
        SLACK_SECRET,
        &[
            ("x-slack-signature", SLACK_SIG),
            ("x-slack-request-timestamp", "1531420618"),
        ],
        SLACK_BODY,
        epoch(SLACK_TS),
    )
    .unwrap();
    assert_eq!(verified.scheme(), "slack");
    assert_eq!(verified.timestamp(), Some(epoch(SLACK_TS)));

    let signed = Signer::new(presets::slack(), SLACK_SECRET)
        .unwrap()
        .sign(
            SLACK_BODY,
            &SignOptions::new().with_timestamp(epoch(SLACK_TS)),
        )
        .unwrap();
    assert_eq!(get(&signed, "x-slack-signature"), SLACK_SIG);
    assert_eq!(get(&signed, "x-slack-request-timestamp"), "1531420618");
}

// --- HMAC-SHA512 -----------------------------------------------------------------

// Source: RFC 4231, test case 2.
const RFC4231_KEY: &str = "Jefe";
const RFC4231_DATA: &[u8] = b"what do ya want for nothing?";
const RFC4231_SHA512: &str = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";

#[test]
fn hmac_sha512_rfc4231_vector() {
    let verified = verify(
        presets::fourpay_sha512(),
        RFC4231_KEY,
        &[("api-notification-sign", RFC4231_SHA512)],
        RFC4231_DATA,
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(verified.scheme(), "4pay-sha512");

    let header = signed_header(
        presets::fourpay_sha512(),
        RFC4231_KEY,
        RFC4231_DATA,
        &SignOptions::new(),
        "api-notification-sign",
    );
    assert_eq!(header, RFC4231_SHA512);
}
