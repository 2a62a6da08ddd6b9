//! A delivery's body, gathered piece by piece up to the gate's limit.

use bytes::{Bytes, BytesMut};

use crate::Rejection;

/// A delivery's body as it arrives, refused once it passes a limit: what an
/// adapter reads the body into before [`Gate::admit`](crate::Gate::admit).
///
/// A body that arrives in one piece is kept as it came, without a copy. From
/// the second piece on, every piece is copied into one buffer: a piece may
/// be a slice of a far larger read buffer (an HTTP/2 DATA frame padded to
/// 256 bytes around one byte of body, or a one-byte chunk of HTTP/1.1), and
/// keeping the pieces would keep those buffers alive, so that a body under
/// the limit could hold hundreds of times the limit in memory. Copied, a
/// body holds at most about twice its length.
///
/// ```
/// use hookwarden_core::bytes::Bytes;
/// use hookwarden_core::{BodyBuffer, Rejection};
///
/// let mut body = BodyBuffer::new(8);
/// body.push(Bytes::from_static(b"{\"id\""))?;
/// body.push(Bytes::from_static(b":1}"))?;
/// assert_eq!(body.len(), 8);
/// assert_eq!(body.finish(), Bytes::from_static(b"{\"id\":1}"));
///
/// let mut body = BodyBuffer::new(8);
/// assert!(matches!(body.push(Bytes::from_static(b"{\"id\":10}")), Err(Rejection::BodyTooLarge)));
/// # Ok::<(), Rejection>(())
/// ```
#[derive(Debug)]
pub struct BodyBuffer {
    limit: usize,
    len: usize,
    /// The only piece so far, kept as it came.
    first: Bytes,
    /// Every piece, copied, once a second one came.
    joined: BytesMut,
}

impl BodyBuffer {
    /// An empty body that may grow to `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            len: 0,
            first: Bytes::new(),
            joined: BytesMut::new(),
        }
    }

    /// Adds the next piece of the body.
    ///
    /// # Errors
    /// [`Rejection::BodyTooLarge`] when the body passes the limit with this
    /// piece, which is then dropped (not logged: an adapter hands it to
    /// [`Gate::refuse`](crate::Gate::refuse)).
    pub fn push(&mut self, piece: Bytes) -> Result<(), Rejection> {
        match self.len.checked_add(piece.len()) {
            Some(len) if len <= self.limit => self.len = len,
            _ => return Err(Rejection::BodyTooLarge),
        }
        if piece.is_empty() {
            // Nothing to keep, and no reason to start copying.
        } else if self.first.is_empty() && self.joined.is_empty() {
            self.first = piece;
        } else {
            if self.joined.is_empty() {
                let first = std::mem::take(&mut self.first);
                self.joined.reserve(first.len() + piece.len());
                self.joined.extend_from_slice(&first);
            }
            self.joined.extend_from_slice(&piece);
        }
        Ok(())
    }

    /// The bytes gathered so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been gathered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole body.
    pub fn finish(self) -> Bytes {
        if self.joined.is_empty() {
            self.first
        } else {
            self.joined.freeze()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One piece is handed on as it came: no copy.
    #[test]
    fn a_body_in_one_piece_is_not_copied() {
        let piece = Bytes::from(vec![7u8; 1000]);
        let mut body = BodyBuffer::new(1000);
        body.push(Bytes::new()).unwrap();
        body.push(piece.clone()).unwrap();
        body.push(Bytes::new()).unwrap();
        let whole = body.finish();
        assert_eq!(whole.as_ptr(), piece.as_ptr());
        assert_eq!(whole.len(), 1000);
    }

    /// Pieces cut from a large read buffer are copied out, so the body does
    /// not keep that buffer alive, however small the pieces.
    #[test]
    fn pieces_do_not_keep_their_read_buffer() {
        let mut read_buffer = vec![0u8; 1 << 20];
        read_buffer[..300].fill(b'a');
        let read_buffer = Bytes::from(read_buffer);
        let mut body = BodyBuffer::new(300);
        for at in 0..300 {
            body.push(read_buffer.slice(at..at + 1)).unwrap();
        }
        let whole = body.finish();
        assert_eq!(&whole[..], &[b'a'; 300][..]);
        // No piece, and so no view of the read buffer, is left but this one.
        assert!(read_buffer.is_unique());
    }

    /// The limit is the length: reached is fine, passed is refused, and the
    /// length never wraps.
    #[test]
    fn the_limit_is_inclusive() {
        let mut body = BodyBuffer::new(4);
        body.push(Bytes::from_static(b"ab")).unwrap();
        body.push(Bytes::from_static(b"cd")).unwrap();
        assert!(matches!(
            body.push(Bytes::from_static(b"e")),
            Err(Rejection::BodyTooLarge)
        ));
        assert_eq!(body.len(), 4);
        assert_eq!(body.finish(), Bytes::from_static(b"abcd"));
        let mut body = BodyBuffer::new(usize::MAX);
        body.push(Bytes::from_static(b"a")).unwrap();
        body.len = usize::MAX; // as if that much had come
        assert!(matches!(
            body.push(Bytes::from_static(b"b")),
            Err(Rejection::BodyTooLarge)
        ));
    }
}
