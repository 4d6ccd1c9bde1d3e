//! The token's three parts: splitting, the header, base64url, and JSON written the way Go's
//! `encoding/json` writes it (the `jti` is a hash of such JSON).

use std::io;

use data_encoding::BASE64URL_NOPAD;
use nkeys::{KeyPair, KeyPairType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{JwtError, clip};

/// The largest token accepted, as nats-server (1 MiB).
pub const MAX_TOKEN_SIZE: usize = 1024 * 1024;

/// The header this library writes.
pub(crate) const HEADER_JSON: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;
/// Version 1's algorithm; a generic token with exactly this `alg` is signed over its payload.
pub(crate) const ALGORITHM_V1: &str = "ed25519";
const ALGORITHM_V2: &str = "ed25519-nkey";

pub(crate) struct Parts<'a> {
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    /// `header.payload`, what version 2 signs.
    pub(crate) signed: &'a str,
}

pub(crate) fn split(jwt: &str) -> Result<Parts<'_>, JwtError> {
    if jwt.len() > MAX_TOKEN_SIZE {
        return Err(JwtError::TooLarge {
            max: MAX_TOKEN_SIZE,
        });
    }
    let mut it = jwt.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(JwtError::Malformed);
    };
    Ok(Parts {
        header,
        payload,
        signature,
        signed: &jwt[..header.len() + 1 + payload.len()],
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    pub(crate) alg: String,
}

/// The header, checked as nats-io/jwt does: `typ` is `JWT` and `alg` `ed25519-nkey` or
/// `ed25519`, both in any case.
pub(crate) fn parse_header(part: &str) -> Result<Header, JwtError> {
    let bytes = decode_part(part, "header")?;
    let header: Header = serde_json::from_slice(&bytes).map_err(|e| json_error("header", &e))?;
    if !header.typ.eq_ignore_ascii_case("JWT") {
        return Err(JwtError::UnsupportedType(clip(&header.typ)));
    }
    let alg = header.alg.to_ascii_lowercase();
    if alg != ALGORITHM_V1 && alg != ALGORITHM_V2 {
        return Err(JwtError::UnsupportedAlgorithm(clip(&header.alg)));
    }
    Ok(header)
}

/// The payload as a JSON object, with `null` members removed: Go leaves a field alone when the
/// JSON has `null` for it, so `null` reads as "missing" (duplicate keys: the last wins, as in
/// Go).
pub(crate) fn parse_payload(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = decode_part(part, "payload")?;
    match serde_json::from_slice(&bytes).map_err(|e| json_error("payload", &e))? {
        Value::Object(mut map) => {
            strip_nulls(&mut map);
            Ok(map)
        }
        _ => Err(JwtError::Json {
            part: "payload",
            reason: "not a JSON object".to_owned(),
        }),
    }
}

fn strip_nulls(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.is_null());
    for v in map.values_mut() {
        match v {
            Value::Object(m) => strip_nulls(m),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(m) = item {
                        strip_nulls(m);
                    }
                }
            }
            _ => {}
        }
    }
}

pub(crate) fn decode_part(part: &str, name: &'static str) -> Result<Vec<u8>, JwtError> {
    BASE64URL_NOPAD
        .decode(part.as_bytes())
        .map_err(|_| JwtError::Base64 { part: name })
}

pub(crate) fn json_error(part: &'static str, e: &serde_json::Error) -> JwtError {
    JwtError::Json {
        part,
        reason: clip(&e.to_string()),
    }
}

/// Verifies `signature` over `message` with public key `key`.
pub(crate) fn verify(key: &str, message: &str, signature: &[u8]) -> Result<(), JwtError> {
    let kp = KeyPair::from_public_key(key).map_err(|_| JwtError::BadSignature)?;
    kp.verify(message.as_bytes(), signature)
        .map_err(|_| JwtError::BadSignature)
}

/// A public-only key pair for `key` if it is a valid public NKey of role `kind`.
pub(crate) fn is_public_key(key: &str, kind: &KeyPairType) -> bool {
    KeyPair::from_public_key(key).is_ok_and(|kp| kp.key_pair_type() == *kind)
}

/// `value` as Go's `json.Marshal` writes it: compact, with `<`, `>`, `&`, U+2028 and U+2029
/// escaped as `\u00XX`/`\u20XX`. Field order is the struct's, map keys sorted.
pub(crate) fn go_json<T: Serialize>(value: &T) -> Result<Vec<u8>, JwtError> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value
        .serialize(&mut ser)
        .map_err(|e| json_error("payload", &e))?;
    Ok(out)
}

struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_escapes_like_encoding_json() {
        let v = serde_json::json!({"b": "a<b>&c\u{2028}\n\"", "a": 1});
        assert_eq!(
            String::from_utf8(go_json(&v).unwrap()).unwrap(),
            r#"{"a":1,"b":"a\u003cb\u003e\u0026c\u2028\n\""}"#
        );
    }

    #[test]
    fn nulls_read_as_missing() {
        let payload = BASE64URL_NOPAD.encode(br#"{"a":null,"n":{"b":null,"l":[{"c":null}]}}"#);
        let map = parse_payload(&payload).unwrap();
        assert_eq!(Value::Object(map), serde_json::json!({"n":{"l":[{}]}}));
    }

    #[test]
    fn headers_follow_nats_io_jwt() {
        let h = |json: &str| parse_header(&BASE64URL_NOPAD.encode(json.as_bytes()));
        assert!(h(r#"{"typ":"jwt","alg":"ED25519"}"#).is_ok());
        assert!(h(r#"{"typ":"JWT","alg":"ed25519-nkey","kid":"x"}"#).is_ok());
        assert!(matches!(
            h(r#"{"typ":"JWS","alg":"ed25519-nkey"}"#),
            Err(JwtError::UnsupportedType(_))
        ));
        assert!(matches!(
            h(r#"{"typ":"JWT","alg":"ed25519-nkeyx"}"#),
            Err(JwtError::UnsupportedAlgorithm(_))
        ));
        assert!(h("[]").is_err());
        assert!(matches!(h("1"), Err(JwtError::Json { .. })));
    }
}
