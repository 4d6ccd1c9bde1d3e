//! Message tracing, as nats-server 2.11+ does it: a message published with a
//! `Nats-Trace-Dest` header (or, when its account has a `msg_trace` destination, with a
//! sampled W3C `traceparent`) makes the server publish one JSON event to that destination,
//! in the publisher's account, describing where the message went: ingress, subject mapping,
//! stream exports and service imports crossed, and one egress per subscription it reached.
//! `Nats-Trace-Only: true` traces without delivering.
//!
//! The header scan runs only for HPUB; a message without headers never reaches this module.
//! The event is routed inline by the publisher's router after the message (never waiting on
//! anybody), in the same JSON shape as nats-server 2.15.1's `MsgTraceEvent`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::account::Account;

/// The header naming the trace destination.
const TRACE_DEST: &[u8] = b"Nats-Trace-Dest";
/// The value that marks tracing as disabled (not a valid subject, on purpose).
const TRACE_DEST_DISABLED: &[u8] = b"trace disabled";
/// Asks for a trace without delivery.
const TRACE_ONLY: &str = "Nats-Trace-Only";
/// An old server's header: its presence disables tracing.
const TRACE_ORIGIN_ACCOUNT: &str = "Nats-Trace-Origin-Account";
/// The W3C trace-context header (matched in any case).
const TRACE_PARENT: &[u8] = b"traceparent";
/// The first line of a header block.
const HEADER_LINE: &[u8] = b"NATS/1.0\r\n";
/// Most header fields the scan keeps (nats-server's are on the stack with the same size, but
/// grow; here the rest are ignored so a hostile header cannot grow the event without bound
/// beyond what `max_payload` already allows).
const MAX_FIELDS: usize = 1024;

/// nats-server's connection kind number for a client.
const KIND_CLIENT: u8 = 0;

/// Errors written into egress events, in nats-server's words.
pub(crate) const ERR_NO_ECHO: &str = "Not delivered because of no echo";
pub(crate) const ERR_SUB_DENY: &str = "Not delivered because subscription denies this subject";
pub(crate) const ERR_SUB_CLOSED: &str = "Not delivered because subscription is closed";
pub(crate) const ERR_CLIENT_CLOSED: &str = "Not delivered because client is closed";
pub(crate) const ERR_AUTO_UNSUB: &str = "Not delivered because auto-unsubscribe exceeded";
pub(crate) const ERR_FAST_PRODUCER: &str =
    "Not delivered because fast producer not stalled and consumer is slow";

/// What the header scan found.
pub(crate) struct Scan {
    /// Every non-empty field, names in their own case, values in order.
    headers: BTreeMap<String, Vec<String>>,
    /// Only a sampled `traceparent` was found (no `Nats-Trace-Dest`): the destination comes
    /// from the account's `msg_trace`.
    external: bool,
}

impl Scan {
    fn first(&self, key: &str) -> Option<&str> {
        self.headers
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// Scans an HPUB's header block for `Nats-Trace-Dest` or a sampled `traceparent`, as
/// nats-server does: `None` when neither is there (or tracing was disabled upstream).
pub(crate) fn scan(hdr: &[u8]) -> Option<Scan> {
    if !hdr.starts_with(HEADER_LINE) || !mentions_trace(hdr) {
        return None;
    }
    let mut fields: Vec<(&[u8], &[u8])> = Vec::new();
    let (mut dest_found, mut parent_found) = (false, false);
    let mut i = HEADER_LINE.len();
    while i < hdr.len() {
        let Some(colon) = hdr[i..].iter().position(|&b| b == b':') else {
            break;
        };
        let key = &hdr[i..i + colon];
        i += colon + 1;
        while i < hdr.len() && (hdr[i] == b' ' || hdr[i] == b'\t') {
            i += 1;
        }
        let start = i;
        let Some(nl) = hdr[start..].windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let mut end = start + nl;
        while end > start && (hdr[end - 1] == b' ' || hdr[end - 1] == b'\t') {
            end -= 1;
        }
        let val = &hdr[start..end];
        if !key.is_empty() && !val.is_empty() {
            if !parent_found && key.eq_ignore_ascii_case(TRACE_PARENT) {
                parent_found = sampled(val);
            } else if !dest_found && key == TRACE_DEST {
                if val == TRACE_DEST_DISABLED {
                    return None;
                }
                dest_found = true;
            }
            if fields.len() < MAX_FIELDS {
                fields.push((key, val));
            }
        }
        i = start + nl + 2;
    }
    if !dest_found && !parent_found {
        return None;
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in fields {
        headers
            .entry(String::from_utf8_lossy(k).into_owned())
            .or_default()
            .push(String::from_utf8_lossy(v).into_owned());
    }
    Some(Scan {
        headers,
        external: !dest_found,
    })
}

/// Whether the header block names `Nats-Trace-Dest` (exactly) or `traceparent` (in any case)
/// anywhere: a pass over the bytes without allocating, so the common header block that has
/// neither costs no field table.
fn mentions_trace(hdr: &[u8]) -> bool {
    hdr.windows(TRACE_PARENT.len()).any(|w| {
        (w[0] == b'N' && w.starts_with(&TRACE_DEST[..TRACE_PARENT.len()]))
            || ((w[0] | 0x20) == b't' && w.eq_ignore_ascii_case(TRACE_PARENT))
    })
}

/// A `traceparent` value `version-traceid-parentid-flags` whose flags have the sampled bit.
fn sampled(val: &[u8]) -> bool {
    let parts: Vec<&[u8]> = val.split(|&b| b == b'-').collect();
    if parts.len() != 4 || parts[3].len() != 2 {
        return false;
    }
    std::str::from_utf8(parts[3])
        .ok()
        .and_then(|s| i8::from_str_radix(s, 16).ok())
        .is_some_and(|v| v & 1 == 1)
}

/// Whether an account sampling percentage picks this message.
fn sample(percent: u8) -> bool {
    if percent == 0 || percent >= 100 {
        return true;
    }
    // nats-server draws 0..99 and keeps draws up to and including the percentage.
    rand::Rng::gen_range(&mut rand::thread_rng(), 0..100u32) <= u32::from(percent)
}

/// What a publisher's connection is, for the ingress event.
pub(crate) struct Publisher<'a> {
    pub(crate) cid: u64,
    pub(crate) name: Option<&'a str>,
    pub(crate) account: &'a Arc<Account>,
}

/// What [`start`] decided.
pub(crate) enum Start {
    /// No tracing: process the message as usual.
    Untraced,
    /// The message must not be processed at all (a trace-only message whose trace cannot be
    /// made, or a destination the publisher may not publish to: `denied` names it).
    Skip { denied: Option<String> },
    /// Trace it.
    Traced(Box<Tracer>),
}

/// Decides whether a message is traced, from its header scan; `subject` is as published
/// (before mappings). `may_publish` answers whether the publisher may publish to a subject.
pub(crate) fn start(
    scan: Scan,
    who: Publisher<'_>,
    subject: &[u8],
    msg_size: usize,
    may_publish: impl FnOnce(&str) -> bool,
) -> Start {
    let only = !scan.external
        && scan
            .first(TRACE_ONLY)
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "on"));
    let skip = || {
        if only {
            Start::Skip { denied: None }
        } else {
            Start::Untraced
        }
    };
    let dest = if scan.external {
        None
    } else {
        match scan.first(std::str::from_utf8(TRACE_DEST).unwrap_or_default()) {
            Some(d) => Some(d.to_owned()),
            None => return skip(),
        }
    };
    if let Some(v) = scan.first(TRACE_ORIGIN_ACCOUNT) {
        tracing::error!(
            "cid:{} - Message tracing disabled because of header {:?} with value={}",
            who.cid,
            TRACE_ORIGIN_ACCOUNT,
            crate::logfmt::Quoted(v.as_bytes())
        );
        return skip();
    }
    let dest = match dest {
        Some(d) => d,
        None => {
            let Some((d, percent)) = who.account.msg_trace() else {
                return Start::Untraced;
            };
            if !sample(percent) {
                return Start::Untraced;
            }
            d
        }
    };
    if rnats_sublist::validate_literal_subject(dest.as_bytes()).is_err() {
        tracing::error!(
            "cid:{} - Destination {} is not valid, won't be able to trace events",
            who.cid,
            crate::logfmt::Quoted(dest.as_bytes())
        );
        return skip();
    }
    if !may_publish(&dest) {
        return Start::Skip { denied: Some(dest) };
    }
    let ingress = Event::Ingress {
        kind: KIND_CLIENT,
        cid: who.cid,
        name: who.name.unwrap_or_default().to_owned(),
        acc: who.account.name.to_string(),
        subj: String::from_utf8_lossy(subject).into_owned(),
        error: String::new(),
    };
    let encoding = scan.first("Accept-Encoding").map(str::to_ascii_lowercase);
    Start::Traced(Box::new(Tracer {
        account: who.account.clone(),
        dest,
        only,
        encoding,
        ingress_account: who.account.name.to_string(),
        here: who.account.name.to_string(),
        shadow: None,
        request: Request {
            header: scan.headers,
            msgsize: msg_size,
        },
        events: vec![Stamped::now(ingress)],
    }))
}

/// One traced message's event, built while it is routed.
pub(crate) struct Tracer {
    /// The account the event is published in (the publisher's).
    account: Arc<Account>,
    dest: String,
    only: bool,
    /// `Accept-Encoding`, lower case.
    encoding: Option<String>,
    ingress_account: String,
    /// The account deliveries are being made in now.
    here: String,
    /// The subject the next egress names instead of the subscription's (a stream import's
    /// shadow subscription, in the exporter's subjects).
    shadow: Option<Vec<u8>>,
    request: Request,
    events: Vec<Stamped>,
}

/// Where the server's own fields of the event come from.
pub(crate) struct ServerFields<'a> {
    pub(crate) name: &'a str,
    pub(crate) host: &'a str,
    pub(crate) id: &'a str,
}

impl Tracer {
    /// Whether the message is only traced, not delivered.
    pub(crate) fn only(&self) -> bool {
        self.only
    }

    /// The account the trace is published in.
    pub(crate) fn account(&self) -> &Arc<Account> {
        &self.account
    }

    /// The trace destination.
    pub(crate) fn dest(&self) -> &str {
        &self.dest
    }

    /// Deliveries from now on are made in `account`.
    pub(crate) fn enter(&mut self, account: &str) {
        if self.here != account {
            account.clone_into(&mut self.here);
        }
    }

    /// The message was refused at ingress (permissions): the reason, as sent to the client.
    pub(crate) fn ingress_error(&mut self, text: String) {
        if let Some(Stamped {
            event: Event::Ingress { error, .. },
            ..
        }) = self.events.first_mut()
        {
            *error = text;
        }
    }

    /// The next egress names `subject` as the subscription (`None`: the subscription's own).
    pub(crate) fn set_shadow(&mut self, subject: Option<Vec<u8>>) {
        self.shadow = subject;
    }

    /// The published subject was mapped to `to`.
    pub(crate) fn mapped(&mut self, to: &[u8]) {
        self.events.push(Stamped::now(Event::SubjectMapping {
            to: String::from_utf8_lossy(to).into_owned(),
        }));
    }

    /// The message crossed a stream export into `account` as `to`.
    pub(crate) fn stream_export(&mut self, account: &str, to: &[u8]) {
        self.events.push(Stamped::now(Event::StreamExport {
            acc: account.to_owned(),
            to: String::from_utf8_lossy(to).into_owned(),
        }));
    }

    /// The message crossed a service import into `account`, from `from` to `to`.
    pub(crate) fn service_import(&mut self, account: &str, from: &[u8], to: &[u8]) {
        self.events.push(Stamped::now(Event::ServiceImport {
            acc: account.to_owned(),
            from: String::from_utf8_lossy(from).into_owned(),
            to: String::from_utf8_lossy(to).into_owned(),
        }));
    }

    /// A subscription the message reached (or would have: `error` says why not).
    pub(crate) fn egress(
        &mut self,
        cid: u64,
        name: Option<&str>,
        sub: &[u8],
        queue: Option<&[u8]>,
        error: &str,
    ) {
        let acc = if self.here == self.ingress_account {
            String::new()
        } else {
            self.here.clone()
        };
        self.events.push(Stamped::now(Event::Egress {
            kind: KIND_CLIENT,
            cid,
            name: name.unwrap_or_default().to_owned(),
            acc,
            sub: String::from_utf8_lossy(self.shadow.as_deref().unwrap_or(sub)).into_owned(),
            queue: queue
                .map(|q| String::from_utf8_lossy(q).into_owned())
                .unwrap_or_default(),
            error: error.to_owned(),
        }));
    }

    /// The event as published: an optional header block (`Content-Encoding: identity` when
    /// the publisher asked for an encoding this server does not offer) and the JSON.
    pub(crate) fn finish(self, server: &ServerFields<'_>) -> (Option<Vec<u8>>, Vec<u8>) {
        let event = TraceEvent {
            server: ServerInfo {
                name: server.name,
                host: server.host,
                id: server.id,
                ver: crate::info::COMPAT_VERSION,
                feature_flags: FEATURE_FLAGS,
                jetstream: false,
                flags: 0,
                seq: crate::monitor::next_event_seq(),
                time: jiff::Timestamp::now().to_string(),
            },
            request: self.request,
            events: self.events,
        };
        let body = serde_json::to_vec(&event).unwrap_or_default();
        // nats-server compresses for gzip and snappy; this server does not, and then says
        // nothing rather than claim an encoding it did not apply.
        let header = self
            .encoding
            .filter(|e| !(e.contains("gzip") || e.contains("snappy") || e.contains("s2")))
            .map(|_| b"NATS/1.0\r\nContent-Encoding: identity\r\n\r\n".to_vec());
        (header, body)
    }
}

/// A copy of a message (`header_len` bytes of header, then payload) whose first
/// `Nats-Trace-Dest` value reads `trace disabled`; returns it with its new header length.
pub(crate) fn disable(body: &[u8], header_len: usize) -> (Vec<u8>, usize) {
    let header_len = header_len.min(body.len());
    let hdr = &body[..header_len];
    let key = [TRACE_DEST, b":"].concat();
    let found = hdr
        .windows(key.len() + 2)
        .position(|w| w.starts_with(b"\r\n") && w[2..] == key[..]);
    let Some(at) = found else {
        return (body.to_vec(), header_len);
    };
    let value_start = at + 2 + key.len();
    let Some(value_len) = hdr[value_start..].windows(2).position(|w| w == b"\r\n") else {
        return (body.to_vec(), header_len);
    };
    let mut out = Vec::with_capacity(body.len() + TRACE_DEST_DISABLED.len());
    out.extend_from_slice(&hdr[..value_start]);
    out.extend_from_slice(b" ");
    out.extend_from_slice(TRACE_DEST_DISABLED);
    let new_header_len = out.len() + (header_len - value_start - value_len);
    out.extend_from_slice(&body[value_start + value_len..]);
    (out, new_header_len)
}

/// nats-server 2.15.1's feature flags, as its events carry them.
const FEATURE_FLAGS: FeatureFlags = FeatureFlags {
    js_ack_fc_v2: false,
    js_api_reply_v2: false,
    js_raft_delete_range: true,
    js_snapshot_sources: false,
};

#[derive(Serialize)]
struct FeatureFlags {
    js_ack_fc_v2: bool,
    js_api_reply_v2: bool,
    js_raft_delete_range: bool,
    js_snapshot_sources: bool,
}

#[derive(Serialize)]
struct TraceEvent<'a> {
    server: ServerInfo<'a>,
    request: Request,
    events: Vec<Stamped>,
}

#[derive(Serialize)]
struct ServerInfo<'a> {
    name: &'a str,
    host: &'a str,
    id: &'a str,
    ver: &'a str,
    feature_flags: FeatureFlags,
    jetstream: bool,
    flags: u64,
    seq: u64,
    time: String,
}

#[derive(Serialize)]
struct Request {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    header: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "is_zero")]
    msgsize: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One event with its type and time first, as nats-server orders the fields.
struct Stamped {
    ts: String,
    event: Event,
}

impl Stamped {
    fn now(event: Event) -> Self {
        Self {
            ts: jiff::Timestamp::now().to_string(),
            event,
        }
    }
}

enum Event {
    Ingress {
        kind: u8,
        cid: u64,
        name: String,
        acc: String,
        subj: String,
        error: String,
    },
    SubjectMapping {
        to: String,
    },
    StreamExport {
        acc: String,
        to: String,
    },
    ServiceImport {
        acc: String,
        from: String,
        to: String,
    },
    Egress {
        kind: u8,
        cid: u64,
        name: String,
        acc: String,
        sub: String,
        queue: String,
        error: String,
    },
}

impl Serialize for Stamped {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        let typ = match &self.event {
            Event::Ingress { .. } => "in",
            Event::SubjectMapping { .. } => "sm",
            Event::StreamExport { .. } => "se",
            Event::ServiceImport { .. } => "si",
            Event::Egress { .. } => "eg",
        };
        m.serialize_entry("type", typ)?;
        m.serialize_entry("ts", &self.ts)?;
        let opt = |m: &mut S::SerializeMap, k: &str, v: &str| {
            if v.is_empty() {
                Ok(())
            } else {
                m.serialize_entry(k, v)
            }
        };
        match &self.event {
            Event::Ingress {
                kind,
                cid,
                name,
                acc,
                subj,
                error,
            } => {
                m.serialize_entry("kind", kind)?;
                m.serialize_entry("cid", cid)?;
                opt(&mut m, "name", name)?;
                m.serialize_entry("acc", acc)?;
                m.serialize_entry("subj", subj)?;
                opt(&mut m, "error", error)?;
            }
            Event::SubjectMapping { to } => m.serialize_entry("to", to)?,
            Event::StreamExport { acc, to } => {
                m.serialize_entry("acc", acc)?;
                m.serialize_entry("to", to)?;
            }
            Event::ServiceImport { acc, from, to } => {
                m.serialize_entry("acc", acc)?;
                m.serialize_entry("from", from)?;
                m.serialize_entry("to", to)?;
            }
            Event::Egress {
                kind,
                cid,
                name,
                acc,
                sub,
                queue,
                error,
            } => {
                m.serialize_entry("kind", kind)?;
                m.serialize_entry("cid", cid)?;
                opt(&mut m, "name", name)?;
                opt(&mut m, "acc", acc)?;
                opt(&mut m, "sub", sub)?;
                opt(&mut m, "queue", queue)?;
                opt(&mut m, "error", error)?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_dest_and_keeps_header_case() {
        let s = scan(b"NATS/1.0\r\nNats-Trace-Dest: t\r\nfoo: a\r\nfoo: b \r\n\r\n").unwrap();
        assert!(!s.external);
        assert_eq!(s.first("Nats-Trace-Dest"), Some("t"));
        assert_eq!(s.headers["foo"], vec!["a", "b"]);
    }

    #[test]
    fn scan_ignores_plain_and_disabled_headers() {
        assert!(scan(b"NATS/1.0\r\nfoo: a\r\n\r\n").is_none());
        assert!(!mentions_trace(
            b"NATS/1.0\r\nfoo: a\r\nNats-Msg-Id: 1\r\n\r\n"
        ));
        assert!(mentions_trace(b"NATS/1.0\r\nNats-Trace-Dest: t\r\n\r\n"));
        assert!(mentions_trace(
            b"NATS/1.0\r\nTraceParent: 00-1-2-01\r\n\r\n"
        ));
        assert!(scan(b"NATS/1.0\r\nNats-Trace-Dest: trace disabled\r\n\r\n").is_none());
        // The header name is matched exactly, as nats-server does.
        assert!(scan(b"NATS/1.0\r\nnats-trace-dest: t\r\n\r\n").is_none());
        assert!(scan(b"NATS/1.0 503\r\nNats-Trace-Dest: t\r\n\r\n").is_none());
    }

    #[test]
    fn disable_rewrites_the_destination() {
        let body = b"NATS/1.0\r\nA: b\r\nNats-Trace-Dest: t\r\n\r\nhi";
        let (out, h) = disable(body, body.len() - 2);
        assert_eq!(
            &out[..],
            b"NATS/1.0\r\nA: b\r\nNats-Trace-Dest: trace disabled\r\n\r\nhi"
        );
        assert_eq!(h, out.len() - 2);
    }

    #[test]
    fn traceparent_counts_only_when_sampled() {
        let on = b"NATS/1.0\r\nTraceParent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n";
        assert!(scan(on).unwrap().external);
        let off = b"NATS/1.0\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\r\n\r\n";
        assert!(scan(off).is_none());
        assert!(scan(b"NATS/1.0\r\ntraceparent: 00-1-2\r\n\r\n").is_none());
    }
}
