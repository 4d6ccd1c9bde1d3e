//! `accounts { … }`: each account's users, exports, imports and limits, checked as
//! nats-server reads them.

use super::*;

/// `accounts { NAME { … } }` or `accounts [NAME, …]`, in file order.
#[derive(Debug, Default)]
pub(crate) struct RawAccounts(Vec<(String, Option<Spanned<RawAccount>>)>);

impl<'de> Deserialize<'de> for RawAccounts {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAccounts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of accounts or a list of account names")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    out.push((name, None));
                }
                Ok(RawAccounts(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    out.push((name, Some(map.next_value()?)));
                }
                Ok(RawAccounts(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// An account's `jetstream`: a boolean, `enabled`/`disabled`, or a map of limits.
#[derive(Debug)]
pub(crate) struct RawJetStream(bool);

impl<'de> Deserialize<'de> for RawJetStream {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawJetStream;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean, \"enabled\", \"disabled\" or a map of limits")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(RawJetStream(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v.to_ascii_lowercase().as_str() {
                    "enabled" | "enable" => Ok(RawJetStream(true)),
                    "disabled" | "disable" => Ok(RawJetStream(false)),
                    _ => Err(E::custom(format!(
                        "expected enabled or disabled, got \"{v}\""
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawJetStream(true))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    users: Option<Vec<Spanned<RawUser>>>,
    exports: Option<Vec<Spanned<RawExport>>>,
    imports: Option<Vec<Spanned<RawImport>>>,
    jetstream: Option<Spanned<RawJetStream>>,
    #[serde(alias = "default_permission")]
    default_permissions: Option<RawPermissions>,
    signing_keys: Option<Vec<Spanned<String>>>,
    nkey: Option<Spanned<String>>,
    mappings: Option<crate::mappings::RawMappings>,
    maps: Option<crate::mappings::RawMappings>,
    limits: Option<Spanned<IgnoredAny>>,
    msg_trace: Option<Spanned<crate::msgtrace::RawMsgTrace>>,
    trace_dest: Option<Spanned<crate::msgtrace::RawMsgTrace>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExport {
    stream: Option<String>,
    service: Option<String>,
    accounts: Option<Vec<String>>,
    #[serde(alias = "response")]
    response_type: Option<Spanned<String>>,
    #[serde(
        alias = "response_threshold",
        alias = "response_max_time",
        alias = "response_time"
    )]
    threshold: Option<Spanned<Scalar>>,
    account_token_position: Option<u32>,
    latency: Option<Spanned<RawLatency>>,
    allow_trace: Option<bool>,
}

/// `latency`: a subject, or `{subject, sampling}`.
#[derive(Debug)]
pub(crate) struct RawLatency {
    subject: Option<String>,
    sampling: Option<Scalar>,
}

impl<'de> Deserialize<'de> for RawLatency {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawLatency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subject or a map with subject and sampling")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawLatency {
                    subject: Some(v.to_owned()),
                    sampling: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = RawLatency {
                    subject: None,
                    sampling: None,
                };
                while let Some(k) = map.next_key::<String>()? {
                    match k.to_ascii_lowercase().as_str() {
                        "subject" | "results" => out.subject = Some(map.next_value()?),
                        "sampling" | "sample" => out.sampling = Some(map.next_value()?),
                        _ => {
                            return Err(de::Error::custom(format!(
                                "unknown field \"{k}\" in latency, expected subject or sampling"
                            )));
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImportSource {
    account: String,
    subject: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImport {
    stream: Option<RawImportSource>,
    service: Option<RawImportSource>,
    to: Option<String>,
    prefix: Option<String>,
    share: Option<bool>,
    allow_trace: Option<bool>,
}

fn build_export(raw: Spanned<RawExport>) -> Result<ExportConfig, ConfigError> {
    let pos = raw.pos;
    let r = raw.value;
    let (kind, subject) = match (r.stream, r.service) {
        (Some(s), None) => (ExportKind::Stream, s),
        (None, Some(s)) => (ExportKind::Service, s),
        (Some(_), Some(_)) => {
            return Err(invalid(
                &pos,
                "export can not be both a stream and a service",
            ));
        }
        (None, None) => return Err(invalid(&pos, "export needs a stream or a service subject")),
    };
    if !valid_subject(&subject) {
        return Err(invalid(
            &pos,
            format!("subject \"{subject}\" is not a valid subject"),
        ));
    }
    let response_type = match &r.response_type {
        None => ResponseType::Singleton,
        Some(rt) => {
            if kind == ExportKind::Stream {
                return Err(invalid(
                    &rt.pos,
                    "response_type is only for service exports",
                ));
            }
            match rt.value.to_ascii_lowercase().as_str() {
                "single" | "singleton" => ResponseType::Singleton,
                "stream" => ResponseType::Stream,
                "chunk" | "chunked" => ResponseType::Chunked,
                other => {
                    return Err(invalid(
                        &rt.pos,
                        format!("unknown response type: \"{other}\""),
                    ));
                }
            }
        }
    };
    let response_threshold = match &r.threshold {
        Some(t) => {
            let nanos = duration_string("threshold", t)?;
            Some(
                non_negative(nanos)
                    .ok_or_else(|| invalid(&t.pos, "threshold must not be negative"))?,
            )
        }
        None => None,
    };
    let latency = match r.latency {
        Some(l) => {
            let subject = l
                .value
                .subject
                .ok_or_else(|| invalid(&l.pos, "latency needs a subject"))?;
            let sampling = match l.value.sampling {
                None => LatencySampling::Percent(100),
                Some(Scalar::Int(n)) if (1..=100).contains(&n) => {
                    LatencySampling::Percent(u8::try_from(n).unwrap_or(100))
                }
                Some(Scalar::Str(s)) if s.eq_ignore_ascii_case("headers") => {
                    LatencySampling::Headers
                }
                Some(Scalar::Str(s)) => {
                    let n: Option<u8> = s.strip_suffix('%').and_then(|p| p.trim().parse().ok());
                    match n {
                        Some(n @ 1..=100) => LatencySampling::Percent(n),
                        _ => {
                            return Err(invalid(
                                &l.pos,
                                format!(
                                    "sampling value \"{s}\" must be 1-100, \"n%\" or \"headers\""
                                ),
                            ));
                        }
                    }
                }
                Some(_) => {
                    return Err(invalid(
                        &l.pos,
                        "sampling must be 1-100, \"n%\" or \"headers\"",
                    ));
                }
            };
            Some(LatencyConfig { subject, sampling })
        }
        None => None,
    };
    Ok(ExportConfig {
        kind,
        subject,
        accounts: r.accounts.unwrap_or_default(),
        response_type,
        response_threshold,
        account_token_position: r.account_token_position,
        latency,
        allow_trace: r.allow_trace.unwrap_or(false),
    })
}

fn build_import(raw: Spanned<RawImport>) -> Result<ImportConfig, ConfigError> {
    let pos = raw.pos;
    let r = raw.value;
    let (kind, src) = match (r.stream, r.service) {
        (Some(s), None) => (ExportKind::Stream, s),
        (None, Some(s)) => (ExportKind::Service, s),
        (Some(_), Some(_)) => {
            return Err(invalid(
                &pos,
                "import can not be both a stream and a service",
            ));
        }
        (None, None) => return Err(invalid(&pos, "import needs a stream or a service")),
    };
    if r.to.is_some() && r.prefix.is_some() {
        return Err(invalid(&pos, "import can not have both 'to' and 'prefix'"));
    }
    if kind == ExportKind::Service && r.prefix.is_some() {
        return Err(invalid(&pos, "'prefix' is only for stream imports"));
    }
    if let Some(p) = &r.prefix
        && (p.contains('*') || p.contains('>'))
    {
        return Err(invalid(
            &pos,
            format!("prefix \"{p}\" can not contain wildcards"),
        ));
    }
    Ok(ImportConfig {
        kind,
        account: src.account,
        subject: src.subject,
        to: r.to,
        prefix: r.prefix,
        share: r.share.unwrap_or(false),
        allow_trace: r.allow_trace.unwrap_or(false),
    })
}

impl RawAccounts {
    /// Whether no account is defined (`accounts {}`).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn build(
        self,
        users_pos: &mut Vec<(UserConfig, Pos)>,
        accounts_pos: &Pos,
        warnings: &mut Vec<String>,
        origins: &mut Origins,
    ) -> Result<Vec<AccountConfig>, ConfigError> {
        let mut out: Vec<AccountConfig> = Vec::new();
        for (name, raw) in self.0 {
            let pos = raw.as_ref().map_or(accounts_pos, |r| &r.pos).clone();
            if name == "$G" {
                return Err(invalid(&pos, "\"$G\" is a Reserved Account"));
            }
            if out.iter().any(|a| a.name == name) {
                return Err(invalid(&pos, format!("Duplicate Account Entry: {name}")));
            }
            let mut acc = AccountConfig {
                name: name.clone(),
                ..AccountConfig::default()
            };
            if let Some(raw) = raw {
                let r = raw.value;
                if let Some(m) = r.mappings.or(r.maps) {
                    acc.mappings = m.build()?;
                }
                if let Some(v) = &r.limits {
                    return Err(unsupported(&v.pos, "limits"));
                }
                for (key, v) in [("msg_trace", r.msg_trace), ("trace_dest", r.trace_dest)] {
                    if let Some(v) = v {
                        acc.msg_trace =
                            crate::msgtrace::build(v, key, acc.msg_trace.take(), warnings)?;
                    }
                }
                for u in r.users.unwrap_or_default() {
                    let (user, upos, _) = build_user(u, Some(&name), origins)?;
                    users_pos.push((user.clone(), upos));
                    acc.users.push(user);
                }
                for e in r.exports.unwrap_or_default() {
                    acc.exports.push(build_export(e)?);
                }
                for i in r.imports.unwrap_or_default() {
                    acc.imports.push(build_import(i)?);
                }
                if let Some(js) = r.jetstream {
                    acc.jetstream = js.value.0;
                    if acc.jetstream {
                        warnings.push(format!(
                            "{}: JetStream is not supported yet by rnats; \"jetstream\" of account \"{name}\" is ignored",
                            js.pos
                        ));
                    }
                }
                acc.default_permissions = r
                    .default_permissions
                    .map(RawPermissions::build)
                    .transpose()?;
                for k in r.signing_keys.unwrap_or_default() {
                    if !is_valid_public(&k.value, NkeyRole::Account) {
                        return Err(invalid(
                            &k.pos,
                            format!("Not a valid public nkey for an account: \"{}\"", k.value),
                        ));
                    }
                    acc.signing_keys.push(k.value);
                }
                if let Some(k) = r.nkey {
                    if !is_valid_public(&k.value, NkeyRole::Account) {
                        return Err(invalid(
                            &k.pos,
                            format!("Not a valid public nkey for an account: \"{}\"", k.value),
                        ));
                    }
                    acc.nkey = Some(k.value);
                }
            }
            out.push(acc);
        }
        Ok(out)
    }
}
