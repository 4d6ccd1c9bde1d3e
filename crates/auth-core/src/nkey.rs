//! NKey nonce signatures.

use data_encoding::{BASE64, BASE64URL_NOPAD};
use nkeys::{KeyPair, KeyPairType};

use crate::error::AuthError;

/// A public-only key pair for `key` if it is a valid public NKey of role `kind`.
pub(crate) fn public_key(key: &str, kind: &KeyPairType) -> Option<KeyPair> {
    KeyPair::from_public_key(key)
        .ok()
        .filter(|kp| kp.key_pair_type() == *kind)
}

/// Checks that `sig` is `key`'s Ed25519 signature of the ASCII bytes of `nonce`. The signature
/// is base64url without padding, or (nats-server's fallback) standard base64.
pub(crate) fn verify_nonce(
    key: &KeyPair,
    identity: &str,
    nonce: Option<&str>,
    sig: Option<&str>,
) -> Result<(), AuthError> {
    let Some(sig) = sig.filter(|s| !s.is_empty()) else {
        return Err(AuthError::MissingNonceSignature {
            identity: identity.to_owned(),
        });
    };
    let Some(nonce) = nonce.filter(|n| !n.is_empty()) else {
        return Err(AuthError::MissingNonce {
            identity: identity.to_owned(),
        });
    };
    let bad = || AuthError::BadSignature {
        identity: identity.to_owned(),
    };
    let raw = BASE64URL_NOPAD
        .decode(sig.as_bytes())
        .or_else(|_| BASE64.decode(sig.as_bytes()))
        .map_err(|_| bad())?;
    key.verify(nonce.as_bytes(), &raw).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_verify() {
        let kp = KeyPair::new_user();
        let sig = kp.sign(b"abc").unwrap();
        let pk = public_key(&kp.public_key(), &KeyPairType::User).unwrap();
        for s in [BASE64URL_NOPAD.encode(&sig), BASE64.encode(&sig)] {
            assert!(verify_nonce(&pk, "u", Some("abc"), Some(&s)).is_ok());
        }
        assert!(verify_nonce(&pk, "u", Some("abd"), Some(&BASE64.encode(&sig))).is_err());
        assert!(verify_nonce(&pk, "u", Some("abc"), Some("AAAA")).is_err());
        assert!(verify_nonce(&pk, "u", Some("abc"), Some("%%%")).is_err());
        assert!(verify_nonce(&pk, "u", Some("abc"), None).is_err());
        assert!(verify_nonce(&pk, "u", None, Some(&BASE64.encode(&sig))).is_err());
    }

    #[test]
    fn roles_are_checked() {
        let u = KeyPair::new_user().public_key();
        let a = KeyPair::new_account().public_key();
        assert!(public_key(&u, &KeyPairType::User).is_some());
        assert!(public_key(&a, &KeyPairType::User).is_none());
        assert!(public_key("UXXX", &KeyPairType::User).is_none());
    }
}
