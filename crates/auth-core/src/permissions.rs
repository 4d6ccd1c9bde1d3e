//! Publish/subscribe permissions compiled into subject tries, and the per-connection publish
//! cache.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rnats_config::{PermissionsConfig, SubjectPermission};
use rnats_sublist::{Match, Sublist, validate_subject};

use crate::error::PermissionError;

/// The queue group name clients may never use (nats-server reserves it for itself).
pub const RESERVED_QUEUE: &[u8] = b"_sys_";

/// Whether a client may never subscribe with queue group `queue`, whatever its permissions.
///
/// [`Permissions::may_subscribe`] applies this too; a broker must also check it for clients
/// that have no permissions at all.
pub fn is_reserved_queue(queue: &[u8]) -> bool {
    queue == RESERVED_QUEUE
}

/// `allow_responses`, with defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Replies allowed per received request; `None` is unlimited. Default 1.
    pub max: Option<u32>,
    /// How long the right to reply lasts. Default 2 minutes; "unlimited" (a negative value in
    /// the file or JWT) is [`ResponsePermission::UNLIMITED_TTL`], which is safe to add to an
    /// `Instant`.
    pub ttl: Duration,
}

impl ResponsePermission {
    /// The ttl standing for "no expiry": 100 years.
    pub const UNLIMITED_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

    fn from_config(rp: &rnats_config::ResponsePermission) -> Self {
        Self {
            max: rp.max_msgs.map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
            ttl: rp.expires.unwrap_or(Self::UNLIMITED_TTL),
        }
    }
}

impl Default for ResponsePermission {
    fn default() -> Self {
        Self {
            max: Some(1),
            ttl: Duration::from_secs(120),
        }
    }
}

/// A subscribe list; values are the entries' subjects, to check subsets (see
/// `Permissions::may_subscribe`).
type EntryTrie = Sublist<Box<[u8]>>;

/// Source of [`Permissions`] ids, so a [`PublishCache`] notices a new set.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A user's publish and subscribe permissions, compiled into subject tries.
///
/// Semantics (nats-server's, checked against 2.15.1):
/// * no allow list: everything is allowed; an allow list allows only what it matches;
/// * a deny entry always wins; wildcards in entries match as subscriptions do (an allow
///   `foo.>` permits `foo.a.b`; a deny `foo.*` blocks `foo.bar`);
/// * subscribe entries may be `"subject queue"`: see [`may_subscribe`](Self::may_subscribe);
/// * `allow_responses` turns an absent publish allow list into an empty one (only replies may
///   be published; the broker grants those per request).
pub struct Permissions {
    id: u64,
    publish_allow: Option<Sublist<()>>,
    publish_deny: Option<Sublist<()>>,
    subscribe_allow: Option<EntryTrie>,
    subscribe_deny: Option<EntryTrie>,
    /// Whether `subscribe_deny` has entries at all (the delivery filter's entries).
    deliver_filter: bool,
    responses: Option<ResponsePermission>,
    config: PermissionsConfig,
}

impl Permissions {
    /// Compiles `cfg`, checking every subject.
    pub fn compile(cfg: &PermissionsConfig) -> Result<Self, PermissionError> {
        let responses = cfg
            .allow_responses
            .as_ref()
            .map(ResponsePermission::from_config);
        let (mut publish_allow, publish_deny) = match &cfg.publish {
            Some(p) => (
                publish_list(&p.allow, "publish allow")?,
                publish_list(&p.deny, "publish deny")?,
            ),
            None => (None, None),
        };
        if responses.is_some() && publish_allow.is_none() {
            // nats-server: "turn off the blanket allow statement".
            publish_allow = Some(Sublist::new());
        }
        let (subscribe_allow, subscribe_deny, deliver_filter) = match &cfg.subscribe {
            Some(SubjectPermission { allow, deny, .. }) => {
                let (a, _) = subscribe_list(allow, "subscribe allow")?;
                let (d, _) = subscribe_list(deny, "subscribe deny")?;
                let filter = d.is_some();
                (a, d, filter)
            }
            None => (None, None, false),
        };
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            publish_allow,
            publish_deny,
            subscribe_allow,
            subscribe_deny,
            deliver_filter,
            responses,
            config: cfg.clone(),
        })
    }

    /// Whether a client may publish to `subject` (reply grants of `allow_responses` are the
    /// broker's to add on top).
    pub fn may_publish(&self, subject: &[u8]) -> bool {
        if let Some(allow) = &self.publish_allow
            && !any_match(allow, subject)
        {
            return false;
        }
        match &self.publish_deny {
            Some(deny) => !any_match(deny, subject),
            None => true,
        }
    }

    /// Whether a client may subscribe to `subject`, in queue group `queue` if given.
    ///
    /// * allow `foo`: plain and any queue; allow `foo v1`: only queue `v1`, no plain
    ///   subscription; both: plain, and queue `v1` only;
    /// * deny `foo v1` blocks only queue `v1`; deny `foo` blocks plain and every queue;
    /// * queue names in entries may hold `*`/`>` tokens, matched as subsets (`v1.*` admits
    ///   `v1.a` and `v1.*`, not `v1.>`);
    /// * queue [`RESERVED_QUEUE`] is always refused;
    /// * a wildcard subscription broader than a deny entry (allow `>`, deny `foo`, `SUB *`) is
    ///   accepted: [`may_deliver`](Self::may_deliver) drops the denied messages.
    pub fn may_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        if queue.is_some_and(is_reserved_queue) {
            return false;
        }
        if let Some(allow) = &self.subscribe_allow {
            let mut plain = false;
            let mut queue_entries = false;
            let mut queue_ok = false;
            // Only entries that cover the whole subscription count: nats-server 2.15.1 also
            // counts a `*` entry matching a `>` token, so allow `*` admits `SUB >` and
            // delivers every subject. rnats refuses that (deliberate deviation).
            allow.for_each_match(subject, |m| match m {
                Match::Plain(entry) => plain |= is_subset_match(subject, entry),
                Match::Queue { group, members } => {
                    if members.iter().any(|e| is_subset_match(subject, e)) {
                        queue_entries = true;
                        queue_ok |= queue.is_some_and(|q| queue_matches(q, group));
                    }
                }
            });
            let allowed = match queue {
                Some(_) if queue_entries => queue_ok,
                _ => plain,
            };
            if !allowed {
                return false;
            }
        }
        if let Some(deny) = &self.subscribe_deny {
            let mut denied = false;
            deny.for_each_match(subject, |m| match m {
                Match::Plain(_) => denied = true,
                Match::Queue { group, .. } => {
                    denied |= queue.is_some_and(|q| queue_matches(q, group));
                }
            });
            return !denied;
        }
        true
    }

    /// Whether a message on `subject` may be delivered to this client's subscription in queue
    /// group `queue` (`None`: a plain subscription): the subscribe deny entries filter
    /// deliveries to subscriptions broader than them. A plain entry denies every delivery of a
    /// subject it matches; a queue entry (`"admin.secret workers"`) denies deliveries to
    /// subscriptions in the queue groups it names, as [`may_subscribe`](Self::may_subscribe)
    /// would have denied subscribing to that subject in that group.
    pub fn may_deliver(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        if !self.deliver_filter {
            return true;
        }
        let Some(deny) = &self.subscribe_deny else {
            return true;
        };
        let mut denied = false;
        deny.for_each_match(subject, |m| match m {
            Match::Plain(_) => denied = true,
            Match::Queue { group, .. } => {
                denied |= queue.is_some_and(|q| queue_matches(q, group));
            }
        });
        !denied
    }

    /// Whether [`may_deliver`](Self::may_deliver) can ever say no (so a broker can skip it).
    pub fn has_delivery_filter(&self) -> bool {
        self.deliver_filter
    }

    /// Whether publish decisions can ever say no (so a broker can skip the check).
    pub fn restricts_publish(&self) -> bool {
        self.publish_allow.is_some() || self.publish_deny.is_some()
    }

    /// `allow_responses`, with defaults applied.
    pub fn responses(&self) -> Option<ResponsePermission> {
        self.responses
    }

    /// The configuration these permissions were compiled from (for user-info replies).
    pub fn config(&self) -> &PermissionsConfig {
        &self.config
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permissions")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn publish_list(
    entries: &[String],
    list: &'static str,
) -> Result<Option<Sublist<()>>, PermissionError> {
    if entries.is_empty() {
        return Ok(None);
    }
    let mut trie = Sublist::new();
    for e in entries {
        trie.insert(e.as_bytes(), None, ())
            .map_err(|reason| PermissionError::InvalidSubject {
                list,
                subject: e.clone(),
                reason,
            })?;
    }
    Ok(Some(trie))
}

/// A subscribe list; also says whether it has entries without a queue.
fn subscribe_list(
    entries: &[String],
    list: &'static str,
) -> Result<(Option<EntryTrie>, bool), PermissionError> {
    if entries.is_empty() {
        return Ok((None, false));
    }
    let mut trie = Sublist::new();
    let mut plain = false;
    for e in entries {
        let mut fields = e.split_ascii_whitespace();
        let (Some(subject), queue, None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(PermissionError::InvalidQueueEntry {
                list,
                entry: e.clone(),
            });
        };
        if let Some(q) = queue {
            validate_subject(q.as_bytes()).map_err(|_| PermissionError::InvalidQueueEntry {
                list,
                entry: e.clone(),
            })?;
        } else {
            plain = true;
        }
        trie.insert(
            subject.as_bytes(),
            queue.map(str::as_bytes),
            subject.as_bytes().into(),
        )
        .map_err(|reason| PermissionError::InvalidSubject {
            list,
            subject: e.clone(),
            reason,
        })?;
    }
    Ok((Some(trie), plain))
}

fn any_match(trie: &Sublist<()>, subject: &[u8]) -> bool {
    let mut found = false;
    trie.for_each_match(subject, |_| found = true);
    found
}

/// Whether the requested queue name `queue` is admitted by the entry's queue `pattern`: equal,
/// or (when the pattern has wildcard tokens) a subset of it.
fn queue_matches(queue: &[u8], pattern: &[u8]) -> bool {
    queue == pattern || (has_wildcard(pattern) && is_subset_match(queue, pattern))
}

fn has_wildcard(s: &[u8]) -> bool {
    s.split(|&b| b == b'.').any(|t| t == b"*" || t == b">")
}

/// Whether everything `subject` (which may contain wildcards) matches is also matched by
/// `pattern`.
pub(crate) fn is_subset_match(subject: &[u8], pattern: &[u8]) -> bool {
    let mut s = subject.split(|&b| b == b'.');
    let mut p = pattern.split(|&b| b == b'.');
    loop {
        match (s.next(), p.next()) {
            (None, None) => return true,
            (Some(st), Some(pt)) => {
                if pt.is_empty() || st.is_empty() {
                    return false;
                }
                if pt == b">" {
                    return p.next().is_none();
                }
                if st == b">" {
                    return false;
                }
                if st == b"*" {
                    if pt != b"*" {
                        return false;
                    }
                } else if pt != b"*" && pt != st {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Most entries a [`PublishCache`] keeps (nats-server's 128).
pub const PUBLISH_CACHE_CAPACITY: usize = 128;
/// Entries dropped when the cache is full (nats-server prunes 32).
const PUBLISH_CACHE_PRUNE: usize = 32;

/// A per-connection cache of publish decisions (nats-server keeps 128 entries and drops 32
/// arbitrary ones when full).
///
/// It remembers which [`Permissions`] it was filled from and starts over when given another
/// set (after a reload), so it never answers from stale rules.
#[derive(Debug, Default)]
pub struct PublishCache {
    permissions_id: u64,
    decisions: HashMap<Box<[u8]>, bool>,
}

impl PublishCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// [`Permissions::may_publish`], answered from the cache when possible.
    pub fn may_publish(&mut self, perms: &Permissions, subject: &[u8]) -> bool {
        if !perms.restricts_publish() {
            return true;
        }
        if self.permissions_id != perms.id {
            self.decisions.clear();
            self.permissions_id = perms.id;
        }
        if let Some(&allowed) = self.decisions.get(subject) {
            return allowed;
        }
        let allowed = perms.may_publish(subject);
        if self.decisions.len() >= PUBLISH_CACHE_CAPACITY {
            // HashMap iteration order is randomly seeded: this drops arbitrary entries.
            let victims: Vec<Box<[u8]>> = self
                .decisions
                .keys()
                .take(PUBLISH_CACHE_PRUNE)
                .cloned()
                .collect();
            for v in victims {
                self.decisions.remove(&v);
            }
        }
        self.decisions.insert(subject.into(), allowed);
        allowed
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.decisions.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }

    /// Forgets every decision.
    pub fn clear(&mut self) {
        self.decisions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_matching() {
        assert!(is_subset_match(b"foo", b"*"));
        assert!(is_subset_match(b"foo.bar", b"foo.>"));
        assert!(is_subset_match(b"foo.*", b"foo.>"));
        assert!(is_subset_match(b"foo.*", b"foo.*"));
        assert!(!is_subset_match(b"foo.>", b"foo.*"));
        assert!(!is_subset_match(b"foo.*", b"foo.bar"));
        assert!(!is_subset_match(b"foo", b"foo.>"));
        assert!(is_subset_match(b"v1.a", b"v1.*"));
        assert!(!is_subset_match(b"v1.a.b", b"v1.*"));
    }

    #[test]
    fn cache_is_bounded() {
        let mut cfg = PermissionsConfig::default();
        cfg.publish = Some(SubjectPermission::new(vec!["a.*".into()], vec![]));
        let p = Permissions::compile(&cfg).unwrap();
        let mut c = PublishCache::new();
        for i in 0..1000 {
            let s = format!("a.{i}");
            assert!(c.may_publish(&p, s.as_bytes()));
            assert!(c.len() <= PUBLISH_CACHE_CAPACITY);
        }
    }

    #[test]
    fn cache_follows_new_permissions() {
        let mut cfg = PermissionsConfig::default();
        cfg.publish = Some(SubjectPermission::new(vec!["a".into()], vec![]));
        let p1 = Permissions::compile(&cfg).unwrap();
        cfg.publish = Some(SubjectPermission::new(vec!["b".into()], vec![]));
        let p2 = Permissions::compile(&cfg).unwrap();
        let mut c = PublishCache::new();
        assert!(c.may_publish(&p1, b"a"));
        assert!(!c.may_publish(&p2, b"a"));
    }
}
