//! The one thing the verifier asks of a request's headers.

use http::{HeaderMap, HeaderName};

use crate::VerifyError;

/// What a header lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The header is absent.
    Missing,
    /// The header arrived on exactly one line, with this value.
    One(&'a [u8]),
    /// The header arrived on more than one line.
    Repeated,
}

impl<'a> Lookup<'a> {
    /// What the values of one header name say: none, exactly one, or more.
    ///
    /// ```
    /// use hookwarden_core::Lookup;
    ///
    /// assert_eq!(Lookup::from_values([&b"a"[..]]), Lookup::One(b"a"));
    /// assert_eq!(Lookup::from_values([&b"a"[..], b"b"]), Lookup::Repeated);
    /// assert_eq!(Lookup::from_values(std::iter::empty()), Lookup::Missing);
    /// ```
    #[inline]
    pub fn from_values(values: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (None, _) => Lookup::Missing,
            (Some(value), None) => Lookup::One(value),
            (Some(_), Some(_)) => Lookup::Repeated,
        }
    }
}

/// A request's headers, as the verifier reads them.
///
/// Implemented for [`http::HeaderMap`]; an adapter for a framework with its
/// own header type implements it on a thin wrapper.
///
/// ```
/// use hookwarden_core::{HeaderLookup, Lookup};
/// use http::{HeaderMap, HeaderName};
///
/// let mut headers = HeaderMap::new();
/// headers.append("x-sig", "a".parse().unwrap());
/// let name = HeaderName::from_static("x-sig");
/// assert_eq!(headers.lookup(&name), Lookup::One(b"a"));
/// headers.append("x-sig", "b".parse().unwrap());
/// assert_eq!(headers.lookup(&name), Lookup::Repeated);
/// ```
pub trait HeaderLookup {
    /// Looks up `name` (lowercase), telling a repeated header from a single one.
    fn lookup(&self, name: &HeaderName) -> Lookup<'_>;
}

impl HeaderLookup for HeaderMap {
    #[inline]
    fn lookup(&self, name: &HeaderName) -> Lookup<'_> {
        Lookup::from_values(self.get_all(name).iter().map(|value| value.as_bytes()))
    }
}

impl<H: HeaderLookup + ?Sized> HeaderLookup for &H {
    fn lookup(&self, name: &HeaderName) -> Lookup<'_> {
        (**self).lookup(name)
    }
}

/// The header's only value, checked to be visible ASCII (and tab), or `None`
/// when it is absent.
///
/// The value stays bytes: everything the verifier does with it (split the
/// signature header, parse the timestamp, feed the MAC) works on bytes, and
/// visible ASCII is valid UTF-8 should text be needed, so no second pass
/// over the bytes is spent on a UTF-8 check.
///
/// # Errors
/// [`VerifyError::DuplicateHeader`] for a repeated header,
/// [`VerifyError::InvalidHeader`] for anything but visible ASCII (and tab).
pub(crate) fn single<'a, H: HeaderLookup + ?Sized>(
    headers: &'a H,
    name: &HeaderName,
) -> Result<Option<&'a [u8]>, VerifyError> {
    match single_unchecked(headers, name)? {
        Some(bytes) if !is_visible_ascii(bytes) => Err(invalid(name)),
        value => Ok(value),
    }
}

/// [`single`] without the visible-ASCII check, for a caller that checks
/// the value in another way and then calls [`invalid`] as [`single`] would.
///
/// # Errors
/// [`VerifyError::DuplicateHeader`] for a repeated header.
pub(crate) fn single_unchecked<'a, H: HeaderLookup + ?Sized>(
    headers: &'a H,
    name: &HeaderName,
) -> Result<Option<&'a [u8]>, VerifyError> {
    match headers.lookup(name) {
        Lookup::Missing => Ok(None),
        Lookup::Repeated => Err(VerifyError::DuplicateHeader {
            name: name.as_str().to_owned(),
        }),
        Lookup::One(bytes) => Ok(Some(bytes)),
    }
}

/// The error for an absent header `name` that must be there.
pub(crate) fn missing(name: &HeaderName) -> VerifyError {
    VerifyError::MissingHeader {
        name: name.as_str().to_owned(),
    }
}

/// The error for a value of `name` that is not visible ASCII.
pub(crate) fn invalid(name: &HeaderName) -> VerifyError {
    VerifyError::InvalidHeader {
        name: name.as_str().to_owned(),
    }
}

/// Visible ASCII and tab: the only header bytes the verifier reads.
///
/// No early exit: a valid header is read to its end anyway. Values of 64
/// bytes or more go through a loop the compiler vectorizes (32 bytes a
/// step, then 8, then one by one); shorter ones, the usual ID or list
/// signature header, eight bytes at a time with the last eight overlapping
/// the ones before, which costs less than the vector loop's tails.
pub(crate) fn is_visible_ascii(bytes: &[u8]) -> bool {
    if bytes.len() >= 64 {
        let bad = bytes.iter().fold(0u8, |bad, &b| {
            bad | (u8::from(b.wrapping_sub(0x20) >= 0x5f) & u8::from(b != b'\t'))
        });
        return bad == 0;
    }
    let Some(last) = bytes.last_chunk::<8>() else {
        return bytes
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
    };
    let mut bad = invisible(last);
    let mut rest = bytes;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        bad |= invisible(word);
        rest = tail;
    }
    bad == 0
}

/// The high bit of each byte of `word` that is neither visible ASCII
/// (space to `~`) nor tab. Each step keeps every byte below 0x100, so no
/// carry crosses from one byte into the next.
fn invisible(word: &[u8; 8]) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = ONES * 0x80;
    let word = u64::from_ne_bytes(*word);
    let low = word & !HIGHS; // each byte's low seven bits
    let at_least_space = (low + ONES * 0x60) & HIGHS; // low >= 0x20
    let del = (low + ONES) & HIGHS; // low == 0x7f
    let not_tab = ((low ^ (ONES * 0x09)) + ONES * 0x7f) & HIGHS; // low != 0x09
    (word & HIGHS) | del | (!at_least_space & not_tab & HIGHS)
}

/// Like [`single`], but an absent header is [`VerifyError::MissingHeader`].
pub(crate) fn required<'a, H: HeaderLookup + ?Sized>(
    headers: &'a H,
    name: &HeaderName,
) -> Result<&'a [u8], VerifyError> {
    single(headers, name)?.ok_or_else(|| missing(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn non_ascii_and_control_bytes_are_invalid() {
        let name = HeaderName::from_static("x-sig");
        for bytes in [&b"caf\xe9"[..], b"\xc3\xa9", b"\xff"] {
            let mut headers = HeaderMap::new();
            headers.insert(&name, HeaderValue::from_bytes(bytes).unwrap());
            assert_eq!(
                single(&headers, &name).unwrap_err().code(),
                "invalid_header",
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn visible_ascii_is_tab_and_space_to_tilde() {
        for byte in 0..=255u8 {
            let expected = byte == b'\t' || (b' '..=b'~').contains(&byte);
            assert_eq!(is_visible_ascii(&[byte]), expected, "{byte:#x}");
            // In a longer value, one bad byte anywhere spoils it; its
            // neighbours (a tab, DEL, a space) do not leak into it.
            for len in [1, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 64, 65] {
                for at in 0..len {
                    for filler in [b'a', b'\t', b' ', b'~'] {
                        let mut long = vec![filler; len];
                        long[at] = byte;
                        assert_eq!(is_visible_ascii(&long), expected, "{byte:#x} at {at}/{len}");
                    }
                }
            }
        }
        assert!(is_visible_ascii(b""));
    }

    #[test]
    fn missing_single_and_repeated() {
        let name = HeaderName::from_static("x-sig");
        let mut headers = HeaderMap::new();
        assert_eq!(single(&headers, &name), Ok(None));
        assert_eq!(
            required(&headers, &name).unwrap_err().code(),
            "missing_header"
        );
        headers.append(&name, HeaderValue::from_static("v"));
        assert_eq!(required(&headers, &name), Ok(&b"v"[..]));
        headers.append(&name, HeaderValue::from_static("v"));
        assert_eq!(
            single(&headers, &name).unwrap_err().code(),
            "duplicate_header"
        );
    }
}
