//! A serde `Deserializer` over a [`Value`] tree. Every error leaves with the position of the
//! value (or key) it is about.
//!
//! Structs match keys case-insensitively (nats-server lower-cases option names), and a key that
//! no field wants is an `unknown field` error unless it was referenced as a `$variable`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use crate::error::{ConfigError, ErrorKind};
use crate::value::{Key, Pos, Value, ValueKind};

/// Deserialises any `T` from a parsed tree, for embedders with their own sections.
pub fn from_value<T: de::DeserializeOwned>(value: &Value) -> Result<T, ConfigError> {
    T::deserialize(value).map_err(|e| e.at(&value.pos))
}

/// The struct name that asks the deserializer for a value *and* its position.
const SPANNED: &str = "$__rnats_config_private_Spanned";
const SPANNED_FIELDS: &[&str] = &[
    "$__rnats_file",
    "$__rnats_line",
    "$__rnats_column",
    "$__rnats_value",
];

/// A value with the position it was read from (for checks made after deserialising).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) pos: Pos,
}

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: de::Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value with its position")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut file: Option<String> = None;
                let mut line = 0u32;
                let mut column = 0u32;
                let mut value = None;
                while let Some(k) = map.next_key::<String>()? {
                    match k.as_str() {
                        "$__rnats_file" => file = map.next_value()?,
                        "$__rnats_line" => line = map.next_value()?,
                        "$__rnats_column" => column = map.next_value()?,
                        _ => value = Some(map.next_value()?),
                    }
                }
                let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
                let file = file.map(|f| Arc::<Path>::from(PathBuf::from(f)));
                Ok(Spanned {
                    value,
                    pos: Pos { file, line, column },
                })
            }
        }
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, V(std::marker::PhantomData))
    }
}

impl<'de> Deserializer<'de> for &'de Value {
    type Error = ConfigError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        let res = match &self.kind {
            ValueKind::Map(entries) => {
                let mut access = MapDe::new(entries, Fields::Any);
                let res = visitor.visit_map(&mut access);
                res.map_err(|e| e.at(access.error_pos().unwrap_or(&self.pos)))
            }
            ValueKind::Array(items) => visitor.visit_seq(SeqDe { iter: items.iter() }),
            ValueKind::String(s) | ValueKind::DateTime(s) => visitor.visit_borrowed_str(s),
            ValueKind::Integer(i) => visitor.visit_i64(*i),
            ValueKind::Float(x) => visitor.visit_f64(*x),
            ValueKind::Bool(b) => visitor.visit_bool(*b),
        };
        res.map_err(|e| e.at(&self.pos))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        match &self.kind {
            ValueKind::Map(entries) => {
                let mut access = MapDe::new(entries, Fields::All);
                let res = visitor.visit_map(&mut access);
                res.map_err(|e| e.at(access.error_pos().unwrap_or(&self.pos)))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        if name == SPANNED {
            return visitor.visit_map(SpannedDe {
                value: self,
                step: 0,
            });
        }
        match &self.kind {
            ValueKind::Map(entries) => {
                let mut access = MapDe::new(entries, Fields::Struct { name, fields });
                let res = visitor.visit_map(&mut access);
                res.map_err(|e| e.at(access.error_pos().unwrap_or(&self.pos)))
            }
            _ => Err(ConfigError::new(
                ErrorKind::Invalid,
                &self.pos,
                format!("expected a map, found {}", describe(self)),
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_some(self).map_err(|e| e.at(&self.pos))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.at(&self.pos))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        match &self.kind {
            ValueKind::String(s) => {
                // Enum values are matched case-insensitively, like nats-server's option values.
                let lower = s.to_ascii_lowercase();
                let name = variants
                    .iter()
                    .find(|v| v.eq_ignore_ascii_case(&lower))
                    .copied()
                    .unwrap_or(s.as_str());
                visitor
                    .visit_enum(name.into_deserializer())
                    .map_err(|e: ConfigError| e.at(&self.pos))
            }
            _ => Err(ConfigError::new(
                ErrorKind::Invalid,
                &self.pos,
                format!(
                    "expected one of {}, found {}",
                    variants.join(", "),
                    describe(self)
                ),
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct identifier
    }
}

/// A short description of a value for type errors.
pub(crate) fn describe(v: &Value) -> String {
    match &v.kind {
        ValueKind::String(s) => format!("string \"{s}\""),
        ValueKind::Integer(i) => format!("integer {i}"),
        ValueKind::Float(x) => format!("float {x}"),
        ValueKind::Bool(b) => format!("boolean {b}"),
        ValueKind::DateTime(s) => format!("datetime {s}"),
        _ => v.type_name().to_owned(),
    }
}

/// Which keys a map yields.
#[derive(Clone, Copy)]
enum Fields {
    /// Every key (a map of names, such as `accounts`).
    All,
    /// Every key except variable definitions.
    Any,
    /// Keys matched case-insensitively against a struct's fields (aliases included).
    Struct {
        name: &'static str,
        fields: &'static [&'static str],
    },
}

struct MapDe<'a> {
    iter: std::slice::Iter<'a, (Key, Value)>,
    fields: Fields,
    value: Option<&'a Value>,
    /// The key whose value has not been read yet: errors raised by the visitor right after
    /// seeing a key are about that key.
    pending_key: Option<&'a Pos>,
}

impl<'a> MapDe<'a> {
    fn new(entries: &'a [(Key, Value)], fields: Fields) -> Self {
        Self {
            iter: entries.iter(),
            fields,
            value: None,
            pending_key: None,
        }
    }

    fn error_pos(&self) -> Option<&'a Pos> {
        self.pending_key
    }
}

impl<'de> MapAccess<'de> for MapDe<'de> {
    type Error = ConfigError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ConfigError> {
        for (key, value) in self.iter.by_ref() {
            let name: std::borrow::Cow<'_, str> = match self.fields {
                Fields::All => key.name.as_str().into(),
                Fields::Any if key.used_as_variable => continue,
                Fields::Any => key.name.as_str().into(),
                Fields::Struct { name, fields } => {
                    let lower = key.name.to_ascii_lowercase();
                    if fields.contains(&lower.as_str()) {
                        lower.into()
                    } else if key.used_as_variable {
                        continue;
                    } else {
                        let prefix = match name {
                            "RawTls" => "error parsing tls config, ",
                            _ => "",
                        };
                        return Err(ConfigError::new(
                            ErrorKind::UnknownField,
                            &key.pos,
                            format!("{prefix}unknown field \"{}\"", key.name),
                        ));
                    }
                }
            };
            self.value = Some(value);
            self.pending_key = Some(&key.pos);
            let k = seed
                .deserialize(name.as_ref().into_deserializer())
                .map_err(|e: ConfigError| e.at(&key.pos))?;
            return Ok(Some(k));
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ConfigError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| ConfigError::bare(ErrorKind::Invalid, "value read before its key"))?;
        let out = seed.deserialize(value).map_err(|e| e.at(&value.pos))?;
        self.pending_key = None;
        Ok(out)
    }
}

struct SeqDe<'a> {
    iter: std::slice::Iter<'a, Value>,
}

impl<'de> SeqAccess<'de> for SeqDe<'de> {
    type Error = ConfigError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ConfigError> {
        match self.iter.next() {
            Some(v) => seed.deserialize(v).map(Some).map_err(|e| e.at(&v.pos)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Feeds a [`Spanned`] its file, line, column and value.
struct SpannedDe<'a> {
    value: &'a Value,
    step: usize,
}

impl<'de> MapAccess<'de> for SpannedDe<'de> {
    type Error = ConfigError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ConfigError> {
        match SPANNED_FIELDS.get(self.step) {
            Some(name) => seed.deserialize((*name).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ConfigError> {
        let pos = &self.value.pos;
        self.step += 1;
        match self.step {
            1 => {
                let file = pos.file.as_ref().map(|f| f.to_string_lossy().into_owned());
                seed.deserialize(OptionString(file))
            }
            2 => seed.deserialize(pos.line.into_deserializer()),
            3 => seed.deserialize(pos.column.into_deserializer()),
            _ => seed.deserialize(self.value).map_err(|e| e.at(pos)),
        }
    }
}

/// An `Option<String>` as a deserializer (serde has none built in).
struct OptionString(Option<String>);

impl<'de> Deserializer<'de> for OptionString {
    type Error = ConfigError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        match self.0 {
            Some(s) => visitor.visit_some(s.into_deserializer()),
            None => visitor.visit_none(),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map struct
        enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_str;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(alias = "nm")]
        name: String,
        #[serde(default)]
        count: u16,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Inner,
        list: Vec<i64>,
        flag: Option<bool>,
        spanned: Option<Spanned<String>>,
    }

    fn load(src: &str) -> Result<Outer, ConfigError> {
        let v = parse_str(src, None)?;
        from_value(&v)
    }

    #[test]
    fn typed_struct() {
        let o = load("INNER { NM: x, count: 3 }\nlist: [1, 2k]\nflag: on\nspanned: \"s\"")
            .expect("load");
        assert_eq!(o.inner.name, "x");
        assert_eq!(o.inner.count, 3);
        assert_eq!(o.list, vec![1, 2000]);
        assert_eq!(o.flag, Some(true));
        let sp = o.spanned.expect("spanned");
        assert_eq!(
            (sp.value.as_str(), sp.pos.line, sp.pos.column),
            ("s", 4, 10)
        );
    }

    #[test]
    fn unknown_field_names_key_position() {
        let e = load("inner {\n  name: x\n  nmae: y\n}\nlist: []").expect_err("unknown");
        assert_eq!(e.to_string(), "3:3: unknown field \"nmae\"");
        assert_eq!(e.kind, ErrorKind::UnknownField);
    }

    #[test]
    fn type_errors_name_value_position() {
        let e = load("inner { name: x }\nlist: [1, \"two\"]").expect_err("type");
        assert_eq!((e.line, e.column), (2, 11), "{e}");
        let e = load("inner { name: x, count: 70000 }\nlist: []").expect_err("range");
        assert_eq!((e.line, e.column), (1, 25), "{e}");
        let e = load("inner { name: x }\nlist: []\nflag: \"true\"").expect_err("bool");
        assert_eq!((e.line, e.column), (3, 7), "{e}");
    }

    #[test]
    fn missing_field_names_the_map() {
        let e = load("list: []\ninner {\n  count: 1\n}").expect_err("missing");
        assert_eq!((e.line, e.column), (2, 7), "{e}");
    }

    #[test]
    fn used_variables_are_not_unknown() {
        let o = load("N = x\ninner { name: $N }\nlist: []").expect("load");
        assert_eq!(o.inner.name, "x");
        let e = load("N = x\ninner { name: y }\nlist: []").expect_err("unused");
        assert!(e.message.contains("\"N\""), "{e}");
    }
}
