//! ArduCAM Mini 2MP: an OmniVision OV2640 sensor whose frames land in the ArduChip's FIFO,
//! read over SPI; the sensor itself is configured over I2C (OmniVision's SCCB).
//!
//! ## ArduChip SPI protocol (ArduCAM's "ArduCAM Mini" application note and the `ArduCAM`
//! Arduino library, `ArduCAM.cpp` / `ArduCAM.h`)
//!
//! SPI mode 0, MSB first, at most 8 MHz. Every access is one chip-select cycle:
//! - register write: `addr | 0x80`, `value`; register read: `addr & 0x7F`, then one byte clocked
//!   out (the library sends `0x00`);
//! - `0x00` ARDUCHIP_TEST1: a scratch register; writing `0x55` and reading it back proves the bus;
//! - `0x04` ARDUCHIP_FIFO: bit 0 `FIFO_CLEAR` (clears the capture-done flag and the FIFO),
//!   bit 1 `FIFO_START` (captures one frame into the FIFO);
//! - `0x41` ARDUCHIP_TRIG: bit 3 `CAP_DONE`, set when the frame is complete;
//! - `0x42`, `0x43`, `0x44` FIFO_SIZE1..3: bytes in the FIFO, bits `[7:0]`, `[15:8]`, `[22:16]`
//!   (the library masks the third with `0x7F`);
//! - `0x3C` BURST_FIFO_READ: after this command byte, every clocked byte is the next FIFO byte.
//!   The read pointer survives chip-select cycles (ArduCAM's multi-frame YUV example re-issues
//!   the burst command after raising CS and carries on), so this driver reads the frame in
//!   [`CHUNK`]-byte bursts, one transaction each, and converts them as they arrive: no frame
//!   buffer beyond the caller's grey one.
//!
//! ## OV2640 over SCCB (OV2640 datasheet register tables, as used by ArduCAM and OpenMV)
//!
//! 7-bit address `0x30` (`0x60` / `0x61` as 8-bit write/read). SCCB has no repeated start: a
//! register read is a write of the register address, a stop, then a one-byte read, which is what
//! this driver does (never `write_read`). Register `0xFF` selects the bank: `0x00` DSP, `0x01`
//! sensor. Sensor bank: `0x0A` PID = `0x26`, `0x0B` VER = `0x41` or `0x42`, `0x12` COM7 bit 7
//! soft reset. DSP bank: `0xDA` IMAGE_MODE, bits `[3:2]` the DVP output format (`00` YUV422,
//! `10` RGB565), bit 6 `Y8` (luma only), bit 0 low byte first.
//!
//! The resolution, clocks and image-pipeline settings of the OV2640 are a long vendor register
//! table (OmniVision's application note; ArduCAM ships them as `ov2640_regs.h`); the integrator
//! passes the table for the wanted frame size to [`ArduCam::init`], which writes it after the
//! soft reset and then sets IMAGE_MODE for the configured [`PixelFormat`].
//!
//! What was verified here: the ArduChip register numbers, bit masks, the read/write address bit
//! and the burst command against the ArduCAM library source and two independent drivers; the
//! OV2640 bank, ID, COM7 and IMAGE_MODE values against OpenMV's `ov2640_regs.h`. Not verified:
//! behaviour on real hardware (the tests replay the protocol against mocks).

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
use embedded_hal::spi::{Operation, SpiDevice};

use super::FrameSource;

/// ArduChip scratch register.
pub const ARDUCHIP_TEST1: u8 = 0x00;
/// ArduChip FIFO control register.
pub const ARDUCHIP_FIFO: u8 = 0x04;
/// FIFO control: clear the FIFO and the capture-done flag.
pub const FIFO_CLEAR_MASK: u8 = 0x01;
/// FIFO control: start a capture.
pub const FIFO_START_MASK: u8 = 0x02;
/// ArduChip status register.
pub const ARDUCHIP_TRIG: u8 = 0x41;
/// Status: the capture is complete.
pub const CAP_DONE_MASK: u8 = 0x08;
/// FIFO length, bits `[7:0]`; `[15:8]` and `[22:16]` follow.
pub const FIFO_SIZE1: u8 = 0x42;
/// Burst FIFO read command.
pub const BURST_FIFO_READ: u8 = 0x3C;
/// Write flag of an ArduChip register address.
pub const WRITE_FLAG: u8 = 0x80;
/// The value the bus test writes and expects back.
pub const TEST_PATTERN: u8 = 0x55;

/// OV2640 SCCB address (7-bit).
pub const OV2640_ADDRESS: u8 = 0x30;
/// OV2640 bank select register.
pub const BANK_SEL: u8 = 0xFF;
/// Bank value: DSP registers.
pub const BANK_DSP: u8 = 0x00;
/// Bank value: sensor registers.
pub const BANK_SENSOR: u8 = 0x01;
/// Sensor bank: product id, `0x26` on an OV2640.
pub const REG_PID: u8 = 0x0A;
/// Sensor bank: version, `0x41` or `0x42`.
pub const REG_VER: u8 = 0x0B;
/// Sensor bank: COM7; bit 7 is the soft reset.
pub const REG_COM7: u8 = 0x12;
/// DSP bank: IMAGE_MODE, the DVP output format.
pub const REG_IMAGE_MODE: u8 = 0xDA;
/// The OV2640's product id.
pub const OV2640_PID: u8 = 0x26;

/// Bytes per SPI burst.
pub const CHUNK: usize = 64;
/// Milliseconds the sensor needs after a soft reset (the ArduCAM library waits this long).
pub const RESET_MS: u32 = 100;

/// How the sensor delivers pixels into the FIFO, and how they become grey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PixelFormat {
    /// Luma only, one byte per pixel (IMAGE_MODE `0x40`): copied as is.
    Y8,
    /// YUV422 as `Y0 U Y1 V`, two bytes per pixel (IMAGE_MODE `0x00`): the Y bytes are kept.
    Yuv422,
    /// RGB565, high byte first (IMAGE_MODE `0x08`, as ArduCAM's BMP examples read it):
    /// grey `= (77 R + 150 G + 29 B + 128) >> 8` (BT.601 luma in Q8) of the channels expanded to
    /// 8 bits by bit replication.
    Rgb565,
}

impl PixelFormat {
    /// Bytes per pixel in the FIFO.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Y8 => 1,
            PixelFormat::Yuv422 | PixelFormat::Rgb565 => 2,
        }
    }

    /// The OV2640 IMAGE_MODE value that selects this format.
    pub const fn image_mode(self) -> u8 {
        match self {
            PixelFormat::Y8 => 0x40,
            PixelFormat::Yuv422 => 0x00,
            PixelFormat::Rgb565 => 0x08,
        }
    }
}

/// Frame geometry and capture timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Columns the sensor table produces, `>= 1`.
    pub width: u16,
    /// Rows the sensor table produces, `>= 1`.
    pub height: u16,
    /// FIFO pixel format.
    pub format: PixelFormat,
    /// Microseconds between two polls of the capture-done flag.
    pub poll_interval_us: u32,
    /// Polls before [`Error::Timeout`].
    pub max_polls: u32,
}

impl Config {
    /// `width x height` in `format`, polling every millisecond for at most one second.
    pub const fn new(width: u16, height: u16, format: PixelFormat) -> Self {
        Self {
            width,
            height,
            format,
            poll_interval_us: 1000,
            max_polls: 1000,
        }
    }

    /// Bytes one frame occupies in the FIFO.
    pub fn fifo_bytes(&self) -> usize {
        usize::from(self.width) * usize::from(self.height) * self.format.bytes_per_pixel()
    }
}

/// What can go wrong with the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<SpiE, I2cE> {
    /// The SPI bus failed.
    Spi(SpiE),
    /// The SCCB (I2C) bus failed.
    Sccb(I2cE),
    /// The ArduChip scratch register did not read back what was written: wiring, SPI mode or
    /// chip select.
    SpiTest {
        /// Written.
        wrote: u8,
        /// Read back.
        read: u8,
    },
    /// The sensor is not an OV2640.
    WrongSensor {
        /// Product id read (`0x26` expected).
        pid: u8,
        /// Version read (`0x41` or `0x42` expected).
        ver: u8,
    },
    /// The capture-done flag did not rise within `polls` polls.
    Timeout {
        /// Polls made.
        polls: u32,
    },
    /// The FIFO holds fewer bytes than one frame needs: the sensor table and [`Config`] disagree.
    ShortFrame {
        /// Bytes a frame needs.
        needed: u32,
        /// Bytes in the FIFO.
        found: u32,
    },
    /// The caller's buffer is not `width * height` bytes.
    BufferSize {
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// A frame side is 0.
    ZeroSize,
}

/// The ArduCAM Mini 2MP (OV2640) driver: an `SpiDevice` for the ArduChip, an `I2c` bus for the
/// sensor, and a delay for the reset and the capture polls.
#[derive(Debug)]
pub struct ArduCam<SPI, I2C, D> {
    spi: SPI,
    i2c: I2C,
    delay: D,
    config: Config,
}

type Result<T, SPI, I2C> = core::result::Result<
    T,
    Error<
        <SPI as embedded_hal::spi::ErrorType>::Error,
        <I2C as embedded_hal::i2c::ErrorType>::Error,
    >,
>;

impl<SPI: SpiDevice, I2C: I2c, D: DelayNs> ArduCam<SPI, I2C, D> {
    /// A driver over the buses; nothing is sent yet. A zero frame side is reported by
    /// [`init`](Self::init) and [`capture`](FrameSource::capture) as [`Error::ZeroSize`] (so the
    /// buses are never lost in a failed constructor).
    pub fn new(spi: SPI, i2c: I2C, delay: D, config: Config) -> Self {
        Self {
            spi,
            i2c,
            delay,
            config,
        }
    }

    fn check_size(&self) -> Result<(), SPI, I2C> {
        if self.config.width == 0 || self.config.height == 0 {
            return Err(Error::ZeroSize);
        }
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Hands the SPI device, the I2C bus and the delay back.
    pub fn release(self) -> (SPI, I2C, D) {
        (self.spi, self.i2c, self.delay)
    }

    /// Brings the camera up: the SPI scratch-register test, the OV2640 id check, a soft reset
    /// (then [`RESET_MS`] of waiting), the caller's `sensor_table` of `(register, value)` writes
    /// in order (bank selects included), IMAGE_MODE for the configured format (DSP bank), and a
    /// cleared FIFO.
    pub fn init(&mut self, sensor_table: &[(u8, u8)]) -> Result<(), SPI, I2C> {
        self.check_size()?;
        self.write_reg(ARDUCHIP_TEST1, TEST_PATTERN)?;
        let read = self.read_reg(ARDUCHIP_TEST1)?;
        if read != TEST_PATTERN {
            return Err(Error::SpiTest {
                wrote: TEST_PATTERN,
                read,
            });
        }
        self.sensor_write(BANK_SEL, BANK_SENSOR)?;
        let pid = self.sensor_read(REG_PID)?;
        let ver = self.sensor_read(REG_VER)?;
        if pid != OV2640_PID || !matches!(ver, 0x41 | 0x42) {
            return Err(Error::WrongSensor { pid, ver });
        }
        debug!("OV2640 found, version {=u8:#x}", ver);
        self.sensor_write(REG_COM7, 0x80)?;
        self.delay.delay_ms(RESET_MS);
        for &(reg, value) in sensor_table {
            self.sensor_write(reg, value)?;
        }
        self.sensor_write(BANK_SEL, BANK_DSP)?;
        self.sensor_write(REG_IMAGE_MODE, self.config.format.image_mode())?;
        self.write_reg(ARDUCHIP_FIFO, FIFO_CLEAR_MASK)
    }

    /// Writes ArduChip register `addr`.
    pub fn write_reg(&mut self, addr: u8, value: u8) -> Result<(), SPI, I2C> {
        self.spi
            .write(&[addr | WRITE_FLAG, value])
            .map_err(Error::Spi)
    }

    /// Reads ArduChip register `addr`.
    pub fn read_reg(&mut self, addr: u8) -> Result<u8, SPI, I2C> {
        let mut value = [0u8];
        self.spi
            .transaction(&mut [
                Operation::Write(&[addr & !WRITE_FLAG]),
                Operation::Read(&mut value),
            ])
            .map_err(Error::Spi)?;
        Ok(value[0])
    }

    /// Writes OV2640 register `reg` of the selected bank.
    pub fn sensor_write(&mut self, reg: u8, value: u8) -> Result<(), SPI, I2C> {
        self.i2c
            .write(OV2640_ADDRESS, &[reg, value])
            .map_err(Error::Sccb)
    }

    /// Reads OV2640 register `reg` of the selected bank (address write, stop, one-byte read).
    pub fn sensor_read(&mut self, reg: u8) -> Result<u8, SPI, I2C> {
        self.i2c
            .write(OV2640_ADDRESS, &[reg])
            .map_err(Error::Sccb)?;
        let mut value = [0u8];
        self.i2c
            .read(OV2640_ADDRESS, &mut value)
            .map_err(Error::Sccb)?;
        Ok(value[0])
    }

    /// Bytes in the FIFO (23 bits).
    pub fn fifo_length(&mut self) -> Result<u32, SPI, I2C> {
        let b0 = u32::from(self.read_reg(FIFO_SIZE1)?);
        let b1 = u32::from(self.read_reg(FIFO_SIZE1 + 1)?);
        let b2 = u32::from(self.read_reg(FIFO_SIZE1 + 2)? & 0x7F);
        Ok(b2 << 16 | b1 << 8 | b0)
    }

    /// Clears the FIFO, starts a capture and polls until it is done.
    fn capture_into_fifo(&mut self) -> Result<(), SPI, I2C> {
        self.write_reg(ARDUCHIP_FIFO, FIFO_CLEAR_MASK)?;
        self.write_reg(ARDUCHIP_FIFO, FIFO_START_MASK)?;
        for _ in 0..self.config.max_polls {
            if self.read_reg(ARDUCHIP_TRIG)? & CAP_DONE_MASK != 0 {
                return Ok(());
            }
            self.delay.delay_us(self.config.poll_interval_us);
        }
        Err(Error::Timeout {
            polls: self.config.max_polls,
        })
    }

    /// Reads `out.len()` pixels of the frame from the FIFO in bursts, converting to grey.
    fn read_frame(&mut self, out: &mut [u8]) -> Result<(), SPI, I2C> {
        let format = self.config.format;
        let bpp = format.bytes_per_pixel();
        let mut chunk = [0u8; CHUNK];
        // CHUNK is a multiple of every bytes-per-pixel, so no pixel straddles two bursts.
        for pixels in out.chunks_mut(CHUNK / bpp) {
            let bytes = &mut chunk[..pixels.len() * bpp];
            self.spi
                .transaction(&mut [Operation::Write(&[BURST_FIFO_READ]), Operation::Read(bytes)])
                .map_err(Error::Spi)?;
            to_grey(format, bytes, pixels);
        }
        Ok(())
    }
}

/// Converts FIFO bytes of `format` into grey pixels (one per `bytes_per_pixel` bytes).
fn to_grey(format: PixelFormat, bytes: &[u8], pixels: &mut [u8]) {
    match format {
        PixelFormat::Y8 => {
            for (p, b) in pixels.iter_mut().zip(bytes) {
                *p = *b;
            }
        }
        PixelFormat::Yuv422 => {
            for (p, b) in pixels.iter_mut().zip(bytes.chunks_exact(2)) {
                *p = b[0];
            }
        }
        PixelFormat::Rgb565 => {
            for (p, b) in pixels.iter_mut().zip(bytes.chunks_exact(2)) {
                let v = u16::from(b[0]) << 8 | u16::from(b[1]);
                let (r5, g6, b5) = (
                    u32::from(v >> 11),
                    u32::from(v >> 5 & 0x3F),
                    u32::from(v & 0x1F),
                );
                let (r, g, b) = (r5 << 3 | r5 >> 2, g6 << 2 | g6 >> 4, b5 << 3 | b5 >> 2);
                *p = ((77 * r + 150 * g + 29 * b + 128) >> 8) as u8;
            }
        }
    }
}

impl<SPI: SpiDevice, I2C: I2c, D: DelayNs> FrameSource for ArduCam<SPI, I2C, D> {
    type Error = Error<SPI::Error, I2C::Error>;

    fn width(&self) -> u16 {
        self.config.width
    }

    fn height(&self) -> u16 {
        self.config.height
    }

    /// Clears the FIFO, captures one frame, checks the FIFO length, reads and converts the frame
    /// in [`CHUNK`]-byte bursts, and clears the FIFO again.
    fn capture(&mut self, out: &mut [u8]) -> core::result::Result<(), Self::Error> {
        self.check_size()?;
        let expected = self.frame_len();
        if out.len() != expected {
            return Err(Error::BufferSize {
                expected,
                found: out.len(),
            });
        }
        self.capture_into_fifo()?;
        let found = self.fifo_length()?;
        let needed = self.config.fifo_bytes() as u32;
        debug!("frame captured, FIFO holds {=u32} bytes", found);
        if found < needed {
            return Err(Error::ShortFrame { needed, found });
        }
        self.read_frame(out)?;
        self.write_reg(ARDUCHIP_FIFO, FIFO_CLEAR_MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::spi::ErrorKind as SpiErrorKind;
    use embedded_hal_mock::eh1::delay::NoopDelay;
    use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2cT};
    use embedded_hal_mock::eh1::spi::{Mock as SpiMock, Transaction as SpiT};

    fn reg_write(addr: u8, value: u8) -> Vec<SpiT<u8>> {
        vec![
            SpiT::transaction_start(),
            SpiT::write_vec(vec![addr | 0x80, value]),
            SpiT::transaction_end(),
        ]
    }

    fn reg_read(addr: u8, value: u8) -> Vec<SpiT<u8>> {
        vec![
            SpiT::transaction_start(),
            SpiT::write_vec(vec![addr]),
            SpiT::read_vec(vec![value]),
            SpiT::transaction_end(),
        ]
    }

    fn burst(bytes: &[u8]) -> Vec<SpiT<u8>> {
        vec![
            SpiT::transaction_start(),
            SpiT::write_vec(vec![0x3C]),
            SpiT::read_vec(bytes.to_vec()),
            SpiT::transaction_end(),
        ]
    }

    fn sccb_read(reg: u8, value: u8) -> Vec<I2cT> {
        vec![I2cT::write(0x30, vec![reg]), I2cT::read(0x30, vec![value])]
    }

    fn capture_prologue(polls_before_done: usize, fifo_len: u32) -> Vec<SpiT<u8>> {
        let mut t = reg_write(0x04, 0x01);
        t.extend(reg_write(0x04, 0x02));
        for _ in 0..polls_before_done {
            t.extend(reg_read(0x41, 0x00));
        }
        t.extend(reg_read(0x41, 0x08));
        t.extend(reg_read(0x42, fifo_len as u8));
        t.extend(reg_read(0x43, (fifo_len >> 8) as u8));
        t.extend(reg_read(0x44, (fifo_len >> 16) as u8 | 0x80));
        t
    }

    #[test]
    fn init_runs_the_documented_sequence() {
        let mut spi_t = reg_write(0x00, 0x55);
        spi_t.extend(reg_read(0x00, 0x55));
        spi_t.extend(reg_write(0x04, 0x01));
        let mut i2c_t = vec![I2cT::write(0x30, vec![0xFF, 0x01])];
        i2c_t.extend(sccb_read(0x0A, 0x26));
        i2c_t.extend(sccb_read(0x0B, 0x42));
        i2c_t.push(I2cT::write(0x30, vec![0x12, 0x80]));
        i2c_t.push(I2cT::write(0x30, vec![0xFF, 0x01]));
        i2c_t.push(I2cT::write(0x30, vec![0x11, 0x01]));
        i2c_t.push(I2cT::write(0x30, vec![0xFF, 0x00]));
        i2c_t.push(I2cT::write(0x30, vec![0xDA, 0x40]));
        let cfg = Config::new(4, 2, PixelFormat::Y8);
        let mut cam = ArduCam::new(SpiMock::new(&spi_t), I2cMock::new(&i2c_t), NoopDelay, cfg);
        assert_eq!(cam.init(&[(0xFF, 0x01), (0x11, 0x01)]), Ok(()));
        let (mut spi, mut i2c, _) = cam.release();
        spi.done();
        i2c.done();
    }

    #[test]
    fn init_reports_a_dead_bus_and_a_wrong_sensor() {
        let mut spi_t = reg_write(0x00, 0x55);
        spi_t.extend(reg_read(0x00, 0xFF));
        let cfg = Config::new(4, 2, PixelFormat::Y8);
        let mut cam = ArduCam::new(SpiMock::new(&spi_t), I2cMock::new(&[]), NoopDelay, cfg);
        assert_eq!(
            cam.init(&[]),
            Err(Error::SpiTest {
                wrote: 0x55,
                read: 0xFF
            })
        );
        let (mut spi, mut i2c, _) = cam.release();
        spi.done();
        i2c.done();

        let mut spi_t = reg_write(0x00, 0x55);
        spi_t.extend(reg_read(0x00, 0x55));
        let mut i2c_t = vec![I2cT::write(0x30, vec![0xFF, 0x01])];
        i2c_t.extend(sccb_read(0x0A, 0x77));
        i2c_t.extend(sccb_read(0x0B, 0x42));
        let mut cam = ArduCam::new(SpiMock::new(&spi_t), I2cMock::new(&i2c_t), NoopDelay, cfg);
        assert_eq!(
            cam.init(&[]),
            Err(Error::WrongSensor {
                pid: 0x77,
                ver: 0x42
            })
        );
        let (mut spi, mut i2c, _) = cam.release();
        spi.done();
        i2c.done();
    }

    #[test]
    fn sccb_errors_propagate() {
        let mut spi_t = reg_write(0x00, 0x55);
        spi_t.extend(reg_read(0x00, 0x55));
        let i2c_t =
            [I2cT::write(0x30, vec![0xFF, 0x01]).with_error(embedded_hal::i2c::ErrorKind::Bus)];
        let cfg = Config::new(4, 2, PixelFormat::Y8);
        let mut cam = ArduCam::new(SpiMock::new(&spi_t), I2cMock::new(&i2c_t), NoopDelay, cfg);
        assert_eq!(
            cam.init(&[]),
            Err(Error::Sccb(embedded_hal::i2c::ErrorKind::Bus))
        );
        let (mut spi, mut i2c, _) = cam.release();
        spi.done();
        i2c.done();
    }

    #[test]
    fn capture_yuv_keeps_luma_across_bursts() {
        // 40x2 YUV422 = 160 FIFO bytes: bursts of 32 pixels (64 bytes), 32, then 16.
        let cfg = Config::new(40, 2, PixelFormat::Yuv422);
        let fifo: Vec<u8> = (0..160u32)
            .map(|i| if i % 2 == 0 { (i / 2) as u8 } else { 0xEE })
            .collect();
        let mut spi_t = capture_prologue(2, 161);
        spi_t.extend(burst(&fifo[..64]));
        spi_t.extend(burst(&fifo[64..128]));
        spi_t.extend(burst(&fifo[128..]));
        spi_t.extend(reg_write(0x04, 0x01));
        let mut cam = ArduCam::new(SpiMock::new(&spi_t), I2cMock::new(&[]), NoopDelay, cfg);
        let mut frame = [0u8; 80];
        assert_eq!(cam.frame_len(), 80);
        assert_eq!(cam.capture(&mut frame), Ok(()));
        let expected: Vec<u8> = (0..80).collect();
        assert_eq!(&frame[..], &expected[..]);
        let (mut spi, mut i2c, _) = cam.release();
        spi.done();
        i2c.done();
    }

    #[test]
    fn capture_rgb565_golden_luma() {
        // White, black, pure red, green, blue, and 0x8410 (mid grey 132, 130, 132).
        let cfg = Config::new(3, 2, PixelFormat::Rgb565);
        let fifo = [
            0xFF, 0xFF, 0x00, 0x00, 0xF8, 0x00, 0x07, 0xE0, 0x00, 0x1F, 0x84, 0x10,
        ];
        let mut spi_t = capture_prologue(0, 12);
        spi_t.extend(burst(&fifo));
        spi_t.extend(reg_write(0x04, 0x01));
        let mut cam = ArduCam::new(SpiMock::new(&spi_t), I2cMock::new(&[]), NoopDelay, cfg);
        let mut frame = [0u8; 6];
        assert_eq!(cam.capture(&mut frame), Ok(()));
        // (77 * 255 + 128) >> 8 = 77, (150 * 255 + 128) >> 8 = 149, (29 * 255 + 128) >> 8 = 29,
        // (77 * 132 + 150 * 130 + 29 * 132 + 128) >> 8 = 131.
        assert_eq!(frame, [255, 0, 77, 149, 29, 131]);
        let (mut spi, mut i2c, _) = cam.release();
        spi.done();
        i2c.done();
    }

    #[test]
    fn capture_errors() {
        let cfg = Config {
            max_polls: 3,
            ..Config::new(2, 2, PixelFormat::Y8)
        };
        // Timeout after three polls.
        let mut spi_t = reg_write(0x04, 0x01);
        spi_t.extend(reg_write(0x04, 0x02));
        for _ in 0..3 {
            spi_t.extend(reg_read(0x41, 0x00));
        }
        let mut cam = ArduCam::new(SpiMock::new(&spi_t), I2cMock::new(&[]), NoopDelay, cfg);
        let mut frame = [0u8; 4];
        assert_eq!(cam.capture(&mut frame), Err(Error::Timeout { polls: 3 }));
        assert_eq!(
            cam.capture(&mut frame[..3]),
            Err(Error::BufferSize {
                expected: 4,
                found: 3
            })
        );
        let (mut spi, mut i2c, _) = cam.release();
        spi.done();
        i2c.done();
        // A FIFO shorter than the frame.
        let spi_t = capture_prologue(0, 3);
        let mut cam = ArduCam::new(SpiMock::new(&spi_t), I2cMock::new(&[]), NoopDelay, cfg);
        assert_eq!(
            cam.capture(&mut frame),
            Err(Error::ShortFrame {
                needed: 4,
                found: 3
            })
        );
        let (mut spi, mut i2c, _) = cam.release();
        spi.done();
        i2c.done();
        let zero = Config::new(0, 1, PixelFormat::Y8);
        let mut cam = ArduCam::new(SpiMock::<u8>::new(&[]), I2cMock::new(&[]), NoopDelay, zero);
        assert_eq!(cam.init(&[]), Err(Error::ZeroSize));
        assert_eq!(cam.capture(&mut []), Err(Error::ZeroSize));
        let (mut spi, mut i2c, _) = cam.release();
        spi.done();
        i2c.done();
    }

    /// An SPI device whose every transaction fails (embedded-hal-mock's SPI mock cannot inject
    /// errors).
    struct DeadSpi;

    impl embedded_hal::spi::ErrorType for DeadSpi {
        type Error = SpiErrorKind;
    }

    impl SpiDevice for DeadSpi {
        fn transaction(
            &mut self,
            _: &mut [Operation<'_, u8>],
        ) -> core::result::Result<(), SpiErrorKind> {
            Err(SpiErrorKind::ModeFault)
        }
    }

    #[test]
    fn spi_errors_propagate() {
        let cfg = Config::new(2, 2, PixelFormat::Y8);
        let mut cam = ArduCam::new(DeadSpi, I2cMock::new(&[]), NoopDelay, cfg);
        assert_eq!(cam.init(&[]), Err(Error::Spi(SpiErrorKind::ModeFault)));
        let mut frame = [0u8; 4];
        assert_eq!(
            cam.capture(&mut frame),
            Err(Error::Spi(SpiErrorKind::ModeFault))
        );
        let (_, mut i2c, _) = cam.release();
        i2c.done();
    }
}
