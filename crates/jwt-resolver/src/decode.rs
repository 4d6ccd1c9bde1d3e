//! Decoding with verification, and peeking without.
//!
//! A token is checked in this order: size, shape, header, payload JSON, claim type and version,
//! the issuer's and subject's key roles, the signature, the claims' own layout,
//! `issuer_account`, then `exp`/`nbf` against the clock.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::claims::account::AccountClaims;
use crate::claims::activation::ActivationClaims;
use crate::claims::authorization::{AuthorizationRequestClaims, AuthorizationResponseClaims};
use crate::claims::generic::GenericClaims;
use crate::claims::operator::OperatorClaims;
use crate::claims::user::UserClaims;
use crate::claims::{ClaimKind, ClaimSet, Claims, Standard, StandardWire, V1TopLevel};
use crate::error::{JwtError, clip};
use crate::token::{
    ALGORITHM_V1, Parts, decode_part, is_public_key, json_error, parse_header, parse_payload,
    split, verify,
};

/// The newest `nats.version` this library reads.
const LIBRARY_VERSION: u64 = 2;

/// Decodes any token, verifies its signature with its issuer's key, and checks `exp`/`nbf`
/// against the system clock; see [`decode_at`].
pub fn decode(jwt: &str) -> Result<Claims, JwtError> {
    decode_at(jwt, SystemTime::now())
}

/// Decodes any token as nats-io/jwt's `Decode` does (by `nats.type`; an unknown type is
/// [`Claims::Generic`]), verifies it and checks its times against `now`.
///
/// Authorization requests and responses, and the `cluster`/`server` types, are refused with
/// [`JwtError::UnsupportedClaimType`].
pub fn decode_at(jwt: &str, now: SystemTime) -> Result<Claims, JwtError> {
    decode_any(jwt, Some(now))
}

/// Decodes and verifies `jwt` like [`decode_at`], without the `exp`/`nbf` checks (what
/// nats-io/jwt's `Decode` does), for callers that check times themselves.
pub(crate) fn decode_untimed(jwt: &str) -> Result<Claims, JwtError> {
    decode_any(jwt, None)
}

fn decode_any(jwt: &str, now: Option<SystemTime>) -> Result<Claims, JwtError> {
    let token = Opened::new(jwt)?;
    match ClaimKind::from_type(&token.kind) {
        ClaimKind::Operator => token.finish(now).map(Claims::Operator),
        ClaimKind::Account => token.finish(now).map(Claims::Account),
        ClaimKind::User => token.finish(now).map(Claims::User),
        ClaimKind::Activation => token.finish(now).map(Claims::Activation),
        ClaimKind::Generic if !matches!(token.kind.as_str(), "cluster" | "server") => {
            token.finish_generic(now).map(Claims::Generic)
        }
        _ => Err(JwtError::UnsupportedClaimType(clip(&token.kind))),
    }
}

macro_rules! typed_decoders {
    ($($(#[$doc:meta])* $name:ident, $name_at:ident => $ty:ty;)*) => {$(
        $(#[$doc])*
        ///
        /// This says the token is authentic and current; whether its issuer is *trusted* is
        /// for the caller to decide.
        pub fn $name(jwt: &str) -> Result<$ty, JwtError> {
            $name_at(jwt, SystemTime::now())
        }

        #[doc = concat!("[`", stringify!($name), "`] with the clock as an argument.")]
        pub fn $name_at(jwt: &str, now: SystemTime) -> Result<$ty, JwtError> {
            let token = Opened::new(jwt)?;
            let found = ClaimKind::from_type(&token.kind);
            if found != <$ty as ClaimSet>::KIND {
                return Err(JwtError::WrongClaimType {
                    expected: <$ty as ClaimSet>::KIND,
                    found: clip(&token.kind),
                });
            }
            token.finish(Some(now))
        }
    )*};
}

typed_decoders! {
    /// Decodes an operator JWT (issuer `O…`, subject `O…`), verifies it and checks its times
    /// against the system clock.
    decode_operator, decode_operator_at => OperatorClaims;
    /// Decodes an account JWT (issuer `O…`, or `A…` when self-signed; subject `A…`), verifies
    /// it and checks its times against the system clock.
    decode_account, decode_account_at => AccountClaims;
    /// Decodes a user JWT (issuer `A…`, subject `U…`), verifies it and checks its times
    /// against the system clock.
    decode_user, decode_user_at => UserClaims;
    /// Decodes an activation JWT (issuer `A…` or `O…`, subject the importing account `A…`),
    /// verifies it and checks its times against the system clock.
    decode_activation, decode_activation_at => ActivationClaims;
    /// Decodes an auth callout request (issuer a server key `N…`), verifies it and checks its
    /// times against the system clock.
    decode_authorization_request, decode_authorization_request_at => AuthorizationRequestClaims;
    /// Decodes an auth callout response (issuer an account key `A…`), verifies it and checks
    /// its times against the system clock. See also
    /// [`AuthorizationResponseClaims::validate`].
    decode_authorization_response, decode_authorization_response_at => AuthorizationResponseClaims;
}

/// Decodes any token as [`GenericClaims`] (nats-io/jwt `DecodeGeneric`: no type or version
/// check, any issuer), verifies it and checks its times against the system clock.
pub fn decode_generic(jwt: &str) -> Result<GenericClaims, JwtError> {
    decode_generic_at(jwt, SystemTime::now())
}

/// [`decode_generic`] with the clock as an argument.
pub fn decode_generic_at(jwt: &str, now: SystemTime) -> Result<GenericClaims, JwtError> {
    Opened::new_unchecked_version(jwt)?.finish_generic(Some(now))
}

/// What a token says about itself, read **without** verifying anything: to choose keys or an
/// account before decoding. Never trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peek {
    /// The claim type (unknown types are [`ClaimKind::Generic`]).
    pub kind: ClaimKind,
    /// 1 for the version-1 layout, else `nats.version` (0 if missing).
    pub version: u64,
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `nats.issuer_account` (top-level in version 1).
    pub issuer_account: Option<String>,
    /// `name`.
    pub name: Option<String>,
}

/// Reads a token's type, issuer and subject without verifying it; see [`Peek`].
pub fn peek(jwt: &str) -> Result<Peek, JwtError> {
    let parts = split(jwt)?;
    let mut map = parse_payload(parts.payload)?;
    let (kind, version) = identify(&map)?;
    let nats = take_nats(&mut map)?;
    let rest = Value::Object(map);
    let standard = StandardWire::deserialize(&rest).map_err(|e| json_error("payload", &e))?;
    let issuer_account = if version == 1 {
        V1TopLevel::deserialize(&rest)
            .map_err(|e| json_error("payload", &e))?
            .issuer_account
    } else {
        nats.get("issuer_account")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Peek {
        kind: ClaimKind::from_type(&kind),
        version,
        issuer: standard.iss,
        subject: standard.sub,
        issuer_account: (!issuer_account.is_empty()).then_some(issuer_account),
        name: (!standard.name.is_empty()).then_some(standard.name),
    })
}

/// The `iss` of a token, without verifying anything (to choose a key set before decoding).
pub fn peek_issuer(jwt: &str) -> Result<String, JwtError> {
    let parts = split(jwt)?;
    let map = parse_payload(parts.payload)?;
    let standard =
        StandardWire::deserialize(&Value::Object(map)).map_err(|e| json_error("payload", &e))?;
    Ok(standard.iss)
}

/// A token split, its header checked and its payload parsed, not yet verified.
struct Opened<'a> {
    parts: Parts<'a>,
    /// The header's `alg` is exactly version 1's.
    v1_header: bool,
    payload: Map<String, Value>,
    /// The raw claim type.
    kind: String,
    /// 1 for the version-1 layout, else `nats.version`.
    version: u64,
}

impl<'a> Opened<'a> {
    /// Opens `jwt` and refuses versions newer than this library's.
    fn new(jwt: &'a str) -> Result<Self, JwtError> {
        let token = Self::new_unchecked_version(jwt)?;
        if token.version > LIBRARY_VERSION {
            return Err(JwtError::UnsupportedVersion(token.version));
        }
        Ok(token)
    }

    fn new_unchecked_version(jwt: &'a str) -> Result<Self, JwtError> {
        let parts = split(jwt)?;
        let header = parse_header(parts.header)?;
        let payload = parse_payload(parts.payload)?;
        let (kind, version) = identify(&payload)?;
        Ok(Self {
            parts,
            v1_header: header.alg == ALGORITHM_V1,
            payload,
            kind,
            version,
        })
    }

    /// Verifies the token as claims `C` (whose type the caller has matched).
    fn finish<C: ClaimSet>(self, now: Option<SystemTime>) -> Result<C, JwtError> {
        let version = match self.version {
            1 => 1,
            2 => 2,
            v => return Err(JwtError::UnsupportedVersion(v)),
        };
        // Version 1 signed the payload only.
        let message = if version == 1 {
            self.parts.payload
        } else {
            self.parts.signed
        };
        let (standard, nats, v1) = self.verify::<C>(message, version, now)?;
        let claims = C::from_parts(standard, nats, v1).map_err(|e| json_error("payload", &e))?;
        if let Some(ia) = claims.issuer_account()
            && !is_public_key(ia, &nkeys::KeyPairType::Account)
        {
            return Err(JwtError::BadIssuerAccount(clip(ia)));
        }
        Ok(claims)
    }

    /// Verifies the token as generic claims: nats-io/jwt's `DecodeGeneric` takes a header
    /// `alg` of exactly `ed25519` to mean "signed over the payload only".
    fn finish_generic(self, now: Option<SystemTime>) -> Result<GenericClaims, JwtError> {
        let (message, version) = if self.v1_header {
            (self.parts.payload, 1)
        } else {
            (self.parts.signed, 2)
        };
        let (standard, nats, v1) = self.verify::<GenericClaims>(message, version, now)?;
        GenericClaims::from_parts(standard, nats, v1).map_err(|e| json_error("payload", &e))
    }

    /// Checks the key roles, the signature over `message` and the times (unless `now` is
    /// `None`).
    fn verify<C: ClaimSet>(
        mut self,
        message: &str,
        version: u8,
        now: Option<SystemTime>,
    ) -> Result<(Standard, Map<String, Value>, V1TopLevel), JwtError> {
        let nats = take_nats(&mut self.payload)?;
        let rest = Value::Object(self.payload);
        let wire = StandardWire::deserialize(&rest).map_err(|e| json_error("payload", &e))?;
        let v1 = if version == 1 {
            V1TopLevel::deserialize(&rest).map_err(|e| json_error("payload", &e))?
        } else {
            V1TopLevel::default()
        };
        let kind = C::KIND;
        let roles = kind.issuer_roles();
        if !roles.is_empty() && !roles.iter().any(|r| is_public_key(&wire.iss, r)) {
            return Err(JwtError::BadIssuer {
                claim: kind,
                issuer: clip(&wire.iss),
            });
        }
        if let Some(role) = kind.subject_role()
            && !is_public_key(&wire.sub, &role)
        {
            return Err(JwtError::BadSubject {
                claim: kind,
                subject: clip(&wire.sub),
            });
        }
        let signature = decode_part(self.parts.signature, "signature")?;
        verify(&wire.iss, message, &signature)?;
        if let Some(now) = now {
            check_times(wire.exp, wire.nbf, now)?;
        }
        Ok((Standard::from_wire(wire, version), nats, v1))
    }
}

/// The claim type and layout version (nats-io/jwt `identifier`): a top-level `type` marks the
/// version-1 layout; otherwise both come from `nats`.
fn identify(payload: &Map<String, Value>) -> Result<(String, u64), JwtError> {
    #[derive(Deserialize)]
    struct Nats {
        #[serde(default, rename = "type")]
        kind: String,
        #[serde(default)]
        version: u64,
    }
    let bad = |e: serde_json::Error| json_error("payload", &e);
    if let Some(top) = payload.get("type") {
        let kind = String::deserialize(top).map_err(bad)?;
        if !kind.is_empty() {
            return Ok((kind, 1));
        }
    }
    match payload.get("nats") {
        None => Ok((String::new(), 0)),
        Some(nats) => {
            let n = Nats::deserialize(nats).map_err(bad)?;
            Ok((n.kind, n.version))
        }
    }
}

/// Removes and returns the `nats` object (empty when missing).
fn take_nats(payload: &mut Map<String, Value>) -> Result<Map<String, Value>, JwtError> {
    match payload.remove("nats") {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(JwtError::Json {
            part: "payload",
            reason: "nats is not a JSON object".to_owned(),
        }),
    }
}

/// nats-io/jwt `ClaimsData.Validate`, in whole seconds: expired when `now > exp`, not yet
/// valid when `now < nbf`; 0 (or negative) means unset.
fn check_times(exp: i64, nbf: i64, now: SystemTime) -> Result<(), JwtError> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if exp > 0 && now > exp {
        return Err(JwtError::Expired);
    }
    if nbf > 0 && now < nbf {
        return Err(JwtError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).unwrap() {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn version_comes_from_the_layout() {
        assert_eq!(
            identify(&map(r#"{"type":"user","nats":{"version":2}}"#)).unwrap(),
            ("user".to_owned(), 1)
        );
        assert_eq!(
            identify(&map(r#"{"type":"","nats":{"type":"account","version":2}}"#)).unwrap(),
            ("account".to_owned(), 2)
        );
        assert_eq!(identify(&map("{}")).unwrap(), (String::new(), 0));
        assert!(identify(&map(r#"{"type":1}"#)).is_err());
    }

    #[test]
    fn times_are_whole_seconds() {
        let t = |s| UNIX_EPOCH + std::time::Duration::from_secs(s);
        assert!(check_times(100, 90, t(100)).is_ok());
        assert_eq!(check_times(100, 0, t(101)), Err(JwtError::Expired));
        assert_eq!(check_times(0, 90, t(89)), Err(JwtError::NotYetValid));
        assert!(check_times(-5, -5, t(1)).is_ok());
    }
}
