//! How deliveries are written into a target's staging buffer: whole `MSG`/`HMSG` operations,
//! control lines whose payload is shared, and a batch's shared payloads copied back in place.

use bytes::{Bytes, BytesMut};

use super::Msg;
use crate::account::SubRef;
use crate::logfmt;
use crate::outbound::Outbound;

/// The control line of `MSG` or `HMSG` for `sub`, its payload to follow from elsewhere (the
/// target supports headers, or the message has none).
pub(super) fn encode_line(buf: &mut BytesMut, sub: &SubRef, msg: Msg<'_>) {
    match msg.header_len {
        Some(h) => rnats_protocol::encode_hmsg_line(
            buf,
            msg.subject,
            &sub.sid,
            msg.reply,
            h,
            msg.body.len(),
            2,
        ),
        None => rnats_protocol::encode_msg_line(
            buf,
            msg.subject,
            &sub.sid,
            msg.reply,
            msg.body.len(),
            2,
        ),
    }
}

/// A target's staged bytes with their shared payloads copied in place, into `flat`.
pub(super) fn flatten(
    buf: &[u8],
    shared: &mut Vec<(usize, Bytes)>,
    shared_bytes: usize,
    flat: &mut BytesMut,
) {
    flat.reserve(buf.len() + shared_bytes);
    let mut done = 0;
    for (at, payload) in shared.drain(..) {
        flat.extend_from_slice(&buf[done..at]);
        flat.extend_from_slice(&payload);
        done = at;
    }
    flat.extend_from_slice(&buf[done..]);
}

/// `MSG` or `HMSG` for `sub`; a target without headers support gets the message without
/// them, as nats-server does.
pub(super) fn encode(buf: &mut BytesMut, sub: &SubRef, msg: Msg<'_>, headers: bool) {
    let Msg {
        subject,
        reply,
        header_len,
        body,
        ..
    } = msg;
    match header_len {
        Some(h) if headers => rnats_protocol::encode_hmsg(buf, subject, &sub.sid, reply, h, body),
        Some(h) => {
            let payload = &body[h.min(body.len())..];
            rnats_protocol::encode_msg(buf, subject, &sub.sid, reply, payload);
        }
        None => rnats_protocol::encode_msg(buf, subject, &sub.sid, reply, body),
    }
}

/// The trace line of one delivery, in the target's name, as nats-server writes it.
pub(super) fn trace_delivery(target: &Outbound, sub: &SubRef, msg: Msg<'_>, headers: bool) {
    let mut line = BytesMut::new();
    encode(&mut line, sub, msg, headers);
    tracing::trace!(
        "{} - cid:{} - {}",
        target.peer,
        target.cid,
        logfmt::outbound(&line)
    );
}
