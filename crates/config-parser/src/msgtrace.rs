//! An account's `msg_trace` (alias `trace_dest`): where messages with a sampled W3C
//! `traceparent` header are traced, checked with nats-server's messages.

use std::fmt;

use serde::de::{self, Deserialize, MapAccess, Visitor};

use crate::de::Spanned;
use crate::error::{ConfigError, ErrorKind};
use crate::raw::Scalar;
use crate::value::Pos;

/// An account's message trace destination (`msg_trace`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MsgTraceConfig {
    /// `dest`: the subject trace events are published to, in the account.
    pub dest: String,
    /// `sampling`: the percentage of `traceparent`-sampled messages traced (1-100).
    pub sampling: u8,
}

/// `msg_trace` as written: a subject, or `{dest, sampling}`.
#[derive(Debug)]
pub(crate) enum RawMsgTrace {
    Dest(String),
    Map(Vec<(String, Spanned<Scalar>)>),
    /// Neither: the Go type name nats-server's message shows.
    Other(&'static str),
}

impl<'de> Deserialize<'de> for RawMsgTrace {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMsgTrace;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subject or a map with dest and sampling")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawMsgTrace::Dest(v.to_owned()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(RawMsgTrace::Other("int64"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(RawMsgTrace::Other("int64"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(RawMsgTrace::Other("float64"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(RawMsgTrace::Other("bool"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(RawMsgTrace::Other("[]interface {}"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value()?));
                }
                Ok(RawMsgTrace::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn invalid(pos: &Pos, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Invalid, pos, msg)
}

fn go_type(s: &Scalar) -> &'static str {
    match s {
        Scalar::Int(_) => "int64",
        Scalar::Float(_) => "float64",
        Scalar::Str(_) => "string",
        Scalar::Bool(_) => "bool",
    }
}

/// Checks `msg_trace` (written under `key`) as nats-server does and merges it into `current`
/// (both spellings may appear; the later wins field by field). A sampling without a
/// destination is dropped with a warning.
pub(crate) fn build(
    raw: Spanned<RawMsgTrace>,
    key: &str,
    current: Option<MsgTraceConfig>,
    warnings: &mut Vec<String>,
) -> Result<Option<MsgTraceConfig>, ConfigError> {
    let (mut dest, mut sampling) = match current {
        Some(c) => (Some(c.dest), c.sampling),
        None => (None, 0),
    };
    let check_dest = |pos: &Pos, d: &str| -> Result<String, ConfigError> {
        if rnats_sublist::validate_literal_subject(d.as_bytes()).is_err() {
            return Err(invalid(
                pos,
                format!("Trace destination \"{d}\" is not valid"),
            ));
        }
        Ok(d.to_owned())
    };
    let check_sampling = |pos: &Pos, n: i64| -> Result<u8, ConfigError> {
        match u8::try_from(n) {
            Ok(n @ 1..=100) => Ok(n),
            _ => Err(invalid(
                pos,
                // nats-server's spelling, typo included.
                format!("Ttrace destination sampling value {n} is invalid, needs to be [1..100]"),
            )),
        }
    };
    match raw.value {
        RawMsgTrace::Dest(d) => dest = Some(check_dest(&raw.pos, &d)?),
        RawMsgTrace::Other(t) => {
            return Err(invalid(
                &raw.pos,
                format!(
                    "Expected account message trace \"{key}\" to be a string or a map/struct, got {t}"
                ),
            ));
        }
        RawMsgTrace::Map(fields) => {
            for (k, v) in fields {
                match k.to_ascii_lowercase().as_str() {
                    "dest" => match &v.value {
                        Scalar::Str(d) => dest = Some(check_dest(&v.pos, d)?),
                        other => {
                            return Err(invalid(
                                &v.pos,
                                format!("Field \"{k}\" should be a string, got {}", go_type(other)),
                            ));
                        }
                    },
                    "sampling" => match &v.value {
                        Scalar::Int(n) => sampling = check_sampling(&v.pos, *n)?,
                        Scalar::Str(s) => {
                            let n: i64 =
                                s.strip_suffix('%').unwrap_or(s).parse().map_err(|_| {
                                    invalid(
                                        &v.pos,
                                        format!("Invalid trace destination sampling value \"{s}\""),
                                    )
                                })?;
                            sampling = check_sampling(&v.pos, n)?;
                        }
                        other => {
                            return Err(invalid(
                                &v.pos,
                                format!(
                                    "Trace destination sampling field \"{k}\" should be an integer or a percentage, got {}",
                                    go_type(other)
                                ),
                            ));
                        }
                    },
                    _ => {
                        return Err(invalid(
                            &v.pos,
                            format!(
                                "Unknown field \"{k}\" parsing account message trace map/struct \"{key}\""
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(match dest {
        Some(dest) => Some(MsgTraceConfig {
            dest,
            sampling: if sampling == 0 { 100 } else { sampling },
        }),
        None => {
            if sampling > 0 {
                warnings.push(format!(
                    "{}: Trace destination sampling ignored since no destination was set",
                    raw.pos
                ));
            }
            None
        }
    })
}

#[cfg(test)]
mod tests {
    fn load(acc: &str) -> Result<Option<super::MsgTraceConfig>, String> {
        let text = format!("accounts {{ A {{ {acc} }} }}");
        crate::load_str(&text, None)
            .map(|l| l.config.accounts[0].msg_trace.clone())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn destination_and_sampling() {
        let t = load("msg_trace: \"trace.a\"").unwrap().unwrap();
        assert_eq!((t.dest.as_str(), t.sampling), ("trace.a", 100));
        let t = load("msg_trace { dest: \"t\", sampling: \"25%\" }")
            .unwrap()
            .unwrap();
        assert_eq!((t.dest.as_str(), t.sampling), ("t", 25));
        let t = load("trace_dest { dest: t, sampling: 7 }")
            .unwrap()
            .unwrap();
        assert_eq!(t.sampling, 7);
        assert_eq!(load("msg_trace { sampling: 50 }").unwrap(), None);
    }

    #[test]
    fn nats_server_messages() {
        let cases = [
            (
                "msg_trace: \"a.*\"",
                "Trace destination \"a.*\" is not valid",
            ),
            (
                "msg_trace { dest: t, sampling: 0 }",
                "Ttrace destination sampling value 0 is invalid, needs to be [1..100]",
            ),
            (
                "msg_trace { dest: t, sampling: \"x%\" }",
                "Invalid trace destination sampling value \"x%\"",
            ),
            (
                "msg_trace { dest: t, sampling: true }",
                "Trace destination sampling field \"sampling\" should be an integer or a percentage, got bool",
            ),
            (
                "msg_trace { dest: 1 }",
                "Field \"dest\" should be a string, got int64",
            ),
            (
                "msg_trace { foo: 1 }",
                "Unknown field \"foo\" parsing account message trace map/struct \"msg_trace\"",
            ),
            (
                "trace_dest: 12",
                "Expected account message trace \"trace_dest\" to be a string or a map/struct, got int64",
            ),
        ];
        for (conf, want) in cases {
            let err = load(conf).unwrap_err();
            assert!(err.contains(want), "{conf}: {err}");
            assert!(err.starts_with("1:"), "{conf}: no position in {err}");
        }
    }
}
