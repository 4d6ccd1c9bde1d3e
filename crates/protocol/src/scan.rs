//! Byte-level helpers both parsers share: spans into the input, argument
//! splitting and nats-server's size parsing.

use bytes::{Buf, Bytes};

use crate::error::ProtocolError;

/// A byte range `start..end`, always within the slice it was made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Span {
    pub(crate) const EMPTY: Self = Self { start: 0, end: 0 };

    pub(crate) fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    pub(crate) fn of(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start..self.end).unwrap_or_default()
    }

    pub(crate) fn slice(self, chunk: &Bytes) -> Bytes {
        if self.end <= chunk.len() && self.start <= self.end {
            chunk.slice(self.start..self.end)
        } else {
            Bytes::new()
        }
    }

    /// Turns `chunk` itself into this span of it.
    pub(crate) fn narrow(self, mut chunk: Bytes) -> Bytes {
        if self.end <= chunk.len() && self.start <= self.end {
            chunk.truncate(self.end);
            chunk.advance(self.start);
            chunk
        } else {
            Bytes::new()
        }
    }

    /// Drops trailing blanks.
    pub(crate) fn trim_end(self, buf: &[u8]) -> Self {
        let kept = self
            .of(buf)
            .iter()
            .rposition(|&b| !is_separator(b))
            .map_or(0, |i| i + 1);
        Self::new(self.start, self.start + kept)
    }
}

/// Splits `args` of `buf` on runs of separators into `out`. Returns the
/// number of arguments, or `out.len() + 1` when there are more than fit.
pub(crate) fn split_args(buf: &[u8], args: Span, out: &mut [Span]) -> usize {
    let bytes = args.of(buf);
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() {
        if is_separator(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_separator(bytes[i]) {
            i += 1;
        }
        let Some(slot) = out.get_mut(count) else {
            return out.len() + 1;
        };
        *slot = Span::new(args.start + start, args.start + i);
        count += 1;
    }
    count
}

/// nats-server's `parseSize`: one to nine ASCII digits, nothing else.
pub(crate) fn parse_size(digits: &[u8]) -> Option<usize> {
    const MAX_DIGITS: usize = 9;
    if digits.is_empty() || digits.len() > MAX_DIGITS {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// Blanks between a verb and its arguments.
pub(crate) fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Blanks between arguments; a stray '\r' counts too, as in nats-server.
pub(crate) fn is_separator(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// Whether `buf` starts with the verb `text` (any case), followed by a blank when the verb
/// `takes_args`: `Ok(false)` while `buf` is still a prefix of that, an error as soon as it
/// cannot be.
#[inline]
pub(crate) fn confirm_verb(
    buf: &[u8],
    text: &[u8],
    takes_args: bool,
) -> Result<bool, ProtocolError> {
    let seen = &buf[..buf.len().min(text.len())];
    if !seen.eq_ignore_ascii_case(&text[..seen.len()]) {
        return Err(ProtocolError::UnknownOperation);
    }
    if seen.len() < text.len() {
        return Ok(false);
    }
    if takes_args {
        match buf.get(text.len()) {
            None => return Ok(false),
            Some(&b) if is_space(b) => {}
            Some(_) => return Err(ProtocolError::UnknownOperation),
        }
    }
    Ok(true)
}
