//! Client-supplied text in log lines, and the protocol trace.
//!
//! Nothing a client sends reaches a log line raw: [`Quoted`] writes it as Go's `%q` does (what
//! nats-server prints), so a user name with a newline cannot forge a second log line. Secrets
//! never reach the trace: CONNECT's `pass`, `auth_token` and `sig` are masked.

use std::fmt::{self, Write as _};

use rnats_protocol::ClientOp;

/// Writes bytes in double quotes with every control character, quote, backslash and invalid
/// UTF-8 byte escaped (Go's `%q`).
pub(crate) struct Quoted<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '"' => f.write_str("\\\"")?,
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\\t")?,
                    c if (c as u32) < 0x20 || c == '\u{7f}' => write!(f, "\\x{:02x}", c as u32)?,
                    c if c.is_control() || is_invisible(c) => {
                        if (c as u32) <= 0xffff {
                            write!(f, "\\u{:04x}", c as u32)?;
                        } else {
                            write!(f, "\\U{:08x}", c as u32)?;
                        }
                    }
                    c => f.write_char(c)?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_char('"')
    }
}

/// Characters that render as nothing or move the cursor (line and paragraph separators,
/// bidirectional overrides): escaped like control characters.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Text of a protocol line for the trace: printable ASCII kept, anything else escaped (no
/// quotes, as nats-server prints `[SUB foo 1]`).
struct Bare<'a>(&'a [u8]);

impl fmt::Display for Bare<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            if (0x20..0x7f).contains(&b) && b != b'\\' {
                f.write_char(b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// CONNECT fields whose values never appear in a trace. A user JWT is masked too: a bearer
/// JWT is a credential on its own (nats-server traces it; rnats does not).
const SECRET_FIELDS: [&str; 5] = ["pass", "auth_token", "sig", "proxy_sig", "jwt"];

/// The CONNECT JSON with its secrets replaced by `[REDACTED]`. JSON that does not parse is not
/// shown at all (it could hold a secret in any shape).
fn redacted_connect(json: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(mut map) => {
            for field in SECRET_FIELDS {
                if let Some(v) = map.get_mut(field) {
                    *v = serde_json::Value::String("[REDACTED]".to_owned());
                }
            }
            serde_json::Value::Object(map).to_string()
        }
        Err(_) => "<unparsable JSON, not shown>".to_owned(),
    }
}

/// The trace lines (`<<- [...]`, and `<<- MSG_PAYLOAD: [...]` for messages) of one inbound op.
pub(crate) fn inbound(op: &ClientOp) -> (String, Option<String>) {
    let mut line = String::from("<<- [");
    let mut payload = None;
    let _ = match op {
        ClientOp::Connect(json) => {
            write!(line, "CONNECT {}", Bare(redacted_connect(json).as_bytes()))
        }
        ClientOp::Pub {
            subject,
            reply,
            payload: body,
        } => {
            payload = Some(format!("<<- MSG_PAYLOAD: [{}]", Quoted(body)));
            match reply {
                Some(r) => write!(line, "PUB {} {} {}", Bare(subject), Bare(r), body.len()),
                None => write!(line, "PUB {} {}", Bare(subject), body.len()),
            }
        }
        ClientOp::HPub {
            subject,
            reply,
            header_len,
            message,
        } => {
            payload = Some(format!("<<- MSG_PAYLOAD: [{}]", Quoted(message)));
            match reply {
                Some(r) => write!(
                    line,
                    "HPUB {} {} {header_len} {}",
                    Bare(subject),
                    Bare(r),
                    message.len()
                ),
                None => write!(
                    line,
                    "HPUB {} {header_len} {}",
                    Bare(subject),
                    message.len()
                ),
            }
        }
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => match queue {
            Some(q) => write!(line, "SUB {} {} {}", Bare(subject), Bare(q), Bare(sid)),
            None => write!(line, "SUB {} {}", Bare(subject), Bare(sid)),
        },
        ClientOp::Unsub { sid, max } => match max {
            Some(m) => write!(line, "UNSUB {} {m}", Bare(sid)),
            None => write!(line, "UNSUB {}", Bare(sid)),
        },
        ClientOp::Ping => line.write_str("PING"),
        ClientOp::Pong => line.write_str("PONG"),
        ClientOp::Info => line.write_str("INFO"),
        ClientOp::Ok => line.write_str("OK"),
        ClientOp::Err(text) => write!(line, "-ERR {}", Bare(text)),
    };
    line.push(']');
    (line, payload)
}

/// The trace line of a protocol line sent to a client (`->> [OK]`), CRLF removed; a message's
/// control line only (its payload is traced by the publisher).
pub(crate) fn outbound(data: &[u8]) -> String {
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let first = first.strip_prefix(b"+").unwrap_or(first);
    format!("->> [{}]", Bare(first))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn quoted_escapes_what_could_forge_a_line() {
        let s = Quoted(b"bob\n[INF] authenticated: \"x\"\\\x00\xff").to_string();
        assert_eq!(s, r#""bob\n[INF] authenticated: \"x\"\\\x00\xff""#);
        assert!(!s.contains('\n'));
        assert_eq!(Quoted("é\u{2028}".as_bytes()).to_string(), "\"é\\u2028\"");
    }

    #[test]
    fn connect_secrets_are_masked() {
        let op = ClientOp::Connect(Bytes::from_static(
            br#"{"user":"u","pass":"hunter2","auth_token":"t0k","sig":"c2ln","jwt":"eyJ0","name":"n"}"#,
        ));
        let (line, payload) = inbound(&op);
        assert!(payload.is_none());
        for secret in ["hunter2", "t0k", "c2ln", "eyJ0"] {
            assert!(!line.contains(secret), "{line}");
        }
        assert!(line.starts_with("<<- [CONNECT {"), "{line}");
        assert!(line.contains(r#""pass":"[REDACTED]""#), "{line}");
        let (line, _) = inbound(&ClientOp::Connect(Bytes::from_static(b"{\"pass\":hunter2")));
        assert!(!line.contains("hunter2"), "{line}");
    }

    #[test]
    fn ops_look_like_nats_server_traces() {
        let (line, payload) = inbound(&ClientOp::Pub {
            subject: Bytes::from_static(b"foo"),
            reply: Some(Bytes::from_static(b"bar")),
            payload: Bytes::from_static(b"hello\r\n"),
        });
        assert_eq!(line, "<<- [PUB foo bar 7]");
        assert_eq!(payload.unwrap(), r#"<<- MSG_PAYLOAD: ["hello\r\n"]"#);
        let (line, _) = inbound(&ClientOp::Sub {
            subject: Bytes::from_static(b"foo"),
            queue: None,
            sid: Bytes::from_static(b"1"),
        });
        assert_eq!(line, "<<- [SUB foo 1]");
        assert_eq!(outbound(b"+OK\r\n"), "->> [OK]");
        assert_eq!(outbound(b"MSG foo 1 5\r\nhello\r\n"), "->> [MSG foo 1 5]");
    }
}
