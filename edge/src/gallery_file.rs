//! A gallery of enrolled templates kept in one file, changed only by atomic replacement.
//!
//! Every change ([`enroll`](GalleryFile::enroll), [`replace`](GalleryFile::replace),
//! [`remove`](GalleryFile::remove)) is applied to a copy, written with
//! [`write_atomic`], and only then becomes the in-memory state: a
//! failed write changes neither the file nor the gallery in memory.

use std::path::{Path, PathBuf};

use siamedge_format::file::write_atomic;
use siamedge_format::{Decision, DecisionSpec, EmbeddingRef, Gallery, Metric, ModelId, Template};

use crate::error::EdgeError;

/// A [`Gallery`] bound to its file.
#[derive(Debug, Clone)]
pub struct GalleryFile {
    path: PathBuf,
    gallery: Gallery,
}

impl GalleryFile {
    /// Loads the gallery at `path`. Errors name the path: [`EdgeError::Io`] when it cannot be
    /// read, [`EdgeError::Format`] when its bytes are not a valid gallery file.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, EdgeError> {
        let path = path.into();
        let bytes = crate::error::read_file(&path)?;
        let gallery = Gallery::decode(&bytes).map_err(|source| EdgeError::Format {
            path: path.clone(),
            source,
        })?;
        Ok(Self { path, gallery })
    }

    /// Creates an empty gallery for `model` at `path` (writing the file), replacing nothing: an
    /// existing file is an [`EdgeError::Io`] with kind `AlreadyExists`.
    pub fn create(path: impl Into<PathBuf>, model: ModelId) -> Result<Self, EdgeError> {
        let path = path.into();
        if path.exists() {
            let source = std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a gallery is already there",
            );
            return Err(EdgeError::Io {
                action: "creating",
                path,
                source,
            });
        }
        let file = Self {
            path,
            gallery: Gallery::new(model),
        };
        file.write(&file.gallery)?;
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The gallery as last written.
    pub fn gallery(&self) -> &Gallery {
        &self.gallery
    }

    /// Adds a new subject's template and writes the file. A duplicate subject or a template of
    /// another model is an [`EdgeError::Gallery`]; nothing is written then.
    pub fn enroll(&mut self, template: Template) -> Result<(), EdgeError> {
        self.change(|g| g.insert(template))
    }

    /// Replaces the template of an enrolled subject (re-enrollment) or adds it, and writes the file.
    pub fn replace(&mut self, template: Template) -> Result<(), EdgeError> {
        self.change(|g| {
            g.remove(template.subject());
            g.insert(template)
        })
    }

    /// Removes `subject` and writes the file; returns the removed template (`None`, and no
    /// write, when the subject was not enrolled).
    pub fn remove(&mut self, subject: u32) -> Result<Option<Template>, EdgeError> {
        if self.gallery.get(subject).is_none() {
            return Ok(None);
        }
        let mut removed = None;
        self.change(|g| {
            removed = g.remove(subject);
            Ok(())
        })?;
        Ok(removed)
    }

    /// Verification (1:1): `probe` against the template of `subject` under `metric`, decided at
    /// `decision`'s default operating point. `Ok(None)` when the subject is not enrolled.
    pub fn verify(
        &self,
        subject: u32,
        probe: EmbeddingRef<'_>,
        metric: &Metric<'_>,
        decision: &DecisionSpec,
    ) -> Result<Option<Decision>, EdgeError> {
        let Some(template) = self.gallery.get(subject) else {
            return Ok(None);
        };
        let distance = template
            .distance(probe, metric)
            .map_err(|source| self.refused(source))?;
        Ok(Some(decision.decide(distance)))
    }

    /// Identification (1:N): the nearest enrolled subject and the decision on it, or `None` for an
    /// empty gallery. The caller treats a rejected decision as "unknown person".
    pub fn identify(
        &self,
        probe: EmbeddingRef<'_>,
        metric: &Metric<'_>,
        decision: &DecisionSpec,
    ) -> Result<Option<(u32, Decision)>, EdgeError> {
        let nearest = self
            .gallery
            .nearest(probe, metric)
            .map_err(|source| self.refused(source))?;
        Ok(nearest.map(|(subject, distance)| (subject, decision.decide(distance))))
    }

    fn refused(&self, source: siamedge_format::FormatError) -> EdgeError {
        EdgeError::Gallery {
            path: self.path.clone(),
            source,
        }
    }

    fn change(
        &mut self,
        f: impl FnOnce(&mut Gallery) -> Result<(), siamedge_format::FormatError>,
    ) -> Result<(), EdgeError> {
        let mut next = self.gallery.clone();
        f(&mut next).map_err(|source| self.refused(source))?;
        self.write(&next)?;
        self.gallery = next;
        Ok(())
    }

    fn write(&self, gallery: &Gallery) -> Result<(), EdgeError> {
        let bytes = gallery.to_bytes().map_err(|source| self.refused(source))?;
        Ok(write_atomic(&self.path, &bytes)?)
    }
}
