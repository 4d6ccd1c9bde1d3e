//! The HTTP upgrade request: read within bounds, checked in nats-server's order, answered
//! with Go's responses.

use std::time::SystemTime;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::setup::*;
use super::*;

// ----- the upgrade request -----

/// What the upgrade handler needs from the request.
pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    /// Header names in lower case, values as sent.
    pub(super) headers: Vec<(String, String)>,
    /// Bytes after the request's end (a client may not send frames before the 101).
    pub(super) leftover: bool,
}

impl Request {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn first(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Go's `wsHeaderContains`: a comma-separated token of any value, ignoring case.
    pub(super) fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
    }
}

pub(super) enum ReadError {
    Io,
    /// Not HTTP, or too large: Go's server answers 400 or 431 itself.
    Malformed(u16),
}

pub(super) async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        if buf.len() >= MAX_REQUEST_BYTES {
            return Err(ReadError::Malformed(431));
        }
        let mut chunk = [0u8; 2048];
        let room = (MAX_REQUEST_BYTES - buf.len()).min(chunk.len());
        let n = stream
            .read(&mut chunk[..room])
            .await
            .map_err(|_| ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Io);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_REQUEST_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Partial) => {}
            Ok(httparse::Status::Complete(end)) => {
                return Ok(Request {
                    method: req.method.unwrap_or_default().to_owned(),
                    path: req.path.unwrap_or_default().to_owned(),
                    headers: req
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                    leftover: buf.len() > end,
                });
            }
            Err(httparse::Error::TooManyHeaders) => return Err(ReadError::Malformed(431)),
            Err(_) => return Err(ReadError::Malformed(400)),
        }
    }
}

/// What kind of peer asked: nats-server routes `/leafnode` and `/mqtt` paths elsewhere.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Client,
    Leaf,
}

/// A refused upgrade: the HTTP status and nats-server's reason (logged, not sent).
pub(super) type Refusal = (u16, String);

/// nats-server's `wsUpgrade` checks, in its order.
pub(super) fn check_upgrade(setup: &WsSetup, req: &Request, tls: bool) -> Result<Kind, Refusal> {
    let path = req.path.split(['?', '#']).next().unwrap_or_default();
    let kind = if path.ends_with("/leafnode") {
        Kind::Leaf
    } else if path.ends_with("/mqtt") {
        return Err((404, "mqtt websocket endpoint not enabled".into()));
    } else {
        Kind::Client
    };
    if req.method != "GET" {
        return Err((405, "request method must be GET".into()));
    }
    if req.first("host").is_empty() {
        return Err((400, "'Host' missing in request".into()));
    }
    if !req.has_token("upgrade", "websocket") {
        return Err((400, "invalid value for header 'Upgrade'".into()));
    }
    if !req.has_token("connection", "Upgrade") {
        return Err((400, "invalid value for header 'Connection'".into()));
    }
    let key = req.first("sec-websocket-key");
    if key.is_empty() {
        return Err((400, "key missing".into()));
    }
    if data_encoding::BASE64
        .decode(key.as_bytes())
        .map_or(true, |k| k.len() != 16)
    {
        return Err((400, "invalid websocket key".into()));
    }
    if !req.has_token("sec-websocket-version", "13") {
        return Err((400, "invalid version".into()));
    }
    if let Err(e) = check_origin(setup, req, tls) {
        return Err((403, format!("origin not allowed: {e}")));
    }
    Ok(kind)
}

/// nats-server's `checkOrigin`: no `Origin` (a non-browser client) is always accepted.
pub(super) fn check_origin(setup: &WsSetup, req: &Request, tls: bool) -> Result<(), String> {
    if !setup.same_origin && setup.allowed_origins.is_empty() {
        return Ok(());
    }
    let mut origin = req.first("origin");
    if origin.is_empty() {
        origin = req.first("sec-websocket-origin");
    }
    if origin.is_empty() {
        return Ok(());
    }
    let url = parse_origin(origin).map_err(|e| match e {
        OriginError::Parse(m) => m,
        // Go parses these fine, then finds no matching host.
        OriginError::Scheme => "not in the allowed list".into(),
    })?;
    let (oh, op) = host_and_port(url.scheme == "https", &url.host)?;
    if setup.same_origin {
        let (rh, rp) = host_and_port(tls, req.first("host"))?;
        let rs = if tls { "https" } else { "http" };
        if oh != rh || op != rp || url.scheme != rs {
            return Err("not same origin".into());
        }
    }
    if !setup.allowed_origins.is_empty()
        && !setup
            .allowed_origins
            .iter()
            .any(|a| a.host == oh && a.scheme == url.scheme && a.port == op)
    {
        return Err("not in the allowed list".into());
    }
    Ok(())
}

/// RFC 6455's `Sec-WebSocket-Accept` for a client key.
pub(super) fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    data_encoding::BASE64.encode(&sha.digest().bytes())
}

/// Go's `http.StatusText` for the statuses sent here.
pub(super) fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// Go's `http.Error` response, with nats-server's `Sec-Websocket-Version` header.
pub(super) fn error_response(status: u16, now: SystemTime) -> Vec<u8> {
    let text = status_text(status);
    let body = format!("{text}\n");
    format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: {}\r\nContent-Length: {}\r\n\r\n{body}",
        http_date(now),
        body.len()
    )
    .into_bytes()
}

/// What Go's server sends for a request it cannot parse.
pub(super) fn malformed_response(status: u16) -> Vec<u8> {
    let text = status_text(status);
    format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{status} {text}"
    )
    .into_bytes()
}

/// `Mon, 02 Jan 2006 15:04:05 GMT`.
pub(super) fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0).min(11)];
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Go's `r.Cookies()`, reduced to the named cookies (the last of a name wins, as nats-server).
pub(super) fn cookies(setup: &WsSetup, req: &Request) -> CookieCredentials {
    let mut out = CookieCredentials::default();
    for pair in req.values("cookie").flat_map(|v| v.split(';')) {
        let Some((name, value)) = pair.trim().split_once('=') else {
            continue;
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        let name = Some(name.trim());
        if name == setup.user_cookie.as_deref() {
            out.user = Some(value.to_owned());
        } else if name == setup.pass_cookie.as_deref() {
            out.pass = Some(value.to_owned());
        } else if name == setup.token_cookie.as_deref() {
            out.token = Some(value.to_owned());
        }
    }
    out
}
