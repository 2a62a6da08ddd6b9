//! Keyed HMAC states, prepared once and cloned per message.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};
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

    /// Runs a fresh copy of this keyed MAC: `feed` hands it the signed
    /// content piece by piece, then the finished MAC is lent to `check` and
    /// wiped. The copy keeps its algorithm's own type from start to end, so
    /// it is never moved around as the (largest-variant-sized) enum, and
    /// `check` sees the MAC's length as a constant.
    ///
    /// # Errors
    /// Whatever `feed` returns; the MAC is then dropped unfinished.
    pub(crate) fn run<E, R>(
        &self,
        feed: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<(), E>,
        check: impl FnOnce(&Tag<'_>) -> R,
    ) -> Result<R, E> {
        match self {
            Self::Sha1(key) => run(key, feed, check),
            Self::Sha256(key) => run(key, feed, check),
            Self::Sha512(key) => run(key, feed, check),
        }
    }
}

fn run<M: Mac + Clone, E, R>(
    key: &M,
    feed: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<(), E>,
    check: impl FnOnce(&Tag<'_>) -> R,
) -> Result<R, E> {
    let mut mac = key.clone();
    feed(&mut |data| mac.update(data))?;
    let mut out = mac.finalize().into_bytes();
    let result = check(&Tag { bytes: &out });
    out.as_mut_slice().zeroize();
    Ok(result)
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

/// A computed MAC, lent by [`KeyedMac::run`]: compared only in constant time.
pub(crate) struct Tag<'a> {
    bytes: &'a [u8],
}

impl Tag<'_> {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes
    }

    /// Constant-time equality; lengths are public (fixed by the algorithm).
    ///
    /// `subtle`'s `ConstantTimeEq` on eight bytes at a time: the same
    /// branch-free compare as on a byte slice, with one optimization barrier
    /// per word where a byte slice has one per byte.
    #[inline]
    pub(crate) fn matches(&self, candidate: &[u8]) -> bool {
        if self.bytes.len() != candidate.len() {
            return false;
        }
        let mut equal = 1u8;
        for (mine, theirs) in self.bytes.chunks(8).zip(candidate.chunks(8)) {
            equal &= word(mine).ct_eq(&word(theirs)).unwrap_u8();
        }
        Choice::from(equal).into()
    }
}

/// Up to eight bytes as one word, zero-padded (SHA-1's last four bytes).
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_ne_bytes(word)
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
            let mac = KeyedMac::new(algorithm, &key).unwrap();
            let feed = |sink: &mut dyn FnMut(&[u8])| {
                sink(&msg[..7]);
                sink(&msg[7..]);
                Ok::<_, ()>(())
            };
            mac.run(feed, |tag| hex(tag.as_bytes())).unwrap()
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
            let good = mac
                .run(|_| Ok::<_, ()>(()), |tag| tag.as_bytes().to_vec())
                .unwrap();
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
            assert!(!tag.matches(&[]));
        }
    }
}
