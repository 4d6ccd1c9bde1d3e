//! Why a permission set allows or denies a subject: [`Permissions::explain`], and the
//! permissions a configured user would get ([`configured_user`]), for operators asking "why
//! can't alice publish here?".

use std::sync::Arc;

use rnats_config::{PermissionsConfig, ServerConfig};
use rnats_sublist::{Match, Sublist};

use crate::permissions::{Permissions, ResponsePermission, is_reserved_queue, is_subset_match};
use crate::{GLOBAL_ACCOUNT, PermissionError};

/// The rule that decided one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The user has no permissions at all: everything is allowed.
    NoPermissions,
    /// There is no allow list and no deny entry matches: allowed.
    NotRestricted,
    /// An allow entry matches and no deny entry does: allowed.
    Allowed,
    /// A deny entry matches: denied (deny wins over allow).
    Denied,
    /// An allow list exists and no entry of it matches: denied (an allow list closes off
    /// everything it does not name).
    NotInAllowList,
    /// `allow_responses` without a publish allow list: only replies to received requests may
    /// be published, granted per request by the broker; denied otherwise.
    ResponsesOnly,
    /// The queue group `_sys_` is reserved: denied.
    ReservedQueue,
}

impl Rule {
    /// A short machine-readable name (`allowed`, `denied`, `not_in_allow_list`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoPermissions => "no_permissions",
            Self::NotRestricted => "not_restricted",
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::NotInAllowList => "not_in_allow_list",
            Self::ResponsesOnly => "responses_only",
            Self::ReservedQueue => "reserved_queue",
        }
    }
}

/// The verdict on one operation (publish or subscribe) and the entries behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// Whether the operation is allowed.
    pub allowed: bool,
    /// The rule that decided.
    pub rule: Rule,
    /// Allow entries that match, as written (`"subject"` or `"subject queue"`).
    pub allow: Vec<String>,
    /// Deny entries that match, as written.
    pub deny: Vec<String>,
}

impl Verdict {
    fn open(rule: Rule) -> Self {
        Self {
            allowed: true,
            rule,
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }

    /// One sentence for people: the verdict and the entry that decided.
    pub fn describe(&self) -> String {
        let first = |v: &[String]| v.first().cloned().unwrap_or_default();
        match self.rule {
            Rule::NoPermissions => "allowed: the user has no permissions, everything is allowed".into(),
            Rule::NotRestricted => "allowed: no allow list, and no deny entry matches".into(),
            Rule::Allowed => format!("allowed by allow entry {:?}", first(&self.allow)),
            Rule::Denied => format!(
                "denied by deny entry {:?} (deny wins over allow)",
                first(&self.deny)
            ),
            Rule::NotInAllowList => {
                "denied: the allow list has no matching entry, and an allow list closes off everything else".into()
            }
            Rule::ResponsesOnly => {
                "denied: allow_responses without a publish allow list allows only replies to received requests".into()
            }
            Rule::ReservedQueue => "denied: the queue group _sys_ is reserved".into(),
        }
    }
}

/// What [`Permissions::explain`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Explanation {
    /// Publishing to the subject.
    pub publish: Verdict,
    /// Subscribing to the subject (in the queue group, when one was given).
    pub subscribe: Verdict,
    /// For a subscription broader than some deny entries (`SUB >` with deny `secret.>`): the
    /// deny entries whose subjects are dropped at delivery although the subscription is
    /// allowed.
    pub filtered_at_delivery: Vec<String>,
    /// `allow_responses`, when set: replies to received requests may be published within
    /// these bounds whatever the publish verdict says.
    pub responses: Option<ResponsePermission>,
}

impl Explanation {
    /// The explanation for a user without permissions: everything allowed (except the
    /// reserved queue group).
    pub fn unrestricted(queue: Option<&[u8]>) -> Self {
        let subscribe = if queue.is_some_and(is_reserved_queue) {
            Verdict {
                allowed: false,
                ..Verdict::open(Rule::ReservedQueue)
            }
        } else {
            Verdict::open(Rule::NoPermissions)
        };
        Self {
            publish: Verdict::open(Rule::NoPermissions),
            subscribe,
            filtered_at_delivery: Vec::new(),
            responses: None,
        }
    }
}

/// Whether the one-entry list `entry` (with its queue, if any) matches `subject` as the
/// compiled tries do; the queue's own match is returned beside it.
fn entry_hits(entry: &str, subject: &[u8]) -> Option<(bool, Option<String>)> {
    let mut fields = entry.split_ascii_whitespace();
    let s = fields.next()?;
    let q = fields.next();
    let mut trie: Sublist<()> = Sublist::new();
    trie.insert(s.as_bytes(), q.map(str::as_bytes), ()).ok()?;
    let mut hit = false;
    trie.for_each_match(subject, |m| {
        hit |= matches!(m, Match::Plain(_) | Match::Queue { .. });
    });
    hit.then(|| (is_subset_match(subject, s.as_bytes()), q.map(str::to_owned)))
}

impl Permissions {
    /// Which entries allow or deny publishing to `subject` and subscribing to it (in `queue`
    /// if given), and the verdicts, which are always those of
    /// [`may_publish`](Self::may_publish) and [`may_subscribe`](Self::may_subscribe).
    ///
    /// ```
    /// use rnats_auth::{Permissions, Rule};
    /// use rnats_config::{PermissionsConfig, SubjectPermission};
    ///
    /// let mut cfg = PermissionsConfig::default();
    /// cfg.publish = Some(SubjectPermission::new(vec!["orders.>".into()], vec!["orders.secret".into()]));
    /// let p = Permissions::compile(&cfg)?;
    /// let e = p.explain(b"orders.secret", None);
    /// assert!(!e.publish.allowed);
    /// assert_eq!(e.publish.rule, Rule::Denied);
    /// assert_eq!((e.publish.allow.clone(), e.publish.deny.clone()), (vec!["orders.>".to_owned()], vec!["orders.secret".to_owned()]));
    /// assert_eq!(p.explain(b"billing", None).publish.rule, Rule::NotInAllowList);
    /// assert_eq!(p.explain(b"billing", None).subscribe.rule, Rule::NotRestricted);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain(&self, subject: &[u8], queue: Option<&[u8]>) -> Explanation {
        let cfg = self.config();
        let publish = {
            let (allow_list, deny_list) = cfg
                .publish
                .as_ref()
                .map_or((&[][..], &[][..]), |p| (&p.allow[..], &p.deny[..]));
            let allow: Vec<String> = allow_list
                .iter()
                .filter(|e| entry_hits(e, subject).is_some())
                .cloned()
                .collect();
            let deny: Vec<String> = deny_list
                .iter()
                .filter(|e| entry_hits(e, subject).is_some())
                .cloned()
                .collect();
            let allowed = self.may_publish(subject);
            let rule = if !deny.is_empty() {
                Rule::Denied
            } else if !allow.is_empty() {
                Rule::Allowed
            } else if allow_list.is_empty() && cfg.allow_responses.is_some() {
                Rule::ResponsesOnly
            } else if !allow_list.is_empty() {
                Rule::NotInAllowList
            } else {
                Rule::NotRestricted
            };
            Verdict {
                allowed,
                rule,
                allow,
                deny,
            }
        };
        let (allow_list, deny_list) = cfg
            .subscribe
            .as_ref()
            .map_or((&[][..], &[][..]), |p| (&p.allow[..], &p.deny[..]));
        let queue_str = queue.map(|q| String::from_utf8_lossy(q).into_owned());
        // Allow entries count when they cover the whole subscription (see may_subscribe).
        let allow: Vec<String> = allow_list
            .iter()
            .filter(|e| matches!(entry_hits(e, subject), Some((true, _))))
            .cloned()
            .collect();
        let mut deny = Vec::new();
        let mut filtered = Vec::new();
        for e in deny_list {
            match entry_hits(e, subject) {
                Some((_, None)) => deny.push(e.clone()),
                Some((_, Some(q))) if queue_str.as_deref() == Some(q.as_str()) => {
                    deny.push(e.clone());
                }
                Some(_) => {}
                None => {
                    // A narrower deny entry inside a wildcard subscription (a queue entry only
                    // filters deliveries to subscriptions in that queue group).
                    let mut fields = e.split_ascii_whitespace();
                    let s = fields.next().unwrap_or_default();
                    let same_queue = fields
                        .next()
                        .is_none_or(|q| queue_str.as_deref() == Some(q));
                    if same_queue && is_subset_match(s.as_bytes(), subject) {
                        filtered.push(e.clone());
                    }
                }
            }
        }
        let allowed = self.may_subscribe(subject, queue);
        let rule = if queue.is_some_and(is_reserved_queue) {
            Rule::ReservedQueue
        } else if !allowed && !deny.is_empty() {
            Rule::Denied
        } else if !allow_list.is_empty() && !allowed {
            Rule::NotInAllowList
        } else if !allow.is_empty() {
            Rule::Allowed
        } else {
            Rule::NotRestricted
        };
        Explanation {
            publish,
            subscribe: Verdict {
                allowed,
                rule,
                allow,
                deny,
            },
            filtered_at_delivery: filtered,
            responses: self.responses(),
        }
    }
}

/// A configured user as a login would bind it (see [`configured_user`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfiguredUser {
    /// The account the user lands in.
    pub account: String,
    /// Its permissions (`None`: everything allowed).
    pub permissions: Option<Arc<Permissions>>,
}

/// A configured user (by name or NKey) as a login would bind it: the account it lands in and
/// its permissions (its own, else the applicable `default_permissions`), from the
/// configuration alone, without credentials. `None` when no configured user has that name;
/// users of operator mode (JWTs) are not in the configuration.
pub fn configured_user(
    cfg: &ServerConfig,
    name: &str,
) -> Option<Result<ConfiguredUser, PermissionError>> {
    let is = |u: &rnats_config::UserConfig| {
        u.user.as_deref() == Some(name) || u.nkey.as_deref() == Some(name)
    };
    let account_default = |account: &str| {
        cfg.accounts
            .iter()
            .find(|a| a.name == account)
            .and_then(|a| a.default_permissions.clone())
    };
    let bind = |account: String, p: Option<PermissionsConfig>| {
        let permissions = p
            .map(|p| Permissions::compile(&p).map(Arc::new))
            .transpose()?;
        Ok(ConfiguredUser {
            account,
            permissions,
        })
    };
    if let Some(auth) = &cfg.authorization
        && let Some(u) = auth.users.iter().find(|u| is(u))
    {
        let account = u.account.clone().unwrap_or_else(|| GLOBAL_ACCOUNT.into());
        // As ServerAuth: own permissions, else the global default, else the account's.
        let p = u
            .permissions
            .clone()
            .or_else(|| auth.default_permissions.clone())
            .or_else(|| account_default(&account));
        return Some(bind(account, p));
    }
    for a in &cfg.accounts {
        if let Some(u) = a.users.iter().find(|u| is(u)) {
            let p = u
                .permissions
                .clone()
                .or_else(|| a.default_permissions.clone());
            return Some(bind(a.name.clone(), p));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use rnats_config::SubjectPermission;

    use super::*;

    fn perms(
        publish: Option<SubjectPermission>,
        subscribe: Option<SubjectPermission>,
    ) -> Permissions {
        let mut cfg = PermissionsConfig::default();
        cfg.publish = publish;
        cfg.subscribe = subscribe;
        Permissions::compile(&cfg).unwrap()
    }

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn deny_wins_and_allow_lists_close_off_the_rest() {
        let p = perms(
            Some(SubjectPermission::new(
                list(&["orders.>", "billing"]),
                list(&["orders.secret"]),
            )),
            Some(SubjectPermission::new(
                list(&["orders.*", "jobs workers"]),
                list(&["orders.audit"]),
            )),
        );
        let e = p.explain(b"orders.secret", None);
        assert_eq!((e.publish.allowed, e.publish.rule), (false, Rule::Denied));
        assert_eq!(e.publish.deny, list(&["orders.secret"]));
        assert_eq!(e.publish.allow, list(&["orders.>"]));
        let e = p.explain(b"orders.eu", None);
        assert_eq!((e.publish.allowed, e.publish.rule), (true, Rule::Allowed));
        assert_eq!(
            (e.subscribe.allowed, e.subscribe.rule),
            (true, Rule::Allowed)
        );
        assert_eq!(e.subscribe.allow, list(&["orders.*"]));
        let e = p.explain(b"other", None);
        assert_eq!(
            (e.publish.allowed, e.publish.rule),
            (false, Rule::NotInAllowList)
        );
        assert_eq!(
            (e.subscribe.allowed, e.subscribe.rule),
            (false, Rule::NotInAllowList)
        );
        let e = p.explain(b"orders.audit", None);
        assert_eq!(
            (e.subscribe.allowed, e.subscribe.rule),
            (false, Rule::Denied)
        );
        // Queue entries: `jobs workers` admits queue workers only.
        assert!(p.explain(b"jobs", Some(b"workers")).subscribe.allowed);
        let e = p.explain(b"jobs", None);
        assert_eq!(
            (e.subscribe.allowed, e.subscribe.rule),
            (false, Rule::NotInAllowList)
        );
        let e = p.explain(b"orders.x", Some(b"_sys_"));
        assert_eq!(
            (e.subscribe.allowed, e.subscribe.rule),
            (false, Rule::ReservedQueue)
        );
    }

    #[test]
    fn broad_subscriptions_name_the_entries_filtered_at_delivery() {
        let p = perms(
            None,
            Some(SubjectPermission::new(vec![], list(&["secret.>"]))),
        );
        let e = p.explain(b">", None);
        assert_eq!(
            (e.subscribe.allowed, e.subscribe.rule),
            (true, Rule::NotRestricted)
        );
        assert_eq!(e.filtered_at_delivery, list(&["secret.>"]));
        let e = p.explain(b"secret.x", None);
        assert_eq!(
            (e.subscribe.allowed, e.subscribe.rule),
            (false, Rule::Denied)
        );
        let p = perms(
            None,
            Some(SubjectPermission::new(vec![], list(&["secret.x workers"]))),
        );
        assert!(p.explain(b"secret.*", None).filtered_at_delivery.is_empty());
        assert_eq!(
            p.explain(b"secret.*", Some(b"workers"))
                .filtered_at_delivery,
            list(&["secret.x workers"])
        );
    }

    #[test]
    fn responses_only() {
        let mut cfg = PermissionsConfig::default();
        cfg.allow_responses = Some(rnats_config::ResponsePermission::default());
        let p = Permissions::compile(&cfg).unwrap();
        let e = p.explain(b"anything", None);
        assert_eq!(
            (e.publish.allowed, e.publish.rule),
            (false, Rule::ResponsesOnly)
        );
        assert!(e.responses.is_some());
    }

    /// The verdicts always agree with the checks themselves.
    #[test]
    fn verdicts_agree_with_may_publish_and_may_subscribe() {
        let p = perms(
            Some(SubjectPermission::new(
                list(&["a.*", "b.>"]),
                list(&["a.x", "b.c.>"]),
            )),
            Some(SubjectPermission::new(
                list(&["a.>", "q.* g1", "q.x"]),
                list(&["a.b", "q.y g1"]),
            )),
        );
        for s in [
            "a.x", "a.y", "b.c.d", "b.d", "q.x", "q.y", "a.*", "a.>", "c", ">",
        ] {
            for q in [None, Some(&b"g1"[..]), Some(&b"g2"[..])] {
                let e = p.explain(s.as_bytes(), q);
                assert_eq!(e.publish.allowed, p.may_publish(s.as_bytes()), "{s}");
                assert_eq!(
                    e.subscribe.allowed,
                    p.may_subscribe(s.as_bytes(), q),
                    "{s} {q:?}"
                );
            }
        }
    }

    #[test]
    fn configured_users_get_their_own_or_default_permissions() {
        let cfg = rnats_config::load_str(
            r#"accounts { A { users = [ { user: a, password: x } ], default_permissions { publish: "a.>" } } }
               authorization { users = [ { user: g, password: y, permissions { publish: "g" } } ] }"#,
            None,
        )
        .unwrap()
        .config;
        let a = configured_user(&cfg, "a").unwrap().unwrap();
        assert_eq!(a.account, "A");
        assert!(a.permissions.unwrap().may_publish(b"a.b"));
        let g = configured_user(&cfg, "g").unwrap().unwrap();
        assert_eq!(g.account, "$G");
        assert!(!g.permissions.unwrap().may_publish(b"a.b"));
        assert!(configured_user(&cfg, "nobody").is_none());
    }
}
