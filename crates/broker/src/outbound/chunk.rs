//! The pieces of a client's outbound queue, and writing a round of them with vectored writes.

use std::io::{self, IoSlice};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::WRITE_SLICES;

/// One piece of the queue: bytes of its own, or a publisher's batch whose payloads are
/// shared with its other subscribers (`lines` holds everything else: each payload goes at
/// its offset there).
pub(super) enum Chunk {
    Own(BytesMut),
    Mixed {
        lines: BytesMut,
        payloads: Vec<(usize, Bytes)>,
        len: usize,
    },
}

impl Chunk {
    pub(super) fn len(&self) -> usize {
        match self {
            Self::Own(b) => b.len(),
            Self::Mixed { len, .. } => *len,
        }
    }

    /// Slices a vectored write of this chunk takes.
    pub(super) fn slices(&self) -> usize {
        match self {
            Self::Own(_) => 1,
            Self::Mixed { payloads, .. } => 2 * payloads.len() + 1,
        }
    }

    /// The chunk's bytes in order, as slices (empty ones left out).
    pub(super) fn push_slices<'a>(&'a self, out: &mut Vec<IoSlice<'a>>) {
        let mut push = |part: &'a [u8]| {
            if !part.is_empty() {
                out.push(IoSlice::new(part));
            }
        };
        match self {
            Self::Own(b) => push(b),
            Self::Mixed {
                lines, payloads, ..
            } => {
                let mut done = 0;
                for (at, payload) in payloads {
                    push(&lines[done..*at]);
                    push(payload);
                    done = *at;
                }
                push(&lines[done..]);
            }
        }
    }

    /// Gives the chunk's own buffer back for reuse.
    pub(super) fn into_own(self) -> BytesMut {
        match self {
            Self::Own(b) | Self::Mixed { lines: b, .. } => b,
        }
    }
}

/// Writes every chunk, in order, with as few vectored writes as the socket allows (a transport
/// without vectored writes takes one slice per call, which is still correct).
pub(super) async fn write_chunks<W: AsyncWrite + Unpin>(
    wr: &mut W,
    chunks: &[Chunk],
) -> io::Result<()> {
    // On the heap, filled per round: the writer's future (one per connection) stays small.
    let mut slices: Vec<IoSlice<'_>> =
        Vec::with_capacity(chunks.iter().map(Chunk::slices).sum::<usize>());
    for chunk in chunks {
        chunk.push_slices(&mut slices);
    }
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let n = wr
            .write_vectored(&rest[..rest.len().min(WRITE_SLICES)])
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, n);
    }
    wr.flush().await
}
