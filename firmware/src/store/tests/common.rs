//! Helpers shared by the template store's integration tests.

use crate::store::sim::SimFlash;
use crate::store::{Blocking, FixedKeys, TemplateStore};
use siamedge_format::{EmbeddingRef, ModelId, Template};

pub const MODEL: ModelId = ModelId([0xa5; 16]);
pub const KEY: [u8; 32] = [0x3c; 32];

/// 1 KiB pages, 4-byte words: small pages, so that garbage collection runs often.
pub type Flash = Blocking<SimFlash<1024, 4>>;
pub type Store = TemplateStore<Flash, FixedKeys>;

/// A template of `count` embeddings of `dim` values derived from `seed`, labelled by seed.
pub fn template(subject: u32, seed: u8, count: usize, dim: usize) -> Template {
    let row = |k: usize| -> Vec<i8> {
        (0..dim)
            .map(|i| {
                (i as u8)
                    .wrapping_mul(29)
                    .wrapping_add(seed)
                    .wrapping_add(k as u8 * 7) as i8
            })
            .collect()
    };
    let first = row(0);
    let mut t = Template::new(
        subject,
        EmbeddingRef {
            model: MODEL,
            scale: 0.5 + f32::from(seed) / 256.0,
            values: &first,
        },
    )
    .expect("valid embedding");
    for k in 1..count {
        let values = row(k);
        t.add(EmbeddingRef {
            model: MODEL,
            scale: 0.25,
            values: &values,
        })
        .expect("fits");
    }
    t.with_label(&format!("s{subject}-{seed}"))
        .expect("short label")
        .with_created(u32::from(seed))
}

/// A store over `flash` (all of it), with nonces seeded by `boot` (a new seed per boot, as a
/// TRNG would give).
pub fn open(flash: Flash, boot: u64) -> Store {
    let end = flash.inner().bytes().len() as u32;
    TemplateStore::open(flash, 0..end, FixedKeys::new(KEY, boot)).expect("valid range")
}
