//! Galleries (feature `alloc`): the templates of many subjects, all made by one model.
//!
//! Subject ids are unique and the templates are kept sorted by subject id, which is also their
//! order on the wire; a decoder accepts any order and rejects duplicates
//! ([`FormatError::DuplicateSubject`]) and templates of another model
//! ([`FormatError::ModelMismatch`]). Memory: `size_of::<Template>()` (about 2.2 KiB) per
//! subject.
//!
//! Large galleries (a store of a million subjects) go through [`GalleryWriter`] and
//! [`GalleryReader`] instead, one template at a time: the writer holds the file's bytes (about
//! 170 bytes for a 128-value template), the reader borrows them and yields each template in turn.
//! Both produce and accept exactly the bytes of [`Gallery::to_bytes`] and [`Gallery::decode`].
//!
//! File payload (kind [`FileKind::Gallery`]): `model: [u8; 16]`, `templates: varint count`, then
//! each template's payload as in a template file.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use crate::embedding::EmbeddingRef;
use crate::envelope;
use crate::error::{Field, FormatError};
use crate::kind::FileKind;
use crate::metric::Metric;
use crate::model_id::ModelId;
use crate::template::Template;
use crate::wire::{Payload, Reader, Sink};
use serde::Serialize;

/// Most templates one gallery holds: 4,194,304 (the wire count is a `u32` varint; files of up to
/// 65,536 templates were all a reader accepted before, the bytes are unchanged).
pub const MAX_GALLERY_TEMPLATES: usize = 1 << 22;

/// Fewest payload bytes a template takes (subject, empty label, model, created, count, and one
/// embedding of one value), used to bound a count before allocating for it.
const MIN_TEMPLATE_PAYLOAD: usize = 1 + 1 + ModelId::LEN + 1 + 1 + 4 + 1 + 1;

const KIND: FileKind = FileKind::Gallery;

/// Templates of many subjects, one model (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Gallery {
    model: ModelId,
    templates: Vec<Template>,
}

impl Gallery {
    /// An empty gallery for templates of `model`.
    pub fn new(model: ModelId) -> Self {
        Self {
            model,
            templates: Vec::new(),
        }
    }

    /// The model of every template.
    pub fn model(&self) -> ModelId {
        self.model
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// Whether the gallery holds no template.
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// The templates, sorted by subject id.
    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// The template of `subject`.
    pub fn get(&self, subject: u32) -> Option<&Template> {
        let i = self
            .templates
            .binary_search_by_key(&subject, Template::subject)
            .ok()?;
        self.templates.get(i)
    }

    /// Adds a template. Errors, leaving the gallery unchanged: [`FormatError::ModelMismatch`],
    /// [`FormatError::DuplicateSubject`], [`FormatError::CapacityExceeded`].
    pub fn insert(&mut self, template: Template) -> Result<(), FormatError> {
        if template.model() != self.model {
            return Err(FormatError::ModelMismatch {
                expected: self.model,
                found: template.model(),
            });
        }
        match self
            .templates
            .binary_search_by_key(&template.subject(), Template::subject)
        {
            Ok(_) => Err(FormatError::DuplicateSubject {
                subject: template.subject(),
            }),
            Err(_) if self.templates.len() >= MAX_GALLERY_TEMPLATES => {
                Err(FormatError::CapacityExceeded {
                    what: "gallery templates",
                    capacity: MAX_GALLERY_TEMPLATES,
                })
            }
            Err(at) => {
                self.templates.insert(at, template);
                Ok(())
            }
        }
    }

    /// Removes and returns the template of `subject`.
    pub fn remove(&mut self, subject: u32) -> Option<Template> {
        let i = self
            .templates
            .binary_search_by_key(&subject, Template::subject)
            .ok()?;
        Some(self.templates.remove(i))
    }

    /// Identification (1:N): the subject whose template is nearest to `probe`, with the distance;
    /// `None` for an empty gallery. [`FormatError::ModelMismatch`] for a probe of another model.
    pub fn nearest(
        &self,
        probe: EmbeddingRef<'_>,
        metric: &Metric<'_>,
    ) -> Result<Option<(u32, f32)>, FormatError> {
        if probe.model != self.model {
            return Err(FormatError::ModelMismatch {
                expected: self.model,
                found: probe.model,
            });
        }
        let mut best: Option<(u32, f32)> = None;
        for t in &self.templates {
            let d = t.distance(probe, metric)?;
            if best.is_none_or(|(_, b)| d < b) {
                best = Some((t.subject(), d));
            }
        }
        Ok(best)
    }

    /// Decodes a gallery file (all templates in memory; see [`GalleryReader`] for one at a
    /// time).
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let reader = GalleryReader::new(bytes)?;
        let model = reader.model();
        let mut templates = Vec::with_capacity(reader.len());
        for t in reader {
            templates.push(t?);
        }
        templates.sort_unstable_by_key(Template::subject);
        Ok(Self { model, templates })
    }

    /// Encodes the gallery file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        envelope::encode_to_vec(self)
    }
}

impl Payload for Gallery {
    const KIND: FileKind = KIND;

    fn write<S: Sink>(&self, sink: &mut S) -> Result<(), FormatError> {
        sink.put(&self.model)?;
        let count = u32::try_from(self.templates.len()).map_err(|_| FormatError::OutOfRange {
            at: Field::new(KIND, "templates"),
            value: self.templates.len() as i64,
            min: 0,
            max: MAX_GALLERY_TEMPLATES as i64,
        })?;
        sink.put(&count)?;
        for t in &self.templates {
            t.write(sink)?;
        }
        Ok(())
    }
}

/// Reads a gallery file one template at a time (see the module docs): the envelope (CRC
/// included) is checked by [`GalleryReader::new`]; each item is checked as it is read (model,
/// duplicate subject), and after the last one the payload must end. Memory: a set of the subject
/// ids seen (to reject duplicates), not the templates.
pub struct GalleryReader<'a> {
    reader: Reader<'a>,
    model: ModelId,
    count: usize,
    next: usize,
    seen: BTreeSet<u32>,
    done: bool,
}

impl core::fmt::Debug for GalleryReader<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GalleryReader")
            .field("model", &self.model)
            .field("count", &self.count)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl<'a> GalleryReader<'a> {
    /// Checks the envelope of the gallery file `bytes` and reads its header (model, count).
    pub fn new(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let env = envelope::open(KIND, bytes)?;
        let mut reader = Reader::new(KIND, env.payload);
        let model: ModelId = reader.take("model")?;
        let max = MAX_GALLERY_TEMPLATES.min(reader.remaining() / MIN_TEMPLATE_PAYLOAD);
        let count = reader.take_count("templates", 0, max)?;
        Ok(Self {
            reader,
            model,
            count,
            next: 0,
            seen: BTreeSet::new(),
            done: false,
        })
    }

    /// The model of every template.
    pub fn model(&self) -> ModelId {
        self.model
    }

    /// Number of templates the file announces (and holds, once read without error).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the file announces no template.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn read_next(&mut self) -> Result<Option<Template>, FormatError> {
        if self.next == self.count {
            self.done = true;
            self.reader.set_index(None);
            let rest = core::mem::replace(&mut self.reader, Reader::new(KIND, &[]));
            rest.finish()?;
            return Ok(None);
        }
        self.reader.set_index(Some(self.next as u32));
        let t = Template::read(&mut self.reader, false)?;
        self.next += 1;
        if t.model() != self.model {
            return Err(FormatError::ModelMismatch {
                expected: self.model,
                found: t.model(),
            });
        }
        if !self.seen.insert(t.subject()) {
            return Err(FormatError::DuplicateSubject {
                subject: t.subject(),
            });
        }
        Ok(Some(t))
    }
}

impl Iterator for GalleryReader<'_> {
    type Item = Result<Template, FormatError>;

    /// The next template, or the first error (after which the iterator ends).
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_next() {
            Ok(t) => t.map(Ok),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Writes a gallery file one template at a time (see the module docs): announce the count, push
/// the templates in ascending subject order, then [`finish`](GalleryWriter::finish). The bytes
/// are those of [`Gallery::to_bytes`] for the same templates.
#[derive(Debug)]
pub struct GalleryWriter {
    model: ModelId,
    count: usize,
    written: usize,
    last: Option<u32>,
    buf: Vec<u8>,
}

/// Appends postcard fields after the envelope header reserved at the start of a vector.
struct BufSink<'v>(&'v mut Vec<u8>);

impl Sink for BufSink<'_> {
    fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FormatError> {
        let bytes = core::mem::take(self.0);
        *self.0 = postcard::to_extend(value, bytes).map_err(|_| FormatError::Malformed {
            at: Field::new(KIND, "payload"),
            reason: "postcard could not encode a field",
        })?;
        Ok(())
    }
}

impl GalleryWriter {
    /// A gallery of `count` templates of `model` (at most [`MAX_GALLERY_TEMPLATES`]).
    pub fn new(model: ModelId, count: usize) -> Result<Self, FormatError> {
        let at = Field::new(KIND, "templates");
        let wire_count = u32::try_from(count)
            .ok()
            .filter(|_| count <= MAX_GALLERY_TEMPLATES)
            .ok_or(FormatError::OutOfRange {
                at,
                value: i64::try_from(count).unwrap_or(i64::MAX),
                min: 0,
                max: MAX_GALLERY_TEMPLATES as i64,
            })?;
        let mut buf = alloc::vec![0u8; envelope::HEADER_LEN];
        let mut sink = BufSink(&mut buf);
        sink.put(&model)?;
        sink.put(&wire_count)?;
        Ok(Self {
            model,
            count,
            written: 0,
            last: None,
            buf,
        })
    }

    /// Appends `template`. Errors, writing nothing: [`FormatError::ModelMismatch`],
    /// [`FormatError::DuplicateSubject`], a subject below the previous one or one template more
    /// than announced ([`FormatError::Malformed`], [`FormatError::Mismatch`]).
    pub fn push(&mut self, template: &Template) -> Result<(), FormatError> {
        let at = Field::new(KIND, "templates");
        if template.model() != self.model {
            return Err(FormatError::ModelMismatch {
                expected: self.model,
                found: template.model(),
            });
        }
        if self.written == self.count {
            return Err(FormatError::Mismatch {
                at,
                expected: self.count as u64,
                found: self.count as u64 + 1,
            });
        }
        let subject = template.subject();
        match self.last {
            Some(last) if last == subject => return Err(FormatError::DuplicateSubject { subject }),
            Some(last) if last > subject => {
                return Err(FormatError::Malformed {
                    at,
                    reason: "templates must be pushed in ascending subject order",
                })
            }
            _ => {}
        }
        let len = self.buf.len();
        if let Err(e) = template.write(&mut BufSink(&mut self.buf)) {
            self.buf.truncate(len);
            return Err(e);
        }
        self.written += 1;
        self.last = Some(subject);
        Ok(())
    }

    /// The whole file: header, payload and CRC. [`FormatError::Mismatch`] when fewer templates
    /// were pushed than announced.
    pub fn finish(mut self) -> Result<Vec<u8>, FormatError> {
        if self.written != self.count {
            return Err(FormatError::Mismatch {
                at: Field::new(KIND, "templates"),
                expected: self.count as u64,
                found: self.written as u64,
            });
        }
        let payload_len = self.buf.len() - envelope::HEADER_LEN;
        self.buf.resize(self.buf.len() + envelope::CRC_LEN, 0);
        let len = envelope::seal_in_place(KIND, &mut self.buf, payload_len)?.len();
        self.buf.truncate(len);
        Ok(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ModelId = ModelId([1; 16]);
    const B: ModelId = ModelId([2; 16]);

    fn t(model: ModelId, subject: u32, v: i8) -> Result<Template, FormatError> {
        Template::new(
            subject,
            EmbeddingRef {
                model,
                scale: 1.0,
                values: &[v, 0],
            },
        )
    }

    #[test]
    fn insert_get_remove_nearest() -> Result<(), FormatError> {
        let mut g = Gallery::new(A);
        g.insert(t(A, 5, 10)?)?;
        g.insert(t(A, 2, 0)?)?;
        assert_eq!(
            g.insert(t(A, 5, 1)?),
            Err(FormatError::DuplicateSubject { subject: 5 })
        );
        assert_eq!(
            g.insert(t(B, 6, 1)?),
            Err(FormatError::ModelMismatch {
                expected: A,
                found: B
            })
        );
        assert_eq!(
            g.templates()
                .iter()
                .map(Template::subject)
                .collect::<Vec<_>>(),
            [2, 5]
        );
        let probe = [8, 0];
        let probe = EmbeddingRef {
            model: A,
            scale: 1.0,
            values: &probe,
        };
        assert_eq!(g.nearest(probe, &Metric::L1), Ok(Some((5, 2.0))));
        assert_eq!(g.get(2).map(Template::subject), Some(2));
        assert_eq!(g.remove(2).map(|t| t.subject()), Some(2));
        assert_eq!(g.get(2), None);
        assert_eq!(Gallery::new(A).nearest(probe, &Metric::L1), Ok(None));
        Ok(())
    }

    #[test]
    fn writer_and_reader_match_to_bytes_and_decode() -> Result<(), FormatError> {
        let mut g = Gallery::new(A);
        for (s, v) in [(9, 1), (2, -3), (700, 5), (70_000, 7)] {
            g.insert(t(A, s, v)?.with_label("x")?)?;
        }
        let mut w = GalleryWriter::new(A, g.len())?;
        for tp in g.templates() {
            w.push(tp)?;
        }
        let bytes = w.finish()?;
        assert_eq!(bytes, g.to_bytes()?);
        let back: Result<Vec<Template>, _> = GalleryReader::new(&bytes)?.collect();
        assert_eq!(back?, g.templates());
        assert_eq!(Gallery::decode(&bytes)?, g);
        // An empty gallery too.
        assert_eq!(
            GalleryWriter::new(B, 0)?.finish()?,
            Gallery::new(B).to_bytes()?
        );
        Ok(())
    }

    #[test]
    fn writer_refuses_wrong_order_count_and_model() -> Result<(), FormatError> {
        let mut w = GalleryWriter::new(A, 2)?;
        w.push(&t(A, 5, 1)?)?;
        assert_eq!(
            w.push(&t(A, 5, 1)?),
            Err(FormatError::DuplicateSubject { subject: 5 })
        );
        assert!(matches!(
            w.push(&t(A, 4, 1)?),
            Err(FormatError::Malformed { .. })
        ));
        assert!(matches!(
            w.push(&t(B, 6, 1)?),
            Err(FormatError::ModelMismatch { .. })
        ));
        assert!(matches!(w.finish(), Err(FormatError::Mismatch { .. })));
        let mut w = GalleryWriter::new(A, 1)?;
        w.push(&t(A, 1, 1)?)?;
        assert!(matches!(
            w.push(&t(A, 2, 1)?),
            Err(FormatError::Mismatch { .. })
        ));
        assert!(GalleryWriter::new(A, MAX_GALLERY_TEMPLATES + 1).is_err());
        Ok(())
    }

    #[test]
    fn reader_rejects_duplicates_and_trailing_bytes() -> Result<(), FormatError> {
        // Unsorted with a duplicate: payload = model, count 3, templates 7, 3, 7.
        let mut payload = Vec::new();
        let mut sink = BufSink(&mut payload);
        sink.put(&A)?;
        sink.put(&3u32)?;
        for s in [7, 3, 7] {
            t(A, s, 1)?.write(&mut sink)?;
        }
        let file = envelope::seal(KIND, &payload)?;
        let got: Vec<_> = GalleryReader::new(&file)?.collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], Err(FormatError::DuplicateSubject { subject: 7 }));
        assert_eq!(
            Gallery::decode(&file),
            Err(FormatError::DuplicateSubject { subject: 7 })
        );
        // Whole templates and one byte more: the error comes after the last template.
        let mut payload = Vec::new();
        let mut sink = BufSink(&mut payload);
        sink.put(&A)?;
        sink.put(&1u32)?;
        t(A, 1, 1)?.write(&mut sink)?;
        payload.push(0);
        let file = envelope::seal(KIND, &payload)?;
        let got: Vec<_> = GalleryReader::new(&file)?.collect();
        assert!(got[0].is_ok());
        assert_eq!(
            got[1],
            Err(FormatError::TrailingBytes {
                kind: KIND,
                extra: 1
            })
        );
        assert_eq!(got.len(), 2);
        Ok(())
    }
}
