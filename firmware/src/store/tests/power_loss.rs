//! Power loss at every write and erase of an enroll/update/delete sequence loses nothing that
//! was committed before it.
//!
//! For each operation index `n` of the whole sequence (writes and erases, garbage collection
//! included), the flash loses power during operation `n` (a half-programmed word, or a
//! half-erased page). The device restarts: a new store over the same flash must return every
//! template committed before the cut exactly, show the interrupted operation either fully
//! applied or not at all, and then accept the rest of the sequence and new writes, ending in the
//! same state as a run without a cut. A second cut during that recovery is checked the same way.

use std::collections::BTreeMap;

use super::common::{open, template, Flash, Store};
use crate::store::sim::SimFlash;
use crate::store::{Blocking, StoreError};
use siamedge_format::Template;

const PAGES: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Enroll(Template),
    Update(Template),
    Delete(u32),
}

type Model = BTreeMap<u32, Template>;

impl Op {
    fn subject(&self) -> u32 {
        match self {
            Op::Enroll(t) | Op::Update(t) => t.subject(),
            Op::Delete(s) => *s,
        }
    }

    fn apply(
        &self,
        store: &mut Store,
    ) -> Result<(), StoreError<<Flash as embedded_storage_async::nor_flash::ErrorType>::Error>>
    {
        match self {
            Op::Enroll(t) => store.enroll(t),
            Op::Update(t) => store.update(t),
            Op::Delete(s) => store.delete(*s),
        }
    }

    fn apply_model(&self, model: &mut Model) {
        match self {
            Op::Enroll(t) | Op::Update(t) => {
                model.insert(t.subject(), t.clone());
            }
            Op::Delete(s) => {
                model.remove(s);
            }
        }
    }
}

/// Enrolls, updates and deletes over five subjects, with templates of 8 to 128 values, long
/// enough to wrap the 4-page range twice (every page is erased and reused).
fn sequence() -> Vec<Op> {
    let mut ops = Vec::new();
    let mut seed = 0u8;
    let mut t = |s: u32, count: usize, dim: usize| {
        seed = seed.wrapping_add(1);
        template(s, seed, count, dim)
    };
    for s in 1..=4 {
        ops.push(Op::Enroll(t(s, 1 + s as usize % 3, 8 + 8 * s as usize)));
    }
    for round in 0..16usize {
        let s = 1 + (round as u32 % 4);
        ops.push(Op::Update(t(s, 1 + round % 3, 32)));
        ops.push(Op::Update(t(1 + (s % 4), 2, 64)));
        if round % 2 == 1 {
            ops.push(Op::Delete(s));
            ops.push(Op::Enroll(t(s, 3, 32)));
        }
        ops.push(Op::Enroll(t(5, 1, 96)));
        ops.push(Op::Delete(5));
    }
    ops
}

struct Outcome {
    store: Store,
    committed: Model,
    /// Index of the operation that was interrupted, if any.
    interrupted: Option<usize>,
}

/// Runs `ops[from..]` on `store`, starting from `committed`, until a power cut.
fn run(mut store: Store, ops: &[Op], from: usize, mut committed: Model) -> Outcome {
    for (i, op) in ops.iter().enumerate().skip(from) {
        match op.apply(&mut store) {
            Ok(()) => op.apply_model(&mut committed),
            Err(e) => {
                let (flash, keys) = store.release();
                assert!(
                    flash.inner().is_dead(),
                    "op {i} {op:?} failed without a power cut: {e}"
                );
                let store =
                    crate::store::TemplateStore::open(flash, 0..(PAGES * 1024) as u32, keys)
                        .expect("reopens");
                return Outcome {
                    store,
                    committed,
                    interrupted: Some(i),
                };
            }
        }
    }
    Outcome {
        store,
        committed,
        interrupted: None,
    }
}

/// Restarts after a cut and checks the state; returns the restarted store, the state found (the
/// committed one, with the interrupted operation applied or not) and where to resume.
fn restart_and_check(out: Outcome, ops: &[Op], boot: u64, what: &str) -> (Store, Model, usize) {
    let i = out.interrupted.expect("a cut happened");
    let (mut flash, _) = out.store.release();
    flash.inner_mut().restart();
    let mut store = open(flash, boot);
    let before = out.committed;
    let mut after = before.clone();
    ops[i].apply_model(&mut after);
    let subject = ops[i].subject();

    let got = store
        .get(subject)
        .unwrap_or_else(|e| panic!("{what}: subject {subject} of the interrupted op: {e}"));
    let applied = if got.as_ref() == after.get(&subject) {
        true
    } else if got.as_ref() == before.get(&subject) {
        false
    } else {
        panic!(
            "{what}: interrupted op {i} {:?} left subject {subject} as {got:?}",
            ops[i]
        );
    };
    let state = if applied { after } else { before };
    for (s, t) in &state {
        let back = store
            .get(*s)
            .unwrap_or_else(|e| panic!("{what}: committed subject {s}: {e}"));
        assert_eq!(back.as_ref(), Some(t), "{what}: committed subject {s}");
    }
    let listed: Vec<u32> = {
        let mut v: Vec<u32> = store
            .list::<16>()
            .unwrap_or_else(|e| panic!("{what}: list: {e}"))
            .iter()
            .map(|e| e.subject)
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        listed,
        state.keys().copied().collect::<Vec<_>>(),
        "{what}: list"
    );
    let resume = if applied { i + 1 } else { i };
    (store, state, resume)
}

/// Finishes the sequence and checks the final state against a run without cuts, then writes a
/// new subject.
fn finish(store: Store, ops: &[Op], from: usize, state: Model, expected: &Model, what: &str) {
    let out = run(store, ops, from, state);
    assert!(
        out.interrupted.is_none(),
        "{what}: no second cut was asked for"
    );
    let mut store = out.store;
    assert_eq!(&out.committed, expected, "{what}: final model");
    for (s, t) in expected {
        assert_eq!(
            store.get(*s).expect("reads").as_ref(),
            Some(t),
            "{what}: final {s}"
        );
    }
    let fresh = template(77, 77, 1, 16);
    store
        .enroll(&fresh)
        .unwrap_or_else(|e| panic!("{what}: new write after recovery: {e}"));
    assert_eq!(
        store.get(77).expect("reads"),
        Some(fresh),
        "{what}: new write"
    );
}

#[test]
fn power_loss_at_every_write_loses_nothing_committed() {
    let ops = sequence();
    let clean = run(
        open(Blocking(SimFlash::new(PAGES)), 1),
        &ops,
        0,
        Model::new(),
    );
    assert!(clean.interrupted.is_none());
    let expected = clean.committed;
    let (flash, _) = clean.store.release();
    let total = flash.inner().ops();
    let (writes, erases) = flash.inner().counts();
    assert!(
        erases >= 2 * PAGES as u64,
        "the sequence wraps the range: {erases} erases"
    );
    println!(
        "{} ops: {writes} writes and {erases} erases, each one cut",
        ops.len()
    );

    for n in 0..total {
        let mut f = SimFlash::new(PAGES);
        f.cut_power_at(n);
        let out = run(open(Blocking(f), 1), &ops, 0, Model::new());
        let what = format!("cut at write/erase {n}");
        let (store, state, resume) = restart_and_check(out, &ops, 1000 + n, &what);
        finish(store, &ops, resume, state, &expected, &what);
    }
}

#[test]
fn power_loss_during_recovery_loses_nothing_committed() {
    // A first cut at every 3rd operation, then a second cut 0, 1, 2, 5 or 11 operations into
    // the recovery (repair of the half-written page, then the rest of the sequence).
    let ops = sequence();
    let clean = run(
        open(Blocking(SimFlash::new(PAGES)), 1),
        &ops,
        0,
        Model::new(),
    );
    let expected = clean.committed;
    let total = clean.store.release().0.inner().ops();
    for n in (0..total).step_by(3) {
        for k in [0u64, 1, 2, 5, 11] {
            let mut f = SimFlash::new(PAGES);
            f.cut_power_at(n);
            let out = run(open(Blocking(f), 1), &ops, 0, Model::new());
            let what = format!("cut at {n}, then {k} later");
            let (store, state, resume) = restart_and_check(out, &ops, 2000 + n, &what);
            let (mut flash, keys) = store.release();
            let at = flash.inner().ops() + k;
            flash.inner_mut().cut_power_at(at);
            let store = crate::store::TemplateStore::open(flash, 0..(PAGES * 1024) as u32, keys)
                .expect("reopens");
            let out = run(store, &ops, resume, state);
            if out.interrupted.is_none() {
                // The rest of the sequence needed fewer operations than k.
                let mut store = out.store;
                assert_eq!(&out.committed, &expected, "{what}");
                for (s, t) in &expected {
                    assert_eq!(store.get(*s).expect("reads").as_ref(), Some(t), "{what}");
                }
                continue;
            }
            let (store, state, resume) = restart_and_check(out, &ops, 3000 + n, &what);
            finish(store, &ops, resume, state, &expected, &what);
        }
    }
}

/// Turns random (subject, kind, shape) triples into a valid sequence: an enroll of an enrolled
/// subject becomes an update, an update or delete of a missing one becomes an enroll.
fn valid_sequence(raw: &[(u32, u8, u8, usize, usize)]) -> Vec<Op> {
    let mut present = std::collections::BTreeSet::new();
    raw.iter()
        .map(|&(s, kind, seed, count, dim)| {
            let t = template(s, seed, count, dim);
            match (kind % 3, present.contains(&s)) {
                (2, true) => {
                    present.remove(&s);
                    Op::Delete(s)
                }
                (_, true) => Op::Update(t),
                (_, false) => {
                    present.insert(s);
                    Op::Enroll(t)
                }
            }
        })
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Random valid sequences, a cut at a random write or erase, and a check as above.
    #[test]
    fn power_loss_in_random_sequences(
        raw in proptest::collection::vec(
            (0u32..6, proptest::prelude::any::<u8>(), proptest::prelude::any::<u8>(), 1usize..=3, proptest::sample::select(vec![8usize, 24, 64])),
            1..50,
        ),
        at in 0.0f64..1.0,
    ) {
        let ops = valid_sequence(&raw);
        let clean = run(open(Blocking(SimFlash::new(PAGES)), 1), &ops, 0, Model::new());
        proptest::prop_assert!(clean.interrupted.is_none());
        let expected = clean.committed;
        let total = clean.store.release().0.inner().ops();
        let n = ((total as f64) * at) as u64;
        let mut f = SimFlash::new(PAGES);
        f.cut_power_at(n);
        let out = run(open(Blocking(f), 1), &ops, 0, Model::new());
        let what = format!("cut at {n} of {total}");
        let (store, state, resume) = restart_and_check(out, &ops, 5000 + n, &what);
        finish(store, &ops, resume, state, &expected, &what);
    }
}
