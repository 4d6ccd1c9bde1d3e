//! The subject trie.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::hash::TokenHashBuilder;
use crate::subject::{Subject, SubjectError, validate_subject};

/// Source of generation numbers, shared by every index in the process.
///
/// Drawing from one counter makes a generation name one state of one index: a cache filled from
/// one `Sublist` can never mistake another `Sublist` for it (a clone shares the number only until
/// either side changes, and until then their contents are equal).
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// A generation number never handed out before (0 is never returned).
pub(crate) fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// A subject trie mapping subscriptions (a subject with `*`/`>` wildcards, an optional queue
/// group, and a value `T`) to the published subjects they match.
///
/// Each node holds a map from literal token to child plus separate `*` and `>` children, so a
/// match costs one map lookup per token and level, independent of how many subscriptions exist.
///
/// There is no lock inside: wrap it in whatever the caller prefers (`RwLock`, copy-on-write
/// behind an `ArcSwap`, one per thread).
///
/// The same `(subject, queue, value)` may be inserted more than once; each copy is a separate
/// entry and [`remove`](Self::remove) takes one away. Entries in a node keep no particular order.
pub struct Sublist<T> {
    root: Node<T>,
    hasher: TokenHashBuilder,
    len: usize,
    nodes: usize,
    generation: u64,
}

/// One entry reported by [`Sublist::for_each_match`].
#[derive(Debug)]
pub enum Match<'a, T> {
    /// A subscription without a queue group: deliver to it.
    Plain(&'a T),
    /// The members of queue group `group` found in one trie node: deliver to one of them.
    Queue {
        /// The queue group's name.
        group: &'a [u8],
        /// The group's members in this node (never empty).
        members: &'a [T],
    },
}

// Manual impls: deriving would demand `T: Clone`/`T: Copy` for what are only references.
impl<T> Clone for Match<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Match<'_, T> {}

/// Everything a published subject matched, owned (see [`Sublist::matches`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matches<T> {
    /// Subscriptions without a queue group, one entry per subscription.
    pub plain: Vec<T>,
    /// One entry per distinct queue group name, with every matching member of that group.
    pub queues: Vec<QueueMatch<T>>,
}

/// The matching members of one queue group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMatch<T> {
    /// The queue group's name.
    pub group: Box<[u8]>,
    /// Every matching member, across all subscriptions of the group (never empty).
    pub members: Vec<T>,
}

impl<T> Matches<T> {
    /// Whether nothing matched.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.iter().all(|q| q.members.is_empty())
    }

    /// The total number of entries: plain subscriptions plus all queue members.
    pub fn len(&self) -> usize {
        self.plain.len() + self.queues.iter().map(|q| q.members.len()).sum::<usize>()
    }

    /// Adds one node's members of `group`, merging with an earlier entry of the same name.
    pub(crate) fn add_queue_members(&mut self, group: &[u8], members: &[T])
    where
        T: Clone,
    {
        // Results rarely hold more than a handful of groups: a scan beats a map here.
        match self.queues.iter_mut().find(|q| *q.group == *group) {
            Some(q) => q.members.extend_from_slice(members),
            None => self.queues.push(QueueMatch {
                group: group.into(),
                members: members.to_vec(),
            }),
        }
    }
}

impl<T> Default for Matches<T> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T> Sublist<T> {
    /// Calls `f` once with every entry (plain subscriptions and queue members), in no
    /// particular order. For inspection (monitoring), not for routing.
    pub fn for_each(&self, mut f: impl FnMut(&T)) {
        self.root.visit(&mut f);
    }

    /// An empty sublist. Allocates nothing.
    pub fn new() -> Self {
        let hasher = TokenHashBuilder::random();
        Self {
            root: Node::new(),
            hasher,
            len: 0,
            nodes: 0,
            generation: next_generation(),
        }
    }

    /// Adds a subscription to `subject` (wildcards allowed), in queue group `queue` if given.
    ///
    /// The subject is validated with [`validate_subject`]; on error nothing changes. The queue
    /// name is taken as is (the protocol parser has already split it on whitespace).
    pub fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        value: T,
    ) -> Result<(), SubjectError> {
        validate_subject(subject)?;
        self.insert_valid(subject, queue, value);
        Ok(())
    }

    /// Adds a subscription to an already validated subject; cannot fail.
    pub fn insert_subject(&mut self, subject: &Subject, queue: Option<&[u8]>, value: T) {
        self.insert_valid(subject.as_bytes(), queue, value);
    }

    fn insert_valid(&mut self, subject: &[u8], queue: Option<&[u8]>, value: T) {
        let mut created = 0;
        self.root
            .insert(subject, queue, value, &self.hasher, &mut created);
        self.nodes += created;
        self.len += 1;
        self.generation = next_generation();
    }

    /// Removes one entry equal to `value` subscribed to exactly `subject` in exactly `queue`.
    ///
    /// Returns whether one was found. Nodes left empty are freed, so memory does not grow under
    /// subscribe/unsubscribe churn.
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, value: &T) -> bool
    where
        T: PartialEq,
    {
        let mut pruned = 0;
        if !self.root.remove(subject, queue, value, &mut pruned) {
            return false;
        }
        self.nodes -= pruned;
        self.len -= 1;
        self.generation = next_generation();
        true
    }

    /// Calls `f` for every subscription matching the published subject `subject`; allocates
    /// nothing.
    ///
    /// `subject` is not checked for wildcards: a `*` or `>` token in it is an ordinary token that
    /// only wildcard subscriptions match, as in nats-server (publishing to `foo.*` reaches
    /// `foo.*` and `foo.>`, never `foo.bar`). An empty subject, or one with an empty token,
    /// matches nothing.
    ///
    /// Queue groups are reported per trie node: if members of group `g` subscribed to both
    /// `foo.*` and `foo.>`, `f` sees two `Match::Queue` for `g`, and the caller must treat them
    /// as one group when picking a member. [`matches`](Self::matches) merges them.
    pub fn for_each_match<'a, F>(&'a self, subject: &[u8], mut f: F)
    where
        F: FnMut(Match<'a, T>),
    {
        visit(
            &self.root,
            subject,
            &mut |plain: &'a [T], queues: &'a [QueueGroup<T>]| {
                for value in plain {
                    f(Match::Plain(value));
                }
                for group in queues {
                    f(Match::Queue {
                        group: &group.name,
                        members: &group.members,
                    });
                }
            },
        );
    }

    /// Every subscription matching `subject`, cloned, with queue members merged by group name
    /// (one [`QueueMatch`] per name). Same subject rules as [`for_each_match`](Self::for_each_match).
    pub fn matches(&self, subject: &[u8]) -> Matches<T>
    where
        T: Clone,
    {
        let mut out = Matches::default();
        visit(
            &self.root,
            subject,
            &mut |plain: &[T], queues: &[QueueGroup<T>]| {
                out.plain.extend_from_slice(plain);
                for group in queues {
                    out.add_queue_members(&group.name, &group.members);
                }
            },
        );
        out
    }

    /// A number that changes on every successful [`insert`](Self::insert) and
    /// [`remove`](Self::remove), for invalidating caches of match results.
    ///
    /// Numbers come from one process-wide counter, so two sublists never report the same
    /// generation unless one is an unmodified clone of the other.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The number of subscriptions (entries) held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no subscription is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of trie nodes below the root, for tests and memory diagnostics. Zero when the
    /// sublist is empty.
    pub fn node_count(&self) -> usize {
        self.nodes
    }
}

impl<T> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone> Clone for Sublist<T> {
    /// A deep copy with the same generation (the contents are equal until either changes).
    fn clone(&self) -> Self {
        Self {
            root: self.root.clone(),
            hasher: self.hasher.clone(),
            len: self.len,
            nodes: self.nodes,
            generation: self.generation,
        }
    }
}

impl<T> fmt::Debug for Sublist<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sublist")
            .field("len", &self.len)
            .field("nodes", &self.nodes)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The longest token stored inline; keeps `Token` at 16 bytes, so that a map slot (token and
/// node) fits in one cache line.
const INLINE_TOKEN: usize = 14;

/// One literal token as a map key, stored inline when short (nearly always) so that a lookup
/// compares bytes without following a pointer.
#[derive(Clone)]
enum Token {
    Inline {
        len: u8,
        bytes: [u8; INLINE_TOKEN],
    },
    /// Longer tokens are rare: a thin pointer (one more indirection) keeps the enum small.
    Heap(Box<Box<[u8]>>),
}

impl Token {
    fn new(token: &[u8]) -> Self {
        match u8::try_from(token.len()) {
            Ok(len) if token.len() <= INLINE_TOKEN => {
                let mut bytes = [0; INLINE_TOKEN];
                bytes[..token.len()].copy_from_slice(token);
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(Box::new(token.into())),
        }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(bytes) => bytes,
        }
    }
}

// Borrow<[u8]> requires Hash and Eq to agree with `[u8]`'s: all three go through `as_bytes`.
impl Borrow<[u8]> for Token {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for Token {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Token {}

type TokenMap<T> = HashMap<Token, Node<T>, TokenHashBuilder>;

/// The literal children of a node: a short vector scanned in order while there are few (most
/// nodes of a large trie have one child), a hash map beyond that.
#[derive(Clone)]
enum Children<T> {
    /// Exactly one child, holding nothing but plain subscriptions: the last token of most
    /// subjects in a large trie (`orders.<region>.<id>.created`). Kept inline, so a match ending
    /// here reads it from the parent's map slot instead of from one more allocation.
    Leaf(Token, Plain<T>),
    Few(Vec<(Token, Node<T>)>),
    /// Boxed: few nodes have a map, and keeping `Children` at the size of a `Vec` keeps every
    /// node, and so every map slot, small.
    Many(Box<TokenMap<T>>),
}

impl<T> Children<T> {
    /// Above this many children a node switches to a map.
    const FEW_MAX: usize = 8;
    /// At or below this many children a map switches back (hysteresis against flapping).
    const MANY_MIN: usize = 4;

    #[inline]
    fn get(&self, token: &[u8]) -> Option<Child<'_, T>> {
        match self {
            Self::Leaf(t, plain) => (t.as_bytes() == token).then_some(Child::Leaf(plain)),
            Self::Few(few) => few
                .iter()
                .find(|(t, _)| t.as_bytes() == token)
                .map(|(_, node)| Child::Node(node)),
            Self::Many(map) => map.get(token).map(Child::Node),
        }
    }

    /// The child node for `token`; `None` also for a leaf (see [`Node::remove`]).
    fn get_mut(&mut self, token: &[u8]) -> Option<&mut Node<T>> {
        match self {
            Self::Leaf(..) => None,
            Self::Few(few) => few
                .iter_mut()
                .find(|(t, _)| t.as_bytes() == token)
                .map(|(_, node)| node),
            Self::Many(map) => map.get_mut(token),
        }
    }

    fn get_or_insert(
        &mut self,
        token: &[u8],
        hasher: &TokenHashBuilder,
        created: &mut usize,
    ) -> &mut Node<T> {
        self.expand_leaf();
        if let Self::Few(few) = self
            && few.len() >= Self::FEW_MAX
            && !few.iter().any(|(t, _)| t.as_bytes() == token)
        {
            let map = std::mem::take(few).into_iter();
            let mut many = HashMap::with_capacity_and_hasher(map.len() + 1, hasher.clone());
            many.extend(map);
            *self = Self::Many(Box::new(many));
        }
        match self {
            Self::Few(few) => {
                let at = match few.iter().position(|(t, _)| t.as_bytes() == token) {
                    Some(at) => at,
                    None => {
                        *created += 1;
                        // Exact growth: most nodes keep one or two children for life.
                        few.reserve_exact(1);
                        few.push((Token::new(token), Node::new()));
                        few.len() - 1
                    }
                };
                &mut few[at].1
            }
            Self::Many(map) => map.entry(Token::new(token)).or_insert_with(|| {
                *created += 1;
                Node::new()
            }),
            // `expand_leaf` above leaves no `Leaf`; should that ever change, expanding again and
            // retrying is still correct, and nothing reachable from a SUB can panic here.
            Self::Leaf(..) => {
                self.expand_leaf();
                self.get_or_insert(token, hasher, created)
            }
        }
    }

    /// Turns a leaf into the equivalent one-element `Few`, so that it can be changed as a node.
    fn expand_leaf(&mut self) {
        if !matches!(self, Self::Leaf(..)) {
            return;
        }
        if let Self::Leaf(token, plain) = std::mem::replace(self, Self::Few(Vec::new())) {
            let node = Node {
                literal: Self::Few(Vec::new()),
                plain,
                rare: None,
            };
            *self = Self::Few(vec![(token, node)]);
        }
    }

    /// Turns a single child holding only plain subscriptions into a leaf.
    fn compact(&mut self) {
        if let Self::Few(few) = self
            && let [(_, only)] = few.as_slice()
            && only.literal.is_empty()
            && only.rare.is_none()
            && let Some((token, node)) = few.pop()
        {
            *self = Self::Leaf(token, node.plain);
        }
    }

    fn remove(&mut self, token: &[u8]) {
        match self {
            Self::Leaf(t, _) => {
                if t.as_bytes() == token {
                    *self = Self::Few(Vec::new());
                }
            }
            Self::Few(few) => {
                if let Some(at) = few.iter().position(|(t, _)| t.as_bytes() == token) {
                    few.swap_remove(at);
                    if few.is_empty() || few.capacity() > few.len() + 2 {
                        few.shrink_to_fit();
                    }
                }
            }
            Self::Many(map) => {
                map.remove(token);
                if map.len() <= Self::MANY_MIN {
                    let mut few = Vec::with_capacity(map.len());
                    few.extend(map.drain());
                    *self = Self::Few(few);
                } else if map.len() * 4 < map.capacity() {
                    map.shrink_to(map.len() * 2);
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Leaf(..) => false,
            Self::Few(few) => few.is_empty(),
            Self::Many(map) => map.is_empty(),
        }
    }

    #[cfg(test)]
    fn allocated(&self) -> usize {
        match self {
            Self::Leaf(..) => 1,
            Self::Few(few) => few.capacity(),
            Self::Many(map) => map.capacity(),
        }
    }
}

/// A child found by [`Children::get`].
enum Child<'a, T> {
    Node(&'a Node<T>),
    /// A [`Children::Leaf`]: plain subscriptions only, nothing below.
    Leaf(&'a Plain<T>),
}

/// The position after some tokens: subscriptions ending here, and the ways to go on.
///
/// Only what nearly every match reads is inline (literal children, plain subscriptions); the
/// rarely present `*`/`>` children and queue groups sit behind one pointer, so a node (and the
/// map slot holding it) spans fewer cache lines, and a match tests one pointer to skip them all.
#[derive(Clone)]
struct Node<T> {
    literal: Children<T>,
    plain: Plain<T>,
    rare: Option<Box<Rare<T>>>,
}

/// The parts of a node that most nodes of a large trie lack.
#[derive(Clone)]
struct Rare<T> {
    /// The `*` child.
    pwc: Option<Box<Node<T>>>,
    /// Subscriptions ending in `>` here; `>` is last, so it has no children.
    fwc: Option<Subs<T>>,
    /// Queue subscriptions ending at this node.
    queues: Vec<QueueGroup<T>>,
}

impl<T> Rare<T> {
    fn is_empty(&self) -> bool {
        self.pwc.is_none() && self.fwc.is_none() && self.queues.is_empty()
    }
}

/// The subscriptions that end at one node.
#[derive(Clone)]
struct Subs<T> {
    plain: Plain<T>,
    queues: Vec<QueueGroup<T>>,
}

/// The plain subscriptions of a node. Most nodes of a large trie hold exactly one, kept inline
/// to save a dependent memory access on every match that reaches it.
#[derive(Clone)]
enum Plain<T> {
    None,
    One(T),
    /// Two or more. Boxed so that `Plain` is no larger than `One` needs (16 bytes for a
    /// `u64`), which with the 16-byte `Token` makes a map slot exactly one cache line.
    // The box is the point: a thin pointer keeps `Plain` at 16 bytes (see above).
    #[allow(clippy::box_collection)]
    Many(Box<Vec<T>>),
}

impl<T> Plain<T> {
    #[inline]
    fn as_slice(&self) -> &[T] {
        match self {
            Self::None => &[],
            Self::One(value) => std::slice::from_ref(value),
            Self::Many(values) => values,
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Self::None)
    }

    fn push(&mut self, value: T) {
        *self = match std::mem::replace(self, Self::None) {
            Self::None => Self::One(value),
            Self::One(first) => Self::Many(Box::new(vec![first, value])),
            Self::Many(mut values) => {
                values.push(value);
                Self::Many(values)
            }
        };
    }

    fn remove(&mut self, value: &T) -> bool
    where
        T: PartialEq,
    {
        match self {
            Self::None => false,
            Self::One(only) => {
                if only != value {
                    return false;
                }
                *self = Self::None;
                true
            }
            Self::Many(values) => {
                if !swap_remove_equal(values, value) {
                    return false;
                }
                if values.len() == 1
                    && let Some(last) = values.pop()
                {
                    *self = Self::One(last);
                }
                true
            }
        }
    }
}

#[derive(Clone)]
struct QueueGroup<T> {
    name: Box<[u8]>,
    members: Vec<T>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Self {
            literal: Children::Few(Vec::new()),
            plain: Plain::None,
            rare: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.literal.is_empty() && self.rare.is_none()
    }

    /// Every entry at and below this node.
    fn visit(&self, f: &mut dyn FnMut(&T)) {
        self.plain.as_slice().iter().for_each(&mut *f);
        for group in self.queues() {
            group.members.iter().for_each(&mut *f);
        }
        match &self.literal {
            Children::Leaf(_, plain) => plain.as_slice().iter().for_each(&mut *f),
            Children::Few(few) => few.iter().for_each(|(_, node)| node.visit(f)),
            Children::Many(map) => map.values().for_each(|node| node.visit(f)),
        }
        if let Some(rare) = &self.rare {
            if let Some(pwc) = &rare.pwc {
                pwc.visit(f);
            }
            if let Some(fwc) = &rare.fwc {
                fwc.plain.as_slice().iter().for_each(&mut *f);
                for group in &fwc.queues {
                    group.members.iter().for_each(&mut *f);
                }
            }
        }
    }

    fn rare_mut(&mut self) -> &mut Rare<T> {
        self.rare.get_or_insert_with(|| {
            Box::new(Rare {
                pwc: None,
                fwc: None,
                queues: Vec::new(),
            })
        })
    }

    /// Frees the rare part once nothing is left in it.
    fn tidy_rare(&mut self) {
        if self.rare.as_deref().is_some_and(Rare::is_empty) {
            self.rare = None;
        }
    }

    #[inline]
    fn queues(&self) -> &[QueueGroup<T>] {
        match &self.rare {
            Some(rare) => &rare.queues,
            None => &[],
        }
    }

    fn add(&mut self, queue: Option<&[u8]>, value: T) {
        match queue {
            None => self.plain.push(value),
            Some(queue) => add_queue_member(&mut self.rare_mut().queues, queue, value),
        }
    }

    fn remove_here(&mut self, queue: Option<&[u8]>, value: &T) -> bool
    where
        T: PartialEq,
    {
        let Some(queue) = queue else {
            return self.plain.remove(value);
        };
        let Some(rare) = self.rare.as_deref_mut() else {
            return false;
        };
        if !remove_queue_member(&mut rare.queues, queue, value) {
            return false;
        }
        self.tidy_rare();
        true
    }

    /// Inserts below this node along the (validated) `rest`, counting new nodes in `created`.
    ///
    /// Recursive (depth = number of tokens) so that the "get or insert" of a child never has to
    /// carry a conditional borrow across loop iterations.
    fn insert(
        &mut self,
        rest: &[u8],
        queue: Option<&[u8]>,
        value: T,
        hasher: &TokenHashBuilder,
        created: &mut usize,
    ) {
        let (token, next) = split_token(rest);
        if token == b">" {
            // Validation guarantees `next` is None.
            let subs = self.rare_mut().fwc.get_or_insert_with(|| {
                *created += 1;
                Subs::default()
            });
            subs.add(queue, value);
            return;
        }
        let child: &mut Self = if token == b"*" {
            self.rare_mut().pwc.get_or_insert_with(|| {
                *created += 1;
                Box::new(Self::new())
            })
        } else {
            self.literal.get_or_insert(token, hasher, created)
        };
        match next {
            None => child.add(queue, value),
            Some(next) => child.insert(next, queue, value, hasher, created),
        }
        self.literal.compact();
    }

    /// Removes one entry along `rest`, freeing children left empty and counting them in `pruned`.
    fn remove(&mut self, rest: &[u8], queue: Option<&[u8]>, value: &T, pruned: &mut usize) -> bool
    where
        T: PartialEq,
    {
        let (token, next) = split_token(rest);
        match token {
            b">" => {
                let Some(subs) = self.rare.as_deref_mut().and_then(|r| r.fwc.as_mut()) else {
                    return false;
                };
                if next.is_some() || !subs.remove(queue, value) {
                    return false;
                }
                if subs.is_empty() {
                    self.rare_mut().fwc = None;
                    self.tidy_rare();
                    *pruned += 1;
                }
            }
            b"*" => {
                let Some(child) = self.rare.as_deref_mut().and_then(|r| r.pwc.as_deref_mut())
                else {
                    return false;
                };
                if !child.remove_at(next, queue, value, pruned) {
                    return false;
                }
                if child.is_empty() {
                    self.rare_mut().pwc = None;
                    self.tidy_rare();
                    *pruned += 1;
                }
            }
            _ => {
                if let Children::Leaf(t, plain) = &mut self.literal {
                    // A leaf holds only plain subscriptions and has nothing below it.
                    if t.as_bytes() != token
                        || next.is_some()
                        || queue.is_some()
                        || !plain.remove(value)
                    {
                        return false;
                    }
                    if plain.is_empty() {
                        self.literal.remove(token);
                        *pruned += 1;
                    }
                    return true;
                }
                let Some(child) = self.literal.get_mut(token) else {
                    return false;
                };
                if !child.remove_at(next, queue, value, pruned) {
                    return false;
                }
                if child.is_empty() {
                    self.literal.remove(token);
                    *pruned += 1;
                }
                self.literal.compact();
            }
        }
        true
    }

    fn remove_at(
        &mut self,
        next: Option<&[u8]>,
        queue: Option<&[u8]>,
        value: &T,
        pruned: &mut usize,
    ) -> bool
    where
        T: PartialEq,
    {
        match next {
            None => self.remove_here(queue, value),
            Some(next) => self.remove(next, queue, value, pruned),
        }
    }
}

impl<T> Subs<T> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    fn add(&mut self, queue: Option<&[u8]>, value: T) {
        match queue {
            None => self.plain.push(value),
            Some(queue) => add_queue_member(&mut self.queues, queue, value),
        }
    }

    fn remove(&mut self, queue: Option<&[u8]>, value: &T) -> bool
    where
        T: PartialEq,
    {
        match queue {
            None => self.plain.remove(value),
            Some(queue) => remove_queue_member(&mut self.queues, queue, value),
        }
    }
}

fn add_queue_member<T>(queues: &mut Vec<QueueGroup<T>>, queue: &[u8], value: T) {
    match queues.iter_mut().find(|g| *g.name == *queue) {
        Some(group) => group.members.push(value),
        None => queues.push(QueueGroup {
            name: queue.into(),
            members: vec![value],
        }),
    }
}

fn remove_queue_member<T: PartialEq>(
    queues: &mut Vec<QueueGroup<T>>,
    queue: &[u8],
    value: &T,
) -> bool {
    let Some(at) = queues.iter().position(|g| *g.name == *queue) else {
        return false;
    };
    let group = &mut queues[at];
    if !swap_remove_equal(&mut group.members, value) {
        return false;
    }
    if group.members.is_empty() {
        queues.swap_remove(at);
        shrink_vec(queues);
    }
    true
}

impl<T> Default for Subs<T> {
    fn default() -> Self {
        Self {
            plain: Plain::None,
            queues: Vec::new(),
        }
    }
}

/// Removes one element equal to `value`, not keeping order.
fn swap_remove_equal<T: PartialEq>(values: &mut Vec<T>, value: &T) -> bool {
    let Some(at) = values.iter().position(|v| v == value) else {
        return false;
    };
    values.swap_remove(at);
    shrink_vec(values);
    true
}

/// Gives memory back once a collection has shrunk to a quarter of its capacity, so a burst of
/// subscriptions on one node does not pin its peak allocation forever.
fn shrink_vec<T>(values: &mut Vec<T>) {
    if values.capacity() > 16 && values.len() * 4 < values.capacity() {
        values.shrink_to(values.len() * 2);
    }
}

/// Splits off the first token: `(token, Some(rest after the dot))` or `(token, None)` if last.
#[inline]
fn split_token(subject: &[u8]) -> (&[u8], Option<&[u8]>) {
    match subject.iter().position(|&b| b == b'.') {
        Some(dot) => (&subject[..dot], Some(&subject[dot + 1..])),
        None => (subject, None),
    }
}

/// Whether every `.`-separated token of `subject` is non-empty.
#[inline]
fn no_empty_tokens(subject: &[u8]) -> bool {
    let mut previous_was_dot = true;
    for &b in subject {
        let dot = b == b'.';
        if dot && previous_was_dot {
            return false;
        }
        previous_was_dot = dot;
    }
    !previous_was_dot
}

/// Calls `f` with the subscriptions of every node matching `subject`.
///
/// Only follows literal children by loop and recurses for `*` children, so the stack depth is
/// bounded by the `*` nodes on one path. Tokens are checked for emptiness as they are split, and
/// the rest of the subject before a `>` node is reported: nothing is ever reported for a subject
/// with an empty token.
fn visit<'a, T, F>(root: &'a Node<T>, subject: &[u8], f: &mut F)
where
    F: FnMut(&'a [T], &'a [QueueGroup<T>]),
{
    let mut node = root;
    let mut rest = subject;
    loop {
        let (token, next) = split_token(rest);
        if token.is_empty() {
            return;
        }
        let rare = node.rare.as_deref();
        if let Some(fwc) = rare.and_then(|r| r.fwc.as_ref())
            && next.is_none_or(no_empty_tokens)
        {
            f(fwc.plain.as_slice(), &fwc.queues);
        }
        let pwc = rare.and_then(|r| r.pwc.as_deref());
        let Some(next) = next else {
            if let Some(pwc) = pwc {
                f(pwc.plain.as_slice(), pwc.queues());
            }
            match node.literal.get(token) {
                Some(Child::Node(child)) => f(child.plain.as_slice(), child.queues()),
                Some(Child::Leaf(plain)) => f(plain.as_slice(), &[]),
                None => {}
            }
            return;
        };
        if let Some(pwc) = pwc {
            visit(pwc, next, f);
        }
        match node.literal.get(token) {
            Some(Child::Node(child)) => {
                node = child;
                rest = next;
            }
            // A leaf has nothing below it.
            Some(Child::Leaf(_)) | None => return,
        }
    }
}

#[cfg(test)]
mod tests;
