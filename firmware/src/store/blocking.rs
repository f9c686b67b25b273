//! [`Blocking`]: a blocking `embedded-storage` NOR flash driver seen through the async traits
//! of `embedded-storage-async`, which `sequential-storage` is written against.
//!
//! Most MCU HALs implement the blocking traits. Every future this adapter returns is ready on
//! its first poll, so the store's executor (`embassy_futures::block_on`) never spins. An async
//! driver (DMA, interrupt-driven SPI) needs no adapter: hand it to the store directly.

use embedded_storage::nor_flash as blocking;
use embedded_storage_async::nor_flash as nb;

/// Wraps a blocking NOR flash driver `F` so that it implements the async NOR flash traits.
#[derive(Debug)]
pub struct Blocking<F>(pub F);

impl<F> Blocking<F> {
    /// Wraps `flash`.
    pub const fn new(flash: F) -> Self {
        Self(flash)
    }

    /// The wrapped driver.
    pub fn inner(&self) -> &F {
        &self.0
    }

    /// The wrapped driver, mutably.
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.0
    }

    /// Hands the driver back.
    pub fn release(self) -> F {
        self.0
    }
}

impl<F: blocking::ErrorType> nb::ErrorType for Blocking<F> {
    type Error = F::Error;
}

impl<F: blocking::ReadNorFlash> nb::ReadNorFlash for Blocking<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.0.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<F: blocking::NorFlash> nb::NorFlash for Blocking<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.0.erase(from, to)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.0.write(offset, bytes)
    }
}

impl<F: blocking::MultiwriteNorFlash> nb::MultiwriteNorFlash for Blocking<F> {}
