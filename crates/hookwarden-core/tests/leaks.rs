//! Secret leakage: for every preset, nothing that holds a key shows it in
//! `Debug`, and neither an error nor the `Verified` record carries the
//! secret or the signature that was received.

mod common;

use common::{now_plus, preset, secret_for, sign};
use hookwarden_core::{presets, Gate, Rejection, Signer, Verifier};

/// Texts that would give a secret away: itself, the part after `whsec_`,
/// and the start of its bytes as `Debug` prints a byte list.
fn tells(secret: &str) -> Vec<String> {
    let mut tells = vec![secret.to_owned()];
    if let Some(rest) = secret.strip_prefix("whsec_") {
        tells.push(rest.to_owned());
    }
    let bytes: Vec<u8> = secret.bytes().take(6).collect();
    let list = format!("{bytes:?}");
    tells.push(list.trim_end_matches(']').to_owned());
    tells
}

#[test]
fn nothing_holding_a_key_shows_it_in_debug() {
    for name in presets::NAMES {
        let scheme = preset(name);
        let secret = secret_for(name);
        let parsed = scheme.parse_secret(secret).unwrap();
        let verifier = Verifier::new(scheme.clone(), secret).unwrap();
        let signer = Signer::new(scheme.clone(), secret).unwrap();
        let gate = Gate::new(verifier.clone());
        let shown = format!(
            "{parsed:?} {verifier:?} {verifier:#?} {signer:?} {signer:#?} {gate:?} {gate:#?}"
        );
        assert!(shown.contains("redacted"), "{name}: {shown}");
        for tell in tells(secret) {
            assert!(!shown.contains(&tell), "{name} shows {tell:?}: {shown}");
        }
    }
}

#[test]
fn errors_and_records_carry_neither_secret_nor_signature() {
    let body = br#"{"id":"evt_leak","amount":1}"#;
    for name in presets::NAMES {
        let scheme = preset(name);
        let secret = secret_for(name);
        let headers = sign(&scheme, secret, body, now_plus(0), "msg_leak");
        let signature = headers
            .get(scheme.signature_header())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let verifier = Verifier::new(scheme.clone(), secret).unwrap();

        let verified = verifier.verify_at(&headers, body, now_plus(0)).unwrap();
        let mut shown = format!("{verified:?} {verified:#?}");
        // A tampered body, and a delivery far outside the window.
        for (what, body, at) in [
            (
                "tampered",
                &br#"{"id":"evt_leak","amount":2}"#[..],
                now_plus(0),
            ),
            ("late", &body[..], now_plus(10 * 24 * 3600)),
        ] {
            match verifier.verify_at(&headers, body, at) {
                Ok(_) if what == "late" && scheme.timestamp().is_none() => {}
                Ok(_) => panic!("{name}: a {what} delivery passed"),
                Err(err) => {
                    let rejection = Rejection::from(err.clone());
                    shown.push_str(&format!(
                        " {err} {err:?} {rejection} {rejection:?} {}",
                        rejection.body()
                    ));
                }
            }
        }
        // The part of a signature header that is the MAC itself.
        let mac = signature
            .rsplit(['=', ','])
            .find(|part| part.len() >= 16)
            .unwrap_or(&signature);
        assert!(
            !shown.contains(&mac[..16]),
            "{name} shows its signature: {shown}"
        );
        for tell in tells(secret) {
            assert!(!shown.contains(&tell), "{name} shows {tell:?}: {shown}");
        }
    }
}
