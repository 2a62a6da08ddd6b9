//! Keyed HMAC states, prepared once and cloned per message.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::{Algorithm, BuildError, Secret};

/// The longest MAC: HMAC-SHA512.
pub(crate) const MAX_TAG: usize = 64;

/// An HMAC already keyed with one secret. Cloning it copies the keyed state,
/// so the key schedule runs once per secret, not once per request.
#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl KeyedMac {
    /// # Errors
    /// HMAC accepts keys of any length, so this fails only if the MAC
    /// implementation refuses the key; the error is passed on, never papered over.
    pub(crate) fn new(algorithm: Algorithm, secret: &Secret) -> Result<Self, BuildError> {
        let key = secret.expose();
        Ok(match algorithm {
            Algorithm::Sha1 => Self::Sha1(keyed(key)?),
            Algorithm::Sha256 => Self::Sha256(keyed(key)?),
            Algorithm::Sha512 => Self::Sha512(keyed(key)?),
        })
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(mac) => mac.update(data),
            Self::Sha256(mac) => mac.update(data),
            Self::Sha512(mac) => mac.update(data),
        }
    }

    /// Finishes the MAC and hands it to `f`, then wipes it. The MAC is
    /// lent, not returned: no copy of it to move around or to wipe, and `f`
    /// sees its length as the constant of each algorithm.
    pub(crate) fn finalize_with<R>(self, f: impl FnOnce(&Tag<'_>) -> R) -> R {
        match self {
            Self::Sha1(mac) => lend(mac, f),
            Self::Sha256(mac) => lend(mac, f),
            Self::Sha512(mac) => lend(mac, f),
        }
    }
}

fn lend<M: Mac, R>(mac: M, f: impl FnOnce(&Tag<'_>) -> R) -> R {
    let mut out = mac.finalize().into_bytes();
    let result = f(&Tag { bytes: &out });
    out.as_mut_slice().zeroize();
    result
}

fn keyed<M: KeyInit>(key: &[u8]) -> Result<M, BuildError> {
    M::new_from_slice(key).map_err(|_| BuildError::InvalidScheme {
        reason: "the MAC refused the key",
    })
}

impl fmt::Debug for KeyedMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithm = match self {
            Self::Sha1(_) => "sha1",
            Self::Sha256(_) => "sha256",
            Self::Sha512(_) => "sha512",
        };
        write!(f, "KeyedMac({algorithm}, <redacted>)")
    }
}

/// A computed MAC, lent by [`KeyedMac::finalize_with`]: compared only in
/// constant time.
pub(crate) struct Tag<'a> {
    bytes: &'a [u8],
}

impl Tag<'_> {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes
    }

    /// Constant-time equality; lengths are public (fixed by the algorithm).
    #[inline]
    pub(crate) fn matches(&self, candidate: &[u8]) -> bool {
        self.bytes.ct_eq(candidate).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc_known_answers() {
        // RFC 2202 test case 2 (SHA-1) and RFC 4231 test case 2 (SHA-256, SHA-512).
        let key = Secret::from_bytes(*b"Jefe").unwrap();
        let msg = b"what do ya want for nothing?";
        let run = |algorithm| {
            let mut mac = KeyedMac::new(algorithm, &key).unwrap();
            mac.update(&msg[..7]);
            mac.update(&msg[7..]);
            mac.finalize_with(|tag| hex(tag.as_bytes()))
        };
        assert_eq!(
            run(Algorithm::Sha1),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            run(Algorithm::Sha256),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            run(Algorithm::Sha512),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn matches_sees_every_bit_of_every_length() {
        let key = Secret::from_bytes(*b"k").unwrap();
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            let mac = KeyedMac::new(algorithm, &key).unwrap();
            let good = mac.clone().finalize_with(|tag| tag.as_bytes().to_vec());
            let tag = Tag { bytes: &good };
            assert!(tag.matches(&good));
            for bit in 0..good.len() * 8 {
                let mut flipped = good.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                assert!(!tag.matches(&flipped), "{algorithm:?}: bit {bit}");
            }
            assert!(!tag.matches(&good[..good.len() - 1]));
            let mut longer = good.clone();
            longer.push(0);
            assert!(!tag.matches(&longer));
        }
    }

    #[test]
    fn matches_needs_every_byte_and_the_length() {
        let key = Secret::from_bytes(*b"k").unwrap();
        let mac = KeyedMac::new(Algorithm::Sha256, &key).unwrap();
        let good = mac.finalize_with(|tag| tag.as_bytes().to_vec());
        let tag = Tag { bytes: &good };
        assert!(tag.matches(&good));
        let mut flipped = good.clone();
        flipped[31] ^= 1;
        assert!(!tag.matches(&flipped));
        assert!(!tag.matches(&good[..31]));
        assert!(!tag.matches(&[]));
    }
}
