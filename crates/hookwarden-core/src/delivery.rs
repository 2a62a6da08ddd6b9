//! Delivery IDs: owned, and stored inline when short so that verification
//! does not allocate for them.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Long enough for a UUID, a Svix `msg_…` ID and a hex SHA-256 digest.
const INLINE: usize = 64;

/// A delivery's ID: the key it is deduplicated by.
///
/// IDs of up to 64 bytes are kept inline; longer ones on the heap.
///
/// ```
/// use hookwarden_core::DeliveryId;
///
/// let id = DeliveryId::new("72d3162e-cc78-11e3-81ab-4c9367dc0958");
/// assert_eq!(id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
/// assert_eq!(id.len(), 36);
/// ```
#[derive(Clone)]
pub struct DeliveryId(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl DeliveryId {
    /// An ID holding a copy of `id`.
    pub fn new(id: &str) -> Self {
        Self::inline(id.as_bytes()).unwrap_or_else(|| Self(Repr::Heap(id.into())))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Built from a `&str` or from ASCII, so always valid UTF-8.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Heap(id) => id,
        }
    }

    /// An ID holding a copy of `id`, which the caller checked to be ASCII
    /// (a header value): no UTF-8 check on the way in.
    pub(crate) fn from_ascii(id: &[u8]) -> Self {
        debug_assert!(id.is_ascii());
        // ASCII is UTF-8: the lossy conversion replaces nothing.
        Self::inline(id).unwrap_or_else(|| Self(Repr::Heap(String::from_utf8_lossy(id).into())))
    }

    /// `id` kept inline, if it is short enough; `id` must be UTF-8.
    fn inline(id: &[u8]) -> Option<Self> {
        if id.len() > INLINE {
            return None;
        }
        let mut bytes = [0; INLINE];
        bytes[..id.len()].copy_from_slice(id);
        // `id.len() <= INLINE`, which fits a `u8`.
        Some(Self(Repr::Inline {
            len: id.len() as u8,
            bytes,
        }))
    }

    /// The lowercase hex of `bytes`, without allocating for digests of up to 32 bytes.
    pub(crate) fn hex(bytes: &[u8]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        if bytes.len() * 2 > INLINE {
            let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            return Self(Repr::Heap(text.into()));
        }
        let mut out = [0; INLINE];
        for (i, b) in bytes.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
        }
        Self(Repr::Inline {
            len: (bytes.len() * 2) as u8,
            bytes: out,
        })
    }

    /// The decimal form of an integer ID, without allocating.
    pub(crate) fn integer(value: i128) -> Self {
        let mut digits = [0u8; 40];
        let mut i = digits.len();
        let mut rest = value.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            i -= 1;
            digits[i] = b'-';
        }
        Self::new(std::str::from_utf8(&digits[i..]).unwrap_or_default())
    }
}

impl Deref for DeliveryId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for DeliveryId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for DeliveryId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl PartialEq for DeliveryId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for DeliveryId {}

impl PartialEq<str> for DeliveryId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DeliveryId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for DeliveryId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_agree() {
        let short = "a".repeat(INLINE);
        let long = "a".repeat(INLINE + 1);
        assert!(matches!(DeliveryId::new(&short).0, Repr::Inline { .. }));
        assert!(matches!(DeliveryId::new(&long).0, Repr::Heap(_)));
        assert_eq!(DeliveryId::new(&short), short.as_str());
        assert_eq!(DeliveryId::new(&long), long.as_str());
        assert_eq!(DeliveryId::new("é✓"), "é✓");
        assert_eq!(DeliveryId::new(""), "");
        assert_eq!(DeliveryId::from_ascii(short.as_bytes()), short.as_str());
        assert_eq!(DeliveryId::from_ascii(long.as_bytes()), long.as_str());
        assert!(matches!(
            DeliveryId::from_ascii(long.as_bytes()).0,
            Repr::Heap(_)
        ));
    }

    #[test]
    fn hex_and_integer() {
        assert_eq!(DeliveryId::hex(&[0x00, 0xab, 0xff]), "00abff");
        let long = [0x11u8; 40];
        assert_eq!(DeliveryId::hex(&long), "11".repeat(40).as_str());
        assert_eq!(DeliveryId::integer(0), "0");
        assert_eq!(DeliveryId::integer(-42), "-42");
        assert_eq!(
            DeliveryId::integer(i128::from(u64::MAX)),
            "18446744073709551615"
        );
        assert_eq!(
            DeliveryId::integer(i128::from(i64::MIN)),
            "-9223372036854775808"
        );
    }
}
