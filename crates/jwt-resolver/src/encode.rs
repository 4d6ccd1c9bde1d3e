//! Encoding and signing, version 2 only (as nats-io/jwt writes).

use std::time::SystemTime;

use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use nkeys::{KeyPair, KeyPairType};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha512_256};

use crate::claims::account::AccountClaims;
use crate::claims::activation::ActivationClaims;
use crate::claims::authorization::{AuthorizationRequestClaims, AuthorizationResponseClaims};
use crate::claims::generic::GenericClaims;
use crate::claims::operator::OperatorClaims;
use crate::claims::user::UserClaims;
use crate::claims::{ClaimSet, Claims, StandardWire};
use crate::error::{JwtError, clip};
use crate::token::{HEADER_JSON, go_json, is_public_key, json_error};

/// Encodes and signs user `claims` with `signer` (`A…`), which becomes the issuer (`iss`);
/// `iat` is the current time unless set, and `jti` is computed.
///
/// For tests and tools.
///
/// # Panics
///
/// If the claims cannot be encoded, e.g. `signer` holds only a public key or is not an account
/// key (use [`try_encode_user`] to get an error instead).
pub fn encode_user(claims: &UserClaims, signer: &KeyPair) -> String {
    match try_encode_user(claims, signer) {
        Ok(token) => token,
        Err(e) => panic!("encode_user: {e}"),
    }
}

/// [`encode_user`], failing instead of panicking.
pub fn try_encode_user(claims: &UserClaims, signer: &KeyPair) -> Result<String, JwtError> {
    encode_claims(claims, signer)
}

/// Encodes and signs operator `claims` with `signer` (`O…`, normally the operator itself).
pub fn encode_operator(claims: &OperatorClaims, signer: &KeyPair) -> Result<String, JwtError> {
    encode_claims(claims, signer)
}

/// Encodes and signs account `claims` with `signer` (an operator key, or the account itself).
/// Imports and exports are written sorted by subject, as nats-io/jwt does.
pub fn encode_account(claims: &AccountClaims, signer: &KeyPair) -> Result<String, JwtError> {
    encode_claims(claims, signer)
}

/// Encodes and signs activation `claims` with `signer` (the exporting account or one of its
/// signing keys; then set `issuer_account`).
pub fn encode_activation(claims: &ActivationClaims, signer: &KeyPair) -> Result<String, JwtError> {
    encode_claims(claims, signer)
}

/// Encodes and signs an auth callout request with the server's key `signer` (`N…`).
pub fn encode_authorization_request(
    claims: &AuthorizationRequestClaims,
    signer: &KeyPair,
) -> Result<String, JwtError> {
    encode_claims(claims, signer)
}

/// Encodes and signs an auth callout response with an account key `signer` (`A…`; a signing
/// key, then set `issuer_account`).
pub fn encode_authorization_response(
    claims: &AuthorizationResponseClaims,
    signer: &KeyPair,
) -> Result<String, JwtError> {
    encode_claims(claims, signer)
}

/// Encodes and signs generic `claims` with `signer` (any key).
pub fn encode_generic(claims: &GenericClaims, signer: &KeyPair) -> Result<String, JwtError> {
    encode_claims(claims, signer)
}

/// Encodes and signs any claims with `signer`.
pub fn encode(claims: &Claims, signer: &KeyPair) -> Result<String, JwtError> {
    match claims {
        Claims::Operator(c) => encode_claims(c, signer),
        Claims::Account(c) => encode_claims(c, signer),
        Claims::User(c) => encode_claims(c, signer),
        Claims::Activation(c) => encode_claims(c, signer),
        Claims::Generic(c) => encode_claims(c, signer),
    }
}

/// The payload: the standard claims in nats-io/jwt's order, then `nats`.
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(flatten)]
    standard: &'a StandardWire,
    nats: &'a Value,
}

fn encode_claims<C: ClaimSet>(claims: &C, signer: &KeyPair) -> Result<String, JwtError> {
    let kind = C::KIND;
    let issuer = signer.public_key();
    let roles = kind.issuer_roles();
    if !roles.is_empty() && !roles.iter().any(|r| is_public_key(&issuer, r)) {
        return Err(JwtError::BadIssuer {
            claim: kind,
            issuer: clip(&issuer),
        });
    }
    let standard = claims.standard();
    let subject_ok = match kind.subject_role() {
        Some(role) => is_public_key(&standard.subject, &role),
        None => !standard.subject.is_empty(),
    };
    if !subject_ok {
        return Err(JwtError::BadSubject {
            claim: kind,
            subject: clip(&standard.subject),
        });
    }
    if let Some(ia) = claims.issuer_account()
        && !is_public_key(ia, &KeyPairType::Account)
    {
        return Err(JwtError::BadIssuerAccount(clip(ia)));
    }
    let issued_at = standard.issued_at.unwrap_or_else(SystemTime::now);
    let mut wire = standard.to_wire(issuer, issued_at);
    wire.jti = claims_id(&wire)?;
    let nats = claims.to_nats().map_err(|e| json_error("payload", &e))?;
    let payload = go_json(&Payload {
        standard: &wire,
        nats: &nats,
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

/// `jti` (nats-io/jwt `ClaimsData.hash`): base32 without padding of SHA-512/256 over the JSON
/// of the standard claims alone, `jti` left out, as Go writes it.
pub(crate) fn claims_id(standard: &StandardWire) -> Result<String, JwtError> {
    debug_assert!(standard.jti.is_empty());
    let json = go_json(standard)?;
    Ok(BASE32_NOPAD.encode(&Sha512_256::digest(&json)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_user;
    use crate::token::split;

    #[test]
    fn header_is_nats_v2() {
        let acc = KeyPair::new_account();
        let t = encode_user(&UserClaims::new(KeyPair::new_user().public_key(), ""), &acc);
        let head = split(&t).unwrap().header;
        assert_eq!(
            BASE64URL_NOPAD.decode(head.as_bytes()).unwrap(),
            HEADER_JSON.as_bytes()
        );
    }

    #[test]
    fn id_hashes_the_standard_claims_only() {
        let wire = StandardWire {
            iat: 1_616_247_232,
            iss: "ABVRZKJ6Z7NIMPIYJRCHEYFRUO7ENN6NWOKQDFLFDFVPSM36UPX2UCPP".into(),
            name: "one".into(),
            sub: "UDCIBGGGHCJBQPOO4SCJJBHZDR37NQGGCIWMNG2DDAKJ6WMKBMAKXIMO".into(),
            ..StandardWire::default()
        };
        // The jti nsc wrote into nats-server's server/configs/one.creds.
        assert_eq!(
            claims_id(&wire).unwrap(),
            "GECPTJHHMS3MCMKLTPGYGAO45GQ6N6QPYWQ4GPLAEB33VCRJNRVQ"
        );
    }

    #[test]
    fn ids_of_real_tokens_are_recomputed() {
        let fixtures = [
            include_str!("../tests/fixtures/js-test-operator.jwt"),
            include_str!("../tests/fixtures/js-test-sys-account.jwt"),
            include_str!("../tests/fixtures/js-test-one-account.jwt"),
            include_str!("../tests/fixtures/op2-operator.jwt"),
            include_str!("../tests/fixtures/jetstream-account.jwt"),
        ];
        for jwt in fixtures {
            let claims = crate::decode::decode_untimed(jwt.trim()).unwrap();
            let standard = match &claims {
                Claims::Operator(c) => c.standard(),
                Claims::Account(c) => c.standard(),
                _ => unreachable!("operators and accounts only"),
            };
            let issued_at = standard.issued_at.unwrap();
            let wire = standard.to_wire(standard.issuer.clone(), issued_at);
            assert_eq!(
                claims_id(&wire).unwrap(),
                standard.id,
                "{}",
                claims.subject()
            );
        }
    }

    #[test]
    fn user_key_cannot_issue_user_tokens() {
        let c = UserClaims::new(KeyPair::new_user().public_key(), "");
        assert!(matches!(
            try_encode_user(&c, &KeyPair::new_user()),
            Err(JwtError::BadIssuer { .. })
        ));
    }

    #[test]
    fn public_only_key_cannot_sign() {
        let acc = KeyPair::new_account();
        let public = KeyPair::from_public_key(&acc.public_key()).unwrap();
        let c = UserClaims::new(KeyPair::new_user().public_key(), "");
        assert_eq!(try_encode_user(&c, &public), Err(JwtError::NoSigningKey));
        assert!(decode_user(&encode_user(&c, &acc)).is_ok());
    }

    #[test]
    fn subjects_must_have_the_right_role() {
        let op = KeyPair::new_operator();
        let c = AccountClaims::new(KeyPair::new_user().public_key());
        assert!(matches!(
            encode_account(&c, &op),
            Err(JwtError::BadSubject { .. })
        ));
        assert!(matches!(
            encode_generic(&GenericClaims::new(""), &op),
            Err(JwtError::BadSubject { .. })
        ));
    }
}
