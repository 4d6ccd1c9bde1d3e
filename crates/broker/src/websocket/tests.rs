//! Unit tests of the WebSocket pieces.

use super::handshake::*;
use super::setup::*;
use super::*;

#[test]
fn accept_key_of_rfc_6455() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn http_date_as_go() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_070_438);
    assert_eq!(http_date(t), "Mon, 30 Nov 2026 20:27:18 GMT");
    assert_eq!(
        http_date(SystemTime::UNIX_EPOCH),
        "Thu, 01 Jan 1970 00:00:00 GMT"
    );
}

#[test]
fn origins_parse_as_go() {
    assert_eq!(
        parse_origin("foo"),
        Err(OriginError::Parse(
            "parse \"foo\": invalid URI for request".into()
        ))
    );
    assert_eq!(parse_origin("ftp://x"), Err(OriginError::Scheme));
    assert_eq!(parse_origin("/path"), Err(OriginError::Scheme));
    assert_eq!(
        parse_origin("HTTPS://u@Example.COM:8443/p"),
        Ok(OriginUrl {
            scheme: "https".into(),
            host: "Example.COM:8443".into()
        })
    );
    assert_eq!(
        host_and_port(true, "Example.COM"),
        Ok(("example.com".into(), "443".into()))
    );
    assert_eq!(
        host_and_port(false, "[::1]:80"),
        Ok(("::1".into(), "80".into()))
    );
    assert!(host_and_port(false, "a:b:c").is_err());
}

#[test]
fn cookie_credentials_fill_only_what_connect_left_empty() {
    let t = Transport::Websocket(Box::new(CookieCredentials {
        user: Some("u".into()),
        pass: Some("p".into()),
        token: None,
    }));
    let mut req = AuthRequest::new(SocketAddr::from(([127, 0, 0, 1], 1)), t.connection_type());
    req.user = Some("given".into());
    t.fill_credentials(&mut req);
    assert_eq!(req.user.as_deref(), Some("given"));
    assert_eq!(req.pass.as_deref(), Some("p"));
    assert_eq!(req.token, None);
    assert_eq!(req.connection_type, ConnectionType::Websocket);
    assert_eq!(Transport::Tcp.connection_type(), ConnectionType::Standard);
}
