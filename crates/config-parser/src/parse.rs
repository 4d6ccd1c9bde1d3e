//! The nats-server configuration language: text to a [`Value`] tree.
//!
//! A recursive-descent parser over characters. It resolves `include` and `$VARIABLE` while
//! parsing, as nats-server does (a variable sees the keys defined *before* it in the enclosing
//! maps, innermost first, then the environment).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{ConfigError, ErrorKind};
use crate::value::{Key, Pos, Value, ValueKind};

/// Deepest nesting of maps, arrays, includes and environment variables we accept. It keeps
/// hostile input from exhausting the stack; real configurations nest a handful of levels.
const MAX_DEPTH: usize = 128;

/// Parses configuration text. `file` names where the text came from: it is used in positions
/// and as the base directory for `include`.
pub fn parse_str(src: &str, file: Option<&Path>) -> Result<Value, ConfigError> {
    let mut ctx = Ctx::default();
    if let Some(file) = file {
        ctx.includes.push(canonical(file));
    }
    parse_document(src, file.map(Arc::from), &mut ctx, 0)
}

/// Reads and parses a configuration file.
pub fn parse_file(path: &Path) -> Result<Value, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
    parse_str(&src, Some(path))
}

/// State shared by a file and everything it includes.
#[derive(Default)]
struct Ctx {
    /// Files being parsed, outermost first (for include cycles).
    includes: Vec<PathBuf>,
    /// Environment variables being expanded (for reference cycles).
    env_stack: Vec<String>,
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn parse_document(
    src: &str,
    file: Option<Arc<Path>>,
    ctx: &mut Ctx,
    depth: usize,
) -> Result<Value, ConfigError> {
    let mut p = Parser {
        chars: src.chars().collect(),
        i: 0,
        line: 1,
        column: 1,
        file,
        scopes: Vec::new(),
        ctx,
        depth,
    };
    p.document()
}

struct Parser<'c> {
    chars: Vec<char>,
    i: usize,
    line: u32,
    column: u32,
    file: Option<Arc<Path>>,
    /// The maps being built, outermost first; variables are looked up here.
    scopes: Vec<Vec<(Key, Value)>>,
    ctx: &'c mut Ctx,
    /// Nesting depth, including the includes and variables that led here.
    depth: usize,
}

/// What closes the map being read.
#[derive(Clone, Copy, PartialEq)]
enum MapEnd {
    /// End of file (a plain top level).
    Eof,
    /// `}`, after which only blanks may follow (a file wrapped in braces).
    WrappedTop,
    /// `}` of a nested map.
    Brace,
}

fn is_nl(c: char) -> bool {
    c == '\n'
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r'
}

/// Characters that end a bare value.
fn ends_bare(c: char) -> bool {
    c.is_whitespace() || matches!(c, ';' | ',' | ']' | '}')
}

impl Parser<'_> {
    // ----- character level -----

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.i + n).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if is_nl(c) {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }

    fn err(&self, kind: ErrorKind, pos: &Pos, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(kind, pos, msg)
    }

    fn syntax(&self, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(ErrorKind::Syntax, &self.pos(), msg)
    }

    fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek_at(1) == Some('/'),
            _ => false,
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if is_nl(c) {
                break;
            }
            self.bump();
        }
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    /// Skips blanks, newlines and comments.
    fn skip_space(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                _ if self.at_comment() => self.skip_comment(),
                _ => break,
            }
        }
    }

    fn enter(&mut self) -> Result<(), ConfigError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.syntax(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    // ----- structure -----

    fn document(&mut self) -> Result<Value, ConfigError> {
        let start = Pos {
            file: self.file.clone(),
            line: 1,
            column: 1,
        };
        self.skip_space();
        let end = if self.peek() == Some('{') {
            self.bump();
            MapEnd::WrappedTop
        } else {
            MapEnd::Eof
        };
        self.scopes.push(Vec::new());
        self.map_body(end)?;
        let entries = self.scopes.pop().unwrap_or_default();
        Ok(Value::new(ValueKind::Map(entries), start))
    }

    /// Reads `key value` entries into the innermost scope until `end`.
    fn map_body(&mut self, end: MapEnd) -> Result<(), ConfigError> {
        loop {
            // Empty entries (`;;`, blank lines) are allowed.
            loop {
                self.skip_space();
                if matches!(self.peek(), Some(';' | ',')) {
                    self.bump();
                } else {
                    break;
                }
            }
            match self.peek() {
                None if end == MapEnd::Eof => return Ok(()),
                None => return Err(self.syntax("unexpected end of file, expected '}'")),
                Some('}') if end != MapEnd::Eof => {
                    self.bump();
                    if end == MapEnd::WrappedTop {
                        self.skip_space();
                        if let Some(c) = self.peek() {
                            return Err(self.syntax(format!(
                                "unexpected '{c}' after the closing '}}' of the file"
                            )));
                        }
                    }
                    return Ok(());
                }
                Some(_) => {}
            }
            self.entry()?;
            self.skip_blanks();
            match self.peek() {
                None => {}
                Some(c) if is_nl(c) || c == ';' || c == ',' => {
                    self.bump();
                }
                Some('}') if end != MapEnd::Eof => {}
                _ if self.at_comment() => self.skip_comment(),
                Some(c) => {
                    return Err(self.syntax(if end == MapEnd::Brace {
                        format!(
                            "Expected a map value terminator ',' or a new line, but got '{c}' instead."
                        )
                    } else {
                        format!(
                            "Expected a top-level value to end with a new line, comment or EOF, but got '{c}' instead."
                        )
                    }));
                }
            }
        }
    }

    /// One `key <sep> value` or `include path`.
    fn entry(&mut self) -> Result<(), ConfigError> {
        let kpos = self.pos();
        let (name, bare) = match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let mut name = String::new();
                loop {
                    match self.bump() {
                        Some(c) if c == q => break,
                        Some(c) if is_nl(c) => {
                            return Err(self.err(
                                ErrorKind::Syntax,
                                &kpos,
                                "quoted key does not end on its line",
                            ));
                        }
                        Some(c) => name.push(c),
                        None => {
                            return Err(self.err(
                                ErrorKind::Syntax,
                                &kpos,
                                "unterminated quoted key",
                            ));
                        }
                    }
                }
                (name, false)
            }
            _ => {
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if c.is_whitespace() || matches!(c, '=' | ':' | '{' | '[' | '}' | ';' | ',') {
                        break;
                    }
                    name.push(c);
                    self.bump();
                }
                if name.is_empty() {
                    let c = self.peek().unwrap_or(' ');
                    return Err(self.syntax(format!("expected a key, but got '{c}'")));
                }
                (name, true)
            }
        };
        if bare && name.eq_ignore_ascii_case("include") && self.peek().is_some_and(is_blank) {
            return self.include(&kpos);
        }
        self.skip_blanks();
        if matches!(self.peek(), Some('=' | ':')) {
            self.bump();
            self.skip_blanks();
        }
        match self.peek() {
            None => {
                return Err(self.err(
                    ErrorKind::Syntax,
                    &kpos,
                    format!("key \"{name}\" has no value (end of file)"),
                ));
            }
            Some(c) if is_nl(c) || matches!(c, ';' | ',' | '}') || self.at_comment() => {
                return Err(self.err(
                    ErrorKind::Syntax,
                    &kpos,
                    format!("key \"{name}\" has no value: expected value but found new line"),
                ));
            }
            Some(_) => {}
        }
        let value = self.value()?;
        self.insert(Key::new(name, kpos), value);
        Ok(())
    }

    /// Adds an entry to the innermost map; a repeated key keeps its place and takes the new
    /// value (last wins).
    fn insert(&mut self, key: Key, value: Value) {
        let Some(scope) = self.scopes.last_mut() else {
            return;
        };
        if let Some(slot) = scope.iter_mut().find(|(k, _)| k.name == key.name) {
            slot.0.pos = key.pos;
            slot.0.used_as_variable |= key.used_as_variable;
            slot.1 = value;
        } else {
            scope.push((key, value));
        }
    }

    fn include(&mut self, kpos: &Pos) -> Result<(), ConfigError> {
        self.skip_blanks();
        let path_text = match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let mut s = String::new();
                loop {
                    match self.bump() {
                        Some(c) if c == q => break,
                        Some(c) if !is_nl(c) => s.push(c),
                        _ => {
                            return Err(self.err(
                                ErrorKind::Syntax,
                                kpos,
                                "unterminated include path",
                            ));
                        }
                    }
                }
                s
            }
            _ => {
                let mut s = String::new();
                while let Some(c) = self.peek() {
                    if ends_bare(c) {
                        break;
                    }
                    s.push(c);
                    self.bump();
                }
                s
            }
        };
        if path_text.is_empty() {
            return Err(self.err(ErrorKind::Include, kpos, "include needs a file name"));
        }
        let rel = Path::new(&path_text);
        let path = match self.file.as_deref().and_then(Path::parent) {
            Some(dir) if rel.is_relative() => dir.join(rel),
            _ => rel.to_path_buf(),
        };
        let canon = canonical(&path);
        if self.ctx.includes.contains(&canon) {
            return Err(self.err(
                ErrorKind::Include,
                kpos,
                format!("error parsing include file '{path_text}', include cycle: the file includes itself"),
            ));
        }
        if self.depth + 1 > MAX_DEPTH {
            return Err(self.err(ErrorKind::Include, kpos, "includes nested too deeply"));
        }
        let src = std::fs::read_to_string(&path).map_err(|e| {
            self.err(
                ErrorKind::Include,
                kpos,
                format!("error parsing include file '{path_text}', {e}"),
            )
        })?;
        self.ctx.includes.push(canon);
        let parsed = parse_document(
            &src,
            Some(Arc::from(path.as_path())),
            self.ctx,
            self.depth + 1,
        );
        self.ctx.includes.pop();
        if let ValueKind::Map(entries) = parsed?.kind {
            for (k, v) in entries {
                self.insert(k, v);
            }
        }
        Ok(())
    }

    // ----- values -----

    fn value(&mut self) -> Result<Value, ConfigError> {
        let pos = self.pos();
        match self.peek() {
            Some('[') => self.array(pos),
            Some('{') => self.map(pos),
            Some('"') => self.dq_string(pos),
            Some('\'') => self.sq_string(pos),
            Some('(') => self.block_string(pos),
            Some('.') if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => {
                Err(self.syntax("Floats must start with a digit, \"0.\" is needed"))
            }
            Some(_) => self.bare(pos),
            None => Err(self.syntax("expected a value, found end of file")),
        }
    }

    fn map(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.enter()?;
        self.bump(); // '{'
        self.scopes.push(Vec::new());
        let res = self.map_body(MapEnd::Brace);
        let entries = self.scopes.pop().unwrap_or_default();
        res?;
        self.depth -= 1;
        Ok(Value::new(ValueKind::Map(entries), pos))
    }

    fn array(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.enter()?;
        self.bump(); // '['
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => {
                    return Err(self.err(
                        ErrorKind::Syntax,
                        &pos,
                        "unterminated array, expected ']'",
                    ));
                }
                Some(']') => {
                    self.bump();
                    break;
                }
                Some(_) => {}
            }
            items.push(self.value()?);
            self.skip_blanks();
            match self.peek() {
                Some(',' | ';') => {
                    self.bump();
                }
                Some(c) if is_nl(c) => {
                    self.bump();
                }
                Some(']') => {}
                _ if self.at_comment() => self.skip_comment(),
                None => {
                    return Err(self.err(
                        ErrorKind::Syntax,
                        &pos,
                        "unterminated array, expected ']'",
                    ));
                }
                Some(c) => {
                    return Err(self.syntax(format!(
                        "Expected an array value terminator ',' or an array terminator ']', but got '{c}' instead."
                    )));
                }
            }
        }
        self.depth -= 1;
        Ok(Value::new(ValueKind::Array(items), pos))
    }

    fn dq_string(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.bump(); // '"'
        let mut bytes = Vec::new();
        loop {
            let esc_pos = self.pos();
            match self.bump() {
                None => {
                    return Err(self.err(ErrorKind::Syntax, &pos, "unterminated quoted string"));
                }
                Some('"') => break,
                Some('\\') => self.escape(&mut bytes, &esc_pos)?,
                Some(c) => push_char(&mut bytes, c),
            }
        }
        let s = String::from_utf8(bytes).map_err(|_| {
            self.err(
                ErrorKind::Syntax,
                &pos,
                "string is not valid UTF-8 after \\x escapes",
            )
        })?;
        Ok(Value::new(ValueKind::String(s), pos))
    }

    /// Decodes the escape after a `\` (the backslash is consumed).
    fn escape(&mut self, out: &mut Vec<u8>, pos: &Pos) -> Result<(), ConfigError> {
        match self.bump() {
            Some('t') => out.push(b'\t'),
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('"') => out.push(b'"'),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hi = self.bump().and_then(|c| c.to_digit(16));
                let lo = self.bump().and_then(|c| c.to_digit(16));
                match (hi, lo) {
                    // Two hex digits fit a byte.
                    (Some(hi), Some(lo)) => out.push(((hi << 4) | lo) as u8),
                    _ => {
                        return Err(self.err(
                            ErrorKind::Syntax,
                            pos,
                            "Invalid escape: \\x must be followed by two hex digits",
                        ));
                    }
                }
            }
            other => {
                let shown = other.map_or_else(|| "end of file".to_owned(), |c| c.to_string());
                return Err(self.err(
                    ErrorKind::Syntax,
                    pos,
                    format!(
                        "Invalid escape character '{shown}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."
                    ),
                ));
            }
        }
        Ok(())
    }

    fn sq_string(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.bump(); // '\''
        let mut s = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(self.err(ErrorKind::Syntax, &pos, "unterminated quoted string"));
                }
                Some('\'') => break,
                Some(c) => s.push(c),
            }
        }
        Ok(Value::new(ValueKind::String(s), pos))
    }

    /// `(` … a line holding only `)`. The text between is kept raw, without the line break that
    /// follows `(` and the one before `)`.
    fn block_string(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.bump(); // '('
        let start = self.i;
        loop {
            match self.bump() {
                None => {
                    return Err(self.err(
                        ErrorKind::Syntax,
                        &pos,
                        "unterminated block string: expected ')' alone on a line",
                    ));
                }
                Some(c) if is_nl(c) => {
                    // Does the next line hold only ')'?
                    let line_start = self.i;
                    let mut j = line_start;
                    while self.chars.get(j).copied().is_some_and(is_blank) {
                        j += 1;
                    }
                    if self.chars.get(j) != Some(&')') {
                        continue;
                    }
                    let mut k = j + 1;
                    while self.chars.get(k).copied().is_some_and(is_blank) {
                        k += 1;
                    }
                    if self.chars.get(k).is_none_or(|c| is_nl(*c)) {
                        let mut text: String = self.chars[start..line_start - 1].iter().collect();
                        if text.starts_with('\n') {
                            text.remove(0);
                        } else if text.starts_with("\r\n") {
                            text.drain(..2);
                        }
                        if text.ends_with('\r') {
                            text.pop();
                        }
                        while self.i < k {
                            self.bump();
                        }
                        return Ok(Value::new(ValueKind::String(text), pos));
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// An unquoted value: number, size, boolean, datetime, variable or bare string.
    fn bare(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        let mut raw = String::new();
        while let Some(c) = self.peek() {
            if ends_bare(c) {
                break;
            }
            raw.push(c);
            self.bump();
            // An escaped character never ends the value.
            if c == '\\'
                && let Some(n) = self.peek()
                && !is_nl(n)
            {
                raw.push(n);
                self.bump();
            }
        }
        if raw.is_empty() {
            let c = self.peek().unwrap_or(' ');
            return Err(self.err(
                ErrorKind::Syntax,
                &pos,
                format!("expected a value, but got '{c}'"),
            ));
        }
        if let Some(name) = raw.strip_prefix('$') {
            // bcrypt hashes start with `$2a$`; nats-server keeps those literally.
            if !raw.starts_with("$2a$") {
                return self.variable(name, pos);
            }
        }
        let kind = classify(&raw).map_err(|msg| self.err(ErrorKind::Syntax, &pos, msg))?;
        let kind = match kind {
            ValueKind::String(s) if s.contains('\\') => ValueKind::String(
                unescape_bare(&s).map_err(|msg| self.err(ErrorKind::Syntax, &pos, msg))?,
            ),
            k => k,
        };
        Ok(Value::new(kind, pos))
    }

    fn variable(&mut self, name: &str, pos: Pos) -> Result<Value, ConfigError> {
        for scope in self.scopes.iter_mut().rev() {
            if let Some((key, value)) = scope.iter_mut().find(|(k, _)| k.name == name) {
                key.used_as_variable = true;
                let mut v = value.clone();
                v.pos = pos;
                return Ok(v);
            }
        }
        let line = pos.line;
        let Ok(env) = std::env::var(name) else {
            return Err(self.err(
                ErrorKind::Variable,
                &pos,
                format!("variable reference for '{name}' on line {line} can not be found"),
            ));
        };
        if self.ctx.env_stack.iter().any(|n| n == name) {
            return Err(self.err(
                ErrorKind::Variable,
                &pos,
                format!("variable reference cycle for '{name}'"),
            ));
        }
        if self.depth + 1 > MAX_DEPTH {
            return Err(self.err(ErrorKind::Variable, &pos, "variables nested too deeply"));
        }
        // nats-server re-parses the environment value as the value of a one-key document.
        self.ctx.env_stack.push(name.to_owned());
        let parsed = parse_document(&format!("pkey={env}"), None, self.ctx, self.depth + 1);
        self.ctx.env_stack.pop();
        let parsed = parsed.map_err(|e| {
            self.err(
                ErrorKind::Variable,
                &pos,
                format!(
                    "variable reference for '{name}' on line {line} could not be parsed: {}",
                    e.message
                ),
            )
        })?;
        let mut value = parsed.get("pkey").cloned().ok_or_else(|| {
            self.err(
                ErrorKind::Variable,
                &pos,
                format!("variable reference for '{name}' on line {line} has no value"),
            )
        })?;
        reposition(&mut value, &pos);
        Ok(value)
    }
}

/// Gives a value parsed from the environment the position of the reference.
fn reposition(value: &mut Value, pos: &Pos) {
    value.pos = pos.clone();
    match &mut value.kind {
        ValueKind::Map(entries) => {
            for (k, v) in entries {
                k.pos = pos.clone();
                reposition(v, pos);
            }
        }
        ValueKind::Array(items) => {
            for v in items {
                reposition(v, pos);
            }
        }
        _ => {}
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Bare strings process the same escapes as double-quoted ones.
fn unescape_bare(s: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            push_char(&mut out, c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push(b'\t'),
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('"') => out.push(b'"'),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hi = chars.next().and_then(|c| c.to_digit(16));
                let lo = chars.next().and_then(|c| c.to_digit(16));
                match (hi, lo) {
                    // Two hex digits fit a byte.
                    (Some(hi), Some(lo)) => out.push(((hi << 4) | lo) as u8),
                    _ => {
                        return Err("Invalid escape: \\x must be followed by two hex digits".into());
                    }
                }
            }
            other => {
                let shown = other.map_or_else(|| "end of value".to_owned(), |c| c.to_string());
                return Err(format!(
                    "Invalid escape character '{shown}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."
                ));
            }
        }
    }
    String::from_utf8(out).map_err(|_| "string is not valid UTF-8 after \\x escapes".into())
}

/// Size suffixes, lower case, and their multipliers.
const SUFFIXES: &[(&str, i64)] = &[
    ("k", 1_000),
    ("kb", 1 << 10),
    ("ki", 1 << 10),
    ("kib", 1 << 10),
    ("m", 1_000_000),
    ("mb", 1 << 20),
    ("mi", 1 << 20),
    ("mib", 1 << 20),
    ("g", 1_000_000_000),
    ("gb", 1 << 30),
    ("gi", 1 << 30),
    ("gib", 1 << 30),
    ("t", 1_000_000_000_000),
    ("tb", 1 << 40),
    ("ti", 1 << 40),
    ("tib", 1 << 40),
    ("p", 1_000_000_000_000_000),
    ("pb", 1 << 50),
    ("pi", 1 << 50),
    ("pib", 1 << 50),
    ("e", 1_000_000_000_000_000_000),
    ("eb", 1 << 60),
    ("ei", 1 << 60),
    ("eib", 1 << 60),
];

/// Decides what an unquoted word is. Anything that is not a number, size, boolean or datetime is
/// a string (so `1.2.3.4`, `127.0.0.1:4222` and `10s` are strings).
pub(crate) fn classify(raw: &str) -> Result<ValueKind, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => return Ok(ValueKind::Bool(true)),
        "false" | "no" | "off" => return Ok(ValueKind::Bool(false)),
        _ => {}
    }
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let n_digits = digits.chars().take_while(char::is_ascii_digit).count();
    if n_digits == 0 {
        return Ok(ValueKind::String(raw.to_owned()));
    }
    let number_end = raw.len() - digits.len() + n_digits;
    let (number, rest) = raw.split_at(number_end);
    if rest.is_empty() {
        return number
            .parse::<i64>()
            .map(ValueKind::Integer)
            .map_err(|_| format!("integer '{raw}' is out of range"));
    }
    if let Some(frac) = rest.strip_prefix('.')
        && !frac.is_empty()
        && frac.chars().all(|c| c.is_ascii_digit())
    {
        return raw
            .parse::<f64>()
            .map(ValueKind::Float)
            .map_err(|_| format!("invalid float '{raw}'"));
    }
    let lower = rest.to_ascii_lowercase();
    if let Some((_, mult)) = SUFFIXES.iter().find(|(s, _)| *s == lower) {
        return number
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(*mult))
            .map(ValueKind::Integer)
            .ok_or_else(|| format!("integer '{raw}' is out of range"));
    }
    if is_zulu_datetime(raw) {
        return Ok(ValueKind::DateTime(raw.to_owned()));
    }
    Ok(ValueKind::String(raw.to_owned()))
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn is_zulu_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests;
