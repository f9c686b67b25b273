//! FocalTech FT6206 / FT6236 / FT6336U self-capacitive touch controllers (I2C), the signature
//! pad's digitizer.
//!
//! Registers (FocalTech "FT6x06 application note" / FT6236 datasheet; the numbers match
//! Adafruit's `Adafruit_FT6206` and ST's `ft6x06` BSP drivers): I2C address `0x38`;
//! `0x02` TD_STATUS (bits `[3:0]`: touch points, 0 to 2); point 1 at `0x03..=0x08`:
//! `P1_XH` (bits `[7:6]` event flag: `00` press down, `01` lift up, `10` contact, `11` none;
//! bits `[3:0]` X`[11:8]`), `P1_XL` (X`[7:0]`), `P1_YH` (bits `[7:4]` touch id, bits `[3:0]`
//! Y`[11:8]`), `P1_YL`, `P1_WEIGHT`, `P1_MISC`; point 2 at `0x09..=0x0E`; `0x80` TH_GROUP (touch
//! threshold); `0xA3` chip id (`0x06` FT6206, `0x36` FT6236, `0x64` FT6336U); `0xA8` panel
//! vendor id (`0x11` FocalTech).
//!
//! One `write_read` of TD_STATUS and point 1 (7 bytes) per sample. The controller reports values
//! above 2 in TD_STATUS right after power-up; those samples read as "no touch", as in the
//! vendor drivers.

use embedded_hal::i2c::I2c;

use super::stroke_recorder::TouchSource;

/// The controllers' I2C address.
pub const ADDRESS: u8 = 0x38;
/// Touch status register (number of points).
pub const REG_TD_STATUS: u8 = 0x02;
/// Touch threshold register.
pub const REG_TH_GROUP: u8 = 0x80;
/// Chip id register.
pub const REG_CHIP_ID: u8 = 0xA3;
/// Panel vendor id register.
pub const REG_VENDOR_ID: u8 = 0xA8;
/// FocalTech's vendor id.
pub const FOCALTECH_VENDOR_ID: u8 = 0x11;
/// Adafruit's threshold for its 2.8" panel, a sane default.
pub const DEFAULT_THRESHOLD: u8 = 128;

/// Which controller answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Chip {
    /// Chip id `0x06`.
    Ft6206,
    /// Chip id `0x36`.
    Ft6236,
    /// Chip id `0x64`.
    Ft6336U,
}

/// The event flag of a touch point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// The finger or pen just touched.
    PressDown,
    /// The finger or pen just left.
    LiftUp,
    /// Still touching.
    Contact,
    /// No event.
    None,
}

/// One touch point in panel coordinates (12 bits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Touch {
    /// Column, `0..4096`.
    pub x: u16,
    /// Row, `0..4096`.
    pub y: u16,
    /// Touch id, `0..16`.
    pub id: u8,
    /// Event flag.
    pub event: Event,
}

/// What can go wrong with the touch controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<E> {
    /// The I2C bus failed.
    Bus(E),
    /// The panel vendor id is not FocalTech's `0x11`.
    WrongVendor {
        /// The id read.
        found: u8,
    },
    /// The chip id is none of the supported ones.
    UnknownChip {
        /// The id read.
        found: u8,
    },
}

/// The FT6x06 driver over an I2C bus.
#[derive(Debug)]
pub struct Ft6x06<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> Ft6x06<I2C> {
    /// A driver at the default address [`ADDRESS`]; nothing is sent yet.
    pub fn new(i2c: I2C) -> Self {
        Self {
            i2c,
            address: ADDRESS,
        }
    }

    /// Hands the bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    fn read_reg(&mut self, reg: u8) -> Result<u8, Error<I2C::Error>> {
        let mut v = [0u8];
        self.i2c
            .write_read(self.address, &[reg], &mut v)
            .map_err(Error::Bus)?;
        Ok(v[0])
    }

    /// Checks the vendor and chip ids and sets the touch `threshold` (TH_GROUP; lower is more
    /// sensitive). Returns the chip found.
    pub fn init(&mut self, threshold: u8) -> Result<Chip, Error<I2C::Error>> {
        let vendor = self.read_reg(REG_VENDOR_ID)?;
        if vendor != FOCALTECH_VENDOR_ID {
            return Err(Error::WrongVendor { found: vendor });
        }
        let chip = match self.read_reg(REG_CHIP_ID)? {
            0x06 => Chip::Ft6206,
            0x36 => Chip::Ft6236,
            0x64 => Chip::Ft6336U,
            found => return Err(Error::UnknownChip { found }),
        };
        debug!("FT6x06 found: {}", chip);
        self.i2c
            .write(self.address, &[REG_TH_GROUP, threshold])
            .map_err(Error::Bus)?;
        Ok(chip)
    }

    /// The first touch point, or `None` when nothing touches (no point, a lift-up or
    /// no-event flag, or an out-of-range TD_STATUS).
    pub fn read_touch(&mut self) -> Result<Option<Touch>, Error<I2C::Error>> {
        let mut b = [0u8; 7];
        self.i2c
            .write_read(self.address, &[REG_TD_STATUS], &mut b)
            .map_err(Error::Bus)?;
        let count = b[0] & 0x0F;
        if count == 0 || count > 2 {
            return Ok(None);
        }
        let event = match b[1] >> 6 {
            0 => Event::PressDown,
            1 => Event::LiftUp,
            2 => Event::Contact,
            _ => Event::None,
        };
        if matches!(event, Event::LiftUp | Event::None) {
            return Ok(None);
        }
        Ok(Some(Touch {
            x: u16::from(b[1] & 0x0F) << 8 | u16::from(b[2]),
            y: u16::from(b[3] & 0x0F) << 8 | u16::from(b[4]),
            id: b[3] >> 4,
            event,
        }))
    }
}

impl<I2C: I2c> TouchSource for Ft6x06<I2C> {
    type Error = Error<I2C::Error>;

    fn touch(&mut self) -> Result<Option<(u16, u16)>, Self::Error> {
        Ok(self.read_touch()?.map(|t| (t.x, t.y)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};

    fn status(bytes: [u8; 7]) -> T {
        T::write_read(0x38, vec![0x02], bytes.to_vec())
    }

    #[test]
    fn init_checks_ids_and_sets_the_threshold() {
        let t = [
            T::write_read(0x38, vec![0xA8], vec![0x11]),
            T::write_read(0x38, vec![0xA3], vec![0x36]),
            T::write(0x38, vec![0x80, 40]),
            T::write_read(0x38, vec![0xA8], vec![0x11]),
            T::write_read(0x38, vec![0xA3], vec![0x99]),
            T::write_read(0x38, vec![0xA8], vec![0x55]),
        ];
        let mut pad = Ft6x06::new(Mock::new(&t));
        assert_eq!(pad.init(40), Ok(Chip::Ft6236));
        assert_eq!(pad.init(40), Err(Error::UnknownChip { found: 0x99 }));
        assert_eq!(pad.init(40), Err(Error::WrongVendor { found: 0x55 }));
        pad.release().done();
    }

    #[test]
    fn decodes_points_and_events() {
        let t = [
            // One point, contact, x = 0x123, y = 0x0ABC, id 5.
            status([0x01, 0x81, 0x23, 0x5A, 0xBC, 0, 0]),
            // Press down at (4095, 0).
            status([0x01, 0x0F, 0xFF, 0x00, 0x00, 0, 0]),
            // Lift up, no point, power-up garbage.
            status([0x01, 0x41, 0x23, 0x5A, 0xBC, 0, 0]),
            status([0x00, 0, 0, 0, 0, 0, 0]),
            status([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ];
        let mut pad = Ft6x06::new(Mock::new(&t));
        assert_eq!(
            pad.read_touch(),
            Ok(Some(Touch {
                x: 0x123,
                y: 0xABC,
                id: 5,
                event: Event::Contact
            }))
        );
        assert_eq!(pad.touch(), Ok(Some((4095, 0))));
        assert_eq!(pad.read_touch(), Ok(None));
        assert_eq!(pad.read_touch(), Ok(None));
        assert_eq!(pad.read_touch(), Ok(None));
        pad.release().done();
    }

    #[test]
    fn bus_errors_propagate() {
        let t = [
            T::write_read(0x38, vec![0x02], vec![0; 7]).with_error(ErrorKind::Bus),
            T::write_read(0x38, vec![0xA8], vec![0x11]),
            T::write_read(0x38, vec![0xA3], vec![0x06]),
            T::write(0x38, vec![0x80, 128]).with_error(ErrorKind::ArbitrationLoss),
        ];
        let mut pad = Ft6x06::new(Mock::new(&t));
        assert_eq!(pad.read_touch(), Err(Error::Bus(ErrorKind::Bus)));
        assert_eq!(
            pad.init(DEFAULT_THRESHOLD),
            Err(Error::Bus(ErrorKind::ArbitrationLoss))
        );
        pad.release().done();
    }
}
