//! Why a JWT or a creds file was refused.

use crate::claims::ClaimKind;

/// Why a token could not be decoded, verified or encoded, or a creds file not read.
///
/// The texts are meant for a log line explaining a refused login: they name the reason and at
/// most public keys or short, clipped values from the token, never a signature or a seed, and
/// never repeat the token itself (a bearer JWT is a credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is larger than [`MAX_TOKEN_SIZE`](crate::MAX_TOKEN_SIZE).
    #[error("JWT is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The token is not three `.`-separated parts (in nats-server's words, which claim-update
    /// replies carry).
    #[error("expected 3 chunks")]
    Malformed,
    /// A part is not base64url without padding.
    #[error("JWT {part} is not valid base64url")]
    Base64 {
        /// `header`, `payload` or `signature`.
        part: &'static str,
    },
    /// A part is not the expected JSON.
    #[error("JWT {part} is not valid JSON: {reason}")]
    Json {
        /// `header` or `payload`.
        part: &'static str,
        /// What serde said (clipped).
        reason: String,
    },
    /// The header's `typ` is not `JWT`.
    #[error("JWT type {0:?} is not supported")]
    UnsupportedType(String),
    /// The header's `alg` is neither `ed25519-nkey` nor version 1's `ed25519`.
    #[error("JWT algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    /// The claims are of another kind than the decoder expects (`nats.type`).
    #[error("expected {expected} JWT, found type {found:?}")]
    WrongClaimType {
        /// What the caller asked for.
        expected: ClaimKind,
        /// What the token says.
        found: String,
    },
    /// The token's type is known but not decoded by this library (`authorization_request`,
    /// `authorization_response`, `cluster`, `server`).
    #[error("JWT type {0:?} is not supported")]
    UnsupportedClaimType(String),
    /// `nats.version` is newer than this library understands (or 0 for a typed claim).
    #[error("JWT version {0} is not supported")]
    UnsupportedVersion(u64),
    /// `iss` is not a valid public key of a role allowed to sign this kind of token.
    #[error("{claim} JWT issuer {issuer:?} is not {}", claim.issuer_text())]
    BadIssuer {
        /// The kind of token.
        claim: ClaimKind,
        /// The `iss` (clipped).
        issuer: String,
    },
    /// `sub` is not a valid public key of the role this kind of token is about.
    #[error("{claim} JWT subject {subject:?} is not {}", claim.subject_text())]
    BadSubject {
        /// The kind of token.
        claim: ClaimKind,
        /// The `sub` (clipped).
        subject: String,
    },
    /// `nats.issuer_account` is set but is not an account public key.
    #[error("JWT issuer_account {0:?} is not a valid account public key")]
    BadIssuerAccount(String),
    /// The signature does not verify with the issuer's key.
    #[error("JWT signature does not verify")]
    BadSignature,
    /// `exp` has passed.
    #[error("JWT has expired")]
    Expired,
    /// `nbf` is still in the future.
    #[error("JWT is not valid yet")]
    NotYetValid,
    /// A claim holds a value that cannot be encoded or used.
    #[error("JWT field {field} is not valid")]
    InvalidField {
        /// The field (wire name).
        field: &'static str,
    },
    /// Encoding needs a key pair with its private half.
    #[error("signing key has no private key")]
    NoSigningKey,
    /// A creds file has no JWT block.
    #[error("creds file contains no JWT")]
    CredsMissingJwt,
    /// A creds file has no NKey seed.
    #[error("creds file contains no NKey seed")]
    CredsMissingSeed,
    /// What should be an NKey seed is not one (the text is never shown).
    #[error("not a valid NKey seed")]
    InvalidSeed,
    /// The seed is of another role than required.
    #[error("NKey seed is not {expected} seed")]
    WrongSeedKind {
        /// E.g. `a user`.
        expected: &'static str,
    },
    /// A creds file's seed does not belong to its JWT's subject.
    #[error("NKey seed does not match JWT subject {subject:?}")]
    SeedMismatch {
        /// The JWT's `sub`.
        subject: String,
    },
}

/// Longest text taken from a token into an error (public keys are 56 characters).
const CLIP: usize = 80;

/// `s`, cut to a bounded length on a character boundary, so an attacker-supplied value cannot
/// flood a log line.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(CLIP) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_clipped() {
        let long = "x".repeat(1000);
        assert_eq!(clip(&long).chars().count(), CLIP + 1);
        assert_eq!(clip("short"), "short");
        let e = JwtError::BadIssuer {
            claim: ClaimKind::User,
            issuer: "OABC".into(),
        };
        assert_eq!(
            e.to_string(),
            r#"user JWT issuer "OABC" is not an account public key"#
        );
        let e = JwtError::WrongClaimType {
            expected: ClaimKind::Account,
            found: "user".into(),
        };
        assert_eq!(e.to_string(), r#"expected account JWT, found type "user""#);
    }
}
