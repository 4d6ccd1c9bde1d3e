//! Checks that a string is a well-formed NKey public key (base32, prefix byte, CRC-16).
//!
//! Only the encoding is checked; signatures are the auth engine's business.

/// The roles an NKey public key can have that a configuration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NkeyRole {
    /// `U…`: a user.
    User,
    /// `A…`: an account.
    Account,
}

impl NkeyRole {
    /// The first decoded byte of a public key of this role.
    fn prefix_byte(self) -> u8 {
        match self {
            Self::User => 20 << 3,
            Self::Account => 0,
        }
    }
}

/// Whether `key` is a valid public NKey of `role`.
pub(crate) fn is_valid_public(key: &str, role: NkeyRole) -> bool {
    // 1 prefix byte + 32 key bytes + 2 CRC bytes = 35 bytes = 56 base32 characters.
    if key.len() != 56 {
        return false;
    }
    let Some(raw) = base32_decode(key) else {
        return false;
    };
    if raw.len() != 35 || raw[0] != role.prefix_byte() {
        return false;
    }
    let (body, crc) = raw.split_at(33);
    crc16(body) == u16::from_le_bytes([crc[0], crc[1]])
}

/// RFC 4648 base32 without padding.
fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            // The low 8 bits after the shift are the next byte.
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0), as NKeys use.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
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
        assert!(!is_valid_public(&"U".repeat(56), NkeyRole::User));
    }
}
