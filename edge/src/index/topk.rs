//! The `k` nearest subjects from a stream of scored rows, at most one hit per subject.
//!
//! Rows arrive as `(distance, subject)`; a subject may own up to `per_subject` rows. The
//! collector keeps the `k * per_subject` smallest rows in the order "distance ascending, then
//! subject id ascending" (a bounded max-heap), which always holds the first row of each of the
//! `k` nearest subjects: before the `k`-th subject's first row come only rows of the `k - 1`
//! subjects before it, at most `per_subject` each. [`TopK::finish`] keeps each subject's first
//! row, i.e. its minimum distance, in that order.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use super::Hit;

/// A row's rank key: distance (with `-0.0` read as `0.0`, as `==` does) then subject.
#[derive(Debug, Clone, Copy)]
struct Key {
    distance: f32,
    subject: u32,
}

impl Key {
    fn new(distance: f32, subject: u32) -> Self {
        // `-0.0 + 0.0 == +0.0`: one representation of zero, so that total_cmp agrees with `==`.
        Self {
            distance: distance + 0.0,
            subject,
        }
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.subject.cmp(&other.subject))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

/// A bounded collector of the smallest rows (see the module docs).
#[derive(Debug)]
pub(crate) struct TopK {
    k: usize,
    cap: usize,
    heap: BinaryHeap<Key>,
}

impl TopK {
    /// Collects the `k` nearest subjects, each owning at most `per_subject` rows.
    pub(crate) fn new(k: usize, per_subject: usize) -> Self {
        let cap = k.saturating_mul(per_subject.max(1));
        Self {
            k,
            cap,
            heap: BinaryHeap::with_capacity(cap.min(1 << 16) + 1),
        }
    }

    /// Whether a row at `distance` of `subject` could enter: false once `cap` rows at or below
    /// it are held.
    #[inline]
    pub(crate) fn admits(&self, distance: f32, subject: u32) -> bool {
        if self.cap == 0 {
            return false;
        }
        match self.heap.peek() {
            Some(top) if self.heap.len() >= self.cap => Key::new(distance, subject) < *top,
            _ => true,
        }
    }

    /// Offers one row.
    #[inline]
    pub(crate) fn push(&mut self, distance: f32, subject: u32) {
        if self.admits(distance, subject) {
            self.heap.push(Key::new(distance, subject));
            if self.heap.len() > self.cap {
                self.heap.pop();
            }
        }
    }

    /// Offers every row another collector holds (a thread's share of the rows).
    pub(crate) fn merge(&mut self, other: TopK) {
        for key in other.heap {
            self.push(key.distance, key.subject);
        }
    }

    /// The nearest subjects, ascending by distance then subject id, one hit each, at most `k`.
    pub(crate) fn finish(self) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::with_capacity(self.k.min(self.heap.len()));
        let mut seen = HashSet::with_capacity(hits.capacity());
        for key in self.heap.into_sorted_vec() {
            if hits.len() == self.k {
                break;
            }
            if seen.insert(key.subject) {
                hits.push(Hit {
                    subject: key.subject,
                    distance: key.distance,
                });
            }
        }
        hits
    }
}
