//! Subject transforms and weighted subject mappings, with nats-server's destination functions
//! and its rules for which destinations are valid.
//!
//! A [`SubjectTransform`] rewrites a subject that matches its source into its destination:
//! `orders.*.>` → `eu.{{wildcard(1)}}.{{partition(4,1)}}.>`. A [`Mapping`] is what an account's
//! `mappings` entry becomes: a source and one or more weighted transforms, one of which is
//! picked per message.

use std::fmt;

use crate::subject::subject_matches;

/// Why a mapping destination (or source) is refused. The messages are nats-server's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransformError {
    /// The source or destination is not a valid subject, the destination holds `*`, or only
    /// one of them ends in `>`.
    BadSubject,
    /// A destination token is empty, follows `>`, or holds whitespace.
    InvalidDestination(String),
    /// `{{name(…)}}` names no known function.
    UnknownFunction(String),
    /// A wildcard index is larger than the source's number of `*` (or the function needs a
    /// wildcard and the source has none).
    IndexOutOfRange(String),
    /// A function got too few arguments.
    NotEnoughArgs(String),
    /// A function got too many arguments.
    TooManyArgs(String),
    /// An argument is not a number, or a `split` delimiter holds a space or a dot.
    InvalidArg(String),
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const BASE: &str = "invalid mapping destination";
        let (what, token) = match self {
            Self::BadSubject => return f.write_str("invalid subject"),
            Self::InvalidDestination(t) => ("invalid transform", t),
            Self::UnknownFunction(t) => ("unknown function", t),
            Self::IndexOutOfRange(t) => ("wildcard index out of range", t),
            Self::NotEnoughArgs(t) => ("not enough arguments passed to the function", t),
            Self::TooManyArgs(t) => ("too many arguments passed to the function", t),
            Self::InvalidArg(t) => ("function argument is invalid or in the wrong format", t),
        };
        if token.is_empty() {
            write!(f, "{BASE}: {what}")
        } else {
            write!(f, "{BASE}: {what} in {token}")
        }
    }
}

impl std::error::Error for TransformError {}

/// One token of a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Copied as written.
    Literal(String),
    /// The trailing `>`: the source's remaining tokens.
    Rest,
    /// The source token at this index (`$n`, `{{wildcard(n)}}`); nothing when out of range.
    Wildcard(usize),
    /// FNV-1a of these source tokens (the whole subject when none), modulo the count.
    Partition(i64, Vec<usize>),
    SplitFromLeft(usize, i32),
    SplitFromRight(usize, i32),
    SliceFromLeft(usize, i32),
    SliceFromRight(usize, i32),
    Split(usize, String),
    Left(usize, i32),
    Right(usize, i32),
    /// A random number below the bound.
    Random(i64),
}

/// What a destination token asks for, before wildcard indexes are resolved to source tokens.
enum Placeholder {
    None,
    Wildcard(i64),
    Partition(i64, Vec<i64>),
    IndexInt(Function, i64, i32),
    Split(i64, String),
    Random(i64),
}

#[derive(Clone, Copy)]
enum Function {
    SplitFromLeft,
    SplitFromRight,
    SliceFromLeft,
    SliceFromRight,
    Left,
    Right,
}

/// A compiled rewrite from a source subject (possibly with wildcards) to a destination.
///
/// ```
/// use rnats_sublist::SubjectTransform;
///
/// let t = SubjectTransform::new("orders.*.*", "{{wildcard(2)}}.{{wildcard(1)}}")?;
/// assert_eq!(t.apply("orders.eu.42").as_deref(), Some("42.eu"));
/// assert_eq!(t.apply("invoices.eu.42"), None);
/// # Ok::<(), rnats_sublist::TransformError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    source: String,
    destination: String,
    source_tokens: usize,
    parts: Vec<Part>,
}

impl SubjectTransform {
    /// Compiles the rewrite of `source` (empty: `>`) into `destination`, refusing what
    /// nats-server refuses.
    pub fn new(source: &str, destination: &str) -> Result<Self, TransformError> {
        let source = if source.is_empty() { ">" } else { source };
        let (src_ok, src_tokens, src_stars, src_rest) = subject_info(source);
        let (dst_ok, dst_tokens, dst_stars, dst_rest) = subject_info(destination);
        if !src_ok || !dst_ok || dst_stars > 0 || src_rest != dst_rest {
            return Err(TransformError::BadSubject);
        }
        // Position of the n-th `*` (1-based) among the source tokens.
        let stars: Vec<usize> = src_tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == "*")
            .map(|(i, _)| i)
            .collect();
        let wild = src_stars > 0 || src_rest;
        // nats-server looks indexes up in a map: an index it has no entry for (0 or below)
        // reads the first source token.
        let index = |n: i64, token: &str| -> Result<usize, TransformError> {
            if n > i64::try_from(src_stars).unwrap_or(i64::MAX) {
                return Err(TransformError::IndexOutOfRange(format!("{token}: [{n}]")));
            }
            Ok(usize::try_from(n - 1)
                .ok()
                .and_then(|i| stars.get(i).copied())
                .unwrap_or(0))
        };
        let mut parts = Vec::with_capacity(dst_tokens.len());
        for token in &dst_tokens {
            let placeholder = placeholder(token)?;
            let part = match placeholder {
                Placeholder::None if *token == ">" => Part::Rest,
                Placeholder::None => Part::Literal((*token).to_owned()),
                Placeholder::Random(n) => Part::Random(n),
                Placeholder::Partition(n, _) if !wild => Part::Partition(n, Vec::new()),
                _ if !wild => return Err(TransformError::IndexOutOfRange((*token).to_owned())),
                Placeholder::Wildcard(n) => Part::Wildcard(index(n, token)?),
                Placeholder::Partition(n, idx) => Part::Partition(
                    n,
                    idx.into_iter()
                        .map(|i| index(i, token))
                        .collect::<Result<_, _>>()?,
                ),
                Placeholder::IndexInt(f, i, n) => {
                    let i = index(i, token)?;
                    match f {
                        Function::SplitFromLeft => Part::SplitFromLeft(i, n),
                        Function::SplitFromRight => Part::SplitFromRight(i, n),
                        Function::SliceFromLeft => Part::SliceFromLeft(i, n),
                        Function::SliceFromRight => Part::SliceFromRight(i, n),
                        Function::Left => Part::Left(i, n),
                        Function::Right => Part::Right(i, n),
                    }
                }
                Placeholder::Split(i, delim) => Part::Split(index(i, token)?, delim),
            };
            parts.push(part);
        }
        Ok(Self {
            source: source.to_owned(),
            destination: destination.to_owned(),
            source_tokens: src_tokens.len(),
            parts,
        })
    }

    /// The source pattern.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The destination as written.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The rewritten subject when `subject` matches the source; `None` otherwise.
    pub fn apply(&self, subject: &str) -> Option<String> {
        if !subject_matches(self.source.as_bytes(), subject.as_bytes()) {
            return None;
        }
        let tokens: Vec<&str> = subject.split('.').collect();
        Some(self.rewrite(&tokens, &mut fallback_random))
    }

    /// Rewrites a subject already known to match the source, given as its tokens. `random`
    /// supplies the numbers `{{random(n)}}` reduces.
    pub fn rewrite(&self, tokens: &[&str], random: &mut dyn FnMut() -> u32) -> String {
        let mut out = String::with_capacity(self.destination.len() + 16);
        let last = self.parts.len().saturating_sub(1);
        for (i, part) in self.parts.iter().enumerate() {
            let token = |i: usize| tokens.get(i).copied().unwrap_or("");
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Rest => break,
                Part::Wildcard(i) => out.push_str(token(*i)),
                Part::Partition(n, idx) => {
                    let hash = if idx.is_empty() {
                        fnv1a(tokens.iter().enumerate().flat_map(|(i, t)| {
                            (if i > 0 { &b"."[..] } else { &b""[..] })
                                .iter()
                                .chain(t.as_bytes())
                        }))
                    } else {
                        fnv1a(idx.iter().flat_map(|&i| token(i).as_bytes()))
                    };
                    // nats-server reduces modulo the count taken as an unsigned 32-bit number.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let buckets = *n as u32;
                    let value = if buckets == 0 { 0 } else { hash % buckets };
                    out.push_str(&value.to_string());
                }
                Part::SplitFromLeft(i, at) => split_at(&mut out, token(*i), *at, false),
                Part::SplitFromRight(i, at) => split_at(&mut out, token(*i), *at, true),
                Part::SliceFromLeft(i, size) => slice_left(&mut out, token(*i), *size),
                Part::SliceFromRight(i, size) => slice_right(&mut out, token(*i), *size),
                Part::Split(i, delim) => split(&mut out, token(*i), delim),
                Part::Left(i, size) => {
                    let t = token(*i);
                    match usize::try_from(*size) {
                        Ok(s) if s > 0 && s < t.len() => out.push_str(byte_slice(t, 0, s)),
                        _ => out.push_str(t),
                    }
                }
                Part::Right(i, size) => {
                    let t = token(*i);
                    match usize::try_from(*size) {
                        Ok(s) if s > 0 && s < t.len() => {
                            out.push_str(byte_slice(t, t.len() - s, t.len()));
                        }
                        _ => out.push_str(t),
                    }
                }
                Part::Random(n) => {
                    let n = u32::try_from(*n).unwrap_or(0);
                    // nats-server draws a non-negative 31-bit number.
                    let r = random() & 0x7fff_ffff;
                    out.push_str(&if n == 0 { 0 } else { r % n }.to_string());
                }
            }
            if i < last {
                out.push('.');
            }
        }
        if matches!(self.parts.last(), Some(Part::Rest)) {
            let from = self.source_tokens.saturating_sub(1);
            for (k, t) in tokens.iter().enumerate().skip(from) {
                if k > from {
                    out.push('.');
                }
                out.push_str(t);
            }
        }
        out
    }

    /// Whether rewriting never looks at the subject (a literal destination).
    fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }
}

/// A random number for callers that do not bring their own: the standard library's hasher
/// keys are random per process, which is plenty for `{{random(n)}}` in a one-off rewrite.
fn fallback_random() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    #[allow(clippy::cast_possible_truncation)]
    let r = h.finish() as u32;
    r
}

/// A slice of `t` by byte offsets, or `t` itself when the offsets cut a character.
fn byte_slice(t: &str, from: usize, to: usize) -> &str {
    t.get(from..to).unwrap_or(t)
}

fn split_at(out: &mut String, t: &str, at: i32, from_right: bool) {
    let Ok(at) = usize::try_from(at) else {
        out.push_str(t);
        return;
    };
    if at == 0 || at >= t.len() {
        out.push_str(t);
        return;
    }
    let cut = if from_right { t.len() - at } else { at };
    match (t.get(..cut), t.get(cut..)) {
        (Some(a), Some(b)) => {
            out.push_str(a);
            out.push('.');
            out.push_str(b);
        }
        _ => out.push_str(t),
    }
}

fn slice_left(out: &mut String, t: &str, size: i32) {
    let size = usize::try_from(size).unwrap_or(0);
    if size == 0 || size >= t.len() {
        out.push_str(t);
        return;
    }
    let mut i = 0;
    while i + size <= t.len() {
        if i != 0 {
            out.push('.');
        }
        out.push_str(byte_slice(t, i, i + size));
        if i + size != t.len() && i + 2 * size > t.len() {
            out.push('.');
            out.push_str(byte_slice(t, i + size, t.len()));
            break;
        }
        i += size;
    }
}

fn slice_right(out: &mut String, t: &str, size: i32) {
    let size = usize::try_from(size).unwrap_or(0);
    if size == 0 || size >= t.len() {
        out.push_str(t);
        return;
    }
    let remainder = t.len() % size;
    if remainder > 0 {
        out.push_str(byte_slice(t, 0, remainder));
        out.push('.');
    }
    let mut i = remainder;
    while i + size <= t.len() {
        out.push_str(byte_slice(t, i, i + size));
        if i + size < t.len() {
            out.push('.');
        }
        i += size;
    }
}

/// `split(i, delim)`: the token cut at every delimiter, empty pieces dropped, joined by dots.
fn split(out: &mut String, t: &str, delim: &str) {
    let pieces: Vec<&str> = if delim.is_empty() {
        // Go's strings.Split with an empty separator splits into characters.
        t.char_indices()
            .map(|(i, c)| &t[i..i + c.len_utf8()])
            .collect()
    } else {
        t.split(delim).collect()
    };
    for (j, piece) in pieces.iter().enumerate() {
        out.push_str(piece);
        let next_empty = pieces.get(j + 1).is_none_or(|p| p.is_empty());
        if j + 1 < pieces.len() && !next_empty && !(j == 0 && piece.is_empty()) {
            out.push('.');
        }
    }
}

/// 32-bit FNV-1a.
fn fnv1a<'a>(bytes: impl Iterator<Item = &'a u8>) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Whether the subject is well formed, its tokens, how many `*` it has and whether it ends
/// in `>`.
fn subject_info(subject: &str) -> (bool, Vec<&str>, usize, bool) {
    if subject.is_empty() {
        return (false, Vec::new(), 0, false);
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    let mut stars = 0;
    let mut rest = false;
    for t in &tokens {
        if t.is_empty() || rest {
            return (false, Vec::new(), 0, false);
        }
        match *t {
            "*" => stars += 1,
            ">" => rest = true,
            _ => {}
        }
    }
    (true, tokens, stars, rest)
}

/// nats-server's destination check before it compiles one: no empty token and nothing after
/// `>`, every `{{…}}` token names a known function, and plain tokens hold no whitespace.
fn check_destination(destination: &str) -> Result<(), TransformError> {
    let mut rest = false;
    for t in destination.split('.') {
        if t.is_empty() || rest {
            return Err(TransformError::InvalidDestination(t.to_owned()));
        }
        if is_function_token(t) {
            if function_call(t).is_none_or(|(name, _)| function_of(name).is_none()) {
                return Err(TransformError::UnknownFunction(t.to_owned()));
            }
        } else if t == ">" {
            rest = true;
        } else if t.contains(['\t', '\n', '\x0c', '\r', ' ']) {
            return Err(TransformError::InvalidDestination(String::new()));
        }
    }
    Ok(())
}

fn is_function_token(t: &str) -> bool {
    t.len() > 4 && t.starts_with("{{") && t.ends_with("}}")
}

/// `{{ name ( args ) }}` split into the name and the text between the parentheses.
fn function_call(token: &str) -> Option<(&str, &str)> {
    let inner = token.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_start_matches(is_go_space);
    let open = inner.find('(')?;
    let name = inner[..open].trim_end_matches(is_go_space);
    let args = inner[open + 1..].trim_end_matches(is_go_space);
    let args = args.strip_suffix(')')?;
    Some((name, args))
}

fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// The functions in nats-server's order of trying them; an upper-case letter in the pattern
/// matches either case, as its patterns allow.
const FUNCTIONS: &[&str] = &[
    "Wildcard",
    "Partition",
    "SplitFromLeft",
    "SplitFromRight",
    "SliceFromLeft",
    "SliceFromRight",
    "Right",
    "Left",
    "Split",
    "Random",
];

fn function_of(name: &str) -> Option<&'static str> {
    FUNCTIONS.iter().copied().find(|pattern| {
        pattern.len() == name.len()
            && pattern.bytes().zip(name.bytes()).all(|(p, n)| {
                if p.is_ascii_uppercase() {
                    n.eq_ignore_ascii_case(&p)
                } else {
                    n == p
                }
            })
    })
}

/// Go's `strconv.Atoi` on a trimmed argument.
fn int_arg(s: &str, token: &str) -> Result<i64, TransformError> {
    s.trim_matches(' ')
        .parse::<i64>()
        .map_err(|_| TransformError::InvalidArg(token.to_owned()))
}

/// What one destination token asks for.
fn placeholder(token: &str) -> Result<Placeholder, TransformError> {
    if token.len() > 1
        && let Some(n) = token.strip_prefix('$')
    {
        // Legacy `$n`; any other `$…` token is a plain token.
        return Ok(n
            .parse::<i64>()
            .map_or(Placeholder::None, Placeholder::Wildcard));
    }
    if !is_function_token(token) {
        return Ok(Placeholder::None);
    }
    let unknown = || TransformError::UnknownFunction(token.to_owned());
    let (name, raw_args) = function_call(token).ok_or_else(unknown)?;
    let name = function_of(name).ok_or_else(unknown)?;
    let args: Vec<&str> = split_args(raw_args);
    let t = || token.to_owned();
    let index_int = |f: Function| -> Result<Placeholder, TransformError> {
        match args.len() {
            0 | 1 => Err(TransformError::NotEnoughArgs(t())),
            2 => {
                let i = int_arg(args[0], token)?;
                let n = args[1]
                    .trim_matches(' ')
                    .parse::<i32>()
                    .map_err(|_| TransformError::InvalidArg(t()))?;
                Ok(Placeholder::IndexInt(f, i, n))
            }
            _ => Err(TransformError::TooManyArgs(t())),
        }
    };
    let bounded = |s: &str| -> Result<i64, TransformError> {
        let n = int_arg(s, token)?;
        if n > i64::from(i32::MAX) {
            return Err(TransformError::InvalidArg(t()));
        }
        Ok(n)
    };
    match name {
        "Wildcard" => match args.as_slice() {
            [""] => Err(TransformError::NotEnoughArgs(t())),
            [one] => Ok(Placeholder::Wildcard(int_arg(one, token)?)),
            _ => Err(TransformError::TooManyArgs(t())),
        },
        "Partition" => {
            let n = bounded(args[0])?;
            let idx = args[1..]
                .iter()
                .map(|a| int_arg(a, token))
                .collect::<Result<_, _>>()?;
            Ok(Placeholder::Partition(n, idx))
        }
        "SplitFromLeft" => index_int(Function::SplitFromLeft),
        "SplitFromRight" => index_int(Function::SplitFromRight),
        "SliceFromLeft" => index_int(Function::SliceFromLeft),
        "SliceFromRight" => index_int(Function::SliceFromRight),
        "Right" => index_int(Function::Right),
        "Left" => index_int(Function::Left),
        "Split" => match args.as_slice() {
            [_] => Err(TransformError::NotEnoughArgs(t())),
            [i, delim] => {
                let i = int_arg(i, token)?;
                if delim.contains([' ', '.']) {
                    return Err(TransformError::InvalidArg(t()));
                }
                Ok(Placeholder::Split(i, (*delim).to_owned()))
            }
            _ => Err(TransformError::TooManyArgs(t())),
        },
        _ => match args.as_slice() {
            [one] => Ok(Placeholder::Random(bounded(one)?)),
            _ => Err(TransformError::NotEnoughArgs(t())),
        },
    }
}

/// Arguments split at commas, the spaces after each comma dropped.
fn split_args(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(',') {
        out.push(&rest[..i]);
        rest = rest[i + 1..].trim_start_matches(is_go_space);
    }
    out.push(rest);
    out
}

/// One weighted destination of a [`Mapping`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Weighted {
    transform: SubjectTransform,
    /// Cumulative weight: picked when the roll is below it.
    upto: u8,
}

/// A subject mapping: a source and weighted destinations, as an account's `mappings` entry.
///
/// Weights are percentages. When they add up to less than 100 and the source is not itself
/// one of the destinations, the rest goes to the source unchanged; when it is, the rest is
/// dropped (nats-server's "they want loss").
///
/// ```
/// use rnats_sublist::{Mapping, Mapped};
///
/// let m = Mapping::new("orders.*", &[("new.orders.$1", 80), ("canary.orders.$1", 20)])?;
/// // `roll` is a number in 0..100 drawn per message; destinations take their shares in
/// // ascending order of weight: 0..20 the canary, 20..100 the rest.
/// assert_eq!(m.select("orders.42", 10, &mut || 0), Mapped::To("canary.orders.42".into()));
/// assert_eq!(m.select("orders.42", 95, &mut || 0), Mapped::To("new.orders.42".into()));
/// assert_eq!(m.select("invoices.42", 10, &mut || 0), Mapped::NoMatch);
/// # Ok::<(), rnats_sublist::MappingError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    source: String,
    wildcard: bool,
    destinations: Vec<Weighted>,
}

/// What a [`Mapping`] made of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// The source does not match: the subject stays as it is.
    NoMatch,
    /// The subject becomes this one.
    To(String),
    /// The roll fell in the share nobody was given: the message goes nowhere.
    Dropped,
}

/// Why a mapping is refused; messages as nats-server's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MappingError {
    /// The source is not a valid subject.
    BadSource,
    /// The same destination twice.
    Duplicate(String),
    /// One weight above 100.
    WeightTooLarge,
    /// Weights adding up to more than 100.
    TotalTooLarge,
    /// A destination that does not compile.
    Destination(TransformError),
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSource => f.write_str("invalid subject"),
            Self::Duplicate(d) => write!(f, "duplicate entry for \"{d}\""),
            Self::WeightTooLarge => f.write_str("individual weights need to be <= 100"),
            Self::TotalTooLarge => f.write_str("total weight needs to be <= 100"),
            Self::Destination(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MappingError {}

impl Mapping {
    /// Compiles a mapping of `source` to `(destination, weight)` pairs.
    pub fn new(source: &str, destinations: &[(&str, u8)]) -> Result<Self, MappingError> {
        if crate::subject::validate_subject(source.as_bytes()).is_err() {
            return Err(MappingError::BadSource);
        }
        let mut seen: Vec<&str> = Vec::with_capacity(destinations.len());
        let mut total: u32 = 0;
        let mut weighted = Vec::with_capacity(destinations.len() + 1);
        for &(dest, weight) in destinations {
            if seen.contains(&dest) {
                return Err(MappingError::Duplicate(dest.to_owned()));
            }
            seen.push(dest);
            if weight > 100 {
                return Err(MappingError::WeightTooLarge);
            }
            total += u32::from(weight);
            if total > 100 {
                return Err(MappingError::TotalTooLarge);
            }
            check_destination(dest).map_err(MappingError::Destination)?;
            let transform =
                SubjectTransform::new(source, dest).map_err(MappingError::Destination)?;
            weighted.push((transform, weight));
        }
        if total != 100 && !seen.contains(&source) {
            let rest = if weighted.is_empty() {
                100
            } else {
                100 - u8::try_from(total).unwrap_or(100)
            };
            let itself = SubjectTransform::new(source, &numbered(source))
                .map_err(MappingError::Destination)?;
            weighted.push((itself, rest));
        }
        weighted.sort_by_key(|(_, w)| *w);
        let mut upto = 0u8;
        let destinations = weighted
            .into_iter()
            .map(|(transform, w)| {
                upto = upto.saturating_add(w);
                Weighted { transform, upto }
            })
            .collect();
        Ok(Self {
            source: source.to_owned(),
            wildcard: source.split('.').any(|t| t == "*" || t == ">"),
            destinations,
        })
    }

    /// The source pattern.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the source holds a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Whether `subject` is this mapping's to rewrite.
    pub fn matches(&self, subject: &str) -> bool {
        if self.wildcard {
            subject_matches(self.source.as_bytes(), subject.as_bytes())
        } else {
            self.source == subject
        }
    }

    /// Rewrites `subject` with the destination `roll` (a number in `0..100`, drawn per
    /// message) picks; `random` feeds `{{random(n)}}`.
    pub fn select(&self, subject: &str, roll: u8, random: &mut dyn FnMut() -> u32) -> Mapped {
        if !self.matches(subject) {
            return Mapped::NoMatch;
        }
        let chosen = match self.destinations.as_slice() {
            [only] if only.upto == 100 => Some(only),
            all => all.iter().find(|d| roll < d.upto),
        };
        match chosen {
            None => Mapped::Dropped,
            Some(d) if d.transform.is_literal() => Mapped::To(d.transform.destination.clone()),
            Some(d) => {
                let tokens: Vec<&str> = subject.split('.').collect();
                Mapped::To(d.transform.rewrite(&tokens, random))
            }
        }
    }

    /// Whether picking a destination needs a roll (more than one destination).
    pub fn is_weighted(&self) -> bool {
        !matches!(self.destinations.as_slice(), [only] if only.upto == 100)
    }
}

/// `a.*.b.*` → `a.$1.b.$2`: the source as its own destination.
fn numbered(source: &str) -> String {
    let mut n = 0;
    source
        .split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests;
