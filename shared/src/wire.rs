//! Reading and writing postcard payloads one field at a time, with typed errors.
//!
//! Payloads are postcard: unsigned integers as LEB128 varints, `i8` and `u8` as one raw byte,
//! `i32` as a zigzag varint, `f32` as 4 bytes little-endian, `bool` as one byte 0 or 1, a unit
//! enum as a varint tag, byte strings and text as a varint length then the bytes, fixed arrays
//! as their elements. Decoders read a payload field by field ([`Reader`]) so that each failure
//! names its field, and a count is checked before the items it announces are read.

use serde::{Deserialize, Serialize};

use crate::error::{Field, FormatError};
use crate::kind::FileKind;

/// What postcard's deserialization error means for the field being read.
fn de_reason(e: &postcard::Error) -> &'static str {
    match e {
        postcard::Error::DeserializeUnexpectedEnd => "the payload ends inside this field",
        postcard::Error::DeserializeBadVarint => "invalid or oversized varint",
        postcard::Error::DeserializeBadBool => "a bool that is neither 0 nor 1",
        postcard::Error::DeserializeBadUtf8 => "text that is not UTF-8",
        postcard::Error::DeserializeBadEnum | postcard::Error::SerdeDeCustom => {
            "unknown tag or invalid value"
        }
        _ => "undecodable bytes",
    }
}

/// Reads the fields of one payload in order.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    kind: FileKind,
    index: Option<u32>,
}

impl<'a> Reader<'a> {
    /// A reader over a `kind` payload.
    pub(crate) fn new(kind: FileKind, payload: &'a [u8]) -> Self {
        Self {
            rest: payload,
            kind,
            index: None,
        }
    }

    /// Following fields belong to item `index` (or to the file when `None`).
    pub(crate) fn set_index(&mut self, index: Option<u32>) {
        self.index = index;
    }

    /// The location of field `name` at the reader's position.
    pub(crate) fn field(&self, name: &'static str) -> Field {
        Field {
            kind: self.kind,
            index: self.index,
            name,
        }
    }

    /// Bytes not read yet.
    #[cfg(feature = "alloc")]
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The unread bytes.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Reads field `name` of type `T`.
    pub(crate) fn take<T: Deserialize<'a>>(
        &mut self,
        name: &'static str,
    ) -> Result<T, FormatError> {
        match postcard::take_from_bytes::<T>(self.rest) {
            Ok((value, rest)) => {
                self.rest = rest;
                Ok(value)
            }
            Err(e) => Err(FormatError::Malformed {
                at: self.field(name),
                reason: de_reason(&e),
            }),
        }
    }

    /// Reads a count (a varint) and checks it is in `min..=max`.
    pub(crate) fn take_count(
        &mut self,
        name: &'static str,
        min: usize,
        max: usize,
    ) -> Result<usize, FormatError> {
        let n: u32 = self.take(name)?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n < min || n > max {
            return Err(FormatError::OutOfRange {
                at: self.field(name),
                value: n as i64,
                min: min as i64,
                max: max as i64,
            });
        }
        Ok(n)
    }

    /// Ends the payload: every byte must have been read.
    pub(crate) fn finish(self) -> Result<(), FormatError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(FormatError::TrailingBytes {
                kind: self.kind,
                extra: self.rest.len(),
            })
        }
    }
}

/// Where an encoder's fields go: a byte counter, a caller's slice, or a vector.
pub(crate) trait Sink {
    /// Appends the postcard encoding of `value`.
    fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FormatError>;
}

/// The unexpected failure of serializing a plain value (postcard fails only when out of space).
fn ser_error(kind: FileKind) -> FormatError {
    FormatError::Malformed {
        at: Field::new(kind, "payload"),
        reason: "postcard could not encode a field",
    }
}

/// Counts the bytes an encoding takes.
pub(crate) struct Counter {
    kind: FileKind,
    len: usize,
}

impl Counter {
    pub(crate) fn new(kind: FileKind) -> Self {
        Self { kind, len: 0 }
    }
}

impl Sink for Counter {
    fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FormatError> {
        let n = postcard::experimental::serialized_size(value).map_err(|_| ser_error(self.kind))?;
        self.len = self.len.saturating_add(n);
        Ok(())
    }
}

/// Writes into a caller's slice.
pub(crate) struct SliceSink<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> SliceSink<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Sink for SliceSink<'_> {
    fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FormatError> {
        let available = self.buf.len();
        let rest = self.buf.get_mut(self.len..).unwrap_or_default();
        match postcard::to_slice(value, rest) {
            Ok(used) => {
                self.len = self.len.saturating_add(used.len());
                Ok(())
            }
            Err(_) => Err(FormatError::BufferTooSmall {
                needed: self.len.saturating_add(
                    postcard::experimental::serialized_size(value).unwrap_or(usize::MAX),
                ),
                available,
            }),
        }
    }
}

/// Appends to a vector.
#[cfg(feature = "alloc")]
pub(crate) struct VecSink {
    kind: FileKind,
    bytes: alloc::vec::Vec<u8>,
}

#[cfg(feature = "alloc")]
impl VecSink {
    pub(crate) fn new(kind: FileKind) -> Self {
        Self {
            kind,
            bytes: alloc::vec::Vec::new(),
        }
    }

    /// The bytes written.
    pub(crate) fn into_bytes(self) -> alloc::vec::Vec<u8> {
        self.bytes
    }
}

#[cfg(feature = "alloc")]
impl Sink for VecSink {
    fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FormatError> {
        let bytes = core::mem::take(&mut self.bytes);
        self.bytes = postcard::to_extend(value, bytes).map_err(|_| ser_error(self.kind))?;
        Ok(())
    }
}

/// A value that is the payload of one file kind.
pub(crate) trait Payload {
    /// The file kind whose payload this is.
    const KIND: FileKind;

    /// Writes the payload's fields in wire order.
    fn write<S: Sink>(&self, sink: &mut S) -> Result<(), FormatError>;

    /// The payload's length in bytes.
    fn payload_len(&self) -> Result<usize, FormatError> {
        let mut counter = Counter::new(Self::KIND);
        self.write(&mut counter)?;
        Ok(counter.len)
    }

    /// The length of the whole file (payload plus envelope), in bytes.
    fn encoded_len(&self) -> Result<usize, FormatError> {
        Ok(self
            .payload_len()?
            .saturating_add(crate::envelope::OVERHEAD))
    }
}

/// A byte string on the wire: varint length, then the bytes (postcard's `serialize_bytes`).
pub(crate) struct RawBytes<'a>(pub(crate) &'a [u8]);

impl Serialize for RawBytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Errors unless `scale` is finite and `> 0`.
pub(crate) fn check_scale(at: Field, scale: f32) -> Result<(), FormatError> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(FormatError::Malformed {
            at,
            reason: "a scale must be finite and > 0",
        })
    }
}

/// Errors unless `value` is in `min..=max`.
pub(crate) fn check_range(at: Field, value: i64, min: i64, max: i64) -> Result<(), FormatError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(FormatError::OutOfRange {
            at,
            value,
            min,
            max,
        })
    }
}
