//! [`SigningKeyJwtAuth`]: user JWTs issued by an account's signing keys (config mode).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use nkeys::KeyPairType;
use rnats_config::{PermissionsConfig, SubjectPermission};
use rnats_jwt::UserClaims;

use crate::authenticator::{Authenticator, ChainMember, given};
use crate::error::{AuthConfigError, AuthError};
use crate::grant::{ConnectionTypes, UserGrant};
use crate::nkey::{public_key, verify_nonce};
use crate::{AuthMethod, AuthRequest, Authorized, ConnectionType, Permissions};

/// An account that may issue user JWTs.
#[derive(Debug, Clone)]
struct JwtIssuer {
    account: String,
    account_nkey: Option<String>,
    default_permissions: Option<Arc<Permissions>>,
}

/// User JWTs signed by a key an account lists in `signing_keys` (or by the account's own
/// `nkey`, when it lists signing keys): the user joins that account. The JWT must verify, be
/// within `nbf`/`exp`, come from an allowed `src` network, and (unless it is a bearer token)
/// come with the nonce signed by the user's key. Applies to requests with a `jwt` while some
/// account issues JWTs.
#[derive(Debug, Default)]
pub struct SigningKeyJwtAuth {
    issuers: HashMap<String, JwtIssuer>,
}

impl SigningKeyJwtAuth {
    /// No issuing account yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets `account` issue user JWTs with `signing_keys` and its identity key
    /// `account_nkey`; users whose JWT carries no permissions get `default_permissions`.
    /// Checks every key is an account public key and that no key is listed by two accounts.
    /// An account without signing keys issues nothing (its `account_nkey` is still checked).
    pub fn add_account(
        &mut self,
        account: &str,
        account_nkey: Option<&str>,
        signing_keys: &[String],
        default_permissions: Option<Arc<Permissions>>,
    ) -> Result<(), AuthConfigError> {
        if let Some(nk) = account_nkey
            && public_key(nk, &KeyPairType::Account).is_none()
        {
            return Err(AuthConfigError::InvalidAccountNkey(nk.to_owned()));
        }
        for key in signing_keys {
            if public_key(key, &KeyPairType::Account).is_none() {
                return Err(AuthConfigError::InvalidAccountNkey(key.clone()));
            }
        }
        if signing_keys.is_empty() {
            return Ok(());
        }
        let issuer = JwtIssuer {
            account: account.to_owned(),
            account_nkey: account_nkey.map(str::to_owned),
            default_permissions,
        };
        for key in signing_keys.iter().map(String::as_str).chain(account_nkey) {
            if let Some(other) = self.issuers.get(key)
                && other.account != account
            {
                return Err(AuthConfigError::DuplicateSigningKey {
                    key: key.to_owned(),
                    first: other.account.clone(),
                    second: account.to_owned(),
                });
            }
            self.issuers.insert(key.to_owned(), issuer.clone());
        }
        Ok(())
    }

    /// Whether no account issues JWTs.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    fn login(
        &self,
        jwt: &str,
        req: &AuthRequest,
        now: SystemTime,
    ) -> Result<Authorized, AuthError> {
        // Find the issuer first: only a token from a known signing key is worth verifying.
        let issuer_key = rnats_jwt::peek_issuer(jwt)?;
        let Some(issuer) = self.issuers.get(&issuer_key) else {
            return Err(AuthError::UnknownSigningKey { issuer: issuer_key });
        };
        let claims = rnats_jwt::decode_user_at(jwt, now)?;
        if let (Some(claimed), Some(actual)) = (&claims.issuer_account, &issuer.account_nkey)
            && claimed != actual
        {
            return Err(AuthError::IssuerAccountMismatch {
                issuer_account: claimed.clone(),
                account: issuer.account.clone(),
            });
        }
        let identity = claims.subject.clone();
        // Possession of the user key first: no restriction of the JWT is judged (or named
        // to the client, with `auth_error_reasons`) for someone who merely holds a copy.
        check_user_signature(&claims, &identity, req)?;
        if claims.proxy_required {
            return Err(AuthError::ProxyRequired { identity });
        }
        if !claims.times.is_empty() {
            return Err(AuthError::UnsupportedRestriction {
                identity,
                what: "time windows (nats.times)",
            });
        }
        check_source(&claims, &identity, req)?;
        let mut grant = UserGrant::new(issuer.account.clone())
            .with_permissions(jwt_permissions(&claims, issuer)?)
            .with_deadline(claims.expires);
        grant.set_connection_types(jwt_connection_types(
            &claims.allowed_connection_types,
            &identity,
        )?);
        let mut authorized = grant.admit(&identity, AuthMethod::Jwt, req, now)?;
        // As nats-server: a negative limit is unlimited, a missing one is 0.
        let limit = |v: i64| {
            u32::try_from(v)
                .ok()
                .or_else(|| (v >= 0).then_some(u32::MAX))
        };
        authorized.max_subscriptions = limit(claims.limits.subscriptions);
        authorized.max_payload = limit(claims.limits.payload);
        Ok(authorized)
    }
}

impl Authenticator for SigningKeyJwtAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.authenticate_at(req, SystemTime::now())
    }

    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        match given(&req.jwt) {
            Some(jwt) => self.login(jwt, req, now),
            None => Err(AuthError::NoCredentials),
        }
    }

    /// While some account issues JWTs (non-bearer tokens sign the nonce).
    fn needs_nonce(&self) -> bool {
        !self.issuers.is_empty()
    }

    /// Never: decoding and signature checks take microseconds.
    fn may_block(&self, _req: &AuthRequest) -> bool {
        false
    }
}

impl ChainMember for SigningKeyJwtAuth {
    /// Requests with a `jwt`, while some account issues JWTs.
    fn applies(&self, req: &AuthRequest) -> bool {
        given(&req.jwt).is_some() && !self.issuers.is_empty()
    }
}

/// JWT rule: unknown types are ignored, unless none of the listed types is known.
/// `src`: the client's address must be in one of the user's networks (none listed: any).
pub(crate) fn check_source(
    claims: &UserClaims,
    identity: &str,
    req: &AuthRequest,
) -> Result<(), AuthError> {
    let ip = req.client_addr.ip();
    if claims.source_networks.is_empty()
        || claims.source_networks.iter().any(|n| cidr_contains(n, ip))
    {
        return Ok(());
    }
    Err(AuthError::SourceNotAllowed {
        identity: identity.to_owned(),
        addr: req.client_addr,
    })
}

/// The server's nonce signed by the user's key, unless the JWT is a bearer token.
pub(crate) fn check_user_signature(
    claims: &UserClaims,
    identity: &str,
    req: &AuthRequest,
) -> Result<(), AuthError> {
    if claims.bearer_token {
        return Ok(());
    }
    let key = public_key(identity, &KeyPairType::User).ok_or_else(|| AuthError::BadSignature {
        identity: identity.to_owned(),
    })?;
    verify_nonce(&key, identity, req.nonce.as_deref(), req.sig.as_deref())
}

pub(crate) fn jwt_connection_types(
    names: &[String],
    identity: &str,
) -> Result<ConnectionTypes, AuthError> {
    let types = ConnectionTypes::from_types(names.iter().filter_map(|n| ConnectionType::parse(n)));
    if types.is_empty() && !names.is_empty() {
        return Err(AuthError::UnsupportedRestriction {
            identity: identity.into(),
            what: "only unknown allowed_connection_types",
        });
    }
    Ok(types)
}

/// The JWT's own permissions, or the account's defaults when it has none.
fn jwt_permissions(
    claims: &UserClaims,
    issuer: &JwtIssuer,
) -> Result<Option<Arc<Permissions>>, AuthError> {
    let p = &claims.permissions;
    if p.is_empty() {
        return Ok(issuer.default_permissions.clone());
    }
    Permissions::compile(&permissions_config(p))
        .map(|p| Some(Arc::new(p)))
        .map_err(|source| AuthError::BadJwtPermissions {
            identity: claims.subject.clone(),
            source,
        })
}

/// The JWT's permissions in the form the configuration file gives them: an empty list pair
/// is no list, `resp` is `allow_responses` with nats-server's defaults applied.
pub(crate) fn permissions_config(p: &rnats_jwt::Permissions) -> PermissionsConfig {
    let list = |l: &rnats_jwt::Permission| {
        (!l.is_empty()).then(|| SubjectPermission::new(l.allow.clone(), l.deny.clone()))
    };
    let mut cfg = PermissionsConfig::default();
    cfg.publish = list(&p.publish);
    cfg.subscribe = list(&p.subscribe);
    cfg.allow_responses = p.resp.map(|r| {
        let mut rp = rnats_config::ResponsePermission::default();
        rp.max_msgs = r.max_msgs();
        rp.expires = r.expires();
        rp
    });
    cfg
}

/// Whether `ip` is inside `cidr` (`10.0.0.0/8`, `::1/128`, or a bare address). A malformed
/// entry contains nothing (fail closed).
pub(crate) fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let (addr, bits) = match cidr.trim().split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()),
        None => (cidr.trim(), None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return false;
            }
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128);
            if bits > 128 {
                return false;
            }
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(cidr_contains("10.0.0.0/8", v4));
        assert!(cidr_contains("10.1.2.3", v4));
        assert!(cidr_contains("0.0.0.0/0", v4));
        assert!(!cidr_contains("10.1.2.4/32", v4));
        assert!(!cidr_contains("10.0.0.0/33", v4));
        assert!(!cidr_contains("garbage", v4));
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert!(cidr_contains("10.0.0.0/8", mapped));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(cidr_contains("2001:db8::/32", v6));
        assert!(!cidr_contains("2001:db9::/32", v6));
        assert!(!cidr_contains("10.0.0.0/8", v6));
    }

    use nkeys::KeyPair;

    use crate::methods::test_util::anonymous;

    fn bearer(user: &KeyPair, signer: &KeyPair) -> AuthRequest {
        let mut c = UserClaims::new(user.public_key(), "");
        c.bearer_token = true;
        let mut r = anonymous();
        r.jwt = Some(rnats_jwt::encode_user(&c, signer));
        r
    }

    #[test]
    fn a_signing_key_issues_users_of_its_account() {
        let signing = KeyPair::new_account();
        let mut j = SigningKeyJwtAuth::new();
        assert!(!j.needs_nonce());
        j.add_account("A", None, &[signing.public_key()], None)
            .unwrap();
        assert!(j.needs_nonce() && !j.may_block(&anonymous()));
        let user = KeyPair::new_user();
        let req = bearer(&user, &signing);
        assert!(j.applies(&req) && !j.applies(&anonymous()));
        let who = j.authenticate(&req).unwrap();
        assert_eq!(
            (who.account.as_str(), who.identity, who.method),
            ("A", user.public_key(), AuthMethod::Jwt)
        );
        assert_eq!(
            who.max_subscriptions, None,
            "-1 (unlimited): only the server's limit"
        );
        assert!(matches!(
            j.authenticate(&bearer(&user, &KeyPair::new_account())),
            Err(AuthError::UnknownSigningKey { .. })
        ));
    }

    #[test]
    fn keys_are_checked_and_owned_once() {
        let key = KeyPair::new_account().public_key();
        let mut j = SigningKeyJwtAuth::new();
        assert!(matches!(
            j.add_account("A", None, &[KeyPair::new_user().public_key()], None),
            Err(AuthConfigError::InvalidAccountNkey(_))
        ));
        j.add_account("A", None, std::slice::from_ref(&key), None)
            .unwrap();
        assert!(matches!(
            j.add_account("B", None, &[key], None),
            Err(AuthConfigError::DuplicateSigningKey { .. })
        ));
        // Without signing keys nothing is issued.
        let mut k = SigningKeyJwtAuth::new();
        k.add_account("C", Some(&KeyPair::new_account().public_key()), &[], None)
            .unwrap();
        assert!(k.is_empty());
    }

    #[test]
    fn jwt_permissions_become_config_permissions() {
        let p = rnats_jwt::Permissions {
            publish: rnats_jwt::Permission::allow(["a.>"]),
            subscribe: rnats_jwt::Permission::default(),
            resp: Some(rnats_jwt::ResponsePermission { max: 0, ttl: -1 }),
        };
        let cfg = permissions_config(&p);
        assert_eq!(cfg.publish.map(|l| l.allow), Some(vec!["a.>".to_owned()]));
        assert!(cfg.subscribe.is_none());
        let rp = cfg.allow_responses.unwrap();
        assert_eq!((rp.max_msgs, rp.expires), (Some(1), None));
    }
}
