use std::collections::BTreeMap;

use proptest::prelude::*;
use siamedge_format::{Embedding, FormatError};

use super::*;

const A: ModelId = ModelId([1; 16]);
const B: ModelId = ModelId([2; 16]);

fn template(subject: u32, rows: &[Vec<i8>], scale: f32) -> Result<Template, FormatError> {
    let mut it = rows.iter();
    let first = it.next().ok_or(FormatError::DimensionMismatch {
        expected: 1,
        found: 0,
    })?;
    let mut t = Template::new(
        subject,
        EmbeddingRef {
            model: A,
            scale,
            values: first,
        },
    )?;
    for r in it {
        t.add(EmbeddingRef {
            model: A,
            scale,
            values: r,
        })?;
    }
    Ok(t)
}

/// The reference: every held template scored with `Template::distance`, sorted by distance
/// (partial order, `-0.0 == 0.0`) then subject.
fn brute_force(
    held: &BTreeMap<u32, Template>,
    probe: EmbeddingRef<'_>,
    metric: &Metric<'_>,
    k: usize,
) -> Result<Vec<Hit>, FormatError> {
    let mut all = Vec::new();
    for (subject, t) in held {
        all.push(Hit {
            subject: *subject,
            distance: t.distance(probe, metric)?,
        });
    }
    all.sort_by(|a, b| {
        a.distance
            .partial_cmp(&b.distance)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.subject.cmp(&b.subject))
    });
    all.truncate(k);
    Ok(all)
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(u32, Vec<Vec<i8>>),
    Remove(u32),
}

fn metric_of(which: usize, weights: &[u8]) -> Metric<'_> {
    match which {
        0 => Metric::SquaredL2,
        1 => Metric::L2,
        2 => Metric::Cosine,
        3 => Metric::L1,
        _ => Metric::MahalanobisDiag(LeF32Slice::new(weights).unwrap_or(EMPTY)),
    }
}

fn case() -> impl Strategy<Value = (usize, usize, i8, Vec<f32>, Vec<Op>, Vec<Vec<i8>>)> {
    (1usize..40, 0usize..5, prop_oneof![Just(2i8), Just(127)]).prop_flat_map(
        |(dim, metric, span)| {
            let value = -span..=span;
            let row = proptest::collection::vec(value.clone(), dim);
            let op = prop_oneof![
                3 => (0u32..24, proptest::collection::vec(row.clone(), 1..=MAX_TEMPLATE_EMBEDDINGS))
                    .prop_map(|(s, rows)| Op::Upsert(s, rows)),
                1 => (0u32..24).prop_map(Op::Remove),
            ];
            (
                Just(dim),
                Just(metric),
                Just(span),
                proptest::collection::vec(prop_oneof![Just(0.0f32), 0.0f32..4.0], dim),
                proptest::collection::vec(op, 0..40),
                proptest::collection::vec(row, 1..4),
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn search_equals_the_template_scan((dim, which, _span, w, ops, probes) in case(), isa in 0usize..3) {
        let weights: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
        let metric = metric_of(which, &weights);
        let scale = 0.03125;
        let mut index = GalleryIndex::new(A, dim, scale, &metric).map_err(|e| TestCaseError::fail(e.to_string()))?;
        index.set_isa(Isa::available()[isa.min(Isa::available().len() - 1)]);
        let mut held = BTreeMap::new();
        for op in ops {
            match op {
                Op::Upsert(s, rows) => {
                    let t = template(s, &rows, scale).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    index.upsert(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    held.insert(s, t);
                }
                Op::Remove(s) => prop_assert_eq!(index.remove(s), held.remove(&s).is_some()),
            }
        }
        prop_assert_eq!(index.len(), held.len());
        prop_assert_eq!(index.rows(), held.values().map(Template::count).sum::<usize>());
        prop_assert_eq!(index.matrix.len(), index.rows() * dim);
        for p in &probes {
            let probe = EmbeddingRef { model: A, scale, values: p };
            for k in [0, 1, 3, 30] {
                let want = brute_force(&held, probe, &metric, k).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let got = index.search(probe, k).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&got, &want, "k {}", k);
                let batch = index.search_batch(&[probe, probe], k, 2).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&batch, &vec![want.clone(), want]);
            }
            for (s, t) in &held {
                let want = t.distance(probe, &metric).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(index.distance(*s, probe), Ok(Some(want)));
            }
            prop_assert_eq!(index.distance(1000, probe), Ok(None));
        }
    }
}

fn xorshift(seed: u32) -> impl FnMut() -> i8 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x >> 24) as u8 as i8
    }
}

#[test]
fn threads_and_batches_agree_with_one_thread() -> Result<(), Box<dyn std::error::Error>> {
    let (dim, scale) = (24, 0.25);
    let mut next = xorshift(7);
    for metric in [Metric::SquaredL2, Metric::Cosine, Metric::L1] {
        let mut index = GalleryIndex::new(A, dim, scale, &metric)?;
        for s in 0..5000u32 {
            let rows: Vec<Vec<i8>> = (0..1 + s as usize % 3)
                .map(|_| (0..dim).map(|_| next() / 16).collect())
                .collect();
            index.upsert(&template(s, &rows, scale)?)?;
        }
        for s in (0..5000).step_by(7) {
            assert!(index.remove(s));
        }
        let probes: Vec<Vec<i8>> = (0..5)
            .map(|_| (0..dim).map(|_| next() / 16).collect())
            .collect();
        let probes: Vec<EmbeddingRef<'_>> = probes
            .iter()
            .map(|v| EmbeddingRef {
                model: A,
                scale,
                values: v,
            })
            .collect();
        let one: Vec<Vec<Hit>> = probes
            .iter()
            .map(|p| index.search(*p, 50))
            .collect::<Result<_, _>>()?;
        assert!(one.iter().all(|h| h.len() == 50));
        for threads in [2, 3, 8] {
            for (p, want) in probes.iter().zip(&one) {
                assert_eq!(
                    &index.search_threads(*p, 50, threads)?,
                    want,
                    "{threads} threads"
                );
            }
            assert_eq!(index.search_batch(&probes, 50, threads)?, one);
        }
    }
    Ok(())
}

#[test]
fn mismatched_inputs_are_typed_errors() -> Result<(), Box<dyn std::error::Error>> {
    let mut index = GalleryIndex::new(A, 3, 0.5, &Metric::L2)?;
    let other = Template::new(
        9,
        EmbeddingRef {
            model: B,
            scale: 0.5,
            values: &[1, 2, 3],
        },
    )?;
    assert_eq!(
        index.upsert(&other),
        Err(IndexError::ModelMismatch {
            input: Input::Template { subject: 9 },
            expected: A,
            found: B
        })
    );
    assert_eq!(
        index.upsert(&template(4, &[vec![1, 2]], 0.5)?),
        Err(IndexError::DimMismatch {
            input: Input::Template { subject: 4 },
            expected: 3,
            found: 2
        })
    );
    let mut two_scales = template(5, &[vec![1, 2, 3]], 0.5)?;
    two_scales.add(Embedding::new(A, 0.25, &[0, 0, 0])?.as_ref())?;
    let err = index.upsert(&two_scales);
    assert_eq!(
        err,
        Err(IndexError::ScaleMismatch {
            input: Input::Template { subject: 5 },
            embedding: 1,
            expected: 0.5,
            found: 0.25
        })
    );
    assert_eq!(
        err.map_err(|e| e.to_string()),
        Err("template of subject 5: embedding 1 has scale 0.25, the index's scale is 0.5".into())
    );
    assert!(index.is_empty());
    index.upsert(&template(5, &[vec![1, 2, 3]], 0.5)?)?;
    let probe = |model, scale, values| EmbeddingRef {
        model,
        scale,
        values,
    };
    assert_eq!(
        index.search(probe(B, 0.5, &[0, 0, 0]), 1),
        Err(IndexError::ModelMismatch {
            input: Input::Probe,
            expected: A,
            found: B
        })
    );
    assert_eq!(
        index.distance(5, probe(A, 0.5, &[0; 4])),
        Err(IndexError::DimMismatch {
            input: Input::Probe,
            expected: 3,
            found: 4
        })
    );
    assert!(matches!(
        index.search_batch(&[probe(A, 0.5, &[0; 3]), probe(A, 1.0, &[0; 3])], 1, 1),
        Err(IndexError::ScaleMismatch { found: 1.0, .. })
    ));
    // sqrt(0.25 * (1 + 4 + 9)) = sqrt(3.5)
    assert_eq!(
        index.search(probe(A, 0.5, &[0, 0, 0]), 5)?,
        vec![Hit {
            subject: 5,
            distance: 3.5f32.sqrt()
        }]
    );
    assert_eq!(
        GalleryIndex::new(A, 0, 0.5, &Metric::L2).err(),
        Some(IndexError::InvalidDim { dim: 0 })
    );
    assert_eq!(
        GalleryIndex::new(A, 3, f32::NAN, &Metric::L2)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err("index scale NaN is not finite and > 0".into())
    );
    let w: Vec<u8> = [1.0f32, -1.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let w = Metric::MahalanobisDiag(LeF32Slice::new(&w).unwrap_or(EMPTY));
    assert_eq!(
        GalleryIndex::new(A, 3, 0.5, &w).err(),
        Some(IndexError::MetricDim {
            expected: 3,
            found: 2
        })
    );
    assert_eq!(
        GalleryIndex::new(A, 2, 0.5, &w).err(),
        Some(IndexError::MetricWeight {
            index: 1,
            value: -1.0
        })
    );
    Ok(())
}

#[test]
fn removal_keeps_the_matrix_contiguous() -> Result<(), Box<dyn std::error::Error>> {
    let mut index = GalleryIndex::new(A, 2, 1.0, &Metric::SquaredL2)?;
    index.upsert(&template(1, &[vec![1, 1], vec![2, 2]], 1.0)?)?;
    index.upsert(&template(2, &[vec![5, 5]], 1.0)?)?;
    index.upsert(&template(3, &[vec![7, 7], vec![8, 8], vec![9, 9]], 1.0)?)?;
    assert!(index.remove(1));
    assert!(!index.remove(1));
    assert_eq!((index.len(), index.rows()), (2, 4));
    // Row 1 was refilled from the end ([9,9]), then row 0 from the new end ([8,8]).
    assert_eq!(index.matrix, vec![8, 8, 9, 9, 5, 5, 7, 7]);
    assert_eq!(index.row_subject, vec![3, 3, 2, 3]);
    let p = EmbeddingRef {
        model: A,
        scale: 1.0,
        values: &[8, 7],
    };
    assert_eq!(index.distance(3, p)?, Some(1.0));
    // Replacing a template replaces its rows.
    index.upsert(&template(3, &[vec![0, 0]], 1.0)?)?;
    assert_eq!((index.len(), index.rows()), (2, 2));
    assert_eq!(index.distance(3, p)?, Some(113.0));
    assert!(index.memory_bytes() >= 2 * 2 + 2 * 4);
    Ok(())
}
