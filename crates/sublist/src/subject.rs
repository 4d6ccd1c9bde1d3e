//! Subject validation, the [`Subject`] newtype and token-wise matching.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

/// Why a subject was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectError {
    /// The subject has no bytes at all.
    Empty,
    /// A token is empty: a leading or trailing `.`, or `..`.
    EmptyToken,
    /// A token contains a space, tab, CR, LF or FF.
    InvalidCharacter,
    /// The full wildcard `>` is followed by more tokens.
    FullWildcardNotLast,
    /// A `*` or `>` token where only a literal subject is allowed
    /// (see [`validate_literal_subject`]).
    WildcardNotAllowed,
    /// A subscription subject with more than [`MAX_TOKENS`] tokens.
    TooManyTokens,
}

/// Most tokens a subscription subject may have.
///
/// The trie is as deep as its deepest subscription, and inserting, removing, matching through
/// `*` nodes and dropping all recurse once per level: this bound keeps that recursion small
/// whatever a client sends (nats-server has no such bound; no real subject comes near it).
/// Published subjects are not bounded: matching one follows literal tokens in a loop.
pub const MAX_TOKENS: usize = 256;

impl fmt::Display for SubjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "subject is empty",
            Self::EmptyToken => "subject has an empty token",
            Self::InvalidCharacter => "subject contains whitespace",
            Self::FullWildcardNotLast => "full wildcard '>' is not the last token",
            Self::WildcardNotAllowed => "wildcard token in a literal subject",
            Self::TooManyTokens => "subject has too many tokens",
        })
    }
}

impl std::error::Error for SubjectError {}

/// Checks a subject that may contain wildcards, as given to SUB.
///
/// Tokens are separated by `.` and must be non-empty; `*` and `>` are wildcards only as a whole
/// token (`foo*` is literal); `>` must be the last token; no token may contain a space, tab, CR,
/// LF or FF; at most [`MAX_TOKENS`] tokens. Every other byte, including non-UTF-8, is allowed.
///
/// ```
/// use rnats_sublist::{SubjectError, validate_subject};
/// assert_eq!(validate_subject(b"orders.*.>"), Ok(()));
/// assert_eq!(validate_subject(b"orders..eu"), Err(SubjectError::EmptyToken));
/// assert_eq!(validate_subject(b"orders.>.eu"), Err(SubjectError::FullWildcardNotLast));
/// ```
pub fn validate_subject(subject: &[u8]) -> Result<(), SubjectError> {
    validate(subject, false)
}

/// Checks a subject that must not contain `*` or `>` tokens, as a pedantic PUB.
///
/// ```
/// use rnats_sublist::{SubjectError, validate_literal_subject};
/// assert_eq!(validate_literal_subject(b"orders.eu*"), Ok(()));
/// assert_eq!(validate_literal_subject(b"orders.*"), Err(SubjectError::WildcardNotAllowed));
/// ```
pub fn validate_literal_subject(subject: &[u8]) -> Result<(), SubjectError> {
    validate(subject, true)
}

fn validate(subject: &[u8], literal_only: bool) -> Result<(), SubjectError> {
    if subject.is_empty() {
        return Err(SubjectError::Empty);
    }
    let mut start = 0;
    let mut tokens = 1;
    for (i, &b) in subject.iter().enumerate() {
        match b {
            b'.' => {
                check_token(&subject[start..i], false, literal_only)?;
                start = i + 1;
                tokens += 1;
                if tokens > MAX_TOKENS && !literal_only {
                    return Err(SubjectError::TooManyTokens);
                }
            }
            b' ' | b'\t' | b'\r' | b'\n' | 0x0c => return Err(SubjectError::InvalidCharacter),
            _ => {}
        }
    }
    check_token(&subject[start..], true, literal_only)
}

#[inline]
fn check_token(token: &[u8], last: bool, literal_only: bool) -> Result<(), SubjectError> {
    match token {
        [] => Err(SubjectError::EmptyToken),
        b"*" | b">" if literal_only => Err(SubjectError::WildcardNotAllowed),
        b">" if !last => Err(SubjectError::FullWildcardNotLast),
        _ => Ok(()),
    }
}

/// Whether `subject` (a published subject) matches `pattern` (a subscription), token by token.
///
/// A `*` pattern token matches any one token and a final `>` matches one or more tokens. The
/// subject is compared literally: a `*` in the subject only equals a `*` pattern token. An empty
/// pattern or subject, or one with an empty token, matches nothing. This is the reference
/// semantics that [`Sublist`](crate::Sublist) implements with a trie.
///
/// ```
/// use rnats_sublist::subject_matches;
/// assert!(subject_matches(b"orders.*.created", b"orders.eu.created"));
/// assert!(subject_matches(b"orders.>", b"orders.eu.42.created"));
/// assert!(!subject_matches(b"orders.>", b"orders"));
/// assert!(!subject_matches(b"orders.eu", b"orders.*"));
/// ```
pub fn subject_matches(pattern: &[u8], subject: &[u8]) -> bool {
    let mut pattern_tokens = tokens(pattern);
    let mut subject_tokens = tokens(subject);
    loop {
        match (pattern_tokens.next(), subject_tokens.next()) {
            (None, None) => return true,
            (Some(b">"), Some(token)) => {
                return pattern_tokens.next().is_none()
                    && !token.is_empty()
                    && subject_tokens.all(|t| !t.is_empty());
            }
            (Some(p), Some(s)) => {
                if p.is_empty() || s.is_empty() || (p != b"*" && p != s) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Splits on `.`; an empty input yields one empty token.
#[inline]
pub(crate) fn tokens(subject: &[u8]) -> std::slice::Split<'_, u8, impl FnMut(&u8) -> bool> {
    subject.split(|&b| b == b'.')
}

/// A subject that passed [`validate_subject`] ("parse, don't validate").
///
/// It may contain wildcards; [`Subject::is_literal`] tells. Hashes and compares like its bytes,
/// so a `HashMap<Subject, _>` can be queried with a `&[u8]`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Subject(Box<[u8]>);

impl Subject {
    /// Validates `subject` with [`validate_subject`] and keeps a copy of it.
    pub fn new(subject: impl AsRef<[u8]>) -> Result<Self, SubjectError> {
        let subject = subject.as_ref();
        validate_subject(subject)?;
        Ok(Self(subject.into()))
    }

    /// The subject's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether no token is a wildcard (`foo*` is literal; `foo.*` is not).
    pub fn is_literal(&self) -> bool {
        self.tokens().all(|t| t != b"*" && t != b">")
    }

    /// The `.`-separated tokens, each non-empty.
    pub fn tokens(&self) -> impl Iterator<Item = &[u8]> + '_ {
        tokens(&self.0)
    }

    /// Whether the published subject `subject` matches this subject as a pattern
    /// (see [`subject_matches`]).
    pub fn matches(&self, subject: &[u8]) -> bool {
        subject_matches(&self.0, subject)
    }

    /// The bytes, giving up the newtype.
    pub fn into_bytes(self) -> Box<[u8]> {
        self.0
    }
}

impl fmt::Display for Subject {
    /// Lossy UTF-8: invalid sequences become U+FFFD.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl AsRef<[u8]> for Subject {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for Subject {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for Subject {
    type Err = SubjectError;

    fn from_str(s: &str) -> Result<Self, SubjectError> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Subject {
    type Error = SubjectError;

    fn try_from(s: &str) -> Result<Self, SubjectError> {
        Self::new(s)
    }
}

impl TryFrom<&[u8]> for Subject {
    type Error = SubjectError;

    fn try_from(s: &[u8]) -> Result<Self, SubjectError> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SubjectError::*;

    #[test]
    fn validation_table() {
        // subject, validate_subject, validate_literal_subject
        type Row = (
            &'static [u8],
            Result<(), SubjectError>,
            Result<(), SubjectError>,
        );
        let cases: &[Row] = &[
            (b"foo", Ok(()), Ok(())),
            (b"foo.bar.baz", Ok(()), Ok(())),
            (b"foo*.bar>", Ok(()), Ok(())),
            (b"$SYS.REQ.>", Ok(()), Err(WildcardNotAllowed)),
            (b"a:b.c-d.\xff\xfe", Ok(()), Ok(())),
            ("caf\u{e9}.\u{1F600}".as_bytes(), Ok(()), Ok(())),
            (b"*", Ok(()), Err(WildcardNotAllowed)),
            (b">", Ok(()), Err(WildcardNotAllowed)),
            (b"foo.*.bar", Ok(()), Err(WildcardNotAllowed)),
            (b"foo.*.>", Ok(()), Err(WildcardNotAllowed)),
            (b"**.>>", Ok(()), Ok(())),
            (b"a\0b", Ok(()), Ok(())),
            (b"", Err(Empty), Err(Empty)),
            (b".", Err(EmptyToken), Err(EmptyToken)),
            (b".foo", Err(EmptyToken), Err(EmptyToken)),
            (b"foo.", Err(EmptyToken), Err(EmptyToken)),
            (b"foo..bar", Err(EmptyToken), Err(EmptyToken)),
            (
                b"foo.>.bar",
                Err(FullWildcardNotLast),
                Err(WildcardNotAllowed),
            ),
            (b">.foo", Err(FullWildcardNotLast), Err(WildcardNotAllowed)),
            (b"foo bar", Err(InvalidCharacter), Err(InvalidCharacter)),
            (b"foo\tbar", Err(InvalidCharacter), Err(InvalidCharacter)),
            (b"foo\rbar", Err(InvalidCharacter), Err(InvalidCharacter)),
            (b"foo\nbar", Err(InvalidCharacter), Err(InvalidCharacter)),
            (b"foo\x0cbar", Err(InvalidCharacter), Err(InvalidCharacter)),
            (b"foo.\x0b", Ok(()), Ok(())),
        ];
        for (subject, any, literal) in cases {
            let shown = String::from_utf8_lossy(subject);
            assert_eq!(
                validate_subject(subject),
                *any,
                "validate_subject({shown:?})"
            );
            assert_eq!(
                validate_literal_subject(subject),
                *literal,
                "validate_literal_subject({shown:?})"
            );
            assert_eq!(
                Subject::new(subject).is_ok(),
                any.is_ok(),
                "Subject::new({shown:?})"
            );
        }
    }

    #[test]
    fn matching_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo.bar", "foo.bar", true),
            ("foo.bar", "foo.baz", false),
            ("foo.bar", "foo", false),
            ("foo", "foo.bar", false),
            ("foo.*", "foo.bar", true),
            ("foo.*", "foo.bar.baz", false),
            ("foo.*", "foo", false),
            ("*.bar", "foo.bar", true),
            ("*.*", "a.b", true),
            ("foo.>", "foo.bar", true),
            ("foo.>", "foo.bar.baz", true),
            ("foo.>", "foo", false),
            (">", "foo", true),
            (">", "foo.bar", true),
            ("foo.*.>", "foo.a.b", true),
            ("foo.*.>", "foo.a", false),
            ("foo*", "foo*", true),
            ("foo*", "fooa", false),
            // published wildcards are literal tokens
            ("foo.bar", "foo.*", false),
            ("foo.bar", "foo.>", false),
            ("foo.*", "foo.*", true),
            ("foo.*", "foo.>", true),
            ("foo.>", "foo.*", true),
            // empty tokens match nothing
            ("foo.>", "foo..bar", false),
            ("foo.>", "foo.bar.", false),
            (">", "", false),
            ("*", "", false),
            ("", "", false),
            ("foo.*", "foo.", false),
        ];
        for (pattern, subject, expected) in cases {
            assert_eq!(
                subject_matches(pattern.as_bytes(), subject.as_bytes()),
                *expected,
                "{pattern} vs {subject}"
            );
        }
    }

    #[test]
    fn subject_newtype() {
        let s = Subject::new("orders.*.created").unwrap();
        assert_eq!(s.as_bytes(), b"orders.*.created");
        assert!(!s.is_literal());
        assert!(Subject::new("orders.eu*.created").unwrap().is_literal());
        assert_eq!(s.to_string(), "orders.*.created");
        assert_eq!(s.tokens().count(), 3);
        assert!(s.matches(b"orders.eu.created"));
        assert_eq!("a..b".parse::<Subject>(), Err(EmptyToken));
        assert_eq!(Subject::new(b"a.\xff").unwrap().to_string(), "a.\u{fffd}");
        let set: std::collections::HashSet<Subject> = [s].into();
        assert!(set.contains(b"orders.*.created".as_slice()));
    }
}
