//! Checks that a string is a well-formed NKey public key of a given role.
//!
//! The check is the `nkeys` crate's (base32, prefix byte, CRC-16 and a valid Ed25519 point), the
//! same call the authentication crate makes when a client presents the key, so a key the
//! configuration accepts is one the server can verify. Signatures are the auth engine's business.

use nkeys::{KeyPair, KeyPairType};

/// The roles an NKey public key can have that a configuration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NkeyRole {
    /// `U…`: a user.
    User,
    /// `A…`: an account.
    Account,
    /// `O…`: an operator.
    Operator,
}

impl NkeyRole {
    fn key_pair_type(self) -> KeyPairType {
        match self {
            Self::User => KeyPairType::User,
            Self::Account => KeyPairType::Account,
            Self::Operator => KeyPairType::Operator,
        }
    }
}

/// Whether `key` is a valid public NKey of `role`.
pub(crate) fn is_valid_public(key: &str, role: NkeyRole) -> bool {
    KeyPair::from_public_key(key).is_ok_and(|kp| kp.key_pair_type() == role.key_pair_type())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_keys() {
        assert!(is_valid_public(
            "UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP",
            NkeyRole::User
        ));
        assert!(is_valid_public(
            "UCBP45VSUDL2EXLZ2MIAW43QBYCDUEOLQH3UUFFQYVCKUCQTAGK66QHB",
            NkeyRole::User
        ));
        assert!(is_valid_public(
            "AAM63CQKV4TMFTPIUOKZMYOQOI5YK26MBGARL7XIDDRBGBKX6JEEQTHZ",
            NkeyRole::Account
        ));
        // The docs' key with a bad checksum (bad-01 fixture).
        assert!(!is_valid_public(
            "UCKASD5KPQQYHB6KYD7RC62VZQN7VRU5NN2BKL7UFBQ3UBYAJQPVNHSQ",
            NkeyRole::User
        ));
        // Right encoding, wrong role.
        assert!(!is_valid_public(
            "AAM63CQKV4TMFTPIUOKZMYOQOI5YK26MBGARL7XIDDRBGBKX6JEEQTHZ",
            NkeyRole::User
        ));
        assert!(!is_valid_public("ABC", NkeyRole::Account));
        // The operator of nats-server's test/configs/nkeys/op.jwt.
        assert!(is_valid_public(
            "OCAT33MTVU2VUOIMGNGUNXJ66AH2RLSDAF3MUBCYAY5QMIL65NQM6XQG",
            NkeyRole::Operator
        ));
        assert!(!is_valid_public(
            "AAM63CQKV4TMFTPIUOKZMYOQOI5YK26MBGARL7XIDDRBGBKX6JEEQTHZ",
            NkeyRole::Operator
        ));
        assert!(!is_valid_public(&"U".repeat(56), NkeyRole::User));
    }
}
