//! rnats extensions for admission: the per-address connect-rate limit
//! (`connect_rate_limit { … }`).

use serde::Deserialize;

use crate::de::Spanned;
use crate::error::{ConfigError, ErrorKind};
use crate::value::Pos;

/// `connect_rate_limit { … }` (an rnats extension): a token bucket per client address for new
/// connections, over plain TCP and TLS alike, that failed logins drain faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectRateLimit {
    /// `per_address`: new connections per second one address may sustain (the refill rate).
    pub per_address: u32,
    /// `burst`: connections one address may make at once after a quiet spell (the bucket's
    /// size); default `per_address`.
    pub burst: u32,
    /// `failed_login_cost`: tokens a refused login takes from its address on top of the one
    /// its connection took; default [`ConnectRateLimit::DEFAULT_FAILED_LOGIN_COST`]. `0`:
    /// failed logins cost nothing more.
    pub failed_login_cost: u32,
    /// `max_addresses`: most addresses tracked at once; when full the longest-idle address is
    /// forgotten. Default [`ConnectRateLimit::DEFAULT_MAX_ADDRESSES`].
    pub max_addresses: u32,
}

impl ConnectRateLimit {
    /// Default `failed_login_cost`.
    pub const DEFAULT_FAILED_LOGIN_COST: u32 = 10;
    /// Default `max_addresses`.
    pub const DEFAULT_MAX_ADDRESSES: u32 = 65_536;

    /// `per_address` connections per second, with every other option at its default.
    pub fn new(per_address: u32) -> Self {
        Self {
            per_address,
            burst: per_address,
            failed_login_cost: Self::DEFAULT_FAILED_LOGIN_COST,
            max_addresses: Self::DEFAULT_MAX_ADDRESSES,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConnectRateLimit {
    per_address: Option<Spanned<i64>>,
    burst: Option<Spanned<i64>>,
    failed_login_cost: Option<Spanned<i64>>,
    max_addresses: Option<Spanned<i64>>,
}

fn invalid(pos: &Pos, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Invalid, pos, msg)
}

/// A value in `min..=u32::MAX`.
fn bounded(v: &Spanned<i64>, key: &str, min: u32) -> Result<u32, ConfigError> {
    u32::try_from(v.value)
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| {
            invalid(
                &v.pos,
                format!("connect_rate_limit.{key} must be an integer from {min} to 4294967295"),
            )
        })
}

impl RawConnectRateLimit {
    pub(crate) fn build(self, pos: &Pos) -> Result<ConnectRateLimit, ConfigError> {
        let Some(per) = &self.per_address else {
            return Err(invalid(pos, "connect_rate_limit requires per_address"));
        };
        let mut limit = ConnectRateLimit::new(bounded(per, "per_address", 1)?);
        if let Some(b) = &self.burst {
            limit.burst = bounded(b, "burst", 1)?;
        }
        if let Some(c) = &self.failed_login_cost {
            limit.failed_login_cost = bounded(c, "failed_login_cost", 0)?;
        }
        if let Some(m) = &self.max_addresses {
            limit.max_addresses = bounded(m, "max_addresses", 1)?;
        }
        Ok(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_key() {
        let c = crate::load_str("connect_rate_limit { per_address: 20 }", None)
            .unwrap()
            .config;
        assert_eq!(c.connect_rate_limit, Some(ConnectRateLimit::new(20)));
        assert_eq!(c.connect_rate_limit.unwrap().burst, 20);
        let c = crate::load_str(
            "connect_rate_limit { per_address: 5, burst: 40, failed_login_cost: 0, max_addresses: 100 }",
            None,
        )
        .unwrap()
        .config;
        let l = c.connect_rate_limit.unwrap();
        assert_eq!(
            (l.per_address, l.burst, l.failed_login_cost, l.max_addresses),
            (5, 40, 0, 100)
        );
    }

    #[test]
    fn bad_values_are_refused_where_they_are() {
        for (src, text) in [
            (
                "connect_rate_limit {\n  burst: 4\n}",
                "1:20: connect_rate_limit requires per_address",
            ),
            (
                "connect_rate_limit {\n  per_address: 0\n}",
                "2:16: connect_rate_limit.per_address must be an integer from 1 to 4294967295",
            ),
            (
                "connect_rate_limit {\n  per_address: 3, burst: -1\n}",
                "2:26: connect_rate_limit.burst must be an integer from 1 to 4294967295",
            ),
            (
                "connect_rate_limit {\n  per_address: 3, burts: 1\n}",
                "2:19: unknown field \"burts\"",
            ),
        ] {
            let e = crate::load_str(src, None).unwrap_err();
            assert_eq!(e.to_string(), text, "{src}");
        }
    }

    #[test]
    fn auth_error_reasons_is_a_boolean() {
        let c = crate::load_str("auth_error_reasons: true", None)
            .unwrap()
            .config;
        assert!(c.auth_error_reasons);
        assert!(
            !crate::load_str("port: 1", None)
                .unwrap()
                .config
                .auth_error_reasons
        );
        let e = crate::load_str("\n auth_error_reasons: 7", None).unwrap_err();
        assert!(e.to_string().starts_with("2:2"), "{e}");
    }

    #[test]
    fn user_max_connections() {
        let c = crate::load_str(
            "authorization { users = [ { user: a, password: b, max_connections: 2 } ] }",
            None,
        )
        .unwrap()
        .config;
        assert_eq!(c.authorization.unwrap().users[0].max_connections, Some(2));
        let e = crate::load_str(
            "authorization { users = [\n { user: a, password: b, max_connections: 0 } ] }",
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "2:43: max_connections of a user must be a positive integer"
        );
    }
}
