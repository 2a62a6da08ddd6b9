//! A signed delivery round-trips for every preset: whatever the body (and a
//! secret taken from the input where the preset accepts it), what the
//! `Signer` produces passes `Verifier::verify_at`, alone and behind another
//! secret, and the same headers over a changed body are a mismatch.
//!
//! Input: a preset byte, a secret length byte, the secret, then the body.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use hookwarden_core::{presets, DeliveryIdSource, SignOptions, Signer, Verifier, VerifyError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [pick, secret_len, rest @ ..] = data else {
        return;
    };
    let name = presets::NAMES[usize::from(*pick) % presets::NAMES.len()];
    let scheme = presets::by_name(name).expect("a preset");
    let (secret, body) = rest.split_at(usize::from(*secret_len).min(rest.len()));
    let fallback = hookwarden_fuzz::secrets(name)[0];
    let secret = std::str::from_utf8(secret)
        .ok()
        .filter(|text| scheme.parse_secret(text).is_ok())
        .unwrap_or(fallback);

    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut options = SignOptions::new().with_timestamp(now);
    if matches!(scheme.delivery_id(), DeliveryIdSource::Header(_)) {
        options = options.with_id("msg_fuzz");
    }
    let headers = Signer::new(scheme.clone(), secret)
        .expect("a signer")
        .sign(body, &options)
        .expect("signed");
    let alone = Verifier::new(scheme.clone(), secret).expect("a verifier");
    let verified = alone
        .verify_at(&headers, body, now)
        .unwrap_or_else(|err| panic!("{name}: a signed delivery was rejected: {err:?}"));
    assert_eq!(verified.scheme(), name);
    assert_eq!(verified.secret_index(), 0);
    // In a rotation, behind another secret, it passes as well.
    let other = if secret == fallback {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    } else {
        fallback
    };
    let verifier = match Verifier::new(scheme.clone(), other) {
        Ok(verifier) => verifier.with_secret(secret).expect("the secret parsed"),
        Err(_) => alone,
    };
    assert!(
        verifier.verify_at(&headers, body, now).is_ok(),
        "{name}: rotation"
    );

    let mut changed = body.to_vec();
    match changed.first_mut() {
        Some(byte) => *byte ^= 1,
        None => changed.push(b' '),
    }
    assert_eq!(
        verifier.verify_at(&headers, &changed, now),
        Err(VerifyError::SignatureMismatch),
        "{name}: a changed body passed"
    );
});
