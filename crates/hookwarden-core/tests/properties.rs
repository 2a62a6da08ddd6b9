//! Properties over every preset: what the signer writes the verifier accepts,
//! and any change to a signed part (body, signature bytes, timestamp, signed
//! ID) or a missing secret is rejected.

mod common;

use std::time::{Duration, SystemTime};

use common::{
    body_digest, decode_sig, encode_sig, epoch, get, is_whsec_base64, preset, secret_for, set,
    set_bytes, sign, signature_layout, signed_id_header, split_signature, SigEncoding, NOW,
};
use hookwarden_core::http::{HeaderMap, HeaderValue};
use hookwarden_core::{presets, DeliveryIdSource, Scheme, TimestampSource, Verifier, VerifyError};
use proptest::prelude::*;
use proptest::sample::{select, Index};

/// Bodies of any bytes, UTF-8 or not.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..2048)
}

fn non_empty_body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..2048)
}

/// Printable-ASCII delivery IDs of 1–64 characters, spaces allowed inside
/// (HTTP strips them at either end, so the signer refuses those).
fn id() -> impl Strategy<Value = String> {
    "[!-~]([ -~]{0,62}[!-~])?"
}

/// Seconds from `NOW`, inside the default window.
fn offset() -> impl Strategy<Value = i64> {
    -300i64..=300
}

/// A clock reading within the second `NOW`.
fn now() -> impl Strategy<Value = SystemTime> {
    (0u64..1000).prop_map(|ms| epoch(NOW as i64) + Duration::from_millis(ms))
}

fn timestamped_presets() -> Vec<&'static str> {
    presets::NAMES
        .iter()
        .copied()
        .filter(|name| preset(name).timestamp().is_some())
        .collect()
}

fn verifier(scheme: &Scheme, secret: &str) -> Verifier {
    Verifier::new(scheme.clone(), secret).unwrap()
}

/// The delivery ID a verified delivery must report, or `None` where it cannot
/// be worked out independently (a body that happens to be JSON).
fn expected_id(scheme: &Scheme, headers: &HeaderMap, body: &[u8]) -> Option<Option<String>> {
    match scheme.delivery_id() {
        DeliveryIdSource::None => Some(None),
        DeliveryIdSource::Header(name) => Some(Some(get(headers, name.as_str()))),
        DeliveryIdSource::BodyDigest => Some(Some(body_digest(body))),
        DeliveryIdSource::JsonPointer(_) => serde_json::from_slice::<serde_json::Value>(body)
            .is_err()
            .then_some(None),
        other => panic!("unexpected delivery ID source {other:?}"),
    }
}

/// The timestamp's text in a signed delivery, and how to put another text in its place.
fn timestamp_text(scheme: &Scheme, headers: &HeaderMap) -> String {
    match scheme.timestamp().unwrap().0 {
        TimestampSource::Header(name) => get(headers, name.as_str()),
        TimestampSource::SignatureParam(key) => {
            let value = get(headers, scheme.signature_header().as_str());
            let prefix = format!("{key}=");
            value
                .split(',')
                .find_map(|entry| entry.strip_prefix(&prefix))
                .unwrap()
                .to_owned()
        }
        other => panic!("unexpected timestamp source {other:?}"),
    }
}

/// Replaces the timestamp's text with `text` (raw bytes, which may not be ASCII).
/// Returns `false` when the result cannot be a header value.
fn replace_timestamp(scheme: &Scheme, headers: &mut HeaderMap, text: &[u8]) -> bool {
    let (name, value) = match scheme.timestamp().unwrap().0 {
        TimestampSource::Header(name) => (name.clone(), text.to_vec()),
        TimestampSource::SignatureParam(key) => {
            let name = scheme.signature_header().clone();
            let old = get(headers, name.as_str());
            let prefix = format!("{key}=");
            let entries: Vec<Vec<u8>> = old
                .split(',')
                .map(|entry| {
                    if entry.starts_with(&prefix) {
                        [prefix.as_bytes(), text].concat()
                    } else {
                        entry.as_bytes().to_vec()
                    }
                })
                .collect();
            (name, entries.join(&b","[..]))
        }
        other => panic!("unexpected timestamp source {other:?}"),
    };
    match HeaderValue::from_bytes(&value) {
        Ok(value) => {
            headers.insert(name, value);
            true
        }
        Err(_) => false,
    }
}

/// A secret as the preset writes it, from key material: `whsec_` + base64 for
/// Standard Webhooks and Svix, printable ASCII for the rest.
fn secret_text(name: &str, key: &[u8]) -> String {
    if is_whsec_base64(name) {
        format!("whsec_{}", common::base64(key))
    } else {
        key.iter().map(|b| char::from(b'!' + b % 94)).collect()
    }
}

/// Key material of 8–64 bytes (NTX Pay takes 8–128 characters).
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 8..64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Report failures; don't write regression files into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn signed_deliveries_verify(
        name in select(presets::NAMES),
        body in body(),
        id in id(),
        offset in offset(),
        now in now(),
    ) {
        let scheme = preset(name);
        let secret = secret_for(name);
        let ts = epoch(NOW as i64 + offset);
        let headers = sign(&scheme, secret, &body, ts, &id);
        let verified = verifier(&scheme, secret).verify_at(&headers, &body, now);
        let verified = verified.map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;

        prop_assert_eq!(verified.scheme(), name);
        prop_assert_eq!(verified.secret_index(), 0);
        let expected_ts = scheme.timestamp().map(|_| ts);
        prop_assert_eq!(verified.timestamp(), expected_ts);
        if let DeliveryIdSource::Header(header) = scheme.delivery_id() {
            prop_assert_eq!(get(&headers, header.as_str()), id.as_str());
        }
        if let Some(expected) = expected_id(&scheme, &headers, &body) {
            prop_assert_eq!(verified.delivery_id().map(|id| id.to_string()), expected);
        }
    }

    #[test]
    fn json_body_ids_are_reported(
        name in select(presets::NAMES.iter().copied()
            .filter(|n| matches!(preset(n).delivery_id(), DeliveryIdSource::JsonPointer(_)))
            .collect::<Vec<_>>()),
        id in "\\PC{1,40}",
        number in any::<i64>(),
        use_number in any::<bool>(),
        payload in "\\PC{0,200}",
        offset in offset(),
    ) {
        let scheme = preset(name);
        let secret = secret_for(name);
        let (json_id, expected) = if use_number {
            (number.to_string(), number.to_string())
        } else {
            (serde_json::to_string(&id).unwrap(), id.clone())
        };
        let body = format!(
            r#"{{"type":"evt","data":{{"id":"nested","text":{}}},"id":{json_id},"after":[1,2]}}"#,
            serde_json::to_string(&payload).unwrap()
        );
        let ts = epoch(NOW as i64 + offset);
        let headers = sign(&scheme, secret, body.as_bytes(), ts, "unused");
        let verified = verifier(&scheme, secret)
            .verify_at(&headers, body.as_bytes(), epoch(NOW as i64))
            .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
        prop_assert_eq!(verified.delivery_id().map(|id| id.to_string()), Some(expected));
    }

    #[test]
    fn flipping_a_body_bit_is_a_mismatch(
        name in select(presets::NAMES),
        body in non_empty_body(),
        id in id(),
        offset in offset(),
        at in any::<Index>(),
        bit in 0u8..8,
    ) {
        let scheme = preset(name);
        let secret = secret_for(name);
        let headers = sign(&scheme, secret, &body, epoch(NOW as i64 + offset), &id);
        let mut tampered = body.clone();
        tampered[at.index(body.len())] ^= 1 << bit;
        prop_assert_eq!(
            verifier(&scheme, secret).verify_at(&headers, &tampered, epoch(NOW as i64)),
            Err(VerifyError::SignatureMismatch),
            "{}", name
        );
    }

    #[test]
    fn flipping_a_signature_bit_is_a_mismatch(
        name in select(presets::NAMES),
        body in body(),
        id in id(),
        offset in offset(),
        at in any::<Index>(),
    ) {
        let scheme = preset(name);
        let secret = secret_for(name);
        let mut headers = sign(&scheme, secret, &body, epoch(NOW as i64 + offset), &id);
        let header = scheme.signature_header().as_str();
        let value = get(&headers, header);
        let (before, sig) = split_signature(name, &value);
        let (_, encoding) = signature_layout(name);
        let mut bytes = decode_sig(encoding, sig);
        prop_assert_eq!(bytes.len(), scheme.algorithm().output_len());
        let bit = at.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        set(&mut headers, header, &format!("{before}{}", encode_sig(encoding, &bytes)));
        prop_assert_eq!(
            verifier(&scheme, secret).verify_at(&headers, &body, epoch(NOW as i64)),
            Err(VerifyError::SignatureMismatch),
            "{}", name
        );
    }

    #[test]
    fn hex_signatures_verify_in_either_case(
        name in select(presets::NAMES.iter().copied()
            .filter(|n| signature_layout(n).1 == SigEncoding::Hex)
            .collect::<Vec<_>>()),
        body in body(),
        id in id(),
        upper in prop::collection::vec(any::<bool>(), 128),
    ) {
        let scheme = preset(name);
        let secret = secret_for(name);
        let mut headers = sign(&scheme, secret, &body, epoch(NOW as i64), &id);
        let header = scheme.signature_header().as_str();
        let value = get(&headers, header);
        let (before, sig) = split_signature(name, &value);
        let mixed: String = sig
            .chars()
            .zip(&upper)
            .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
            .collect();
        set(&mut headers, header, &format!("{before}{mixed}"));
        prop_assert!(verifier(&scheme, secret).verify_at(&headers, &body, epoch(NOW as i64)).is_ok());
    }

    #[test]
    fn another_timestamp_in_the_window_is_a_mismatch(
        name in select(timestamped_presets()),
        body in body(),
        id in id(),
        offset in offset(),
        other in offset(),
    ) {
        prop_assume!(offset != other);
        let scheme = preset(name);
        let secret = secret_for(name);
        let mut headers = sign(&scheme, secret, &body, epoch(NOW as i64 + offset), &id);
        // The other timestamp, written as the signer writes it.
        let elsewhere = sign(&scheme, secret, &body, epoch(NOW as i64 + other), &id);
        let text = timestamp_text(&scheme, &elsewhere);
        prop_assert_ne!(&text, &timestamp_text(&scheme, &headers));
        prop_assert!(replace_timestamp(&scheme, &mut headers, text.as_bytes()));
        prop_assert_eq!(
            verifier(&scheme, secret).verify_at(&headers, &body, epoch(NOW as i64)),
            Err(VerifyError::SignatureMismatch),
            "{}", name
        );
    }

    #[test]
    fn flipping_a_timestamp_bit_is_rejected(
        name in select(timestamped_presets()),
        body in body(),
        id in id(),
        offset in offset(),
        at in any::<Index>(),
        bit in 0u8..8,
    ) {
        let scheme = preset(name);
        let secret = secret_for(name);
        let mut headers = sign(&scheme, secret, &body, epoch(NOW as i64 + offset), &id);
        let mut text = timestamp_text(&scheme, &headers).into_bytes();
        let i = at.index(text.len());
        text[i] ^= 1 << bit;
        // A flip into a control byte cannot be sent as a header value at all.
        prop_assume!(replace_timestamp(&scheme, &mut headers, &text));
        let result = verifier(&scheme, secret).verify_at(&headers, &body, epoch(NOW as i64));
        prop_assert!(result.is_err(), "{} accepted timestamp {:?}", name, String::from_utf8_lossy(&text));
    }

    #[test]
    fn changing_a_signed_id_is_a_mismatch(
        name in select(presets::NAMES.iter().copied()
            .filter(|n| signed_id_header(n).is_some())
            .collect::<Vec<_>>()),
        body in body(),
        id in id(),
        other in id(),
        offset in offset(),
    ) {
        prop_assume!(id != other);
        let scheme = preset(name);
        let secret = secret_for(name);
        let mut headers = sign(&scheme, secret, &body, epoch(NOW as i64 + offset), &id);
        set(&mut headers, signed_id_header(name).unwrap(), &other);
        prop_assert_eq!(
            verifier(&scheme, secret).verify_at(&headers, &body, epoch(NOW as i64)),
            Err(VerifyError::SignatureMismatch),
            "{}", name
        );
        // The ID is still what it was signed as once restored.
        set_bytes(&mut headers, signed_id_header(name).unwrap(), id.as_bytes());
        prop_assert!(verifier(&scheme, secret).verify_at(&headers, &body, epoch(NOW as i64)).is_ok());
    }

    #[test]
    fn rotation_reports_which_secret_matched(
        name in select(presets::NAMES),
        body in body(),
        id in id(),
        offset in offset(),
        new_key in key(),
        old_key in key(),
        stranger_key in key(),
    ) {
        let (new, old, stranger) = (
            secret_text(name, &new_key),
            secret_text(name, &old_key),
            secret_text(name, &stranger_key),
        );
        prop_assume!(new != old && new != stranger && old != stranger);
        let scheme = preset(name);
        let ts = epoch(NOW as i64 + offset);
        let now = epoch(NOW as i64);
        let both = Verifier::new(scheme.clone(), &new).unwrap().with_secret(&old).unwrap();
        prop_assert_eq!(both.secret_count(), 2);

        for (index, secret) in [(0, &new), (1, &old)] {
            let headers = sign(&scheme, secret, &body, ts, &id);
            let verified = both.verify_at(&headers, &body, now)
                .map_err(|e| TestCaseError::fail(format!("{name} secret {index}: {e}")))?;
            prop_assert_eq!(verified.secret_index(), index);
        }

        // A verifier without the signing secret rejects.
        let headers = sign(&scheme, &stranger, &body, ts, &id);
        prop_assert_eq!(both.verify_at(&headers, &body, now), Err(VerifyError::SignatureMismatch));
        let headers = sign(&scheme, &old, &body, ts, &id);
        prop_assert_eq!(
            verifier(&scheme, &new).verify_at(&headers, &body, now),
            Err(VerifyError::SignatureMismatch)
        );
    }
}
