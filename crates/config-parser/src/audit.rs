//! `audit { … }` (an rnats extension): the authentication audit trail, one JSON line per
//! authentication decision, written to a rotated file and/or published on a `$SYS` subject.

use std::path::PathBuf;

use serde::Deserialize;

use crate::de::Spanned;
use crate::error::{ConfigError, ErrorKind};
use crate::raw::Scalar;
use crate::value::{Pos, ValueKind};

/// `audit { … }`: where authentication decisions are recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditConfig {
    /// `file`: the JSON Lines file records are appended to; `None`: no file.
    pub file: Option<PathBuf>,
    /// `max_size`: the file is rotated before a record would take it past this many bytes;
    /// default [`AuditConfig::DEFAULT_MAX_SIZE`]. `0`: never rotated.
    pub max_size: u64,
    /// `max_files`: rotated files kept beside the live one (`audit.log.1` is the newest);
    /// default [`AuditConfig::DEFAULT_MAX_FILES`]. `0`: the file is truncated instead.
    pub max_files: u32,
    /// `subject`: also publish each record on `$SYS.SERVER.<id>.AUDIT.AUTH` in the system
    /// account; default off.
    pub subject: bool,
    /// `queue`: records waiting for the writer before new ones are dropped (and counted);
    /// default [`AuditConfig::DEFAULT_QUEUE`].
    pub queue: u32,
}

impl AuditConfig {
    /// Default `max_size`: 10 MiB.
    pub const DEFAULT_MAX_SIZE: u64 = 10 << 20;
    /// Default `max_files`.
    pub const DEFAULT_MAX_FILES: u32 = 5;
    /// Default `queue`.
    pub const DEFAULT_QUEUE: u32 = 8192;
    /// Largest `max_files`.
    pub const MAX_FILES_LIMIT: u32 = 1000;
    /// Largest `queue`.
    pub const QUEUE_LIMIT: u32 = 1 << 20;

    /// Records to `file` with every other option at its default.
    pub fn to_file(file: impl Into<PathBuf>) -> Self {
        Self {
            file: Some(file.into()),
            max_size: Self::DEFAULT_MAX_SIZE,
            max_files: Self::DEFAULT_MAX_FILES,
            subject: false,
            queue: Self::DEFAULT_QUEUE,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    enabled: Option<Spanned<bool>>,
    file: Option<Spanned<String>>,
    max_size: Option<Spanned<Scalar>>,
    max_files: Option<Spanned<i64>>,
    subject: Option<Spanned<bool>>,
    queue: Option<Spanned<i64>>,
}

fn invalid(pos: &Pos, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Invalid, pos, msg)
}

/// A size as nats-server writes them: an integer, `10MB` unquoted, or `"10MB"` quoted.
fn size(v: &Spanned<Scalar>) -> Result<u64, ConfigError> {
    let n = match &v.value {
        Scalar::Int(n) => Some(*n),
        Scalar::Str(s) => match crate::parse::classify(s.trim()) {
            Ok(ValueKind::Integer(n)) => Some(n),
            _ => None,
        },
        _ => None,
    };
    n.and_then(|n| u64::try_from(n).ok()).ok_or_else(|| {
        invalid(
            &v.pos,
            "audit.max_size must be a size of 0 or more bytes (like 10MB)",
        )
    })
}

fn bounded(v: &Spanned<i64>, key: &str, min: u32, max: u32) -> Result<u32, ConfigError> {
    u32::try_from(v.value)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            invalid(
                &v.pos,
                format!("audit.{key} must be an integer from {min} to {max}"),
            )
        })
}

impl RawAudit {
    /// The checked block; `None` when `enabled: false`.
    pub(crate) fn build(self, pos: &Pos) -> Result<Option<AuditConfig>, ConfigError> {
        let mut audit = AuditConfig::to_file(PathBuf::new());
        audit.file = None;
        if let Some(f) = &self.file {
            if f.value.trim().is_empty() {
                return Err(invalid(&f.pos, "audit.file must not be empty"));
            }
            audit.file = Some(PathBuf::from(&f.value));
        }
        if let Some(s) = &self.max_size {
            audit.max_size = size(s)?;
        }
        if let Some(m) = &self.max_files {
            audit.max_files = bounded(m, "max_files", 0, AuditConfig::MAX_FILES_LIMIT)?;
        }
        if let Some(q) = &self.queue {
            audit.queue = bounded(q, "queue", 1, AuditConfig::QUEUE_LIMIT)?;
        }
        audit.subject = self.subject.is_some_and(|s| s.value);
        if self.enabled.as_ref().is_some_and(|e| !e.value) {
            return Ok(None);
        }
        if audit.file.is_none() && !audit.subject {
            return Err(invalid(
                pos,
                "audit requires a file or subject: true (or enabled: false)",
            ));
        }
        Ok(Some(audit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Result<Option<AuditConfig>, String> {
        crate::load_str(src, None)
            .map(|l| l.config.audit)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_every_key() {
        assert_eq!(load("port: 1").unwrap(), None);
        let a = load("audit { file: \"/var/log/audit.log\" }")
            .unwrap()
            .unwrap();
        assert_eq!(a, AuditConfig::to_file("/var/log/audit.log"));
        assert_eq!(
            (a.max_size, a.max_files, a.subject, a.queue),
            (10 << 20, 5, false, 8192)
        );
        let a = load(
            "audit { file: a.log, max_size: 1MB, max_files: 2, subject: true, queue: 16, enabled: true }",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (a.max_size, a.max_files, a.subject, a.queue),
            (1 << 20, 2, true, 16)
        );
        assert_eq!(a.file, Some(PathBuf::from("a.log")));
        let a = load("audit { file: a.log, max_size: \"2KB\" }")
            .unwrap()
            .unwrap();
        assert_eq!(a.max_size, 2048);
        let a = load("audit { subject: true }").unwrap().unwrap();
        assert_eq!(a.file, None);
        assert_eq!(load("audit { file: a.log, enabled: false }").unwrap(), None);
    }

    #[test]
    fn toml_too() {
        let l = crate::load_str(
            "[audit]\nfile = \"a.log\"\nmax_size = 100\n",
            Some(std::path::Path::new("x.toml")),
        )
        .unwrap();
        assert_eq!(l.config.audit.map(|a| a.max_size), Some(100));
    }

    #[test]
    fn bad_values_are_refused_where_they_are() {
        for (src, text) in [
            (
                "audit {\n  max_files: 2\n}",
                "1:7: audit requires a file or subject: true (or enabled: false)",
            ),
            (
                "audit {\n  file: a, max_size: -1\n}",
                "2:22: audit.max_size must be a size of 0 or more bytes (like 10MB)",
            ),
            (
                "audit {\n  file: a, max_size: \"lots\"\n}",
                "2:22: audit.max_size must be a size of 0 or more bytes (like 10MB)",
            ),
            (
                "audit {\n  file: a, max_files: 1001\n}",
                "2:23: audit.max_files must be an integer from 0 to 1000",
            ),
            (
                "audit {\n  file: a, queue: 0\n}",
                "2:19: audit.queue must be an integer from 1 to 1048576",
            ),
            (
                "audit {\n  file: \"\"\n}",
                "2:9: audit.file must not be empty",
            ),
            (
                "audit {\n  file: a, rotate: 1\n}",
                "2:12: unknown field \"rotate\"",
            ),
        ] {
            assert_eq!(load(src).unwrap_err(), text, "{src}");
        }
        let e = load("audit {\n  file: a, subject: 3\n}").unwrap_err();
        assert!(e.starts_with("2:"), "{e}");
    }
}
