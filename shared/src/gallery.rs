//! Galleries (feature `alloc`): the templates of many subjects, all made by one model.
//!
//! Subject ids are unique and the templates are kept sorted by subject id, which is also their
//! order on the wire; a decoder accepts any order and rejects duplicates
//! ([`FormatError::DuplicateSubject`]) and templates of another model
//! ([`FormatError::ModelMismatch`]). Memory: `size_of::<Template>()` (about 2.2 KiB) per
//! subject.
//!
//! File payload (kind [`FileKind::Gallery`]): `model: [u8; 16]`, `templates: varint count`, then
//! each template's payload as in a template file.

use alloc::vec::Vec;

use crate::embedding::EmbeddingRef;
use crate::envelope;
use crate::error::{Field, FormatError};
use crate::kind::FileKind;
use crate::metric::Metric;
use crate::model_id::ModelId;
use crate::template::Template;
use crate::wire::{Payload, Reader, Sink};

/// Most templates one gallery holds.
pub const MAX_GALLERY_TEMPLATES: usize = 1 << 16;

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

    /// Decodes a gallery file.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let env = envelope::open(KIND, bytes)?;
        let mut r = Reader::new(KIND, env.payload);
        let model: ModelId = r.take("model")?;
        let max = MAX_GALLERY_TEMPLATES.min(r.remaining() / MIN_TEMPLATE_PAYLOAD);
        let count = r.take_count("templates", 0, max)?;
        let mut templates = Vec::with_capacity(count);
        for k in 0..count {
            r.set_index(Some(k as u32));
            let t = Template::read(&mut r, false)?;
            if t.model() != model {
                return Err(FormatError::ModelMismatch {
                    expected: model,
                    found: t.model(),
                });
            }
            templates.push(t);
        }
        r.set_index(None);
        r.finish()?;
        templates.sort_unstable_by_key(Template::subject);
        if let Some(pair) = templates
            .windows(2)
            .find(|p| p[0].subject() == p[1].subject())
        {
            return Err(FormatError::DuplicateSubject {
                subject: pair[0].subject(),
            });
        }
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
}
