//! The LRU bookkeeping every backend shares: which slot a key lives in and
//! the recency order, kept Rust-side so that the heap work (allocating
//! entries and values, overwriting old entries) is the only difference
//! between backends.

use std::collections::HashMap;

use crate::run::Rng;

const NONE: u32 = u32::MAX;

/// What an operation did.
pub enum Op {
    /// The key is cached in this slot.
    Hit { slot: usize, replace_value: bool },
    /// The key was not cached; it now owns this slot (whose previous entry,
    /// if any, was evicted).
    Miss { slot: usize, key: u32 },
}

pub struct LruIndex {
    map: HashMap<u32, u32>,
    keys: Vec<u32>,
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32,
    tail: u32,
    len: usize,
    capacity: usize,
    key_space: u32,
    rng: Rng,
}

impl LruIndex {
    pub fn new(capacity: usize, key_space: u32, seed: u64) -> LruIndex {
        LruIndex {
            map: HashMap::with_capacity(capacity),
            keys: vec![NONE; capacity],
            prev: vec![NONE; capacity],
            next: vec![NONE; capacity],
            head: NONE,
            tail: NONE,
            len: 0,
            capacity,
            key_space,
            rng: Rng::new(seed),
        }
    }

    fn unlink(&mut self, s: u32) {
        let (p, n) = (self.prev[s as usize], self.next[s as usize]);
        if p == NONE {
            self.head = n
        } else {
            self.next[p as usize] = n
        }
        if n == NONE {
            self.tail = p
        } else {
            self.prev[n as usize] = p
        }
    }

    fn push_front(&mut self, s: u32) {
        self.prev[s as usize] = NONE;
        self.next[s as usize] = self.head;
        if self.head != NONE {
            self.prev[self.head as usize] = s;
        }
        self.head = s;
        if self.tail == NONE {
            self.tail = s;
        }
    }

    /// One access to a random key (skewed: half the accesses go to a
    /// tenth of the keys, so there are both hits and misses).
    pub fn next_op(&mut self) -> Op {
        let hot = self.rng.next() & 1 == 0;
        let key = if hot {
            self.rng.below(self.key_space as usize / 10) as u32
        } else {
            self.rng.below(self.key_space as usize) as u32
        };
        if let Some(&s) = self.map.get(&key) {
            self.unlink(s);
            self.push_front(s);
            return Op::Hit {
                slot: s as usize,
                replace_value: self.rng.next().is_multiple_of(8),
            };
        }
        let s = if self.len < self.capacity {
            self.len += 1;
            (self.len - 1) as u32
        } else {
            let s = self.tail;
            self.unlink(s);
            self.map.remove(&self.keys[s as usize]);
            s
        };
        self.keys[s as usize] = key;
        self.map.insert(key, s);
        self.push_front(s);
        Op::Miss {
            slot: s as usize,
            key,
        }
    }
}

/// Bytes of the value stored for `key` (64..256).
pub fn value_len(key: u32) -> usize {
    64 + (key as usize * 37) % 192
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut l = LruIndex::new(100, 1000, 7);
        let mut hits = 0;
        let mut misses = 0;
        for _ in 0..10_000 {
            match l.next_op() {
                Op::Hit { slot, .. } => {
                    hits += 1;
                    assert_eq!(l.head as usize, slot);
                }
                Op::Miss { slot, key } => {
                    misses += 1;
                    assert_eq!(l.keys[slot], key);
                }
            }
            assert!(l.map.len() <= 100);
        }
        assert!(hits > 1000 && misses > 1000, "{hits} hits, {misses} misses");
        // The list holds every cached slot exactly once.
        let mut n = 0;
        let mut s = l.head;
        while s != NONE {
            n += 1;
            s = l.next[s as usize];
        }
        assert_eq!(n, 100);
    }
}
