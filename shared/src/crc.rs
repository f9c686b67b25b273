//! CRC-32 (IEEE 802.3, as in zlib, PNG and Ethernet): reflected, polynomial `0xEDB88320`,
//! initial value and final XOR `0xFFFF_FFFF`.
//!
//! Every siamedge file ends with this checksum over all the bytes before it (see
//! [`envelope`](crate::envelope)). It detects corruption (flash wear, a truncated copy), not
//! tampering: a model's identity is its SHA-256 [`ModelId`](crate::ModelId).
//!
//! Table-driven, one byte per step; the 1 KiB table is computed at compile time.

/// The reflected IEEE polynomial.
const POLY: u32 = 0xEDB8_8320;

/// `TABLE[b]` is the CRC register after shifting byte `b` through a zero register.
static TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// A running CRC-32, for data that arrives in pieces.
///
/// ```
/// use siamedge_format::crc::{crc32, Crc32};
/// let mut c = Crc32::new();
/// c.update(b"1234");
/// c.update(b"56789");
/// assert_eq!(c.finish(), crc32(b"123456789"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crc32 {
    state: u32,
}

impl Crc32 {
    /// A CRC over zero bytes.
    pub const fn new() -> Self {
        Self { state: 0xFFFF_FFFF }
    }

    /// Feeds `bytes` into the CRC.
    pub const fn update(&mut self, bytes: &[u8]) {
        let mut crc = self.state;
        let mut i = 0;
        while i < bytes.len() {
            // `(crc ^ b) & 0xFF` is at most 255, so the table index is always in range.
            crc = TABLE[((crc ^ bytes[i] as u32) & 0xFF) as usize] ^ (crc >> 8);
            i += 1;
        }
        self.state = crc;
    }

    /// The CRC of everything fed so far.
    pub const fn finish(&self) -> u32 {
        self.state ^ 0xFFFF_FFFF
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// The CRC-32 of `bytes` (usable in constants).
pub const fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        // The catalogue check value of CRC-32/ISO-HDLC, and zlib's `crc32(0, ...)` results:
        // python3 -c 'import zlib; print(hex(zlib.crc32(b"")), hex(zlib.crc32(b"a")),
        //             hex(zlib.crc32(b"The quick brown fox jumps over the lazy dog")))'
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn table_matches_known_entries() {
        assert_eq!(TABLE[0], 0);
        assert_eq!(TABLE[1], 0x7707_3096);
        assert_eq!(TABLE[255], 0x2D02_EF8D);
    }
}
