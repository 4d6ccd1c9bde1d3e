//! The one error type of this crate: every failure names where it happened.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::value::Pos;

/// What went wrong while reading a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The text does not follow the configuration grammar.
    Syntax,
    /// An `include` failed (missing file, cycle).
    Include,
    /// A `$VARIABLE` could not be resolved.
    Variable,
    /// A key that no section knows.
    UnknownField,
    /// A section nats-server knows but rnats does not support yet.
    Unsupported,
    /// A value of the wrong type or out of range, or options that contradict each other.
    Invalid,
}

/// A configuration error with its location.
///
/// `Display` is `FILE:LINE:COL: message` (as nats-server prints it), `LINE:COL: message` when the
/// text did not come from a file, and `FILE: message` when there is no line (a file that cannot
/// be opened).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", Render(self))]
#[non_exhaustive]
pub struct ConfigError {
    /// The file the error is in, if the text came from one.
    pub file: Option<Arc<Path>>,
    /// 1-based line; `0` when the error has no position.
    pub line: u32,
    /// 1-based column (in characters); `0` when the error has no position.
    pub column: u32,
    /// The class of error.
    pub kind: ErrorKind,
    /// What is wrong, without the location.
    pub message: String,
}

impl ConfigError {
    /// An error at `pos`.
    pub(crate) fn new(kind: ErrorKind, pos: &Pos, message: impl Into<String>) -> Self {
        Self {
            file: pos.file.clone(),
            line: pos.line,
            column: pos.column,
            kind,
            message: message.into(),
        }
    }

    /// An error with no position yet (serde errors get one on the way out).
    pub(crate) fn bare(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            file: None,
            line: 0,
            column: 0,
            kind,
            message: message.into(),
        }
    }

    /// An I/O error on a whole file.
    pub(crate) fn io(file: &Path, err: &std::io::Error) -> Self {
        Self {
            file: Some(Arc::from(file)),
            line: 0,
            column: 0,
            kind: ErrorKind::Io,
            message: err.to_string(),
        }
    }

    /// Puts the error at `pos` unless it already has a position.
    pub(crate) fn at(mut self, pos: &Pos) -> Self {
        if self.line == 0 {
            self.line = pos.line;
            self.column = pos.column;
            if self.file.is_none() {
                self.file.clone_from(&pos.file);
            }
        }
        self
    }

    /// Whether the error carries a line and column.
    pub fn has_position(&self) -> bool {
        self.line != 0
    }
}

/// Formats a [`ConfigError`] with its location in front.
struct Render<'a>(&'a ConfigError);

impl fmt::Display for Render<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        match (&e.file, e.line) {
            (Some(file), 0) => write!(f, "{}: {}", file.display(), e.message),
            (Some(file), line) => {
                write!(f, "{}:{}:{}: {}", file.display(), line, e.column, e.message)
            }
            (None, 0) => f.write_str(&e.message),
            (None, line) => write!(f, "{}:{}: {}", line, e.column, e.message),
        }
    }
}

impl serde::de::Error for ConfigError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::bare(ErrorKind::Invalid, msg.to_string())
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        Self::bare(
            ErrorKind::UnknownField,
            format!("unknown field \"{field}\""),
        )
    }
}
