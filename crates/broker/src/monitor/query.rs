//! Query-string parameters, read as Go's `net/url` and `strconv` read them, with nats-server's
//! error texts for values that do not parse.

/// The decoded parameters of one request, in order.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or_default()
            .split(['&', ';'])
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Self(pairs)
    }

    /// The first value of `key`; empty when absent (as Go's `Query().Get`).
    pub(crate) fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A boolean as `strconv.ParseBool` reads it; absent is false.
    pub(crate) fn bool(&self, key: &str) -> Result<bool, String> {
        match self.get(key) {
            "" => Ok(false),
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            other => Err(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing {}: invalid syntax",
                go_quote(other)
            )),
        }
    }

    /// A signed integer as `strconv.Atoi` reads it; absent is 0.
    pub(crate) fn int(&self, key: &str) -> Result<i64, String> {
        match self.get(key) {
            "" => Ok(0),
            s => s.parse().map_err(|_| {
                format!(
                    "Error decoding int for '{key}': strconv.Atoi: parsing {}: invalid syntax",
                    go_quote(s)
                )
            }),
        }
    }

    /// An unsigned integer as `strconv.ParseUint` reads it; absent is 0.
    pub(crate) fn uint(&self, key: &str) -> Result<u64, String> {
        match self.get(key) {
            "" => Ok(0),
            s => s.parse().map_err(|_| {
                format!(
                    "Error decoding uint64 for '{key}': strconv.ParseUint: parsing {}: invalid syntax",
                    go_quote(s)
                )
            }),
        }
    }
}

/// A value quoted for an error message, control characters escaped.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// `%XX` and `+` decoding; invalid escapes are kept as written.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'+' {
            out.push(b' ');
        } else if b == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        } else {
            out.push(b);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_decode() {
        let q = Query::parse(Some("acc=%24G&subs=detail&x=a+b&auth"));
        assert_eq!(q.get("acc"), "$G");
        assert_eq!(q.get("subs"), "detail");
        assert_eq!(q.get("x"), "a b");
        assert_eq!(q.get("auth"), "");
        assert_eq!(q.get("missing"), "");
        assert_eq!(q.bool("auth"), Ok(false));
        let q = Query::parse(Some("auth=yes&limit=x&cid=-1"));
        assert_eq!(
            q.bool("auth").unwrap_err(),
            "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert!(q.int("limit").is_err());
        assert!(q.uint("cid").is_err());
    }
}
