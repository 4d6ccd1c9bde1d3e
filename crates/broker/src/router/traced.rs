//! Message tracing in the router: a traced message takes these paths instead of the plain
//! ones, so a message without a trace pays one `Option` check per delivery and nothing more.

use std::sync::atomic::Ordering;

use super::{Flow, Msg, Router};
use crate::account::SubRef;
use crate::links::StreamRoute;
use crate::msgtrace::{self, Tracer};

impl Router {
    /// Egress events name the shadow subscription, in the exporter's subjects: a literal
    /// subscription's is the published subject, a prefixed one's loses the prefix.
    #[cold]
    #[inline(never)]
    pub(super) fn stream_traced(
        &mut self,
        route: &StreamRoute,
        original: &[u8],
        msg: Msg<'_>,
    ) -> bool {
        let importer = &route.importer;
        if let Some(t) = &mut self.msg_trace {
            t.enter(&importer.name);
        }
        let matches = self.lookup_foreign(importer, msg.subject);
        let mut delivered = false;
        let one = |this: &mut Self, sub: &SubRef| -> bool {
            let Some(t) = &mut this.msg_trace else {
                return this.deliver(sub, msg);
            };
            t.stream_export(&importer.name, msg.subject);
            if route.allow_trace {
                let wild = sub
                    .subject
                    .split(|&b| b == b'.')
                    .any(|t| t == b"*" || t == b">");
                let shadow = match &route.map {
                    _ if !wild => Some(original.to_vec()),
                    crate::links::Mapping::Prefix(p) => sub
                        .subject
                        .strip_prefix(&p[..])
                        .and_then(|s| s.strip_prefix(b"."))
                        .map(<[u8]>::to_vec),
                    _ => None,
                };
                t.set_shadow(shadow);
                let ok = this.deliver(sub, msg);
                if let Some(t) = &mut this.msg_trace {
                    t.set_shadow(None);
                }
                return ok;
            }
            if t.only() {
                return true;
            }
            let t = this.msg_trace.take();
            let ok = this.deliver(sub, msg);
            this.msg_trace = t;
            ok
        };
        for sub in &matches.plain {
            delivered |= one(self, sub);
        }
        for group in &matches.queues {
            let n = group.members.len();
            if n == 0 {
                continue;
            }
            let start = self.next_random() as usize % n;
            for i in 0..n {
                if one(self, &group.members[(start + i) % n]) {
                    delivered = true;
                    break;
                }
            }
        }
        self.expire(importer);
        delivered
    }

    /// [`Router::deliver`] for a traced message: the same checks, each refusal recorded with
    /// nats-server's reason, and nothing delivered for a trace-only message.
    #[cold]
    #[inline(never)]
    pub(super) fn deliver_traced(&mut self, sub: &SubRef, msg: Msg<'_>) -> bool {
        let Some(mut t) = self.msg_trace.take() else {
            return false;
        };
        let target = &sub.client;
        let internal = target.internal.load(Ordering::Relaxed);
        let refusal = if target.cid == self.cid && !self.echo {
            Some(msgtrace::ERR_NO_ECHO)
        } else if sub
            .deliver_filter
            .as_ref()
            .is_some_and(|f| !f.may_deliver(msg.subject, sub.queue.as_deref()))
        {
            Some(msgtrace::ERR_SUB_DENY)
        } else if sub.closed.load(Ordering::Relaxed) {
            Some(msgtrace::ERR_SUB_CLOSED)
        } else {
            None
        };
        let record = |t: &mut Tracer, err: &str| {
            if !internal {
                let name = target.name.get().map(|n| &**n);
                t.egress(target.cid, name, &sub.subject, sub.queue.as_deref(), err);
            }
        };
        let delivered = if let Some(err) = refusal {
            record(&mut t, err);
            false
        } else if t.only() {
            // Counted as delivered (no 503 for a request), nothing sent.
            if !target.is_closed() {
                record(&mut t, "");
            } else {
                record(&mut t, msgtrace::ERR_CLIENT_CLOSED);
            }
            true
        } else if self.flow == Flow::Drop && target.cid != self.cid && target.past_drop_mark() {
            record(&mut t, msgtrace::ERR_FAST_PRODUCER);
            false
        } else if target.is_closed() {
            record(&mut t, msgtrace::ERR_CLIENT_CLOSED);
            false
        } else {
            let ok = self.deliver(sub, msg);
            record(&mut t, if ok { "" } else { msgtrace::ERR_AUTO_UNSUB });
            ok
        };
        self.msg_trace = Some(t);
        delivered
    }

    /// Starts tracing the message about to be routed.
    pub(crate) fn begin_trace(&mut self, tracer: Box<Tracer>) {
        self.msg_trace = Some(tracer);
    }

    /// The trace of the message being routed, if any.
    pub(crate) fn tracer(&mut self) -> Option<&mut Tracer> {
        self.msg_trace.as_deref_mut()
    }

    /// Ends the trace of the routed message and publishes its event to the trace destination
    /// in the publisher's account, as a message from the server: no permission check, echo
    /// on, never pausing the publisher.
    pub(crate) fn finish_trace(&mut self, server: &msgtrace::ServerFields<'_>) {
        let Some(t) = self.msg_trace.take() else {
            return;
        };
        let account = t.account().clone();
        let dest = t.dest().to_owned();
        let (header, json) = t.finish(server);
        let (echo, flow) = (self.echo, self.flow);
        self.echo = true;
        self.flow = Flow::Off;
        let body;
        let msg = match header {
            Some(h) => {
                body = [h.as_slice(), json.as_slice()].concat();
                Msg {
                    subject: dest.as_bytes(),
                    reply: None,
                    header_len: Some(h.len()),
                    body: &body,
                    shared: None,
                }
            }
            None => Msg {
                subject: dest.as_bytes(),
                reply: None,
                header_len: None,
                body: &json,
                shared: None,
            },
        };
        self.route(&account, msg);
        self.echo = echo;
        self.flow = flow;
    }
}
