//! Random sequences of store operations against a `HashMap` model: every result, every read
//! and the final list and capacity agree, across restarts.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use super::common::{open, template, Store};
use crate::store::sim::SimFlash;
use crate::store::{template_item_len, Blocking, StoreError};
use proptest::prelude::*;
use siamedge_format::Template;

const PAGES: usize = 6;

#[derive(Debug, Clone)]
enum Op {
    Enroll(u32, u8, usize, usize),
    Update(u32, u8, usize, usize),
    Delete(u32),
    Get(u32),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let subject = 0u32..6;
    let shape = (
        any::<u8>(),
        1usize..=3,
        prop::sample::select(vec![8usize, 16, 40]),
    );
    prop_oneof![
        3 => (subject.clone(), shape.clone()).prop_map(|(s, (seed, c, d))| Op::Enroll(s, seed, c, d)),
        3 => (subject.clone(), shape).prop_map(|(s, (seed, c, d))| Op::Update(s, seed, c, d)),
        2 => subject.clone().prop_map(Op::Delete),
        2 => subject.prop_map(Op::Get),
        1 => Just(Op::Restart),
    ]
}

fn restart(store: Store, boot: u64) -> Store {
    let (flash, _) = store.release();
    open(flash, boot)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn store_agrees_with_a_hashmap(ops in prop::collection::vec(op(), 1..60)) {
        let mut store = open(Blocking(SimFlash::new(PAGES)), 1);
        let mut model: HashMap<u32, Template> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Enroll(s, seed, c, d) => {
                    let t = template(s, seed, c, d);
                    let r = store.enroll(&t);
                    if let Entry::Vacant(v) = model.entry(s) {
                        prop_assert_eq!(r, Ok(()));
                        v.insert(t);
                    } else {
                        prop_assert_eq!(r, Err(StoreError::AlreadyEnrolled { subject: s }));
                    }
                }
                Op::Update(s, seed, c, d) => {
                    let t = template(s, seed, c, d);
                    let r = store.update(&t);
                    if let Entry::Occupied(mut o) = model.entry(s) {
                        prop_assert_eq!(r, Ok(()));
                        o.insert(t);
                    } else {
                        prop_assert_eq!(r, Err(StoreError::NotEnrolled { subject: s }));
                    }
                }
                Op::Delete(s) => {
                    let r = store.delete(s);
                    if model.remove(&s).is_some() {
                        prop_assert_eq!(r, Ok(()));
                    } else {
                        prop_assert_eq!(r, Err(StoreError::NotEnrolled { subject: s }));
                    }
                }
                Op::Get(s) => {
                    prop_assert_eq!(store.get(s), Ok(model.get(&s).cloned()));
                }
                Op::Restart => store = restart(store, 100 + i as u64),
            }
        }
        for s in 0..6 {
            prop_assert_eq!(store.get(s), Ok(model.get(&s).cloned()));
        }
        let mut listed: Vec<u32> = store.list::<8>().expect("lists").iter().map(|e| e.subject).collect();
        listed.sort_unstable();
        let mut keys: Vec<u32> = model.keys().copied().collect();
        keys.sort_unstable();
        prop_assert_eq!(listed, keys);
        let cap = store.capacity::<8>().expect("capacity");
        prop_assert_eq!(cap.records, model.len());
        let live: usize = model
            .values()
            .map(|t| template_item_len::<super::common::Flash>(t.encoded_len().expect("encodes")))
            .sum();
        prop_assert_eq!(cap.live_bytes, live);
        prop_assert_eq!(cap.usable_bytes, (PAGES - 1) * (1024 - 8));
        prop_assert_eq!(cap.free_bytes, cap.usable_bytes - live);
    }
}
