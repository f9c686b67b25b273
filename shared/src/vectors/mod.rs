//! Test vectors for a model: int8 input images, the embeddings and the verification decisions a
//! host computed for them, so that a board can prove it computes the same (`SGTV` files).
//!
//! What: [`TestVectors::decode`] reads a vectors file zero-copy (images and embeddings stay
//! borrowed slices of the file, typically `include_bytes!` in flash) and checks every field, so
//! the accessors never fail on a decoded value. Bad bytes get a [`VectorsError`] naming the
//! field and the values, never a panic. [`VectorsSpec`](write::VectorsSpec) (with `std`) writes
//! one.
//!
//! When: the board binaries (`firmware/boards/*`) embed a model and its vectors and exit with
//! success only if they reproduce them; `tests/src/bin/board-vectors.rs` writes them on the host
//! with the same engine. When not: this is a test fixture format, not a way to ship data. It is
//! not in the [`envelope`](crate::envelope) of the shipped files (it predates it, and a board reads
//! it field by field from flash): its own magic, version and CRC-32, under the same compatibility
//! rule.
//!
//! Layout (all integers little-endian; `f32` as IEEE-754 bits):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SGTV` |
//! | 4 | 2 | version, u16 = 1 |
//! | 6 | 16 | `ModelId` of the model these vectors are for |
//! | 22 | 4 | `input_len`, u32: bytes of one int8 input image (`h * w * c`), `1..=2^24` |
//! | 26 | 2 | `dim`, u16: embedding values, `1..=1024` |
//! | 28 | 2 | `images`, u16: `1..=64` |
//! | 30 | 4 | `subject`, u32: the subject enrolled |
//! | 34 | 1 | `enroll`, u8: enrollment captures, `1..=8` |
//! | 35 | 1 | `probes`, u8: verification probes, `1..=16` |
//! | 36 | 1 | `source`, u8: 0 synthetic images, 1 held-out ORL faces |
//! | 37 | 1 | `policy`, u8: how the captures were enrolled, 0 keep each, 1 mean ([`EnrollPolicy`]) |
//! | 38 | 2 | reserved, zero |
//! | 40 | 2 x images | `labels`: the identity each image shows (u16) |
//! | .. | 2 x enroll | `enroll_images`: image indices, `< images` |
//! | .. | 12 x probes | each probe: image u16 (`< images`), accept u8 (0/1), reserved u8 (0), distance f32, score f32 |
//! | .. | input_len x images | the int8 input images, in order |
//! | .. | dim x images | the int8 embeddings expected for them |
//! | end - 4 | 4 | CRC-32 (IEEE, [`crate::crc`]) of every byte before it |
//!
//! The file is exactly that long. Compatibility rule as for `siamedge-format`'s files: any
//! change of bytes is a new version; readers keep decoding old versions.

#[cfg(feature = "alloc")]
pub mod write;

mod error;

pub use error::VectorsError;

use crate::crc::crc32;
use crate::le::as_i8;
use crate::ModelId;

use crate::EnrollPolicy;

/// The first four bytes of a vectors file.
pub const MAGIC: [u8; 4] = *b"SGTV";
/// The newest version this reader decodes (it accepts `1..=VERSION`).
pub const VERSION: u16 = 1;
/// Bytes before the variable-length sections.
pub const HEADER_LEN: usize = 40;
/// Bytes of one probe record.
pub const PROBE_LEN: usize = 12;
/// Most images in one file.
pub const MAX_IMAGES: u16 = 64;
/// Most enrollment captures (a template holds at most this many embeddings).
pub const MAX_ENROLL: u8 = crate::MAX_TEMPLATE_EMBEDDINGS as u8;
/// Most probes in one file.
pub const MAX_PROBES: u8 = 16;
/// Largest input image (bytes).
pub const MAX_INPUT_LEN: u32 = 1 << 24;

/// Where the images came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Generated images (no data set at hand).
    Synthetic,
    /// Held-out ORL faces (identities the model never saw in training).
    OrlHeldOut,
}

impl Source {
    /// The wire byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            Source::Synthetic => 0,
            Source::OrlHeldOut => 1,
        }
    }

    /// A short name for reports.
    pub const fn name(self) -> &'static str {
        match self {
            Source::Synthetic => "synthetic",
            Source::OrlHeldOut => "ORL held-out",
        }
    }
}

/// One expected verification: probe image `image` against the enrolled template.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// Index of the probe image, `< images`.
    pub image: u16,
    /// Whether the host accepted it.
    pub accept: bool,
    /// The distance the host computed (units of the model's metric).
    pub distance: f32,
    /// The match probability the host computed.
    pub score: f32,
}

/// A decoded, checked vectors file borrowing from its bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestVectors<'a> {
    model: ModelId,
    input_len: usize,
    dim: usize,
    images: usize,
    subject: u32,
    source: Source,
    policy: EnrollPolicy,
    labels: &'a [u8],
    enroll: &'a [u8],
    probes: &'a [u8],
    inputs: &'a [i8],
    embeddings: &'a [i8],
}

/// A little-endian cursor over the bytes between the header and the CRC.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], VectorsError> {
        if n > self.rest.len() {
            return Err(VectorsError::Truncated {
                field,
                needed: n as u64,
                available: self.rest.len() as u64,
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

fn f32_at(bytes: &[u8], at: usize) -> f32 {
    f32::from_bits(u32_at(bytes, at))
}

fn check_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), VectorsError> {
    if value < min || value > max {
        return Err(VectorsError::OutOfRange {
            field,
            index: None,
            value,
            min,
            max,
        });
    }
    Ok(())
}

impl<'a> TestVectors<'a> {
    /// Decodes and checks a vectors file, borrowing from `bytes`; no allocation, no panic.
    ///
    /// Checks, in order: magic, version, CRC, header bounds, exact length, reserved bytes, image
    /// indices, accept bytes.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, VectorsError> {
        let magic = bytes.get(..4).unwrap_or(bytes);
        if magic != MAGIC {
            let mut found = [0u8; 4];
            found
                .iter_mut()
                .zip(magic)
                .for_each(|(slot, byte)| *slot = *byte);
            return Err(VectorsError::WrongMagic { found });
        }
        if bytes.len() < HEADER_LEN + 4 {
            return Err(VectorsError::Truncated {
                field: "header",
                needed: (HEADER_LEN + 4) as u64,
                available: bytes.len() as u64,
            });
        }
        let version = u16_at(bytes, 4);
        if version == 0 || version > VERSION {
            return Err(VectorsError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let stored = u32_at(crc, 0);
        let computed = crc32(body);
        if stored != computed {
            return Err(VectorsError::BadCrc { stored, computed });
        }
        let mut id = [0u8; ModelId::LEN];
        id.iter_mut()
            .zip(body.get(6..22).unwrap_or_default())
            .for_each(|(slot, byte)| *slot = *byte);
        let input_len = u32_at(body, 22);
        check_range("input_len", input_len.into(), 1, MAX_INPUT_LEN.into())?;
        let dim = u16_at(body, 26);
        check_range("dim", dim.into(), 1, crate::MAX_EMBEDDING_DIM as u64)?;
        let images = u16_at(body, 28);
        check_range("images", images.into(), 1, MAX_IMAGES.into())?;
        let subject = u32_at(body, 30);
        let enroll = body.get(34).copied().unwrap_or(0);
        check_range("enroll", enroll.into(), 1, MAX_ENROLL.into())?;
        let probes = body.get(35).copied().unwrap_or(0);
        check_range("probes", probes.into(), 1, MAX_PROBES.into())?;
        let source = match body.get(36).copied().unwrap_or(u8::MAX) {
            0 => Source::Synthetic,
            1 => Source::OrlHeldOut,
            other => {
                return Err(VectorsError::OutOfRange {
                    field: "source",
                    index: None,
                    value: other.into(),
                    min: 0,
                    max: 1,
                })
            }
        };
        let policy = match body.get(37).copied().unwrap_or(u8::MAX) {
            0 => EnrollPolicy::Keep,
            1 => EnrollPolicy::Mean,
            other => {
                return Err(VectorsError::OutOfRange {
                    field: "policy",
                    index: None,
                    value: other.into(),
                    min: 0,
                    max: 1,
                })
            }
        };
        if body.get(38..40) != Some(&[0, 0]) {
            return Err(VectorsError::Reserved { field: "reserved" });
        }

        let (input_len, dim, images) = (input_len as usize, usize::from(dim), usize::from(images));
        let expected = Self::len_for(input_len, dim, images, enroll.into(), probes.into());
        if expected != bytes.len() as u64 {
            return Err(VectorsError::Length {
                expected,
                found: bytes.len() as u64,
            });
        }
        let mut c = Cursor {
            rest: body.get(HEADER_LEN..).unwrap_or_default(),
        };
        let labels = c.take(2 * images, "labels")?;
        let enroll = c.take(2 * usize::from(enroll), "enroll_images")?;
        let probes = c.take(PROBE_LEN * usize::from(probes), "probes")?;
        // `len_for` bounds these products by the file length, which fits in `usize`.
        let inputs = c.take(input_len * images, "inputs")?;
        let embeddings = c.take(dim * images, "embeddings")?;

        let index_ok = |field: &'static str, i: usize, image: u16| {
            check_range(field, image.into(), 0, images as u64 - 1).map_err(|_| {
                VectorsError::OutOfRange {
                    field,
                    index: Some(i as u32),
                    value: image.into(),
                    min: 0,
                    max: images as u64 - 1,
                }
            })
        };
        for (i, pair) in enroll.chunks_exact(2).enumerate() {
            index_ok("enroll_images", i, u16_at(pair, 0))?;
        }
        for (i, p) in probes.chunks_exact(PROBE_LEN).enumerate() {
            index_ok("probe.image", i, u16_at(p, 0))?;
            let accept = p.get(2).copied().unwrap_or(u8::MAX);
            if accept > 1 {
                return Err(VectorsError::OutOfRange {
                    field: "probe.accept",
                    index: Some(i as u32),
                    value: accept.into(),
                    min: 0,
                    max: 1,
                });
            }
            if p.get(3) != Some(&0) {
                return Err(VectorsError::Reserved {
                    field: "probe.reserved",
                });
            }
        }
        Ok(Self {
            model: ModelId(id),
            input_len,
            dim,
            images,
            subject,
            source,
            policy,
            labels,
            enroll,
            probes,
            inputs: as_i8(inputs),
            embeddings: as_i8(embeddings),
        })
    }

    /// The exact file length for these counts (u64: no overflow for any header values).
    pub fn len_for(
        input_len: usize,
        dim: usize,
        images: usize,
        enroll: usize,
        probes: usize,
    ) -> u64 {
        let (i, d, n) = (input_len as u64, dim as u64, images as u64);
        HEADER_LEN as u64
            + 2 * n
            + 2 * enroll as u64
            + (PROBE_LEN * probes) as u64
            + i * n
            + d * n
            + 4
    }

    /// The model these vectors are for.
    pub fn model(&self) -> ModelId {
        self.model
    }

    /// Bytes of one input image.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Embedding values.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of images (each with its expected embedding).
    pub fn images(&self) -> usize {
        self.images
    }

    /// The subject enrolled.
    pub fn subject(&self) -> u32 {
        self.subject
    }

    /// Where the images came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// How the enrollment captures become the template.
    pub fn policy(&self) -> EnrollPolicy {
        self.policy
    }

    /// The identity image `i` shows; `None` past the last image.
    pub fn label(&self, i: usize) -> Option<u16> {
        let at = i.checked_mul(2)?;
        self.labels.get(at..at + 2).map(|b| u16_at(b, 0))
    }

    /// Input image `i` (`input_len` int8 values); `None` past the last image.
    pub fn input(&self, i: usize) -> Option<&'a [i8]> {
        let start = i.checked_mul(self.input_len)?;
        self.inputs.get(start..start.checked_add(self.input_len)?)
    }

    /// The embedding expected for image `i` (`dim` int8 values); `None` past the last image.
    pub fn embedding(&self, i: usize) -> Option<&'a [i8]> {
        let start = i.checked_mul(self.dim)?;
        self.embeddings.get(start..start.checked_add(self.dim)?)
    }

    /// The enrollment captures: image indices, each `< images()`.
    pub fn enroll_images(&self) -> impl ExactSizeIterator<Item = usize> + 'a {
        self.enroll
            .chunks_exact(2)
            .map(|b| usize::from(u16_at(b, 0)))
    }

    /// The probes with their expected decisions.
    pub fn probes(&self) -> impl ExactSizeIterator<Item = Probe> + 'a {
        self.probes.chunks_exact(PROBE_LEN).map(|p| Probe {
            image: u16_at(p, 0),
            accept: p.get(2) == Some(&1),
            distance: f32_at(p, 4),
            score: f32_at(p, 8),
        })
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests;
