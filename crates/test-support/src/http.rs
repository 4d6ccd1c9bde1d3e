//! The request side of the tiny HTTP servers tests stand up on loopback (a JWKS endpoint, an
//! account server): enough to read what a client asked for.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Reads an HTTP request's head from `sock`, up to its blank line (at most 16 KiB);
/// `None` when the client goes away first.
pub async fn read_http_head<S: AsyncRead + Unpin>(sock: &mut S) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The path of a request whose head is `head` (`GET /path HTTP/1.1`), empty if there is none.
pub fn request_path(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or_default()
}
