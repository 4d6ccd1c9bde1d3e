//! The [`SubjectIndex`] seam and the naive [`LinearIndex`] oracle.

use crate::subject::{SubjectError, subject_matches, validate_subject};
use crate::sublist::{Matches, Sublist, next_generation};

/// What a subscription index offers the router: the seam for swapping and benchmarking
/// implementations against each other.
///
/// Implemented by [`Sublist`] (the trie) and [`LinearIndex`] (the reference oracle).
pub trait SubjectIndex<T> {
    /// Adds a subscription; the subject is validated with
    /// [`validate_subject`](crate::validate_subject).
    fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        value: T,
    ) -> Result<(), SubjectError>;

    /// Removes one entry equal to `value` on exactly `subject` and `queue`; whether one was found.
    fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, value: &T) -> bool
    where
        T: PartialEq;

    /// Everything matching the published `subject`, queue members merged by group name.
    fn matches(&self, subject: &[u8]) -> Matches<T>
    where
        T: Clone;

    /// Changes on every successful insert and remove.
    fn generation(&self) -> u64;
}

impl<T> SubjectIndex<T> for Sublist<T> {
    fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        value: T,
    ) -> Result<(), SubjectError> {
        Self::insert(self, subject, queue, value)
    }

    fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, value: &T) -> bool
    where
        T: PartialEq,
    {
        Self::remove(self, subject, queue, value)
    }

    fn matches(&self, subject: &[u8]) -> Matches<T>
    where
        T: Clone,
    {
        Self::matches(self, subject)
    }

    fn generation(&self) -> u64 {
        Self::generation(self)
    }
}

/// The simplest correct index: a `Vec` of subscriptions scanned with
/// [`subject_matches`](crate::subject_matches) on every match.
///
/// It is the reference oracle for property tests and the baseline for benchmarks; matching costs
/// O(subscriptions), so do not route with it.
#[derive(Debug, Clone)]
pub struct LinearIndex<T> {
    entries: Vec<Entry<T>>,
    generation: u64,
}

#[derive(Debug, Clone)]
struct Entry<T> {
    subject: Box<[u8]>,
    queue: Option<Box<[u8]>>,
    value: T,
}

impl<T> LinearIndex<T> {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            entries: Vec::new(),
            generation: next_generation(),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<T> Default for LinearIndex<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> SubjectIndex<T> for LinearIndex<T> {
    fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        value: T,
    ) -> Result<(), SubjectError> {
        validate_subject(subject)?;
        self.entries.push(Entry {
            subject: subject.into(),
            queue: queue.map(Into::into),
            value,
        });
        self.generation = next_generation();
        Ok(())
    }

    fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, value: &T) -> bool
    where
        T: PartialEq,
    {
        let found = self.entries.iter().position(|e| {
            *e.subject == *subject && e.queue.as_deref() == queue && e.value == *value
        });
        let Some(at) = found else {
            return false;
        };
        self.entries.swap_remove(at);
        self.generation = next_generation();
        true
    }

    fn matches(&self, subject: &[u8]) -> Matches<T>
    where
        T: Clone,
    {
        let mut out = Matches::default();
        for entry in &self.entries {
            if !subject_matches(&entry.subject, subject) {
                continue;
            }
            match &entry.queue {
                None => out.plain.push(entry.value.clone()),
                Some(group) => out.add_queue_members(group, std::slice::from_ref(&entry.value)),
            }
        }
        out
    }

    fn generation(&self) -> u64 {
        self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise<I: SubjectIndex<u32>>(index: &mut I) {
        let g0 = index.generation();
        index.insert(b"foo.*", Some(b"q"), 1).unwrap();
        index.insert(b"foo.>", Some(b"q"), 2).unwrap();
        index.insert(b"foo.bar", None, 3).unwrap();
        assert_eq!(
            index.insert(b"foo.", None, 4),
            Err(SubjectError::EmptyToken)
        );
        assert_ne!(index.generation(), g0);
        let m = index.matches(b"foo.bar");
        assert_eq!(m.plain, [3]);
        assert_eq!(m.queues.len(), 1);
        assert_eq!(m.len(), 3);
        assert!(index.remove(b"foo.*", Some(b"q"), &1));
        assert!(!index.remove(b"foo.*", Some(b"q"), &1));
        assert_eq!(index.matches(b"foo.bar").len(), 2);
        assert!(index.matches(b"bar").is_empty());
    }

    #[test]
    fn both_indexes_behave_alike() {
        exercise(&mut Sublist::new());
        exercise(&mut LinearIndex::new());
    }
}
