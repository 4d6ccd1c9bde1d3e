//! The JSON options a client sends with `CONNECT`.

use std::fmt;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// Options from a client's `CONNECT {json}`.
///
/// Decoding follows Go's `encoding/json` as nats-server uses it: field names
/// match case-insensitively, unknown fields are ignored, a JSON `null` leaves
/// the default in place, and omitted fields keep nats-server's defaults
/// (`verbose`, `pedantic` and `echo` are `true`, everything else off/empty).
///
/// `Debug` never prints secrets: `pass`, `auth_token`, `sig` and `jwt` show as
/// `<redacted>`.
///
/// A client serialises it for [`encode_connect`](crate::encode_connect):
/// fields that are `None` are left out, and decoding the result gives the
/// same options back.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ConnectOptions {
    /// Acknowledge each operation with `+OK`.
    pub verbose: bool,
    /// Strict subject checks on publish.
    pub pedantic: bool,
    /// The client requires TLS (informational).
    pub tls_required: bool,
    /// Token for token authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// User name for user/password authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password for user/password authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// The user's public NKey (`U…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// Signature over the server nonce.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    /// User JWT (operator mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// Client name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Client library language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Client library version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Client protocol level (0 or 1 are valid). Values outside `i32` are
    /// clamped so the broker can still reject them as a bad protocol.
    pub protocol: i32,
    /// Deliver the client's own publications back to it.
    pub echo: bool,
    /// The client supports headers (`HPUB`/`HMSG`).
    pub headers: bool,
    /// The client wants no-responders status messages.
    pub no_responders: bool,
    /// Legacy account field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Legacy new-account field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_account: Option<bool>,
}

impl ConnectOptions {
    /// Decodes the JSON text of a `CONNECT` line.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            verbose: true,
            pedantic: true,
            tls_required: false,
            auth_token: None,
            user: None,
            pass: None,
            nkey: None,
            sig: None,
            jwt: None,
            name: None,
            lang: None,
            version: None,
            protocol: 0,
            echo: true,
            headers: false,
            no_responders: false,
            account: None,
            new_account: None,
        }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn secret(value: &Option<String>) -> Option<&'static str> {
            value.as_ref().map(|_| "<redacted>")
        }
        f.debug_struct("ConnectOptions")
            .field("verbose", &self.verbose)
            .field("pedantic", &self.pedantic)
            .field("tls_required", &self.tls_required)
            .field("auth_token", &secret(&self.auth_token))
            .field("user", &self.user)
            .field("pass", &secret(&self.pass))
            .field("nkey", &self.nkey)
            .field("sig", &secret(&self.sig))
            .field("jwt", &secret(&self.jwt))
            .field("name", &self.name)
            .field("lang", &self.lang)
            .field("version", &self.version)
            .field("protocol", &self.protocol)
            .field("echo", &self.echo)
            .field("headers", &self.headers)
            .field("no_responders", &self.no_responders)
            .field("account", &self.account)
            .field("new_account", &self.new_account)
            .finish()
    }
}

/// A JSON key of the CONNECT object, matched case-insensitively like Go's
/// `encoding/json`.
enum Field {
    Verbose,
    Pedantic,
    TlsRequired,
    AuthToken,
    User,
    Pass,
    Nkey,
    Sig,
    Jwt,
    Name,
    Lang,
    Version,
    Protocol,
    Echo,
    Headers,
    NoResponders,
    Account,
    NewAccount,
    Unknown,
}

impl Field {
    const ALL: [(&'static str, Self); 18] = [
        ("verbose", Self::Verbose),
        ("pedantic", Self::Pedantic),
        ("tls_required", Self::TlsRequired),
        ("auth_token", Self::AuthToken),
        ("user", Self::User),
        ("pass", Self::Pass),
        ("nkey", Self::Nkey),
        ("sig", Self::Sig),
        ("jwt", Self::Jwt),
        ("name", Self::Name),
        ("lang", Self::Lang),
        ("version", Self::Version),
        ("protocol", Self::Protocol),
        ("echo", Self::Echo),
        ("headers", Self::Headers),
        ("no_responders", Self::NoResponders),
        ("account", Self::Account),
        ("new_account", Self::NewAccount),
    ];

    fn from_key(key: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map_or(Self::Unknown, |(_, field)| field)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CONNECT field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Field, E> {
                Ok(Field::from_key(key))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for ConnectOptions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ConnectVisitor)
    }
}

struct ConnectVisitor;

impl<'de> Visitor<'de> for ConnectVisitor {
    type Value = ConnectOptions;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CONNECT JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConnectOptions, A::Error> {
        // `null` leaves a field untouched, as Go's decoder does.
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *slot = value;
            }
        }
        fn set_opt<T>(slot: &mut Option<T>, value: Option<T>) {
            if value.is_some() {
                *slot = value;
            }
        }

        let mut opts = ConnectOptions::default();
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Verbose => set(&mut opts.verbose, map.next_value()?),
                Field::Pedantic => set(&mut opts.pedantic, map.next_value()?),
                Field::TlsRequired => set(&mut opts.tls_required, map.next_value()?),
                Field::AuthToken => set_opt(&mut opts.auth_token, map.next_value()?),
                Field::User => set_opt(&mut opts.user, map.next_value()?),
                Field::Pass => set_opt(&mut opts.pass, map.next_value()?),
                Field::Nkey => set_opt(&mut opts.nkey, map.next_value()?),
                Field::Sig => set_opt(&mut opts.sig, map.next_value()?),
                Field::Jwt => set_opt(&mut opts.jwt, map.next_value()?),
                Field::Name => set_opt(&mut opts.name, map.next_value()?),
                Field::Lang => set_opt(&mut opts.lang, map.next_value()?),
                Field::Version => set_opt(&mut opts.version, map.next_value()?),
                Field::Protocol => {
                    let value: Option<i64> = map.next_value()?;
                    if let Some(value) = value {
                        // In range after the clamp, so the conversion cannot fail.
                        let clamped = value.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
                        opts.protocol = i32::try_from(clamped).unwrap_or(i32::MAX);
                    }
                }
                Field::Echo => set(&mut opts.echo, map.next_value()?),
                Field::Headers => set(&mut opts.headers, map.next_value()?),
                Field::NoResponders => set(&mut opts.no_responders, map.next_value()?),
                Field::Account => set_opt(&mut opts.account, map.next_value()?),
                Field::NewAccount => set_opt(&mut opts.new_account, map.next_value()?),
                Field::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_gives_nats_server_defaults() {
        let opts = ConnectOptions::from_json(b"{}").unwrap();
        assert!(opts.verbose && opts.pedantic && opts.echo);
        assert!(!opts.headers && !opts.no_responders && !opts.tls_required);
        assert_eq!(opts.protocol, 0);
        assert_eq!(opts, ConnectOptions::default());
    }

    #[test]
    fn typical_client_connect() {
        let json = br#"{"verbose":false,"pedantic":false,"tls_required":false,"name":"svc",
            "lang":"go","version":"1.37.0","protocol":1,"echo":true,"headers":true,
            "no_responders":true,"user":"alice","pass":"s3cret"}"#;
        let opts = ConnectOptions::from_json(json).unwrap();
        assert!(!opts.verbose && !opts.pedantic);
        assert_eq!(opts.name.as_deref(), Some("svc"));
        assert_eq!(opts.lang.as_deref(), Some("go"));
        assert_eq!(opts.version.as_deref(), Some("1.37.0"));
        assert_eq!(opts.protocol, 1);
        assert!(opts.headers && opts.no_responders && opts.echo);
        assert_eq!(opts.user.as_deref(), Some("alice"));
        assert_eq!(opts.pass.as_deref(), Some("s3cret"));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let json = br#"{"sig_alg":"x","nested":{"a":[1,2,{"b":null}]},"echo":false}"#;
        let opts = ConnectOptions::from_json(json).unwrap();
        assert!(!opts.echo);
    }

    #[test]
    fn keys_match_case_insensitively() {
        let opts = ConnectOptions::from_json(br#"{"Verbose":false,"AUTH_TOKEN":"t"}"#).unwrap();
        assert!(!opts.verbose);
        assert_eq!(opts.auth_token.as_deref(), Some("t"));
    }

    #[test]
    fn null_keeps_defaults() {
        let opts = ConnectOptions::from_json(br#"{"verbose":null,"user":null}"#).unwrap();
        assert!(opts.verbose);
        assert_eq!(opts.user, None);
    }

    #[test]
    fn account_fields() {
        let opts = ConnectOptions::from_json(br#"{"account":"A","new_account":false}"#).unwrap();
        assert_eq!(opts.account.as_deref(), Some("A"));
        assert_eq!(opts.new_account, Some(false));
    }

    #[test]
    fn out_of_range_protocol_is_clamped() {
        let opts = ConnectOptions::from_json(br#"{"protocol":99999999999}"#).unwrap();
        assert_eq!(opts.protocol, i32::MAX);
        let opts = ConnectOptions::from_json(br#"{"protocol":-99999999999}"#).unwrap();
        assert_eq!(opts.protocol, i32::MIN);
    }

    #[test]
    fn malformed_json_is_an_error() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"{\"verbose\":\"yes\"}",
            b"{\"protocol\":1.5}",
            b"{} x",
        ] {
            assert!(ConnectOptions::from_json(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let json = br#"{"user":"alice","pass":"hunter2","auth_token":"tok-xyz",
            "sig":"sig-abc","jwt":"eyJ0.jwt","nkey":"UABC"}"#;
        let opts = ConnectOptions::from_json(json).unwrap();
        let shown = format!("{opts:?}");
        for secret in ["hunter2", "tok-xyz", "sig-abc", "eyJ0.jwt"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains("alice") && shown.contains("UABC"));
    }
}
