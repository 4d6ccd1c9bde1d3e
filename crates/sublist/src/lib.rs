//! A NATS subject trie: subscriptions with `*`/`>` wildcards and queue groups, matched against
//! published subjects, with a generation counter for result caches.
//!
//! ```
//! use rnats_sublist::{Match, MatchCache, Sublist};
//!
//! // Values are whatever identifies a subscription to the caller, here (client, sid).
//! let mut subs: Sublist<(u64, u32)> = Sublist::new();
//! subs.insert(b"orders.*.created", None, (1, 1))?;
//! subs.insert(b"orders.>", Some(b"billing"), (2, 7))?;
//! subs.insert(b"orders.>", Some(b"billing"), (3, 7))?;
//! subs.insert(b"orders.eu.*", Some(b"billing"), (4, 2))?;
//!
//! // Allocating: plain subscribers, and one entry per queue group (merged across nodes).
//! let found = subs.matches(b"orders.eu.created");
//! assert_eq!(found.plain, [(1, 1)]);
//! assert_eq!(found.queues.len(), 1);
//! assert_eq!(&*found.queues[0].group, b"billing");
//! assert_eq!(found.queues[0].members.len(), 3);
//!
//! // Non-allocating: a callback per subscription or per queue group and trie node.
//! let mut plain = 0;
//! subs.for_each_match(b"orders.us.created", |m| match m {
//!     Match::Plain(_) => plain += 1,
//!     Match::Queue { group, members } => assert_eq!((group, members.len()), (&b"billing"[..], 2)),
//! });
//! assert_eq!(plain, 1);
//!
//! // A per-connection cache that is dropped whenever the sublist changes.
//! let mut cache = MatchCache::new(512);
//! assert_eq!(cache.get(&subs, b"orders.us.created").len(), 3);
//! assert!(subs.remove(b"orders.*.created", None, &(1, 1)));
//! assert_eq!(cache.get(&subs, b"orders.us.created").len(), 2);
//! # Ok::<(), rnats_sublist::SubjectError>(())
//! ```
//!
//! # Subjects
//!
//! Subjects are `.`-separated, non-empty tokens without whitespace; `*` (one token) and `>` (one
//! or more tokens, last only) are wildcards when they are a whole token. Subscriptions are
//! validated on insert ([`validate_subject`], or once up front with [`Subject`]). Published
//! subjects are not: their `*` and `>` tokens are plain tokens that only wildcard subscriptions
//! match, exactly as nats-server does.
//!
//! # Subject mappings
//!
//! [`SubjectTransform`] and [`Mapping`] rewrite published subjects as nats-server's `mappings`
//! do (destination functions, weights); see their docs.
//!
//! # Concurrency
//!
//! There is no lock inside. Wrap a [`Sublist`] in an `RwLock`, or clone it and swap it behind
//! an `Arc` for copy-on-write readers, and keep one [`MatchCache`] per connection.
//!
//! This crate depends only on std and contains no `unsafe`.
#![warn(missing_docs)]

mod cache;
mod hash;
mod index;
mod subject;
mod sublist;
mod transform;

pub use cache::MatchCache;
pub use index::{LinearIndex, SubjectIndex};
pub use subject::{
    MAX_TOKENS, Subject, SubjectError, subject_matches, validate_literal_subject, validate_subject,
};
pub use sublist::{Match, Matches, QueueMatch, Sublist};
pub use transform::{Mapped, Mapping, MappingError, SubjectTransform, TransformError};

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
