//! 1:N identification in memory: every enrolled embedding in one int8 matrix, scored exactly.
//!
//! What: [`GalleryIndex`] holds the templates of one model (one [`ModelId`], one embedding
//! `dim`, one int8 `scale`) as the rows of a single contiguous `Vec<i8>` of `rows x dim`
//! values, with `row -> subject` and `subject -> rows` beside it (a template of 1 to 8
//! embeddings owns 1 to 8 rows; removal swap-removes them, so the matrix stays contiguous).
//! [`GalleryIndex::search`] scores a probe against every row with the model's metric and returns
//! the `k` nearest subjects, one [`Hit`] each (a subject's distance is the minimum over its
//! rows), ascending by distance and then subject id.
//!
//! Exactness: every distance equals, as `f32 ==`, what [`Template::distance`] gives with the
//! same metric. Squared L2, L2, L1 and cosine come from exact integer sums over the int8 rows
//! ([`kernels`]) converted by the format crate's one formula
//! ([`squared_l2_from_i8_sum`] and friends); the diagonal Mahalanobis form has no integer sum,
//! so the index tabulates its f32 terms once per probe (`dim x 256` values,
//! [`mahalanobis_diag_i8_term`]) and adds them in element order, as the format crate does.
//! Templates and probes of another model, dim or scale are an [`IndexError`] naming both
//! values, never a silent wrong distance.
//!
//! Speed: the kernels run AVX-512 BW, AVX2 or the SSE2 baseline, chosen at run time ([`Isa`]);
//! [`GalleryIndex::search_threads`] splits the rows of one probe across threads and
//! [`GalleryIndex::search_batch`] scores many probes per pass over the matrix (blocks of
//! [`BLOCK`] rows stay in cache while every probe visits them). `examples/bench_identify.rs`
//! measures it against numpy and faiss on the same vectors.
//!
//! When not: an approximate index (IVF, HNSW) is for galleries far past memory or latency
//! budgets; this one is exact and linear in the number of rows.

mod kernels;
mod topk;

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use siamedge_format::metric::{
    cosine_from_i8_sums, dot_i8, l1_from_i8_sum, l2_from_i8_sum, mahalanobis_diag_i8_term,
    mahalanobis_from_form, squared_l2_from_i8_sum,
};
use siamedge_format::template::MAX_TEMPLATE_EMBEDDINGS;
use siamedge_format::{EmbeddingRef, LeF32Slice, Metric, ModelId, Template, MAX_EMBEDDING_DIM};

pub use kernels::Isa;
use kernels::Sum;
use topk::TopK;

/// Rows a kernel scores per call, and the unit of a batch's pass over the matrix.
pub const BLOCK: usize = 1024;

/// One identified subject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The subject's id.
    pub subject: u32,
    /// The smallest distance from the probe to any of the subject's embeddings, in the metric's
    /// units (bit-identical to [`Template::distance`]).
    pub distance: f32,
}

/// What an [`IndexError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The probe embedding of a search or a 1:1 distance.
    Probe,
    /// The template of a subject being added.
    Template {
        /// The subject's id.
        subject: u32,
    },
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Probe => write!(f, "probe"),
            Input::Template { subject } => write!(f, "template of subject {subject}"),
        }
    }
}

/// Why an index refused a template, a probe or its own parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The input comes from another model.
    #[error("{input}: model {found} is not the index's model {expected}")]
    ModelMismatch {
        /// The probe or template.
        input: Input,
        /// The index's model.
        expected: ModelId,
        /// The input's model.
        found: ModelId,
    },
    /// The input's embeddings have another length.
    #[error("{input}: embedding dim {found} is not the index's dim {expected}")]
    DimMismatch {
        /// The probe or template.
        input: Input,
        /// The index's dim.
        expected: usize,
        /// The input's dim.
        found: usize,
    },
    /// An embedding of the input has another int8 scale.
    #[error("{input}: embedding {embedding} has scale {found}, the index's scale is {expected}")]
    ScaleMismatch {
        /// The probe or template.
        input: Input,
        /// The embedding's position in the template (0 for a probe).
        embedding: usize,
        /// The index's scale.
        expected: f32,
        /// The embedding's scale.
        found: f32,
    },
    /// The index's dim is outside `1..=MAX_EMBEDDING_DIM`.
    #[error("index dim {dim} is outside 1..={MAX_EMBEDDING_DIM}")]
    InvalidDim {
        /// The dim asked for.
        dim: usize,
    },
    /// The index's scale is not finite and `> 0`.
    #[error("index scale {scale} is not finite and > 0")]
    InvalidScale {
        /// The scale asked for.
        scale: f32,
    },
    /// The diagonal Mahalanobis metric's weights do not match the dim.
    #[error("metric mahalanobis_diag: {found} weights for dim {expected}")]
    MetricDim {
        /// The index's dim.
        expected: usize,
        /// The number of weights.
        found: usize,
    },
    /// A diagonal Mahalanobis weight is negative or not finite.
    #[error("metric mahalanobis_diag: weight {index} is {value}, not finite and >= 0")]
    MetricWeight {
        /// The weight's position.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// Adding the template would pass `u32::MAX` rows.
    #[error("template of subject {subject}: the index already holds {rows} rows, the most it can")]
    Full {
        /// The subject being added.
        subject: u32,
        /// Rows held.
        rows: usize,
    },
}

/// The rows one subject owns (at most [`MAX_TEMPLATE_EMBEDDINGS`]).
#[derive(Debug, Clone, Copy)]
struct Rows {
    len: u8,
    at: [u32; MAX_TEMPLATE_EMBEDDINGS],
}

impl Rows {
    fn as_slice(&self) -> &[u32] {
        &self.at[..usize::from(self.len)]
    }
}

/// A probe ready to score: its integer sum kind and norm, or its Mahalanobis term table.
enum Prepared<'p> {
    Sums { values: &'p [i8], norm: i32 },
    Table(Vec<f32>),
}

/// Enrolled templates of one model, scored exactly (see the module docs).
#[derive(Debug, Clone)]
pub struct GalleryIndex {
    model: ModelId,
    dim: usize,
    scale: f32,
    metric: Metric<'static>,
    /// Little-endian f32 weights of a diagonal Mahalanobis metric (`4 * dim` bytes), else empty.
    weights: Vec<u8>,
    /// `rows x dim` int8 values, row-major.
    matrix: Vec<i8>,
    /// The subject of each row.
    row_subject: Vec<u32>,
    /// `Σ q^2` of each row (cosine only, else empty).
    row_norm: Vec<i32>,
    subjects: HashMap<u32, Rows>,
    /// `per_count[n]`: subjects with `n` rows.
    per_count: [usize; MAX_TEMPLATE_EMBEDDINGS + 1],
    isa: Isa,
}

impl GalleryIndex {
    /// An empty index for embeddings of `model` with `dim` elements (`1..=1024`) and int8 step
    /// `scale` (finite, `> 0`), scored with `metric` (a diagonal Mahalanobis metric's `dim`
    /// weights, finite and `>= 0`, are copied).
    pub fn new(
        model: ModelId,
        dim: usize,
        scale: f32,
        metric: &Metric<'_>,
    ) -> Result<Self, IndexError> {
        if dim == 0 || dim > MAX_EMBEDDING_DIM {
            return Err(IndexError::InvalidDim { dim });
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(IndexError::InvalidScale { scale });
        }
        let (metric, weights) = match metric {
            Metric::SquaredL2 => (Metric::SquaredL2, Vec::new()),
            Metric::L2 => (Metric::L2, Vec::new()),
            Metric::Cosine => (Metric::Cosine, Vec::new()),
            Metric::L1 => (Metric::L1, Vec::new()),
            Metric::MahalanobisDiag(w) => {
                if w.len() != dim {
                    return Err(IndexError::MetricDim {
                        expected: dim,
                        found: w.len(),
                    });
                }
                if let Some((index, value)) = w
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !(v.is_finite() && *v >= 0.0))
                {
                    return Err(IndexError::MetricWeight { index, value });
                }
                (Metric::MahalanobisDiag(EMPTY), w.as_bytes().to_vec())
            }
        };
        Ok(Self {
            model,
            dim,
            scale,
            metric,
            weights,
            matrix: Vec::new(),
            row_subject: Vec::new(),
            row_norm: Vec::new(),
            subjects: HashMap::new(),
            per_count: [0; MAX_TEMPLATE_EMBEDDINGS + 1],
            isa: Isa::detect(),
        })
    }

    /// An empty index for `rt`'s model: its id, embedding dim and scale, and metric.
    pub fn for_runtime(rt: &crate::Runtime) -> Result<Self, IndexError> {
        let spec = rt.embedding_spec();
        Self::new(rt.id(), usize::from(spec.dim), spec.scale, &rt.metric())
    }

    /// The model every row comes from.
    pub fn model(&self) -> ModelId {
        self.model
    }

    /// Elements per embedding.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The int8 step of every row.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The metric (a diagonal Mahalanobis metric borrows the index's copy of its weights).
    pub fn metric(&self) -> Metric<'_> {
        match self.metric {
            Metric::MahalanobisDiag(_) => {
                Metric::MahalanobisDiag(LeF32Slice::new(&self.weights).unwrap_or(EMPTY))
            }
            m => m,
        }
    }

    /// Subjects held.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    /// Whether no subject is held.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    /// Embeddings held (rows of the matrix), over all subjects.
    pub fn rows(&self) -> usize {
        self.row_subject.len()
    }

    /// Whether `subject` is held.
    pub fn contains(&self, subject: u32) -> bool {
        self.subjects.contains_key(&subject)
    }

    /// The subjects held, in no particular order.
    pub fn subjects(&self) -> impl Iterator<Item = u32> + '_ {
        self.subjects.keys().copied()
    }

    /// The instruction set the kernels run on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Runs the kernels on `isa` when this CPU has it (else on the best it has); for tests and
    /// benchmarks. Results do not depend on it.
    pub fn set_isa(&mut self, isa: Isa) {
        self.isa = isa.min(Isa::detect());
    }

    /// Bytes held: the matrix, the row tables, the subject map (estimated from its capacity:
    /// key, value and one control byte per slot), the metric's weights and the struct itself.
    pub fn memory_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(u32, Rows)>() + 1;
        std::mem::size_of::<Self>()
            + self.matrix.capacity()
            + self.row_subject.capacity() * 4
            + self.row_norm.capacity() * 4
            + self.subjects.capacity() * slot
            + self.weights.capacity()
    }

    /// Reserves room for `rows` more embeddings and `subjects` more subjects.
    pub fn reserve(&mut self, rows: usize, subjects: usize) {
        self.matrix.reserve(rows.saturating_mul(self.dim));
        self.row_subject.reserve(rows);
        if self.metric == Metric::Cosine {
            self.row_norm.reserve(rows);
        }
        self.subjects.reserve(subjects);
    }

    fn check_probe(&self, probe: &EmbeddingRef<'_>) -> Result<(), IndexError> {
        self.check(Input::Probe, probe.model, probe.dim())?;
        if probe.scale != self.scale {
            return Err(IndexError::ScaleMismatch {
                input: Input::Probe,
                embedding: 0,
                expected: self.scale,
                found: probe.scale,
            });
        }
        Ok(())
    }

    fn check(&self, input: Input, model: ModelId, dim: usize) -> Result<(), IndexError> {
        if model != self.model {
            return Err(IndexError::ModelMismatch {
                input,
                expected: self.model,
                found: model,
            });
        }
        if dim != self.dim {
            return Err(IndexError::DimMismatch {
                input,
                expected: self.dim,
                found: dim,
            });
        }
        Ok(())
    }

    /// Adds `t`'s embeddings as its subject's rows, replacing the subject's former rows if it
    /// was held. Errors (the index unchanged): another model, dim or scale, or a full index.
    pub fn upsert(&mut self, t: &Template) -> Result<(), IndexError> {
        let input = Input::Template {
            subject: t.subject(),
        };
        self.check(input, t.model(), t.dim())?;
        for (embedding, e) in t.embeddings().enumerate() {
            if e.scale != self.scale {
                return Err(IndexError::ScaleMismatch {
                    input,
                    embedding,
                    expected: self.scale,
                    found: e.scale,
                });
            }
        }
        let held = self
            .subjects
            .get(&t.subject())
            .map_or(0, |r| r.as_slice().len());
        let rows = self.rows() - held;
        if rows + t.count() > u32::MAX as usize {
            return Err(IndexError::Full {
                subject: t.subject(),
                rows,
            });
        }
        self.remove(t.subject());
        let mut owned = Rows {
            len: 0,
            at: [0; MAX_TEMPLATE_EMBEDDINGS],
        };
        for (slot, e) in owned.at.iter_mut().zip(t.embeddings()) {
            *slot = self.row_subject.len() as u32;
            owned.len += 1;
            self.matrix.extend_from_slice(e.values);
            self.row_subject.push(t.subject());
            if self.metric == Metric::Cosine {
                self.row_norm.push(dot_i8(e.values, e.values).unwrap_or(0));
            }
        }
        self.per_count[usize::from(owned.len)] += 1;
        self.subjects.insert(t.subject(), owned);
        Ok(())
    }

    /// Removes `subject`'s rows (the last rows move into their places); false when it was not
    /// held.
    pub fn remove(&mut self, subject: u32) -> bool {
        let Some(rows) = self.subjects.remove(&subject) else {
            return false;
        };
        self.per_count[usize::from(rows.len)] -= 1;
        let mut mine: Vec<u32> = rows.as_slice().to_vec();
        // Highest first: a swap never moves one of this subject's rows still to be removed.
        mine.sort_unstable_by(|a, b| b.cmp(a));
        for r in mine {
            let r = r as usize;
            let last = self.row_subject.len() - 1;
            if r != last {
                let moved = self.row_subject[last];
                self.matrix
                    .copy_within(last * self.dim..(last + 1) * self.dim, r * self.dim);
                self.row_subject[r] = moved;
                if let Some(norm) = self.row_norm.get(last).copied() {
                    self.row_norm[r] = norm;
                }
                if let Some(owner) = self.subjects.get_mut(&moved) {
                    let len = usize::from(owner.len);
                    if let Some(slot) = owner.at[..len].iter_mut().find(|s| **s as usize == last) {
                        *slot = r as u32;
                    }
                }
            }
            self.matrix.truncate(last * self.dim);
            self.row_subject.truncate(last);
            self.row_norm.truncate(last.min(self.row_norm.len()));
        }
        true
    }

    /// The 1:1 distance from `probe` to `subject`'s template (the minimum over its rows), or
    /// `None` when the subject is not held. Errors: a probe of another model, dim or scale.
    pub fn distance(
        &self,
        subject: u32,
        probe: EmbeddingRef<'_>,
    ) -> Result<Option<f32>, IndexError> {
        self.check_probe(&probe)?;
        let Some(rows) = self.subjects.get(&subject) else {
            return Ok(None);
        };
        let prepared = self.prepare(probe.values);
        let mut best = f32::INFINITY;
        for r in rows.as_slice() {
            let r = *r as usize;
            let mut one = TopK::new(1, 1);
            self.scan(&prepared, r..r + 1, std::slice::from_mut(&mut one));
            if let Some(hit) = one.finish().first() {
                best = best.min(hit.distance);
            }
        }
        Ok(Some(best))
    }

    /// The `k` subjects nearest to `probe`, ascending by distance then subject id, one hit per
    /// subject, at most `min(k, len())`; one thread. Errors: a probe of another model, dim or
    /// scale.
    pub fn search(&self, probe: EmbeddingRef<'_>, k: usize) -> Result<Vec<Hit>, IndexError> {
        self.search_threads(probe, k, 1)
    }

    /// [`search`](Self::search) with the rows split across up to `threads` threads (at least
    /// [`BLOCK`] rows each); the same hits for any `threads`.
    pub fn search_threads(
        &self,
        probe: EmbeddingRef<'_>,
        k: usize,
        threads: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        self.check_probe(&probe)?;
        let prepared = self.prepare(probe.values);
        let per_subject = self.per_subject();
        let rows = self.rows();
        let threads = threads.clamp(1, rows.div_ceil(BLOCK).max(1));
        if threads == 1 {
            let mut top = [TopK::new(k, per_subject)];
            self.scan(&prepared, 0..rows, &mut top);
            let [top] = top;
            return Ok(top.finish());
        }
        let share = rows.div_ceil(threads).div_ceil(BLOCK) * BLOCK;
        let prepared = &prepared;
        let parts: Vec<TopK> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = (t * share).min(rows)..((t + 1) * share).min(rows);
                    s.spawn(move || {
                        let mut top = [TopK::new(k, per_subject)];
                        self.scan(prepared, range, &mut top);
                        let [top] = top;
                        top
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut top = TopK::new(k, per_subject);
        for part in parts {
            top.merge(part);
        }
        Ok(top.finish())
    }

    /// [`search`](Self::search) for every probe, in order, with the probes split across up to
    /// `threads` threads; each thread scores its probes block by block ([`BLOCK`] rows), so the
    /// matrix is read once per thread rather than once per probe. Errors name the first bad
    /// probe's problem.
    pub fn search_batch(
        &self,
        probes: &[EmbeddingRef<'_>],
        k: usize,
        threads: usize,
    ) -> Result<Vec<Vec<Hit>>, IndexError> {
        for p in probes {
            self.check_probe(p)?;
        }
        let threads = threads.clamp(1, probes.len().max(1));
        let share = probes.len().div_ceil(threads).max(1);
        let per_subject = self.per_subject();
        let run = |chunk: &[EmbeddingRef<'_>]| -> Vec<Vec<Hit>> {
            let prepared: Vec<Prepared<'_>> =
                chunk.iter().map(|p| self.prepare(p.values)).collect();
            let mut tops: Vec<TopK> = chunk.iter().map(|_| TopK::new(k, per_subject)).collect();
            for start in (0..self.rows()).step_by(BLOCK) {
                let range = start..(start + BLOCK).min(self.rows());
                for (p, top) in prepared.iter().zip(tops.iter_mut()) {
                    self.scan(p, range.clone(), std::slice::from_mut(top));
                }
            }
            tops.into_iter().map(TopK::finish).collect()
        };
        if threads == 1 {
            return Ok(run(probes));
        }
        Ok(std::thread::scope(|s| {
            let handles: Vec<_> = probes
                .chunks(share)
                .map(|c| s.spawn(move || run(c)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        }))
    }

    /// Most rows any held subject owns (1 when empty).
    fn per_subject(&self) -> usize {
        (1..=MAX_TEMPLATE_EMBEDDINGS)
            .rev()
            .find(|n| self.per_count[*n] > 0)
            .unwrap_or(1)
    }

    fn prepare<'p>(&self, probe: &'p [i8]) -> Prepared<'p> {
        match self.metric {
            Metric::MahalanobisDiag(_) => {
                let w = LeF32Slice::new(&self.weights).unwrap_or(EMPTY);
                let mut table = Vec::with_capacity(self.dim * 256);
                for (w, b) in w.iter().zip(probe) {
                    // Index by the row value's byte: `q as u8`.
                    table.extend((0..=255u8).map(|byte| {
                        mahalanobis_diag_i8_term(w, byte as i8, self.scale, *b, self.scale)
                    }));
                }
                Prepared::Table(table)
            }
            _ => Prepared::Sums {
                values: probe,
                norm: dot_i8(probe, probe).unwrap_or(0),
            },
        }
    }

    /// Offers every row in `range` to `top[0]` (one probe).
    fn scan(&self, probe: &Prepared<'_>, range: Range<usize>, top: &mut [TopK]) {
        let Some(top) = top.first_mut() else { return };
        let (dim, scale) = (self.dim, self.scale);
        match probe {
            Prepared::Table(table) => {
                let rows = &self.matrix[range.start * dim..range.end * dim];
                for (row, subject) in rows.chunks_exact(dim).zip(&self.row_subject[range]) {
                    let q: f32 = row
                        .iter()
                        .zip(table.chunks_exact(256))
                        .map(|(q, t)| t[usize::from(*q as u8)])
                        .sum();
                    top.push(mahalanobis_from_form(q), *subject);
                }
            }
            Prepared::Sums { values, norm } => match self.metric {
                Metric::SquaredL2 => self.scan_sums(Sum::SquaredL2, values, range, top, |_, s| {
                    squared_l2_from_i8_sum(s as u32, scale)
                }),
                Metric::L2 => self.scan_sums(Sum::SquaredL2, values, range, top, |_, s| {
                    l2_from_i8_sum(s as u32, scale)
                }),
                Metric::L1 => self.scan_sums(Sum::L1, values, range, top, |_, s| {
                    l1_from_i8_sum(s as u32, scale)
                }),
                Metric::Cosine => self.scan_sums(Sum::Dot, values, range, top, |r, s| {
                    cosine_from_i8_sums(s, self.row_norm[r], *norm, scale, scale)
                }),
                Metric::MahalanobisDiag(_) => {}
            },
        }
    }

    #[inline(always)]
    fn scan_sums(
        &self,
        sum: Sum,
        probe: &[i8],
        range: Range<usize>,
        top: &mut TopK,
        distance: impl Fn(usize, i32) -> f32,
    ) {
        let mut out = [0i32; BLOCK];
        let dim = self.dim;
        let mut start = range.start;
        while start < range.end {
            let end = (start + BLOCK).min(range.end);
            let out = &mut out[..end - start];
            kernels::sums(
                self.isa,
                sum,
                &self.matrix[start * dim..end * dim],
                probe,
                out,
            );
            for ((r, s), subject) in (start..end)
                .zip(out.iter())
                .zip(&self.row_subject[start..end])
            {
                top.push(distance(r, *s), *subject);
            }
            start = end;
        }
    }
}

const EMPTY: LeF32Slice<'static> = match LeF32Slice::new(&[]) {
    Some(s) => s,
    None => panic!("an empty slice is a valid f32 array"),
};

#[cfg(test)]
mod tests;
