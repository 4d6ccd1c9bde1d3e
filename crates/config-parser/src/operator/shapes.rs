//! The shapes the operator-mode keys take in a file (a string or a list of them, the
//! `resolver` string or map, the `resolver_preload` map), read with the kind of value found
//! where another was expected, for nats-server's messages.

use super::*;

/// A value where a string is expected, or the kind of value found instead.
#[derive(Debug)]
pub(crate) enum Item {
    Str(String),
    Other(&'static str),
}

/// Drains a sequence or map a caller does not want, so that the deserializer moves on.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Item;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Item, E> {
                Ok(Item::Str(v.to_owned()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Item, E> {
                Ok(Item::Other("integer"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Item, E> {
                Ok(Item::Other("integer"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Item, E> {
                Ok(Item::Other("float"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Item, E> {
                Ok(Item::Other("boolean"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item, A::Error> {
                drain_seq(seq)?;
                Ok(Item::Other("array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Item, A::Error> {
                drain_map(map)?;
                Ok(Item::Other("map"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string or a list of strings (`operator`, `trusted`, `resolver_pinned_accounts`), each
/// with its position.
#[derive(Debug)]
pub(crate) enum Strings {
    One(Item),
    List(Vec<Spanned<Item>>),
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E>(self, v: &str) -> Result<Strings, E> {
                Ok(Strings::One(Item::Str(v.to_owned())))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Strings, E> {
                Ok(Strings::One(Item::Other("integer")))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Strings, E> {
                Ok(Strings::One(Item::Other("integer")))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Strings, E> {
                Ok(Strings::One(Item::Other("float")))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Strings, E> {
                Ok(Strings::One(Item::Other("boolean")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(Strings::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Strings, A::Error> {
                drain_map(map)?;
                Ok(Strings::One(Item::Other("map")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The strings of a `Strings` value, or nats-server's `error parsing WHAT: unsupported type …`.
pub(super) fn strings(
    v: Spanned<Strings>,
    what: &str,
) -> Result<Vec<Spanned<String>>, ConfigError> {
    match v.value {
        Strings::One(Item::Str(s)) => Ok(vec![Spanned {
            value: s,
            pos: v.pos,
        }]),
        Strings::One(Item::Other(t)) => Err(invalid(
            &v.pos,
            format!("error parsing {what}: unsupported type {t}"),
        )),
        Strings::List(items) => items
            .into_iter()
            .map(|i| match i.value {
                Item::Str(s) => Ok(Spanned {
                    value: s,
                    pos: i.pos,
                }),
                Item::Other(t) => Err(invalid(
                    &i.pos,
                    format!("error parsing {what}: unsupported type in array {t}"),
                )),
            })
            .collect(),
    }
}

/// `resolver`: a string (`MEMORY`, `URL(…)`) or a map.
#[derive(Debug)]
pub(crate) enum RawResolver {
    Text(String),
    Map(Box<RawResolverMap>),
    Other(&'static str),
}

/// The map form of `resolver`. nats-server ignores keys it does not know here; rnats warns.
#[derive(Debug, Default)]
pub(crate) struct RawResolverMap {
    pub(super) kind: Option<Spanned<Scalar>>,
    pub(super) dir: Option<Spanned<Scalar>>,
    pub(super) allow_delete: Option<Spanned<Scalar>>,
    pub(super) hard_delete: Option<Spanned<Scalar>>,
    pub(super) limit: Option<Spanned<Scalar>>,
    pub(super) ttl: Option<Spanned<Scalar>>,
    pub(super) interval: Option<Spanned<Scalar>>,
    pub(super) timeout: Option<Spanned<Scalar>>,
    pub(super) unknown: Vec<String>,
}

impl<'de> Deserialize<'de> for RawResolver {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawResolver;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("MEMORY, URL(\"url\") or a map")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawResolver, E> {
                Ok(RawResolver::Text(v.to_owned()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawResolver, E> {
                Ok(RawResolver::Other("integer"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawResolver, E> {
                Ok(RawResolver::Other("integer"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawResolver, E> {
                Ok(RawResolver::Other("float"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawResolver, E> {
                Ok(RawResolver::Other("boolean"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawResolver, A::Error> {
                drain_seq(seq)?;
                Ok(RawResolver::Other("array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawResolver, A::Error> {
                let mut m = RawResolverMap::default();
                while let Some(k) = map.next_key::<String>()? {
                    let slot = match k.to_ascii_lowercase().as_str() {
                        "type" => &mut m.kind,
                        "dir" => &mut m.dir,
                        "allow_delete" => &mut m.allow_delete,
                        "hard_delete" => &mut m.hard_delete,
                        "limit" => &mut m.limit,
                        "ttl" => &mut m.ttl,
                        "interval" => &mut m.interval,
                        "timeout" => &mut m.timeout,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            m.unknown.push(k);
                            continue;
                        }
                    };
                    *slot = Some(map.next_value()?);
                }
                Ok(RawResolver::Map(Box::new(m)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `resolver_preload { <account key>: <account JWT> }`.
#[derive(Debug, Default)]
pub(crate) struct RawPreload(pub(super) Vec<(String, Spanned<Item>)>);

/// nats-server's text for a `resolver_preload` that is not a map.
const PRELOAD_SHAPE: &str = "preload should be a map of account_public_key:account_jwt";

impl<'de> Deserialize<'de> for RawPreload {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPreload;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of account_public_key:account_jwt")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawPreload, E> {
                Err(E::custom(PRELOAD_SHAPE))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawPreload, E> {
                Err(E::custom(PRELOAD_SHAPE))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawPreload, E> {
                Err(E::custom(PRELOAD_SHAPE))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawPreload, E> {
                Err(E::custom(PRELOAD_SHAPE))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawPreload, E> {
                Err(E::custom(PRELOAD_SHAPE))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<RawPreload, A::Error> {
                Err(de::Error::custom(PRELOAD_SHAPE))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPreload, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry()? {
                    out.push((k, v));
                }
                Ok(RawPreload(out))
            }
        }
        d.deserialize_any(V)
    }
}
