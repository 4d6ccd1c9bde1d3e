//! The parsed configuration tree: every value and key keeps where it came from.

use std::fmt::{self, Write as _};
use std::path::Path;
use std::sync::Arc;

/// A position in a configuration file: 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Pos {
    /// The file, or `None` for text given as a string.
    pub file: Option<Arc<Path>>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}:{}", file.display(), self.line, self.column),
            None => write!(f, "{}:{}", self.line, self.column),
        }
    }
}

/// A map key with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key as written (quotes removed).
    pub name: String,
    /// Where the key starts.
    pub pos: Pos,
    /// The key was referenced elsewhere as `$name`. nats-server does not report such keys as
    /// unknown fields (they are variable definitions), and neither do we.
    pub used_as_variable: bool,
}

impl Key {
    /// A key that has not been referenced as a variable.
    pub fn new(name: impl Into<String>, pos: Pos) -> Self {
        Self {
            name: name.into(),
            pos,
            used_as_variable: false,
        }
    }
}

/// One value of the configuration tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The value itself.
    pub kind: ValueKind,
    /// Where the value starts.
    pub pos: Pos,
}

/// The kinds of value the configuration language has.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// `{ key: value ... }`, in file order; a repeated key keeps its first place and its last
    /// value (last wins, as in nats-server).
    Map(Vec<(Key, Value)>),
    /// `[ a, b ]`.
    Array(Vec<Value>),
    /// A quoted, bare or block string.
    String(String),
    /// An integer, size suffixes already applied (`2k` is 2000, `1mb` is 1048576).
    Integer(i64),
    /// A number with a fractional part.
    Float(f64),
    /// `true/false/yes/no/on/off`.
    Bool(bool),
    /// A Zulu timestamp such as `2026-12-31T23:59:59Z`, as written.
    DateTime(String),
}

impl Value {
    /// A value at `pos`.
    pub fn new(kind: ValueKind, pos: Pos) -> Self {
        Self { kind, pos }
    }

    /// The entry named `name` (exact match) if this is a map.
    pub fn get(&self, name: &str) -> Option<&Self> {
        match &self.kind {
            ValueKind::Map(entries) => entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// A word for the kind of value, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ValueKind::Map(_) => "map",
            ValueKind::Array(_) => "array",
            ValueKind::String(_) => "string",
            ValueKind::Integer(_) => "integer",
            ValueKind::Float(_) => "float",
            ValueKind::Bool(_) => "boolean",
            ValueKind::DateTime(_) => "datetime",
        }
    }

    /// Compares two trees, ignoring positions and variable marks.
    pub fn same_content(&self, other: &Self) -> bool {
        match (&self.kind, &other.kind) {
            (ValueKind::Map(a), ValueKind::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka.name == kb.name && va.same_content(vb))
            }
            (ValueKind::Array(a), ValueKind::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_content(y))
            }
            (a, b) => a == b,
        }
    }
}

/// Prints the value as configuration text that parses back to the same tree. A map prints as a
/// `{ ... }` block, which is also a valid whole file. Floats that are not finite cannot be written
/// in the language and print as strings.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_value(&mut out, self, 0);
        f.write_str(&out)
    }
}

fn write_value(out: &mut String, value: &Value, indent: usize) {
    match &value.kind {
        ValueKind::Map(entries) if entries.is_empty() => out.push_str("{}"),
        ValueKind::Map(entries) => {
            out.push_str("{\n");
            for (key, v) in entries {
                push_indent(out, indent + 1);
                write_key(out, &key.name);
                out.push_str(": ");
                write_value(out, v, indent + 1);
                out.push('\n');
            }
            push_indent(out, indent);
            out.push('}');
        }
        ValueKind::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, v, indent);
            }
            out.push(']');
        }
        ValueKind::String(s) => write_quoted(out, s),
        ValueKind::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        ValueKind::Float(x) if x.is_finite() => {
            let text = format!("{x}");
            out.push_str(&text);
            if !text.contains('.') {
                out.push_str(".0");
            }
        }
        ValueKind::Float(x) => write_quoted(out, &x.to_string()),
        ValueKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ValueKind::DateTime(s) => out.push_str(s),
    }
}

fn push_indent(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

/// Keys are written bare when that is unambiguous, else quoted (keys have no escapes).
fn write_key(out: &mut String, name: &str) {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.eq_ignore_ascii_case("include");
    // What the parser reads as one bare key (used when both quote kinds appear in the name).
    let bare_ok = !name.is_empty()
        && !name.starts_with(['"', '\'', '#'])
        && !name.starts_with("//")
        && !name.eq_ignore_ascii_case("include")
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '=' | ':' | '{' | '[' | '}' | ';' | ','));
    if bare {
        out.push_str(name);
    } else if !name.contains('"') {
        out.push('"');
        out.push_str(name);
        out.push('"');
    } else if !name.contains('\'') || !bare_ok {
        out.push('\'');
        out.push_str(name);
        out.push('\'');
    } else {
        out.push_str(name);
    }
}

fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
