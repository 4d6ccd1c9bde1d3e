//! Decoding (with verification) and encoding of user JWTs.

use std::time::SystemTime;

use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use nkeys::{KeyPair, KeyPairType};
use sha2::{Digest, Sha512_256};

use crate::claims::{UserClaims, WireClaims, WireHeader};
use crate::error::JwtError;

/// The largest token accepted, as nats-server (1 MiB).
pub const MAX_TOKEN_SIZE: usize = 1024 * 1024;

const HEADER_JSON: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;
const ALGORITHM: &str = "ed25519-nkey";
const LIBRARY_VERSION: u64 = 2;

/// Decodes a user JWT, verifies its signature with its issuer's key, and checks `exp`/`nbf`
/// against the system clock.
///
/// This says the token is authentic and current; whether its issuer is *trusted* (an account's
/// key or signing key) is for the caller to decide.
pub fn decode_user(jwt: &str) -> Result<UserClaims, JwtError> {
    decode_user_at(jwt, SystemTime::now())
}

/// [`decode_user`] with the clock as an argument.
pub fn decode_user_at(jwt: &str, now: SystemTime) -> Result<UserClaims, JwtError> {
    let parts = split(jwt)?;
    check_header(parts.header)?;
    let wire = parse_payload(parts.payload)?;
    if wire.nats.kind != "user" {
        return Err(JwtError::WrongClaimType(wire.nats.kind));
    }
    if wire.nats.version > LIBRARY_VERSION {
        return Err(JwtError::UnsupportedVersion(wire.nats.version));
    }
    let issuer = public_key(&wire.iss, &KeyPairType::Account)
        .ok_or_else(|| JwtError::BadIssuer(wire.iss.clone()))?;
    if public_key(&wire.sub, &KeyPairType::User).is_none() {
        return Err(JwtError::BadSubject(wire.sub));
    }
    let signature = BASE64URL_NOPAD
        .decode(parts.signature.as_bytes())
        .map_err(|_| JwtError::Base64 { part: "signature" })?;
    issuer
        .verify(parts.signed.as_bytes(), &signature)
        .map_err(|_| JwtError::BadSignature)?;
    let claims = wire.into_user();
    if let Some(ia) = &claims.issuer_account
        && public_key(ia, &KeyPairType::Account).is_none()
    {
        return Err(JwtError::BadIssuerAccount(ia.clone()));
    }
    // nats-server: expired when now > exp (whole seconds); not yet valid when now < nbf.
    let now_secs = unix_seconds(now);
    if let Some(exp) = claims.expires
        && now_secs > unix_seconds(exp)
    {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = claims.not_before
        && now_secs < unix_seconds(nbf)
    {
        return Err(JwtError::NotYetValid);
    }
    Ok(claims)
}

/// The `iss` of a token, without verifying anything (to choose a key set before decoding).
pub fn peek_issuer(jwt: &str) -> Result<String, JwtError> {
    let parts = split(jwt)?;
    Ok(parse_payload(parts.payload)?.iss)
}

/// Encodes and signs `claims` with `signer`, which becomes the issuer (`iss`); `iat` is the
/// current time unless set, and `jti` is computed.
///
/// For tests and tools.
///
/// # Panics
///
/// If `signer` holds only a public key (use [`try_encode_user`] to get an error instead).
pub fn encode_user(claims: &UserClaims, signer: &KeyPair) -> String {
    match try_encode_user(claims, signer) {
        Ok(token) => token,
        Err(e) => panic!("encode_user: {e}"),
    }
}

/// [`encode_user`], failing instead of panicking when `signer` cannot sign.
pub fn try_encode_user(claims: &UserClaims, signer: &KeyPair) -> Result<String, JwtError> {
    let issued_at = claims.issued_at.unwrap_or_else(SystemTime::now);
    let mut wire = WireClaims::from_user(claims, signer.public_key(), issued_at);
    wire.jti = claims_id(&wire);
    let payload = serde_json::to_vec(&wire).map_err(|e| JwtError::Json {
        part: "payload",
        reason: e.to_string(),
    })?;
    let mut token = BASE64URL_NOPAD.encode(HEADER_JSON.as_bytes());
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(&payload));
    let signature = signer
        .sign(token.as_bytes())
        .map_err(|_| JwtError::NoSigningKey)?;
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(&signature));
    Ok(token)
}

struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`, the signed bytes.
    signed: &'a str,
}

fn split(jwt: &str) -> Result<Parts<'_>, JwtError> {
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

fn check_header(part: &str) -> Result<(), JwtError> {
    let bytes = BASE64URL_NOPAD
        .decode(part.as_bytes())
        .map_err(|_| JwtError::Base64 { part: "header" })?;
    let header: WireHeader = serde_json::from_slice(&bytes).map_err(|e| JwtError::Json {
        part: "header",
        reason: e.to_string(),
    })?;
    if !header.typ.eq_ignore_ascii_case("JWT") {
        return Err(JwtError::UnsupportedType(header.typ));
    }
    if !header.alg.eq_ignore_ascii_case(ALGORITHM) {
        return Err(JwtError::UnsupportedAlgorithm(header.alg));
    }
    Ok(())
}

fn parse_payload(part: &str) -> Result<WireClaims, JwtError> {
    let bytes = BASE64URL_NOPAD
        .decode(part.as_bytes())
        .map_err(|_| JwtError::Base64 { part: "payload" })?;
    serde_json::from_slice(&bytes).map_err(|e| JwtError::Json {
        part: "payload",
        reason: e.to_string(),
    })
}

/// A public-only key pair for `key` if it is a valid public NKey of role `kind`.
fn public_key(key: &str, kind: &KeyPairType) -> Option<KeyPair> {
    KeyPair::from_public_key(key)
        .ok()
        .filter(|kp| kp.key_pair_type() == *kind)
}

/// `jti`: base32 (no padding) of SHA-512/256 over the claims' JSON with an empty `jti`.
fn claims_id(wire: &WireClaims) -> String {
    // Serialising our own struct cannot fail; an empty id would only weaken uniqueness.
    let json = serde_json::to_vec(wire).unwrap_or_default();
    BASE32_NOPAD.encode(&Sha512_256::digest(&json))
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn token(claims: &UserClaims, signer: &KeyPair) -> String {
        try_encode_user(claims, signer).unwrap()
    }

    #[test]
    fn header_is_nats_v2() {
        let acc = KeyPair::new_account();
        let t = token(&UserClaims::new(KeyPair::new_user().public_key(), ""), &acc);
        let head = t.split('.').next().unwrap();
        assert_eq!(
            BASE64URL_NOPAD.decode(head.as_bytes()).unwrap(),
            HEADER_JSON.as_bytes()
        );
    }

    #[test]
    fn expiry_boundaries_are_whole_seconds() {
        let acc = KeyPair::new_account();
        let exp = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let mut c = UserClaims::new(KeyPair::new_user().public_key(), "");
        c.expires = Some(exp);
        c.not_before = Some(exp - Duration::from_secs(10));
        let t = token(&c, &acc);
        assert!(decode_user_at(&t, exp).is_ok());
        assert_eq!(
            decode_user_at(&t, exp + Duration::from_secs(1)),
            Err(JwtError::Expired)
        );
        assert_eq!(
            decode_user_at(&t, exp - Duration::from_secs(11)),
            Err(JwtError::NotYetValid)
        );
    }

    #[test]
    fn user_key_cannot_issue_user_tokens() {
        let not_an_account = KeyPair::new_user();
        let t = token(
            &UserClaims::new(KeyPair::new_user().public_key(), ""),
            &not_an_account,
        );
        assert!(matches!(decode_user(&t), Err(JwtError::BadIssuer(_))));
    }

    #[test]
    fn public_only_key_cannot_sign() {
        let acc = KeyPair::new_account();
        let public = KeyPair::from_public_key(&acc.public_key()).unwrap();
        let c = UserClaims::new(KeyPair::new_user().public_key(), "");
        assert_eq!(try_encode_user(&c, &public), Err(JwtError::NoSigningKey));
    }
}
