//! [`SimFlash`]: a simulated NOR flash for host tests, with power cuts.
//!
//! It enforces what real NOR flash does and what a store on it must live with:
//! - an erase sets whole pages (`PAGE` bytes, aligned) to `0xFF`;
//! - a write programs whole words (`WORD` bytes, aligned) and can only clear bits: the result is
//!   the AND of old and new data (the [`MultiwriteNorFlash`] contract);
//! - reads, writes and erases outside the chip are errors, never panics.
//!
//! **Power cuts.** Every write and erase is one numbered operation (from 0). After
//! [`SimFlash::cut_power_at`]`(n)`, operation `n` is interrupted: a write programs a prefix of
//! its words fully and then only some bits of the next word (a half-programmed word); an erase
//! resets only a prefix of its first page. Operation `n` and every access after it fail with
//! [`SimFlashError::PowerLost`] until [`SimFlash::restart`], as a device that has lost power
//! does nothing more. Which prefix and which bits follow deterministically from `n`.
//!
//! Host only (`std` feature or tests): the chip is a `Vec`.

use std::vec::Vec;

use embedded_storage::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Errors of [`SimFlash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimFlashError {
    /// `offset..offset + len` is not inside the chip.
    OutOfBounds {
        /// First byte of the access.
        offset: u32,
        /// Length of the access.
        len: usize,
    },
    /// A write not aligned to the word or an erase not aligned to the page.
    NotAligned {
        /// First byte of the access.
        offset: u32,
        /// Length of the access.
        len: usize,
    },
    /// Power was cut during this operation or before it.
    PowerLost,
}

impl NorFlashError for SimFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::OutOfBounds { .. } => NorFlashErrorKind::OutOfBounds,
            Self::NotAligned { .. } => NorFlashErrorKind::NotAligned,
            Self::PowerLost => NorFlashErrorKind::Other,
        }
    }
}

/// A simulated NOR flash of `PAGE`-byte erase pages and `WORD`-byte write words.
#[derive(Debug, Clone)]
pub struct SimFlash<const PAGE: usize, const WORD: usize> {
    data: Vec<u8>,
    ops: u64,
    cut_at: Option<u64>,
    dead: bool,
    writes: u64,
    erases: u64,
}

impl<const PAGE: usize, const WORD: usize> SimFlash<PAGE, WORD> {
    /// An erased chip of `pages` pages.
    pub fn new(pages: usize) -> Self {
        Self {
            data: std::vec![0xFF; pages * PAGE],
            ops: 0,
            cut_at: None,
            dead: false,
            writes: 0,
            erases: 0,
        }
    }

    /// Cuts power during write or erase number `op` (counted from 0 over the chip's life).
    pub fn cut_power_at(&mut self, op: u64) {
        self.cut_at = Some(op);
    }

    /// Restores power: the chip answers again, with whatever the cut left on it.
    pub fn restart(&mut self) {
        self.dead = false;
        self.cut_at = None;
    }

    /// Whether power has been cut (and not restored).
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Writes and erases so far, including an interrupted one.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Completed writes and erases so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.writes, self.erases)
    }

    /// The chip's contents.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The chip's contents, for tests that tamper with them (any bit may be set or cleared).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    fn range(&self, offset: u32, len: usize) -> Result<core::ops::Range<usize>, SimFlashError> {
        let start = offset as usize;
        match start.checked_add(len) {
            Some(end) if end <= self.data.len() => Ok(start..end),
            _ => Err(SimFlashError::OutOfBounds { offset, len }),
        }
    }

    /// Starts a mutating operation: `Ok(true)` when power is cut during it.
    fn begin(&mut self) -> Result<bool, SimFlashError> {
        if self.dead {
            return Err(SimFlashError::PowerLost);
        }
        let op = self.ops;
        self.ops += 1;
        Ok(self.cut_at == Some(op))
    }

    /// A deterministic pseudo-random number from the operation index.
    fn noise(&self, salt: u64) -> u64 {
        let mut z = self.ops.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z ^ (z >> 31)
    }
}

impl<const PAGE: usize, const WORD: usize> ErrorType for SimFlash<PAGE, WORD> {
    type Error = SimFlashError;
}

impl<const PAGE: usize, const WORD: usize> ReadNorFlash for SimFlash<PAGE, WORD> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        if self.dead {
            return Err(SimFlashError::PowerLost);
        }
        let r = self.range(offset, bytes.len())?;
        bytes.copy_from_slice(&self.data[r]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.data.len()
    }
}

impl<const PAGE: usize, const WORD: usize> NorFlash for SimFlash<PAGE, WORD> {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = PAGE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = to.saturating_sub(from) as usize;
        let r = self.range(from, len)?;
        if to < from || r.start % PAGE != 0 || r.end % PAGE != 0 {
            return Err(SimFlashError::NotAligned { offset: from, len });
        }
        if self.begin()? {
            let partial = (self.noise(1) as usize) % PAGE.min(len.max(1));
            self.data[r.start..r.start + partial].fill(0xFF);
            self.dead = true;
            return Err(SimFlashError::PowerLost);
        }
        self.data[r].fill(0xFF);
        self.erases += 1;
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let r = self.range(offset, bytes.len())?;
        if r.start % WORD != 0 || bytes.len() % WORD != 0 {
            return Err(SimFlashError::NotAligned {
                offset,
                len: bytes.len(),
            });
        }
        let cut = self.begin()?;
        let words = bytes.len() / WORD;
        let done = if cut && words > 0 {
            (self.noise(2) as usize) % words
        } else {
            words
        };
        for (d, s) in self.data[r.start..r.start + done * WORD]
            .iter_mut()
            .zip(&bytes[..done * WORD])
        {
            *d &= *s;
        }
        if cut {
            // The word being programmed when power went: only some of its bits took.
            let mask = self.noise(3).to_le_bytes();
            let at = r.start + done * WORD;
            let end = (at + WORD).min(r.end);
            for (i, (d, s)) in self.data[at..end]
                .iter_mut()
                .zip(&bytes[done * WORD..])
                .enumerate()
            {
                *d &= *s | !mask[i % 8];
            }
            self.dead = true;
            return Err(SimFlashError::PowerLost);
        }
        self.writes += 1;
        Ok(())
    }
}

impl<const PAGE: usize, const WORD: usize> MultiwriteNorFlash for SimFlash<PAGE, WORD> {}

#[cfg(test)]
mod tests {
    use super::*;

    type F = SimFlash<256, 4>;

    #[test]
    fn nor_semantics() {
        let mut f = F::new(2);
        assert_eq!(f.capacity(), 512);
        f.write(4, &[0x0F, 0xF0, 0xAA, 0x55]).unwrap();
        // Writes only clear bits.
        f.write(4, &[0xFF, 0x0F, 0xFF, 0xF0]).unwrap();
        let mut b = [0u8; 4];
        f.read(4, &mut b).unwrap();
        assert_eq!(b, [0x0F, 0x00, 0xAA, 0x50]);
        assert_eq!(
            f.write(2, &[0; 4]),
            Err(SimFlashError::NotAligned { offset: 2, len: 4 })
        );
        assert_eq!(
            f.write(0, &[0; 3]),
            Err(SimFlashError::NotAligned { offset: 0, len: 3 })
        );
        assert_eq!(
            f.write(512, &[0; 4]),
            Err(SimFlashError::OutOfBounds {
                offset: 512,
                len: 4
            })
        );
        assert_eq!(
            f.erase(0, 100),
            Err(SimFlashError::NotAligned {
                offset: 0,
                len: 100
            })
        );
        f.erase(0, 256).unwrap();
        f.read(4, &mut b).unwrap();
        assert_eq!(b, [0xFF; 4]);
        assert_eq!(f.counts(), (2, 1));
    }

    #[test]
    fn power_cut_leaves_a_partial_write_and_a_dead_chip() {
        let mut f = F::new(1);
        f.cut_power_at(1);
        f.write(0, &[0; 8]).unwrap();
        assert_eq!(f.write(8, &[0; 16]), Err(SimFlashError::PowerLost));
        assert!(f.is_dead());
        let mut b = [0u8; 1];
        assert_eq!(f.read(0, &mut b), Err(SimFlashError::PowerLost));
        assert_eq!(f.write(64, &[0; 4]), Err(SimFlashError::PowerLost));
        f.restart();
        let mut b = [0u8; 16];
        f.read(8, &mut b).unwrap();
        // Some prefix of whole words, then a word with only some of its bits cleared.
        let full = b.chunks(4).take_while(|w| w == &[0; 4]).count();
        assert!(full < 4);
        assert!(b[full * 4..].iter().skip(4).all(|&x| x == 0xFF));
        assert_eq!(f.ops(), 2);
        f.write(64, &[0; 4]).unwrap();
    }
}
