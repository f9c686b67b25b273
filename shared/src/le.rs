//! Borrowed little-endian arrays: `f32` and `i32` values read from bytes of any alignment.
//!
//! A model sits in flash at whatever address the linker chose, so its multi-byte arrays are never
//! cast to `&[f32]` or `&[i32]`: each element is read with `from_le_bytes`. An element costs one
//! unaligned 4-byte load on Cortex-M4 and on every host.

/// Reads element `i` of a little-endian array of 4-byte values.
fn word(bytes: &[u8], i: usize) -> Option<[u8; 4]> {
    let start = i.checked_mul(4)?;
    bytes.get(start..start.checked_add(4)?)?.try_into().ok()
}

macro_rules! le_slice {
    ($name:ident, $t:ty, $what:literal) => {
        #[doc = concat!("A borrowed array of ", $what, " stored as 4-byte little-endian words.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name<'a> {
            bytes: &'a [u8],
        }

        impl<'a> $name<'a> {
            /// The empty array.
            pub const EMPTY: Self = Self { bytes: &[] };

            #[doc = concat!("Views `bytes` as ", $what, "; `None` unless its length is a multiple of 4.")]
            pub const fn new(bytes: &'a [u8]) -> Option<Self> {
                if bytes.len() % 4 == 0 {
                    Some(Self { bytes })
                } else {
                    None
                }
            }

            /// Number of elements.
            pub const fn len(&self) -> usize {
                self.bytes.len() / 4
            }

            /// Whether the array has no element.
            pub const fn is_empty(&self) -> bool {
                self.bytes.is_empty()
            }

            /// Element `i`, or `None` past the end.
            pub fn get(&self, i: usize) -> Option<$t> {
                word(self.bytes, i).map(<$t>::from_le_bytes)
            }

            /// The elements in order.
            pub fn iter(&self) -> impl ExactSizeIterator<Item = $t> + Clone + 'a {
                self.bytes.chunks_exact(4).map(|c| {
                    let mut w = [0u8; 4];
                    w.copy_from_slice(c);
                    <$t>::from_le_bytes(w)
                })
            }

            /// The underlying bytes (`4 * len()` of them).
            pub const fn as_bytes(&self) -> &'a [u8] {
                self.bytes
            }
        }
    };
}

le_slice!(LeF32Slice, f32, "`f32` values");
le_slice!(LeI32Slice, i32, "`i32` values");

/// Views bytes as `i8` values (same size and alignment, every bit pattern valid).
#[allow(unsafe_code)]
pub(crate) fn as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: `u8` and `i8` have the same size (1) and alignment (1), and every bit pattern is a
    // valid `i8`, so a `[u8]` of length n is a valid `[i8]` of length n for the same lifetime.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

/// Views `i8` values as bytes.
#[allow(unsafe_code)]
pub(crate) fn as_u8(values: &[i8]) -> &[u8] {
    // SAFETY: as in `as_i8`, in the other direction.
    unsafe { core::slice::from_raw_parts(values.as_ptr().cast::<u8>(), values.len()) }
}

/// Little-endian bytes of `f32` values, for encoders.
#[cfg(feature = "alloc")]
pub(crate) fn f32_bytes(values: &[f32]) -> alloc::vec::Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Little-endian bytes of `i32` values, for encoders.
#[cfg(feature = "alloc")]
pub(crate) fn i32_bytes(values: &[i32]) -> alloc::vec::Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unaligned() {
        let bytes = [0xFF, 0x00, 0x00, 0x80, 0x3F, 0x01, 0x00, 0x00, 0x00];
        let f = LeF32Slice::new(&bytes[1..]);
        assert_eq!(f.map(|f| f.get(0)), Some(Some(1.0)));
        let i = LeI32Slice::new(&bytes[1..]);
        assert_eq!(
            i.map(|i| (i.len(), i.get(1), i.get(2))),
            Some((2, Some(1), None))
        );
        assert_eq!(LeI32Slice::new(&bytes[..3]), None);
        assert_eq!(as_i8(&[0x80, 0x7F, 0xFF]), &[-128, 127, -1]);
        assert_eq!(as_u8(&[-128, 127, -1]), &[0x80, 0x7F, 0xFF]);
    }
}
