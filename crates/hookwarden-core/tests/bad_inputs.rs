//! Bad and borderline deliveries: each gets the exact error code and HTTP
//! status, and none panics.
//!
//! Most cases are rows of [`cases`]: a correctly signed delivery, one tweak of
//! its headers, the expected outcome. Adding a case is one line.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use common::{
    base64, epoch, get, hmac_sha256, is_whsec_base64, now_plus, preset, secret_for, set, set_bytes,
    sign, signature_layout, split_signature, SigEncoding,
};
use hookwarden_core::http::{HeaderMap, HeaderName, HeaderValue};
use hookwarden_core::{
    presets, BuildError, Scheme, SignOptions, Signer, Verified, Verifier, VerifyError,
};

/// The body every table case signs: JSON with an `id`, for the presets that read one.
const BODY: &[u8] = br#"{"id":"evt_1","type":"test"}"#;
/// The delivery ID sent where the scheme takes it from a header.
const ID: &str = "msg_1";

/// What a case must come to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Accepted,
    Rejected(&'static str, u16),
}
use Expect::{Accepted, Rejected};

const MISSING_SIGNATURE: Expect = Rejected("missing_signature", 401);
const MISSING_HEADER: Expect = Rejected("missing_header", 400);
const DUPLICATE_HEADER: Expect = Rejected("duplicate_header", 400);
const INVALID_HEADER: Expect = Rejected("invalid_header", 400);
const MALFORMED_SIGNATURE: Expect = Rejected("malformed_signature", 400);
const UNSUPPORTED_VERSION: Expect = Rejected("unsupported_signature_version", 401);
const MISMATCH: Expect = Rejected("signature_mismatch", 401);
const MALFORMED_TIMESTAMP: Expect = Rejected("malformed_timestamp", 400);
const STALE: Expect = Rejected("stale_timestamp", 401);
const FUTURE: Expect = Rejected("future_timestamp", 401);

/// Changes the signed delivery's headers; gets the scheme for its header names.
type Tweak = Box<dyn Fn(&Scheme, &mut HeaderMap)>;

struct Case {
    what: String,
    preset: &'static str,
    /// When the delivery was signed, in seconds from `NOW`.
    signed_at: i64,
    tweak: Tweak,
    expect: Expect,
}

fn case(what: impl Into<String>, preset: &'static str, tweak: Tweak, expect: Expect) -> Case {
    Case {
        what: what.into(),
        preset,
        signed_at: 0,
        tweak,
        expect,
    }
}

/// A case signed `offset` seconds from `NOW`, headers untouched.
fn signed_at(what: &str, preset: &'static str, offset: i64, expect: Expect) -> Case {
    Case {
        signed_at: offset,
        ..case(what, preset, keep(), expect)
    }
}

// --- Tweaks ----------------------------------------------------------------------

fn keep() -> Tweak {
    Box::new(|_, _| {})
}

fn remove(name: &'static str) -> Tweak {
    Box::new(move |_, h| {
        assert!(h.remove(name).is_some(), "{name} was not sent");
    })
}

fn put(name: &'static str, value: &'static str) -> Tweak {
    Box::new(move |_, h| set(h, name, value))
}

fn put_bytes(name: &'static str, value: &'static [u8]) -> Tweak {
    Box::new(move |_, h| set_bytes(h, name, value))
}

/// Sends the header a second time, on its own line.
fn repeat(name: &'static str) -> Tweak {
    Box::new(move |_, h| {
        let value = h.get(name).expect("header to repeat").clone();
        h.append(HeaderName::from_static(name), value);
    })
}

fn signature_header(scheme: &Scheme) -> String {
    scheme.signature_header().as_str().to_owned()
}

fn remove_signature() -> Tweak {
    Box::new(|scheme, h| {
        assert!(h.remove(scheme.signature_header()).is_some());
    })
}

fn repeat_signature() -> Tweak {
    Box::new(|scheme, h| {
        let value = h.get(scheme.signature_header()).unwrap().clone();
        h.append(scheme.signature_header().clone(), value);
    })
}

/// Replaces the signature header's value: `f(signer's value)`.
fn signature_value(f: impl Fn(&str) -> String + 'static) -> Tweak {
    Box::new(move |scheme, h| {
        let name = signature_header(scheme);
        let value = f(&get(h, &name));
        set(h, &name, &value);
    })
}

/// Replaces only the encoded signature inside the header: `prefix + f(signature)`.
fn signature_text(f: impl Fn(&str) -> String + 'static) -> Tweak {
    Box::new(move |scheme, h| {
        let name = signature_header(scheme);
        let value = get(h, &name);
        let (before, sig) = split_signature(scheme.name(), &value);
        set(h, &name, &format!("{before}{}", f(sig)));
    })
}

/// The signature header with its last byte replaced by 0xE9 (not ASCII).
fn signature_with_e9() -> Tweak {
    Box::new(|scheme, h| {
        let name = signature_header(scheme);
        let mut value = get(h, &name).into_bytes();
        *value.last_mut().unwrap() = 0xe9;
        set_bytes(h, &name, &value);
    })
}

/// Stripe's header with its `t=` value replaced.
fn stripe_t(t: &'static str) -> Tweak {
    signature_value(move |value| {
        let (_, rest) = value.split_once(',').unwrap();
        format!("t={t},{rest}")
    })
}

/// Base64 whose last data character carries a set (non-zero) trailing bit.
fn set_trailing_bit(sig: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = sig.as_bytes().to_vec();
    let last = sig.trim_end_matches('=').len() - 1;
    let index = ALPHABET.iter().position(|&c| c == bytes[last]).unwrap();
    bytes[last] = ALPHABET[index ^ 1];
    String::from_utf8(bytes).unwrap()
}

/// A well-formed signature of the right length that is not the MAC.
fn bogus(encoding: SigEncoding, len: usize) -> String {
    match encoding {
        SigEncoding::Hex => "ab".repeat(len),
        SigEncoding::Base64 => base64(&vec![0xab; len]),
    }
}

const BAD_UNIX_TIMESTAMPS: &[&str] = &[
    "hello",
    "",
    "1.6e9",
    "123abc",
    " 123",
    "123 ",
    "+123",
    "-1",
    "-9223372036854775808",
    "99999999999999999999",
    "1700000000.0",
    "0x6553f100",
];

/// Presets with a timestamp, and where it lives.
const TIMESTAMP_HEADERS: &[(&str, &str)] = &[
    ("standard-webhooks", "webhook-timestamp"),
    ("svix", "svix-timestamp"),
    ("slack", "x-slack-request-timestamp"),
    ("terminal", "x-timestamp"),
];

#[rustfmt::skip] // One row per line: the table reads better unwrapped.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();

    for &name in presets::NAMES {
        let (_, encoding) = signature_layout(name);
        let c = |what: &str, tweak, expect| case(format!("{name}: {what}"), name, tweak, expect);
        cases.extend([
            c("untouched", keep(), Accepted),
            c("no signature header", remove_signature(), MISSING_SIGNATURE),
            c("empty signature header", signature_value(|_| String::new()), MALFORMED_SIGNATURE),
            c("empty signature", signature_text(|_| String::new()), MALFORMED_SIGNATURE),
            c("truncated by one", signature_text(|s| s[..s.len() - 1].to_owned()), MALFORMED_SIGNATURE),
            c("truncated by four", signature_text(|s| s[..s.len() - 4].to_owned()), MALFORMED_SIGNATURE),
            c("one character more", signature_text(|s| format!("{s}A")), MALFORMED_SIGNATURE),
            c("twice the signature", signature_text(|s| s.repeat(2)), MALFORMED_SIGNATURE),
            c("a space before the signature", signature_text(|s| format!(" {s}")), MALFORMED_SIGNATURE),
            c("signature header on two lines", repeat_signature(), DUPLICATE_HEADER),
            c("0xE9 in the signature header", signature_with_e9(), INVALID_HEADER),
            c("well-formed wrong signature", signature_text(move |s| bogus(encoding, decoded_len(encoding, s))), MISMATCH),
        ]);
        if encoding == SigEncoding::Hex {
            cases.extend([
                c("uppercase hex", signature_text(|s| s.to_uppercase()), Accepted),
                c("odd-length hex", signature_text(|s| format!("{s}0")), MALFORMED_SIGNATURE),
                c("non-hex digit", signature_text(|s| format!("{}g", &s[..s.len() - 1])), MALFORMED_SIGNATURE),
            ]);
        } else {
            cases.extend([
                c("base64 trailing bit set", signature_text(set_trailing_bit), MALFORMED_SIGNATURE),
                c("base64 padding missing", signature_text(|s| s.trim_end_matches('=').to_owned()), MALFORMED_SIGNATURE),
                c("base64 padding doubled", signature_text(|s| format!("{s}=")), MALFORMED_SIGNATURE),
                c("hex where base64 is due", signature_text(|s| common::hex(&common::decode_sig(SigEncoding::Base64, s))), MALFORMED_SIGNATURE),
            ]);
        }
    }

    for &(name, header) in TIMESTAMP_HEADERS {
        let c = |what: &str, tweak, expect| case(format!("{name}: {what}"), name, tweak, expect);
        cases.extend([
            c("no timestamp header", remove(header), MISSING_HEADER),
            c("timestamp on two lines", repeat(header), DUPLICATE_HEADER),
            c("0xE9 in the timestamp", put_bytes(header, b"170000000\xe9"), INVALID_HEADER),
        ]);
    }
    for &(name, header) in &TIMESTAMP_HEADERS[..3] {
        for &bad in BAD_UNIX_TIMESTAMPS {
            cases.push(case(format!("{name}: timestamp {bad:?}"), name, put(header, bad), MALFORMED_TIMESTAMP));
        }
    }
    for &bad in BAD_UNIX_TIMESTAMPS {
        cases.push(case(format!("stripe: t={bad:?}"), "stripe", stripe_t(bad), MALFORMED_TIMESTAMP));
    }
    for bad in ["hello", "", "1700000000", "2023-11-14 22:13:20Z", "2023-11-14T22:13:20", "2023-11-14T22:13:20+0100"] {
        cases.push(case(format!("terminal: timestamp {bad:?}"), "terminal", put("x-timestamp", bad), MALFORMED_TIMESTAMP));
    }

    // The window: 300 s each way by default, at one-second resolution.
    for name in ["standard-webhooks", "svix", "slack", "stripe", "terminal"] {
        cases.extend([
            signed_at(&format!("{name}: tolerance + 1 ago"), name, -301, STALE),
            signed_at(&format!("{name}: tolerance ago"), name, -300, Accepted),
            signed_at(&format!("{name}: tolerance - 1 ago"), name, -299, Accepted),
            signed_at(&format!("{name}: tolerance - 1 ahead"), name, 299, Accepted),
            signed_at(&format!("{name}: tolerance ahead"), name, 300, Accepted),
            signed_at(&format!("{name}: tolerance + 1 ahead"), name, 301, FUTURE),
            signed_at(&format!("{name}: a day ago"), name, -86_400, STALE),
        ]);
    }
    cases.extend([
        case("slack: timestamp 0", "slack", put("x-slack-request-timestamp", "0"), STALE),
        case("slack: 19-digit timestamp", "slack", put("x-slack-request-timestamp", "9999999999999999999"), FUTURE),
        case("stripe: t=0", "stripe", stripe_t("0"), STALE),
    ]);

    // Signed ID headers.
    for (name, id) in [("standard-webhooks", "webhook-id"), ("svix", "svix-id")] {
        let c = |what: &str, tweak, expect| case(format!("{name}: {what}"), name, tweak, expect);
        cases.extend([
            c("no ID header", remove(id), MISSING_HEADER),
            c("ID on two lines", repeat(id), DUPLICATE_HEADER),
            c("0xE9 in the ID", put_bytes(id, b"msg_\xe9"), INVALID_HEADER),
            c("another ID", put(id, "msg_2"), MISMATCH),
        ]);
    }
    // Unsigned ID headers are still read, so they must be single and ASCII.
    for (name, id) in [("github", "x-github-delivery"), ("shopify", "x-shopify-webhook-id"), ("ntxpay", "x-ntxpay-delivery")] {
        let c = |what: &str, tweak, expect| case(format!("{name}: {what}"), name, tweak, expect);
        cases.extend([
            c("ID on two lines", repeat(id), DUPLICATE_HEADER),
            c("0xE9 in the ID", put_bytes(id, b"msg_\xe9"), INVALID_HEADER),
            c("no ID header", remove(id), Accepted),
        ]);
    }

    // List syntaxes: every entry of the checked version is tried, others ignored.
    let hex64 = || bogus(SigEncoding::Hex, 32);
    let b64 = || bogus(SigEncoding::Base64, 32);
    cases.extend([
        case("github: prefix only", "github", signature_value(|_| "sha256=".into()), MALFORMED_SIGNATURE),
        case("github: sha1= prefix", "github", signature_value(|v| v.replace("sha256=", "sha1=")), MALFORMED_SIGNATURE),
        case("slack: prefix only", "slack", signature_value(|_| "v0=".into()), MALFORMED_SIGNATURE),
        case("standard-webhooks: `v1,`", "standard-webhooks", signature_value(|_| "v1,".into()), MALFORMED_SIGNATURE),
        case("svix: `v1,`", "svix", signature_value(|_| "v1,".into()), MALFORMED_SIGNATURE),
        case("standard-webhooks: no comma", "standard-webhooks", signature_value(|v| v.replacen(',', " ", 1)), MALFORMED_SIGNATURE),
        case("standard-webhooks: two spaces between entries", "standard-webhooks", signature_value(move |v| format!("{v}  {v}")), MALFORMED_SIGNATURE),
        case("standard-webhooks: only v0 and v2", "standard-webhooks", signature_value(|v| format!("{} {}", v.replace("v1,", "v0,"), v.replace("v1,", "v2,"))), UNSUPPORTED_VERSION),
        case("svix: only v0 and v2", "svix", signature_value(|v| format!("{} {}", v.replace("v1,", "v0,"), v.replace("v1,", "v2,"))), UNSUPPORTED_VERSION),
        case("standard-webhooks: wrong v1 then right v1", "standard-webhooks", signature_value(move |v| format!("v1,{} {v}", b64())), Accepted),
        case("standard-webhooks: right v1 then wrong v1", "standard-webhooks", signature_value(move |v| format!("{v} v1,{}", b64())), Accepted),
        case("standard-webhooks: unknown version beside v1", "standard-webhooks", signature_value(|v| format!("v2,not-base64 {v} v1a,x")), Accepted),
        case("standard-webhooks: only wrong v1 entries", "standard-webhooks", signature_value(move |_| format!("v1,{0} v1,{0}", b64())), MISMATCH),
        case("standard-webhooks: malformed v1 beside the right one", "standard-webhooks", signature_value(|v| format!("v1,abc {v}")), MALFORMED_SIGNATURE),
        case("stripe: no t=", "stripe", signature_value(|v| v.split_once(',').unwrap().1.to_owned()), MALFORMED_SIGNATURE),
        case("stripe: two t=", "stripe", signature_value(|v| format!("t=1700000000,{v}")), MALFORMED_SIGNATURE),
        case("stripe: `v1=` empty", "stripe", signature_value(|v| format!("{}v1=", v.split_once("v1=").unwrap().0)), MALFORMED_SIGNATURE),
        case("stripe: entry without =", "stripe", signature_value(|v| format!("{v},junk")), MALFORMED_SIGNATURE),
        case("stripe: only v0=", "stripe", signature_value(|v| v.replace("v1=", "v0=")), UNSUPPORTED_VERSION),
        case("stripe: wrong v1 then right v1", "stripe", signature_text(move |s| format!("{},v1={s}", hex64())), Accepted),
        case("stripe: right v1 then wrong v1", "stripe", signature_text(move |s| format!("{s},v1={}", hex64())), Accepted),
        case("stripe: several wrong v1, one right, v0 beside", "stripe", signature_text(move |s| format!("{0},v0={0},v1={0},v1={s},v1={0}", hex64())), Accepted),
        case("stripe: only wrong v1 entries", "stripe", signature_text(move |_| format!("{0},v1={0}", hex64())), MISMATCH),
        case("stripe: malformed v1 beside the right one", "stripe", signature_text(|s| format!("zz,v1={s}")), MALFORMED_SIGNATURE),
        case("stripe: right signature under v0=", "stripe", signature_text(move |s| format!("{},v0={s}", hex64())), MISMATCH),
        case("stripe: t= after v1=", "stripe", signature_value(|v| { let (t, rest) = v.split_once(',').unwrap(); format!("{rest},{t}") }), Accepted),
    ]);
    cases
}

/// The decoded length of a signer-written signature.
fn decoded_len(encoding: SigEncoding, sig: &str) -> usize {
    common::decode_sig(encoding, sig).len()
}

/// Signs `BODY` for the case, tweaks the headers and verifies at `NOW`,
/// catching panics.
fn run(case: &Case) -> Result<Result<Verified, VerifyError>, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let scheme = preset(case.preset);
        let secret = secret_for(case.preset);
        let mut headers = sign(&scheme, secret, BODY, now_plus(case.signed_at), ID);
        (case.tweak)(&scheme, &mut headers);
        Verifier::new(scheme, secret)
            .unwrap()
            .verify_at(&headers, BODY, now_plus(0))
    }))
    .map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// Whether `result` is what `expect` says; the error text otherwise.
fn check(result: &Result<Verified, VerifyError>, expect: Expect) -> Result<(), String> {
    match (result, expect) {
        (Ok(_), Accepted) => Ok(()),
        (Err(err), Rejected(code, status))
            if err.code() == code && err.status().as_u16() == status =>
        {
            Ok(())
        }
        (Ok(_), Rejected(code, status)) => Err(format!("accepted; expected {code} {status}")),
        (Err(err), expect) => Err(format!(
            "got {} {} ({err}); expected {expect:?}",
            err.code(),
            err.status().as_u16()
        )),
    }
}

#[test]
fn table() {
    let cases = cases();
    assert!(cases.len() > 250, "{}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match run(case) {
            Ok(result) => {
                if let Err(why) = check(&result, case.expect) {
                    failures.push(format!("{}: {why}", case.what));
                }
            }
            Err(panic) => failures.push(format!("{}: PANIC {panic}", case.what)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn error_codes_and_statuses() {
    // The README's table, variant by variant.
    let name = || "x".to_owned();
    let table = [
        (VerifyError::MissingSignature, "missing_signature", 401),
        (
            VerifyError::UnsupportedSignatureVersion,
            "unsupported_signature_version",
            401,
        ),
        (VerifyError::SignatureMismatch, "signature_mismatch", 401),
        (VerifyError::StaleTimestamp, "stale_timestamp", 401),
        (VerifyError::FutureTimestamp, "future_timestamp", 401),
        (
            VerifyError::MissingHeader { name: name() },
            "missing_header",
            400,
        ),
        (
            VerifyError::DuplicateHeader { name: name() },
            "duplicate_header",
            400,
        ),
        (
            VerifyError::InvalidHeader { name: name() },
            "invalid_header",
            400,
        ),
        (VerifyError::MalformedSignature, "malformed_signature", 400),
        (VerifyError::MalformedTimestamp, "malformed_timestamp", 400),
    ];
    for (err, code, status) in table {
        assert_eq!(
            (err.code(), err.status().as_u16()),
            (code, status),
            "{err:?}"
        );
    }
}

#[test]
fn missing_header_names_the_header() {
    let scheme = presets::standard_webhooks();
    let secret = secret_for("standard-webhooks");
    let verifier = Verifier::new(scheme.clone(), secret).unwrap();
    for header in ["webhook-id", "webhook-timestamp"] {
        let mut headers = sign(&scheme, secret, BODY, now_plus(0), ID);
        headers.remove(header);
        assert_eq!(
            verifier.verify_at(&headers, BODY, now_plus(0)),
            Err(VerifyError::MissingHeader {
                name: header.to_owned()
            })
        );
    }
}

#[test]
fn signature_for_another_body_is_a_mismatch() {
    for &name in presets::NAMES {
        let scheme = preset(name);
        let secret = secret_for(name);
        let headers = sign(&scheme, secret, br#"{"id":"evt_2"}"#, now_plus(0), ID);
        let err = Verifier::new(scheme, secret)
            .unwrap()
            .verify_at(&headers, BODY, now_plus(0))
            .unwrap_err();
        assert_eq!(
            (err.code(), err.status().as_u16()),
            ("signature_mismatch", 401),
            "{name}"
        );
    }
}

#[test]
fn empty_and_non_utf8_bodies_are_accepted() {
    for &name in presets::NAMES {
        for body in [&b""[..], &[0xff, 0xfe, 0x00, 0xe9]] {
            let scheme = preset(name);
            let secret = secret_for(name);
            let headers = sign(&scheme, secret, body, now_plus(0), ID);
            let verified = Verifier::new(scheme, secret)
                .unwrap()
                .verify_at(&headers, body, now_plus(0))
                .unwrap_or_else(|e| panic!("{name} {body:?}: {e}"));
            assert_eq!(verified.scheme(), name);
            if matches!(name, "stripe" | "paynetworx") {
                // The ID is read from a JSON body; these bodies are not JSON.
                assert_eq!(verified.delivery_id(), None, "{name}");
            }
            let other = [body, b"x"].concat();
            assert_eq!(
                Verifier::new(preset(name), secret)
                    .unwrap()
                    .verify_at(&headers, &other, now_plus(0))
                    .unwrap_err(),
                VerifyError::SignatureMismatch,
                "{name}"
            );
        }
    }
}

#[test]
fn custom_tolerances() {
    let scheme = presets::standard_webhooks()
        .with_tolerance_past(Duration::from_secs(60))
        .with_tolerance_future(Duration::from_secs(10));
    let secret = secret_for("standard-webhooks");
    let verifier = Verifier::new(scheme.clone(), secret).unwrap();
    let cases = [
        (-61, Some(STALE)),
        (-60, None),
        (-59, None),
        (0, None),
        (9, None),
        (10, None),
        (11, Some(FUTURE)),
        (-301, Some(STALE)),
        (299, Some(FUTURE)),
    ];
    for (offset, expect) in cases {
        let headers = sign(&scheme, secret, BODY, now_plus(offset), ID);
        let result = verifier.verify_at(&headers, BODY, now_plus(0));
        let expect = expect.unwrap_or(Accepted);
        check(&result, expect).unwrap_or_else(|why| panic!("offset {offset}: {why}"));
    }

    // Zero tolerance: only the current second passes.
    let scheme = presets::slack().with_tolerance(Duration::ZERO);
    let verifier = Verifier::new(scheme.clone(), secret).unwrap();
    for (offset, expect) in [(-1, STALE), (0, Accepted), (1, FUTURE)] {
        let headers = sign(&scheme, secret, BODY, now_plus(offset), ID);
        check(&verifier.verify_at(&headers, BODY, now_plus(0)), expect)
            .unwrap_or_else(|why| panic!("zero tolerance, offset {offset}: {why}"));
    }
}

#[test]
fn window_has_one_second_resolution() {
    let scheme = presets::slack();
    let secret = secret_for("slack");
    let verifier = Verifier::new(scheme.clone(), secret).unwrap();
    let late_in_second = now_plus(0) + Duration::from_millis(999);
    for (offset, expect) in [
        (-300, Accepted),
        (-301, STALE),
        (300, Accepted),
        (301, FUTURE),
    ] {
        let headers = sign(&scheme, secret, BODY, now_plus(offset), ID);
        check(&verifier.verify_at(&headers, BODY, late_in_second), expect)
            .unwrap_or_else(|why| panic!("offset {offset}: {why}"));
    }
}

#[test]
fn terminal_rfc3339_timestamps() {
    // The terminal preset signs `<x-timestamp text><body>`, base64 HMAC-SHA256.
    let secret = secret_for("terminal");
    let verifier = Verifier::new(presets::terminal(), secret).unwrap();
    let deliver = |ts: &str| {
        let mut headers = HeaderMap::new();
        set_bytes(&mut headers, "x-timestamp", ts.as_bytes());
        let sig = hmac_sha256(secret.as_bytes(), &[ts.as_bytes(), BODY]);
        set(&mut headers, "x-signature", &base64(&sig));
        verifier.verify_at(&headers, BODY, now_plus(0))
    };
    // NOW is 2023-11-14T22:13:20Z.
    for ts in [
        "2023-11-14T22:13:20Z",
        "2023-11-14T23:13:20+01:00",
        "2023-11-14T17:43:20-04:30",
        "2023-11-14t22:13:20z",
        "2023-11-14T22:13:20.999999Z",
    ] {
        let verified = deliver(ts).unwrap_or_else(|e| panic!("{ts}: {e}"));
        assert_eq!(
            verified
                .timestamp()
                .map(|t| t.duration_since(epoch(0)).unwrap().as_secs()),
            Some(common::NOW),
            "{ts}"
        );
    }
    for (ts, expect) in [
        ("2023-11-14T22:18:21Z", FUTURE),
        ("2023-11-14T23:18:21+01:00", FUTURE),
        ("2023-11-14T22:08:19Z", STALE),
        ("2023-11-14T22:13:20", MALFORMED_TIMESTAMP),
        ("2023-11-14 22:13:20Z", MALFORMED_TIMESTAMP),
        ("2023-11-14T22:13:20+01", MALFORMED_TIMESTAMP),
        ("2023-11-31T22:13:20Z", MALFORMED_TIMESTAMP),
        ("2023-11-14T22:13:20Zjunk", MALFORMED_TIMESTAMP),
        ("Tue, 14 Nov 2023 22:13:20 GMT", MALFORMED_TIMESTAMP),
        ("1700000000", MALFORMED_TIMESTAMP),
        ("garbage", MALFORMED_TIMESTAMP),
    ] {
        check(&deliver(ts), expect).unwrap_or_else(|why| panic!("{ts}: {why}"));
    }
}

// --- Secrets, refused when the verifier or signer is built ----------------------

fn build_errors(scheme: Scheme, secret: &str) -> [Option<BuildError>; 3] {
    let valid = secret_for(scheme.name());
    [
        Verifier::new(scheme.clone(), secret).err(),
        Signer::new(scheme.clone(), secret).err(),
        Verifier::new(scheme, valid)
            .unwrap()
            .with_secret(secret)
            .err(),
    ]
}

#[test]
fn base64_secrets_are_refused_when_empty_or_not_base64() {
    for name in ["standard-webhooks", "svix"] {
        for (secret, code) in [
            ("", "empty_secret"),
            ("whsec_", "empty_secret"),
            ("whsec_!!!", "secret_encoding"),
            ("whsec_abc=d", "secret_encoding"),
            ("whsec_ bWVvdw==", "secret_encoding"),
        ] {
            for err in build_errors(preset(name), secret) {
                assert_eq!(err.map(|e| e.code()), Some(code), "{name} {secret:?}");
            }
        }
    }
}

#[test]
fn empty_raw_secrets_are_refused() {
    for &name in presets::NAMES.iter().filter(|n| !is_whsec_base64(n)) {
        for err in build_errors(preset(name), "") {
            assert_eq!(err, Some(BuildError::EmptySecret), "{name}");
        }
    }
}

#[test]
fn ntxpay_secret_length() {
    for len in [1, 7, 129, 500] {
        let secret = "s".repeat(len);
        for err in build_errors(presets::ntxpay(), &secret) {
            assert_eq!(
                err,
                Some(BuildError::SecretLength {
                    len,
                    min: 8,
                    max: 128
                }),
                "{len}"
            );
            assert_eq!(err.map(|e| e.code()), Some("secret_length"));
        }
    }
    for len in [8, 128] {
        let secret = "s".repeat(len);
        assert_eq!(
            build_errors(presets::ntxpay(), &secret),
            [None, None, None],
            "{len}"
        );
    }
}

#[test]
fn whsec_means_raw_for_stripe_and_base64_for_standard_webhooks() {
    let body = BODY;
    // Stripe: the whole `whsec_…` text is the key.
    let stripe_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let headers = Signer::new(presets::stripe(), stripe_secret)
        .unwrap()
        .sign(body, &SignOptions::new().with_timestamp(now_plus(0)))
        .unwrap();
    let expected = hmac_sha256(stripe_secret.as_bytes(), &[b"1700000000.", body]);
    assert_eq!(
        get(&headers, "stripe-signature"),
        format!("t=1700000000,v1={}", common::hex(&expected))
    );

    // Standard Webhooks: the key is the base64 after the prefix.
    let key = b"0123456789abcdef0123456789abcdef";
    let sw_secret = format!("whsec_{}", base64(key));
    let headers = Signer::new(presets::standard_webhooks(), &sw_secret)
        .unwrap()
        .sign(
            body,
            &SignOptions::new().with_id(ID).with_timestamp(now_plus(0)),
        )
        .unwrap();
    let expected = hmac_sha256(key, &[b"msg_1.1700000000.", body]);
    assert_eq!(
        get(&headers, "webhook-signature"),
        format!("v1,{}", base64(&expected))
    );
    // The prefix may be left out.
    Verifier::new(presets::standard_webhooks(), base64(key))
        .unwrap()
        .verify_at(&headers, body, now_plus(0))
        .unwrap();
}

#[test]
fn empty_id_header_is_no_id() {
    // An empty JSON `id` means "no ID" (DeliveryIdSource::JsonPointer); an empty
    // ID header should too, or `dedupe_key` gives them all `<namespace>:`.
    for name in ["github", "shopify", "ntxpay", "standard-webhooks", "svix"] {
        let scheme = preset(name);
        let secret = secret_for(name);
        let id_header = match scheme.delivery_id() {
            hookwarden_core::DeliveryIdSource::Header(header) => header.as_str().to_owned(),
            other => panic!("{name}: {other:?}"),
        };
        // Signed with the ID header already present and empty.
        let empty = HeaderValue::from_static("");
        let options = SignOptions::new()
            .with_timestamp(now_plus(0))
            .with_header(HeaderName::from_bytes(id_header.as_bytes()).unwrap(), empty);
        let headers = Signer::new(scheme.clone(), secret)
            .unwrap()
            .sign(BODY, &options)
            .unwrap();
        assert_eq!(get(&headers, &id_header), "", "{name}");
        let verified = Verifier::new(scheme, secret)
            .unwrap()
            .verify_at(&headers, BODY, now_plus(0))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.delivery_id(), None, "{name}");
    }
}

#[test]
fn namespaces_sharing_a_store_never_share_a_key() {
    use hookwarden_core::{Gate, MemoryStore};
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    // The memory store never waits: one poll settles each call.
    fn settle<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the memory store waited"),
        }
    }

    let scheme = presets::standard_webhooks();
    let secret = secret_for("standard-webhooks");
    let signer = Signer::new(scheme.clone(), secret).unwrap();
    let gate = |namespace: &str, store: &MemoryStore| {
        Gate::new(Verifier::new(scheme.clone(), secret).unwrap())
            .with_store(store.clone())
            .with_namespace(namespace)
    };
    // The first pair would meet as `shop:eu:1` if the namespace were
    // written as it is; the other two if only `:` were escaped, or `%`
    // after it.
    let pairs = [
        (("shop", "eu:1"), ("shop:eu", "1")),
        (("shop%3Aeu", "1"), ("shop:eu", "1")),
        (("shop%253Aeu", "1"), ("shop%3Aeu", "1")),
    ];
    for ((first_namespace, first_id), (second_namespace, second_id)) in pairs {
        let store = MemoryStore::new();
        let (first, second) = (
            gate(first_namespace, &store),
            gate(second_namespace, &store),
        );
        let sign = |id: &str| {
            let now = std::time::SystemTime::now();
            let options = SignOptions::new().with_id(id).with_timestamp(now);
            signer.sign(BODY, &options).unwrap()
        };
        let admitted = settle(first.admit(&sign(first_id), BODY)).unwrap();
        assert_eq!(settle(admitted.run(|| async { 200 }, |s| *s == 200)), 200);
        let again = settle(first.admit(&sign(first_id), BODY)).unwrap_err();
        assert_eq!(again.code(), "duplicate", "{first_namespace} {first_id}");

        let admitted = settle(second.admit(&sign(second_id), BODY)).unwrap_or_else(|r| {
            panic!(
                "{second_namespace} {second_id} after {first_namespace} {first_id}: {}",
                r.code()
            )
        });
        assert_eq!(settle(admitted.run(|| async { 200 }, |s| *s == 200)), 200);
    }
}
