//! Decorated files: `.creds` (a user JWT and its seed) and decorated JWT files, read and
//! written as nats-io/jwt does (`creds_utils.go`).
//!
//! A block is a fence line (three or more dashes, anything, three or more dashes at its end), a
//! line holding only the token (`[A-Za-z0-9_.=-]+`), and a closing fence line (starting and
//! ending with three or more dashes). Everything between blocks (the `*** IMPORTANT ***`
//! banner) is ignored. The first block is the JWT, the second the seed.

use std::fmt;

use nkeys::{KeyPair, KeyPairType};

use crate::claims::{ClaimKind, Claims};
use crate::decode::decode_untimed;
use crate::error::JwtError;

/// An NKey seed (`S…`): the private half of a key. Its `Debug` never shows it, and its memory
/// is overwritten when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed(String);

impl Seed {
    /// Takes `seed` if it is a valid NKey seed (of any role).
    pub fn new(seed: impl Into<String>) -> Result<Self, JwtError> {
        let seed = Self(seed.into());
        seed.key_pair()?;
        Ok(seed)
    }

    /// The seed text, for handing to a signer. Named so every use is visible.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The key pair of this seed.
    pub fn key_pair(&self) -> Result<KeyPair, JwtError> {
        KeyPair::from_seed(&self.0).map_err(|_| JwtError::InvalidSeed)
    }

    /// The role of the key (user, account, operator, …).
    pub fn kind(&self) -> Result<KeyPairType, JwtError> {
        self.key_pair().map(|kp| kp.key_pair_type())
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        // Best effort against the store being optimised away.
        std::hint::black_box(&bytes);
    }
}

/// What a `.creds` file holds: a user JWT and the user's seed.
#[derive(Clone)]
pub struct UserCreds {
    /// The user JWT (not verified by [`parse_user_creds`]).
    pub jwt: String,
    /// The user's seed (`SU…`).
    pub seed: Seed,
}

impl fmt::Debug for UserCreds {
    /// Neither part is shown: a bearer JWT is a credential too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCreds")
            .field("jwt", &format_args!("<{} bytes>", self.jwt.len()))
            .field("seed", &self.seed)
            .finish()
    }
}

/// Reads a `.creds` file: the first block's JWT and a user seed (nats-io/jwt
/// `ParseDecoratedJWT` + `ParseDecoratedUserNKey`). The JWT is not verified here.
pub fn parse_user_creds(contents: &str) -> Result<UserCreds, JwtError> {
    let blocks = blocks(contents);
    let jwt = blocks.first().ok_or(JwtError::CredsMissingJwt)?;
    let seed = seed_in(contents, &blocks)?;
    if seed.kind()? != KeyPairType::User {
        return Err(JwtError::WrongSeedKind { expected: "a user" });
    }
    Ok(UserCreds {
        jwt: (*jwt).to_owned(),
        seed,
    })
}

/// The JWT in a decorated file (its first block), or the whole text trimmed when it has no
/// block: nats-server reads `operator:` files and inline operator JWTs this way (nats-io/jwt
/// `ParseDecoratedJWT`).
pub fn parse_decorated_jwt(contents: &str) -> &str {
    blocks(contents)
        .first()
        .copied()
        .unwrap_or_else(|| contents.trim())
}

/// The seed in a decorated file: its second block, or else the first line starting with `SO`,
/// `SA` or `SU` (nats-io/jwt `ParseDecoratedNKey`). Operator, account and user seeds only.
pub fn parse_decorated_seed(contents: &str) -> Result<Seed, JwtError> {
    seed_in(contents, &blocks(contents))
}

fn seed_in(contents: &str, blocks: &[&str]) -> Result<Seed, JwtError> {
    let is_seed = |s: &str| ["SO", "SA", "SU"].iter().any(|p| s.starts_with(p));
    let text = match blocks.get(1) {
        Some(s) => *s,
        None => contents
            .lines()
            .map(str::trim)
            .find(|l| is_seed(l))
            .ok_or(JwtError::CredsMissingSeed)?,
    };
    if !is_seed(text) {
        return Err(JwtError::WrongSeedKind {
            expected: "an operator, account or user",
        });
    }
    Seed::new(text)
}

/// A `.creds` file as `nsc` writes it (nats-io/jwt `FormatUserConfig`): `jwt` must verify as a
/// user JWT (its times are not checked) and `seed` must be that user's seed.
pub fn format_user_creds(jwt: &str, seed: &Seed) -> Result<String, JwtError> {
    let claims = decode_untimed(jwt)?;
    let Claims::User(user) = claims else {
        return Err(JwtError::WrongClaimType {
            expected: ClaimKind::User,
            found: claims.kind().as_str().to_owned(),
        });
    };
    if seed.kind()? != KeyPairType::User {
        return Err(JwtError::WrongSeedKind { expected: "a user" });
    }
    if seed.key_pair()?.public_key() != user.subject {
        return Err(JwtError::SeedMismatch {
            subject: user.subject,
        });
    }
    let mut out = decorated_jwt("USER", jwt);
    out.push_str(&decorated_seed("USER", seed.expose_secret()));
    Ok(out)
}

/// `jwt` in a decorated block named after its verified type, e.g. `NATS OPERATOR JWT`
/// (nats-io/jwt `DecorateJWT`).
pub fn decorate_jwt(jwt: &str) -> Result<String, JwtError> {
    let kind = match decode_untimed(jwt)? {
        Claims::Generic(g) => g.kind(),
        claims => claims.kind(),
    };
    Ok(decorated_jwt(&kind.as_str().to_uppercase(), jwt))
}

/// An operator, account or user seed in a decorated block with nsc's warning banner
/// (nats-io/jwt `DecorateSeed`).
pub fn decorate_seed(seed: &Seed) -> Result<String, JwtError> {
    let kind = match seed.kind()? {
        KeyPairType::User => "USER",
        KeyPairType::Account => "ACCOUNT",
        KeyPairType::Operator => "OPERATOR",
        _ => {
            return Err(JwtError::WrongSeedKind {
                expected: "an operator, account or user",
            });
        }
    };
    Ok(decorated_seed(kind, seed.expose_secret()))
}

fn decorated_jwt(kind: &str, jwt: &str) -> String {
    format!("-----BEGIN NATS {kind} JWT-----\n{jwt}\n------END NATS {kind} JWT------\n\n")
}

fn decorated_seed(kind: &str, seed: &str) -> String {
    format!(
        "************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\
         \n\
         -----BEGIN {kind} NKEY SEED-----\n\
         {seed}\n\
         ------END {kind} NKEY SEED------\n\
         \n\
         *************************************************************\n"
    )
}

/// The tokens of every block, in order, as nats-io/jwt's pattern finds them (non-overlapping,
/// left to right).
fn blocks(contents: &str) -> Vec<&str> {
    let lines: Vec<&str> = contents.split('\n').collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        let (open, token, close) = (lines[i], strip_cr(lines[i + 1]), lines[i + 2]);
        // The opening fence needs its newline; the closing one may end the text.
        if is_opening_fence(open) && is_token(token) && is_closing_fence(close) {
            found.push(token);
            i += 3;
        } else {
            i += 1;
        }
    }
    found
}

fn strip_cr(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'='))
}

/// `-{3,}.*-{3,}` ending the line: three dashes somewhere, and three more ending it.
fn is_opening_fence(line: &str) -> bool {
    let line = strip_cr(line);
    let body = line.trim_end_matches('-');
    let run = line.len() - body.len();
    run >= 6 || (run >= 3 && body.contains("---"))
}

/// `-{3,}.*-{3,}` filling the line from its start to its end.
fn is_closing_fence(line: &str) -> bool {
    let line = strip_cr(line);
    line.starts_with("---") && line[3..].ends_with("---")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_follow_the_go_pattern() {
        assert!(is_opening_fence("-----BEGIN NATS USER JWT-----"));
        assert!(is_opening_fence("junk ---x---\r"));
        assert!(is_opening_fence("------"));
        assert!(!is_opening_fence("-----"));
        assert!(!is_opening_fence("-----BEGIN-- "));
        assert!(is_closing_fence("------END NATS USER JWT------"));
        assert!(is_closing_fence("------\r"));
        assert!(!is_closing_fence(" ---END---"));
        assert!(!is_closing_fence("-----"));
    }

    #[test]
    fn blocks_do_not_overlap() {
        let text = "---a---\nT1\n---b---\nT2\n---c---\n";
        assert_eq!(blocks(text), ["T1"]);
        let text = "---a---\nT1\n---b---\n---c---\nT2\n---d---";
        assert_eq!(blocks(text), ["T1", "T2"]);
        assert!(blocks("---a---\nnot a token\n---b---\n").is_empty());
    }

    #[test]
    fn seeds_do_not_show() {
        let kp = KeyPair::new_user();
        let seed = Seed::new(kp.seed().unwrap()).unwrap();
        assert_eq!(format!("{seed:?}"), "Seed(<redacted>)");
        assert_eq!(seed.kind().unwrap(), KeyPairType::User);
        assert_eq!(Seed::new("SUnot-a-seed"), Err(JwtError::InvalidSeed));
    }
}
