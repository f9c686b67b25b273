//! What the restricted pickle reader hands back: plain values and numpy arrays, owned, acyclic.

use super::PickleError;

/// A numpy element type (little-endian or single-byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `u1`: unsigned byte.
    U8,
    /// `i4`: 32-bit signed integer.
    I32,
    /// `i8`: 64-bit signed integer.
    I64,
    /// `f4`: 32-bit float.
    F32,
    /// `f8`: 64-bit float.
    F64,
}

impl Dtype {
    /// The numpy type string without byte order (`"f4"`, ...), as pickled by `numpy.dtype`.
    pub fn from_name(name: &str) -> Option<Dtype> {
        match name {
            "u1" => Some(Dtype::U8),
            "i4" => Some(Dtype::I32),
            "i8" => Some(Dtype::I64),
            "f4" => Some(Dtype::F32),
            "f8" => Some(Dtype::F64),
            _ => None,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::I32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::F64 => 8,
        }
    }
}

/// A numpy array, C order, little-endian elements as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdArray {
    /// Sizes, outermost first; `[]` for a scalar.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: Dtype,
    /// `shape.iter().product() * dtype.size()` bytes.
    pub data: Vec<u8>,
}

impl NdArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// True when the array has no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements of an `f4` array.
    pub fn to_f32(&self) -> Result<Vec<f32>, PickleError> {
        self.expect(Dtype::F32)?;
        Ok(self
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// The elements of an `i8` array.
    pub fn to_i64(&self) -> Result<Vec<i64>, PickleError> {
        self.expect(Dtype::I64)?;
        Ok(self
            .data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    }

    fn expect(&self, dtype: Dtype) -> Result<(), PickleError> {
        if self.dtype == dtype {
            Ok(())
        } else {
            Err(PickleError::WrongDtype {
                expected: dtype,
                found: self.dtype,
            })
        }
    }
}

/// A value from a pickle.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// Python 2 `str` or Python 3 `bytes`.
    Bytes(Vec<u8>),
    /// Python 3 `str` (Python 2 `unicode`).
    Str(String),
    /// A tuple.
    Tuple(Vec<PyValue>),
    /// A list.
    List(Vec<PyValue>),
    /// A `numpy.dtype` object.
    Dtype(Dtype),
    /// A `numpy.ndarray`.
    Array(NdArray),
}

impl PyValue {
    /// A short name of the variant, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            PyValue::None => "None",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) => "int",
            PyValue::Bytes(_) => "bytes",
            PyValue::Str(_) => "str",
            PyValue::Tuple(_) => "tuple",
            PyValue::List(_) => "list",
            PyValue::Dtype(_) => "dtype",
            PyValue::Array(_) => "ndarray",
        }
    }

    /// The items of a tuple of exactly `n` items.
    pub fn into_tuple(self, n: usize) -> Result<Vec<PyValue>, PickleError> {
        match self {
            PyValue::Tuple(items) if items.len() == n => Ok(items),
            PyValue::Tuple(items) => Err(PickleError::Shape {
                expected: format!("a {n}-tuple"),
                found: format!("a {}-tuple", items.len()),
            }),
            other => Err(PickleError::Shape {
                expected: format!("a {n}-tuple"),
                found: other.kind().to_string(),
            }),
        }
    }

    /// The array inside, or an error naming what was found.
    pub fn into_array(self) -> Result<NdArray, PickleError> {
        match self {
            PyValue::Array(a) => Ok(a),
            other => Err(PickleError::Shape {
                expected: "an ndarray".to_string(),
                found: other.kind().to_string(),
            }),
        }
    }
}
