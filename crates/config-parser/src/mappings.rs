//! Subject mappings: the top-level `mappings` (alias `maps`, for the global account) and an
//! account's `mappings`, checked with nats-server's rules and words.
//!
//! ```text
//! mappings {
//!   "orders.*": "eu.orders.{{wildcard(1)}}"
//!   "bar": { destination: "baz", weight: 100% }
//!   "canary.>": [ { dest: "v2.>", weight: 10% }, { dest: "v1.>", weight: 90% } ]
//! }
//! ```

use std::fmt;

use rnats_sublist::Mapping;
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use crate::de::Spanned;
use crate::error::{ConfigError, ErrorKind};

/// One `mappings` entry: a source subject and its weighted destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    /// The published subject (or wildcard pattern) that is mapped.
    pub source: String,
    /// Where it goes; a plain string entry is one destination of weight 100.
    pub destinations: Vec<MapDestination>,
}

/// One destination of a [`MappingConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDestination {
    /// `destination` (alias `dest`): the subject, with `$n` or `{{function(…)}}` tokens.
    pub subject: String,
    /// `weight`: a percentage, 0–100 (`50` or `"50%"`).
    pub weight: u8,
    /// `cluster`: only on that cluster. rnats has no cluster, so such destinations are checked
    /// and kept but never chosen (nats-server falls back to the unscoped ones too).
    pub cluster: Option<String>,
}

impl MappingConfig {
    /// The compiled mapping. The cluster-scoped destinations are left out (this server is in
    /// no cluster), as nats-server leaves them out where the cluster name does not match.
    pub fn compile(&self) -> Result<Mapping, rnats_sublist::MappingError> {
        let unscoped: Vec<(&str, u8)> = self
            .destinations
            .iter()
            .filter(|d| d.cluster.is_none())
            .map(|d| (d.subject.as_str(), d.weight))
            .collect();
        Mapping::new(&self.source, &unscoped)
    }

    /// nats-server's checks of the whole entry (including the cluster-scoped destinations,
    /// weighed per cluster), with its error text.
    fn check(&self, single: bool) -> Result<(), String> {
        if rnats_sublist::validate_subject(self.source.as_bytes()).is_err() {
            return Err(format!(
                "Subject \"{}\" is not a valid subject",
                self.source
            ));
        }
        let mut clusters: Vec<Option<&str>> = Vec::new();
        for d in &self.destinations {
            if !clusters.contains(&d.cluster.as_deref()) {
                clusters.push(d.cluster.as_deref());
            }
        }
        let mut result = Ok(());
        for cluster in clusters {
            let in_cluster: Vec<(&str, u8)> = self
                .destinations
                .iter()
                .filter(|d| d.cluster.as_deref() == cluster)
                .map(|d| (d.subject.as_str(), d.weight))
                .collect();
            if let Err(e) = Mapping::new(&self.source, &in_cluster) {
                result = Err(e);
                break;
            }
        }
        // Duplicates count across clusters, as nats-server sees them.
        for (i, d) in self.destinations.iter().enumerate() {
            if self.destinations[..i]
                .iter()
                .any(|o| o.subject == d.subject)
            {
                result = Err(rnats_sublist::MappingError::Duplicate(d.subject.clone()));
            }
        }
        result.map_err(|e| match (single, self.destinations.first()) {
            (true, Some(d)) => format!(
                "Error adding mapping for \"{}\" to \"{}\" : {e}",
                self.source, d.subject
            ),
            _ => format!("Error adding mapping for \"{}\" : {e}", self.source),
        })
    }
}

/// `mappings { … }` as read, in file order, each value with its position.
#[derive(Debug, Default)]
pub(crate) struct RawMappings(Vec<(String, Spanned<RawDestinations>)>);

/// A mapping's value: a string (`single`), one destination map, or a list of them.
#[derive(Debug)]
pub(crate) struct RawDestinations {
    single: bool,
    list: Vec<MapDestination>,
}

impl RawMappings {
    /// The checked entries; the first bad one is an error at its position.
    pub(crate) fn build(self) -> Result<Vec<MappingConfig>, ConfigError> {
        let mut out: Vec<MappingConfig> = Vec::with_capacity(self.0.len());
        for (source, value) in self.0 {
            let entry = MappingConfig {
                source,
                destinations: value.value.list,
            };
            entry
                .check(value.value.single)
                .map_err(|msg| ConfigError::new(ErrorKind::Invalid, &value.pos, msg))?;
            // A repeated source replaces the earlier entry, as in nats-server.
            out.retain(|m| m.source != entry.source);
            out.push(entry);
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for RawMappings {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMappings;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of subject mappings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMappings, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Spanned<RawDestinations>>()? {
                    out.push((k, v));
                }
                Ok(RawMappings(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for RawDestinations {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDestinations;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a destination subject, a destination map or a list of them")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawDestinations, E> {
                Ok(RawDestinations {
                    single: true,
                    list: vec![MapDestination {
                        subject: v.to_owned(),
                        weight: 100,
                        cluster: None,
                    }],
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDestinations, A::Error> {
                let one = RawDestination::from_map(map)?;
                Ok(RawDestinations {
                    single: false,
                    list: vec![one.0],
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawDestinations, A::Error> {
                let mut list = Vec::new();
                while let Some(d) = seq.next_element::<RawDestination>()? {
                    list.push(d.0);
                }
                Ok(RawDestinations {
                    single: false,
                    list,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `{ destination, weight, cluster }`.
struct RawDestination(MapDestination);

impl RawDestination {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut subject = String::new();
        let mut weight = None;
        let mut cluster = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.to_ascii_lowercase().as_str() {
                "dest" | "destination" => subject = map.next_value()?,
                "weight" => weight = Some(map.next_value::<Weight>()?.0),
                "cluster" => cluster = Some(map.next_value::<String>()?),
                _ => {
                    return Err(de::Error::custom(format!(
                        "Unknown field \"{key}\" for mapping destination"
                    )));
                }
            }
        }
        let Some(weight) = weight else {
            return Err(de::Error::custom(format!(
                "Missing weight for mapping destination \"{subject}\""
            )));
        };
        Ok(Self(MapDestination {
            subject,
            weight,
            cluster,
        }))
    }
}

impl<'de> Deserialize<'de> for RawDestination {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDestination;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an entry for the mapping destination")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDestination, A::Error> {
                RawDestination::from_map(map)
            }
        }
        d.deserialize_map(V)
    }
}

/// A weight: `50`, or a string such as `"50%"`, within 0–100.
struct Weight(u8);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn within<E: de::Error>(n: i64) -> Result<Weight, E> {
            u8::try_from(n)
                .ok()
                .filter(|w| *w <= 100)
                .map(Weight)
                .ok_or_else(|| E::custom(format!("Invalid weight {n} for mapping destination")))
        }
        impl Visitor<'_> for V {
            type Value = Weight;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a weight such as 50 or \"50%\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Weight, E> {
                within(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Weight, E> {
                within(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Weight, E> {
                let digits = v.strip_suffix('%').unwrap_or(v);
                let n = digits.parse::<i64>().map_err(|_| {
                    E::custom(format!(
                        "Invalid weight \"{digits}\" for mapping destination"
                    ))
                })?;
                within(n)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use crate::load_str;

    fn err(src: &str) -> String {
        load_str(src, None).unwrap_err().to_string()
    }

    #[test]
    fn every_form_loads_in_file_order() {
        let c = load_str(
            r#"
            mappings {
              "a.*": "b.$1"
              c: { dest: d, weight: "40%" }
              "e.>": [ { destination: "f.>", weight: 10 }, { dest: "g.>", weight: 20, cluster: east } ]
            }
            accounts { A { mappings { x: y } } }
            "#,
            None,
        )
        .unwrap()
        .config;
        let m = &c.mappings;
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].source, "a.*");
        assert_eq!(m[0].destinations[0].weight, 100);
        assert_eq!(m[1].destinations[0].weight, 40);
        assert_eq!(m[2].destinations[1].cluster.as_deref(), Some("east"));
        assert_eq!(c.accounts[0].mappings[0].destinations[0].subject, "y");
        assert!(m[0].compile().is_ok());
    }

    #[test]
    fn bad_entries_fail_with_position_and_nats_server_words() {
        assert_eq!(
            err("mappings {\n  \"a.*\": \"b.{{wildcard(2)}}\"\n}"),
            "2:10: Error adding mapping for \"a.*\" to \"b.{{wildcard(2)}}\" : invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"
        );
        assert_eq!(
            err("maps {\n a: [{dest: b, weight: 60}, {dest: c, weight: 50}]\n}"),
            "2:5: Error adding mapping for \"a\" : total weight needs to be <= 100"
        );
        assert_eq!(
            err("mappings { a: {dest: b} }"),
            "1:15: Missing weight for mapping destination \"b\""
        );
        assert_eq!(
            err("mappings { a: {dest: b, weight: 101} }"),
            "1:33: Invalid weight 101 for mapping destination"
        );
        assert_eq!(
            err("mappings { a: {dest: b, weight: 1, x: 2} }"),
            "1:36: Unknown field \"x\" for mapping destination"
        );
        assert_eq!(
            err("mappings { \"a..b\": c }"),
            "1:20: Subject \"a..b\" is not a valid subject"
        );
    }
}
