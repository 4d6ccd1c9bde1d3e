//! Subscribe, unsubscribe and publish with arbitrary subjects: the trie must agree with the
//! linear reference index on every match, never panic, and never recurse deeper than
//! `MAX_TOKENS` allows (this runs on libFuzzer's default stack).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnats_sublist::{LinearIndex, SubjectIndex, Sublist};

fn sorted(mut v: Vec<u16>) -> Vec<u16> {
    v.sort_unstable();
    v
}

fuzz_target!(|data: &[u8]| {
    let mut trie: Sublist<u16> = Sublist::new();
    let mut oracle: LinearIndex<u16> = LinearIndex::new();
    // Records separated by 0xff: first byte is the operation, the rest the subject.
    for (i, record) in data.split(|&b| b == 0xff).enumerate() {
        let Some((&op, subject)) = record.split_first() else {
            continue;
        };
        let value = (i % 64) as u16;
        let queue: Option<&[u8]> = if op & 0x10 != 0 { Some(b"q") } else { None };
        match op % 3 {
            0 => {
                let a = trie.insert(subject, queue, value);
                let b = SubjectIndex::insert(&mut oracle, subject, queue, value);
                assert_eq!(a, b);
            }
            1 => {
                let a = trie.remove(subject, queue, &value);
                let b = SubjectIndex::remove(&mut oracle, subject, queue, &value);
                assert_eq!(a, b);
            }
            _ => {
                let a = trie.matches(subject);
                let b = SubjectIndex::matches(&oracle, subject);
                assert_eq!(sorted(a.plain.clone()), sorted(b.plain.clone()));
                assert_eq!(a.queues.len(), b.queues.len());
            }
        }
    }
});
