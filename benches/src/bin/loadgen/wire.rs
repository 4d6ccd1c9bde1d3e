//! The server-to-client half of the NATS protocol, only as much as loadgen needs: `INFO`, `MSG`,
//! `PING`, `PONG`, `+OK` and `-ERR`. The client-to-server half is a handful of `format!`s in the
//! scenarios, so it has no module of its own.

use std::fmt;

/// A control line longer than this without `\r\n` is a broken stream (INFO with many
/// `connect_urls` is the longest line a server sends, a few KiB at most).
const MAX_CONTROL_LINE: usize = 64 * 1024;

/// One operation sent by the server, borrowing from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ServerOp<'a> {
    /// `INFO {json}`: the JSON object.
    Info(&'a [u8]),
    /// `MSG <subject> <sid> [reply-to] <#bytes>` and its payload.
    Msg {
        subject: &'a [u8],
        sid: u64,
        reply: Option<&'a [u8]>,
        payload: &'a [u8],
    },
    Ping,
    Pong,
    Ok,
    /// `-ERR '…'`: the text after `-ERR `.
    Err(&'a [u8]),
}

/// The server sent something loadgen cannot make sense of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error from server: {}", self.0)
    }
}

impl std::error::Error for WireError {}

/// Parses the op at the front of `buf`: `Ok(Some((op, consumed)))`, or `Ok(None)` when more bytes
/// are needed. Nothing is consumed in place; the caller advances by `consumed`.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(ServerOp<'_>, usize)>, WireError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_CONTROL_LINE {
            return Err(WireError(format!(
                "no line end within {MAX_CONTROL_LINE} bytes"
            )));
        }
        return Ok(None);
    };
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let after_line = nl + 1;
    let (verb, rest) = match line.iter().position(|&b| b == b' ' || b == b'\t') {
        Some(i) => (&line[..i], trim_start(&line[i + 1..])),
        None => (line, &line[line.len()..]),
    };
    let op = match verb {
        b"MSG" | b"msg" => return parse_msg(buf, rest, after_line),
        b"PING" | b"ping" => ServerOp::Ping,
        b"PONG" | b"pong" => ServerOp::Pong,
        b"+OK" | b"+ok" => ServerOp::Ok,
        b"-ERR" | b"-err" => ServerOp::Err(rest),
        b"INFO" | b"info" => ServerOp::Info(rest),
        _ => {
            return Err(WireError(format!(
                "unexpected line {:?}",
                String::from_utf8_lossy(line)
            )));
        }
    };
    Ok(Some((op, after_line)))
}

/// `MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n`, `args` being what follows `MSG `.
fn parse_msg<'a>(
    buf: &'a [u8],
    args: &'a [u8],
    after_line: usize,
) -> Result<Option<(ServerOp<'a>, usize)>, WireError> {
    let bad = || {
        WireError(format!(
            "bad MSG arguments {:?}",
            String::from_utf8_lossy(args)
        ))
    };
    let mut fields = args
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|f| !f.is_empty());
    let (Some(subject), Some(sid), Some(third)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(bad());
    };
    let (reply, size) = match fields.next() {
        Some(size) => (Some(third), size),
        None => (None, third),
    };
    if fields.next().is_some() {
        return Err(bad());
    }
    let sid = parse_u64(sid).ok_or_else(bad)?;
    let size = usize::try_from(parse_u64(size).ok_or_else(bad)?).map_err(|_| bad())?;
    let end = after_line + size;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(WireError("MSG payload not followed by CRLF".into()));
    }
    let op = ServerOp::Msg {
        subject,
        sid,
        reply,
        payload: &buf[after_line..end],
    };
    Ok(Some((op, end + 2)))
}

/// How many bytes a complete op at the front of `buf` needs, when the control line says more than
/// `buf` holds: lets the reader grow its buffer once for a large payload instead of by doubling.
pub(crate) fn needed(buf: &[u8]) -> Option<usize> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let rest = line.strip_prefix(b"MSG ")?;
    let size = rest.rsplit(|&b| b == b' ').next()?;
    let size = usize::try_from(parse_u64(size)?).ok()?;
    Some(nl + 1 + size + 2)
}

/// Whether an INFO's JSON says the server takes TLS (`tls_required`, or `tls_available` when it
/// also takes plain connections).
pub(crate) fn offers_tls(info: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(info).is_ok_and(|v| {
        v["tls_required"].as_bool() == Some(true) || v["tls_available"].as_bool() == Some(true)
    })
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> (ServerOp<'_>, usize) {
        parse(buf).unwrap().unwrap()
    }

    #[test]
    fn control_lines() {
        assert_eq!(one(b"PING\r\n"), (ServerOp::Ping, 6));
        assert_eq!(one(b"PONG\r\nPING\r\n"), (ServerOp::Pong, 6));
        assert_eq!(one(b"+OK\r\n"), (ServerOp::Ok, 5));
        assert_eq!(
            one(b"-ERR 'Authorization Violation'\r\n").0,
            ServerOp::Err(b"'Authorization Violation'")
        );
        assert_eq!(one(b"INFO {\"a\":1}\r\n").0, ServerOp::Info(b"{\"a\":1}"));
        assert_eq!(parse(b"PIN").unwrap(), None);
        assert!(parse(b"HELLO\r\n").is_err());
    }

    #[test]
    fn tls_offer_in_info() {
        assert!(offers_tls(br#"{"server_id":"x","tls_required":true}"#));
        assert!(offers_tls(br#"{"tls_available":true}"#));
        assert!(!offers_tls(br#"{"tls_required":false}"#));
        assert!(!offers_tls(b"{not json"));
    }

    #[test]
    fn msg_with_and_without_reply() {
        let (op, n) = one(b"MSG a.b 7 5\r\nhello\r\nPING\r\n");
        assert_eq!(n, 20);
        assert_eq!(
            op,
            ServerOp::Msg {
                subject: b"a.b",
                sid: 7,
                reply: None,
                payload: b"hello"
            }
        );
        let (op, _) = one(b"MSG a 1 _INBOX.x 0\r\n\r\n");
        assert_eq!(
            op,
            ServerOp::Msg {
                subject: b"a",
                sid: 1,
                reply: Some(b"_INBOX.x"),
                payload: b""
            }
        );
    }

    #[test]
    fn msg_split_anywhere_needs_more() {
        let full = b"MSG s 1 r 3\r\nabc\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(needed(&full[..14]), Some(full.len()));
        assert!(parse(b"MSG s 1 3\r\nabcXY").is_err());
        assert!(parse(b"MSG s x 3\r\nabc\r\n").is_err());
    }
}
