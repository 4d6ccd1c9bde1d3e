//! The hand-over of a read batch's bytes to the writers of the connections that get them.

use bytes::BytesMut;

use super::encode::flatten;
use super::{Flow, Router, STAGING_IDLE_KEEP, STAGING_KEEP, STAGING_SPARES, Staged};
use crate::outbound::{Append, Outbound};

/// A target left with at least this many bytes to write has a batch worth a write of its
/// own: the driver lets the writers run before it reads more (see `driver.rs`). With the
/// server on one core, a publisher whose socket always has more to read otherwise queued up to
/// the stall mark (4 MiB) for each subscriber before any writer ran, and loadgen's subscribers
/// sat idle meanwhile: yielding at this mark raised pinned fan-out to four at 16 B from
/// 3.2–3.6 M to 5.1–6.0 M msgs/s and pub/sub at 16 B from 2.0–2.4 M to 3.3–4.0 M, and roughly
/// halved p99 latency under load on every pub/sub, fan-out and queue row.
const YIELD_MARK: usize = 256 * 1024;

impl Router {
    /// Whether a hand-over since the last call left another client's writer a batch worth
    /// writing. Asking clears it.
    pub(crate) fn take_writers_ready(&mut self) -> bool {
        std::mem::take(&mut self.writers_ready)
    }

    /// A quiet connection keeps no large staging buffers.
    pub(crate) fn release_idle_buffers(&mut self) {
        self.spare.retain(|b| b.capacity() <= STAGING_IDLE_KEEP);
        if self.own.capacity() > STAGING_IDLE_KEEP {
            self.own = BytesMut::new();
        }
    }

    /// Hands this batch's bytes to every target (one lock each) and wakes each writer once;
    /// `me` gets the publisher's own share last. Last, because that share may hold the PONG
    /// that answers a PING sent after these messages: a client that has its PONG may count on
    /// every message before it being with its subscribers' writers (a flush), so nothing of
    /// the batch may still be on its way to them when the PONG can leave.
    pub(crate) fn flush(&mut self, me: &Outbound) {
        let stall = matches!(self.flow, Flow::Stall { .. });
        for Staged {
            target,
            mut buf,
            mut shared,
            shared_bytes,
            msgs,
            bytes,
        } in self.staged.drain(..)
        {
            target.stats.add_out(msgs, bytes);
            let append = if shared.is_empty() {
                target.hand_over(&mut buf)
            } else if shared_bytes.saturating_mul(2) >= self.share_from {
                // The payloads pin at most twice what they count for: queued as they lie.
                target.hand_over_shared(&mut buf, std::mem::take(&mut shared), shared_bytes)
            } else {
                // A few payloads out of a large buffer: copied, so the buffer is not kept
                // for them.
                let mut flat = self.spare.pop().unwrap_or_default();
                flatten(&buf, &mut shared, shared_bytes, &mut flat);
                buf.clear();
                let append = target.hand_over(&mut flat);
                if self.spare.len() < STAGING_SPARES && flat.capacity() <= STAGING_KEEP {
                    self.spare.push(flat);
                }
                append
            };
            if append == Append::Wake {
                target.wake();
            }
            if shared.capacity() > 0 && self.shared_spare.len() < STAGING_SPARES {
                self.shared_spare.push(shared);
            }
            if buf.capacity() <= STAGING_KEEP && self.spare.len() < STAGING_SPARES {
                self.spare.push(buf);
            }
            if target.pending_bytes() >= YIELD_MARK {
                self.writers_ready = true;
            }
            if stall && target.is_stalled() {
                self.stalled.push(target);
            }
        }
        self.staged_at.clear();
        if self.own_msgs > 0 {
            me.stats.add_out(self.own_msgs, self.own_bytes);
            self.own_msgs = 0;
            self.own_bytes = 0;
        }
        if !self.own.is_empty() && me.hand_over(&mut self.own) == Append::Wake {
            me.wake();
        }
        if self.own.capacity() > STAGING_KEEP {
            self.own = BytesMut::new();
        }
    }
}
