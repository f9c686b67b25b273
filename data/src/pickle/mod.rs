//! A restricted pickle reader: enough of the pickle virtual machine to read numpy arrays, and
//! nothing that executes code.
//!
//! What: the opcodes that `pickle.dump` of tuples of numpy arrays emits under protocols 2 to 4
//! (Python 2's `cPickle` as in `mnist.pkl.gz`, and Python 3): `PROTO`, `FRAME`, `STOP`, `MARK`,
//! `GLOBAL`, `STACK_GLOBAL`, `BINPUT`, `LONG_BINPUT`, `MEMOIZE`, `BINGET`, `LONG_BINGET`, `TUPLE`,
//! `TUPLE1..3`, `EMPTY_TUPLE`, `EMPTY_LIST`, `APPEND`, `APPENDS`, `REDUCE`, `BUILD`,
//! `SHORT_BINSTRING`, `BINSTRING`, `SHORT_BINBYTES`, `BINBYTES`, `BINUNICODE`, `SHORT_BINUNICODE`,
//! `BININT`, `BININT1`, `BININT2`, `LONG1`, `NEWTRUE`, `NEWFALSE`, `NONE`. A `GLOBAL` may only name
//! `numpy.core.multiarray._reconstruct` (or `numpy._core.multiarray._reconstruct`), `numpy.ndarray`
//! or `numpy.dtype`; `REDUCE` and `BUILD` are interpreted for those three only, by this code, never
//! by calling anything. Every other global (`os.system`, `_codecs.encode`, ...) and every other
//! opcode is a typed error. Nesting is limited to [`MAX_DEPTH`]; strings are read incrementally,
//! so a length field cannot make the reader allocate more than the input holds.
//!
//! When not: object arrays, Fortran-order arrays of more than one dimension, big-endian data and
//! arbitrary Python objects are refused.

mod machine;
mod value;

use std::io::Read;

use thiserror::Error;

pub use value::{Dtype, NdArray, PyValue};

/// Deepest nesting of tuples and lists accepted.
pub const MAX_DEPTH: usize = 64;

/// Why a pickle was refused. `offset` is the byte offset of the opcode in the (decompressed) stream.
#[derive(Debug, Error)]
pub enum PickleError {
    /// The stream ended inside an opcode or before `STOP`.
    #[error("offset {offset}: stream ends inside {what}")]
    Eof {
        /// Where the opcode started.
        offset: u64,
        /// What was being read.
        what: &'static str,
    },
    /// Reading the underlying stream failed (e.g. corrupt gzip).
    #[error("offset {offset}: read error: {source}")]
    Read {
        /// Where the opcode started.
        offset: u64,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An opcode outside the supported set.
    #[error("offset {offset}: unsupported opcode 0x{opcode:02x}")]
    UnsupportedOpcode {
        /// Where the opcode is.
        offset: u64,
        /// The opcode byte.
        opcode: u8,
    },
    /// A protocol newer than 5.
    #[error("offset {offset}: unsupported protocol {version}")]
    Protocol {
        /// Where the opcode is.
        offset: u64,
        /// The protocol number.
        version: u8,
    },
    /// A `GLOBAL` or `STACK_GLOBAL` outside the allow-list.
    #[error("offset {offset}: global {module}.{name} is not allowed")]
    ForbiddenGlobal {
        /// Where the opcode is.
        offset: u64,
        /// Module name.
        module: String,
        /// Attribute name.
        name: String,
    },
    /// The stack, the mark stack or the memo lacks what an opcode needs, or holds the wrong type.
    #[error("offset {offset}: opcode {opcode}: {reason}")]
    Malformed {
        /// Where the opcode is.
        offset: u64,
        /// The opcode's name.
        opcode: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Tuples or lists nested deeper than [`MAX_DEPTH`].
    #[error("offset {offset}: nesting deeper than {MAX_DEPTH}")]
    TooDeep {
        /// Where the opcode is.
        offset: u64,
    },
    /// A numpy array or dtype whose state the reader cannot take.
    #[error("offset {offset}: numpy {what}: {reason}")]
    Numpy {
        /// Where the opcode is.
        offset: u64,
        /// "ndarray" or "dtype".
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The result holds something that is not a plain value (a class, an unfilled array, an array
    /// reachable twice).
    #[error("result: {reason}")]
    Result {
        /// What was wrong.
        reason: String,
    },
    /// An array has another element type than the caller needs.
    #[error("expected a {expected:?} array, found {found:?}")]
    WrongDtype {
        /// Wanted.
        expected: Dtype,
        /// Found.
        found: Dtype,
    },
    /// A value has another shape than the caller needs.
    #[error("expected {expected}, found {found}")]
    Shape {
        /// Wanted.
        expected: String,
        /// Found.
        found: String,
    },
}

/// Reads one pickle from `reader` (up to and including `STOP`).
pub fn load(reader: impl Read) -> Result<PyValue, PickleError> {
    machine::Machine::new(reader).run()
}

/// Reads one pickle from bytes.
pub fn load_bytes(bytes: &[u8]) -> Result<PyValue, PickleError> {
    load(bytes)
}
