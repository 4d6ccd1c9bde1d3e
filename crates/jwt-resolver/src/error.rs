//! Why a JWT was refused.

/// Why a token could not be decoded, verified or encoded.
///
/// The texts name the reason only; they never repeat the token (a bearer JWT is a credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is larger than [`MAX_TOKEN_SIZE`](crate::MAX_TOKEN_SIZE).
    #[error("JWT is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The token is not three `.`-separated parts.
    #[error("JWT does not have three parts")]
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
        /// What serde said.
        reason: String,
    },
    /// The header's `typ` is not `JWT`.
    #[error("JWT type {0:?} is not supported")]
    UnsupportedType(String),
    /// The header's `alg` is not `ed25519-nkey` (version 1 tokens are not read).
    #[error("JWT algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    /// The claims are of another kind (`nats.type`).
    #[error("expected a user JWT, found type {0:?}")]
    WrongClaimType(String),
    /// `nats.version` is newer than this library understands.
    #[error("JWT version {0} is not supported")]
    UnsupportedVersion(u64),
    /// `iss` is not a valid public key of the role the claim type requires.
    #[error("JWT issuer {0:?} is not a valid account public key")]
    BadIssuer(String),
    /// `sub` is not a valid public key of the role the claim type requires.
    #[error("JWT subject {0:?} is not a valid user public key")]
    BadSubject(String),
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
    /// Encoding needs a key pair with its private half.
    #[error("signing key has no private key")]
    NoSigningKey,
}
