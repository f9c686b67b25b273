//! Number formatting for the report without `core`'s float formatting (which would cost several
//! KiB of flash for a handful of lines).
//!
//! Each wrapper is `Display` (the semihosting text) and, with the `defmt` feature,
//! `defmt::Format` (the frames): the same digits either way, so `defmt-print` shows the lines the
//! plain build prints.

use core::fmt;

/// An `f32` printed with 4 decimals, rounded half away from zero (`-0.1235`, `1.0000`);
/// non-finite values print as `nan`, `inf`, `-inf`.
#[derive(Debug, Clone, Copy)]
pub struct Fixed(pub f32);

/// What a [`Fixed`] prints.
enum FixedParts {
    /// `nan`, `inf` or `-inf`.
    Word(&'static str),
    /// Sign (`""` or `"-"`), integer part, 4 decimals (0..=9999).
    Number(&'static str, u64, u64),
}

impl Fixed {
    fn parts(self) -> FixedParts {
        let v = self.0;
        if v.is_nan() {
            return FixedParts::Word("nan");
        }
        if v.is_infinite() {
            return FixedParts::Word(if v > 0.0 { "inf" } else { "-inf" });
        }
        let sign = if v.is_sign_negative() && v != 0.0 {
            "-"
        } else {
            ""
        };
        // |v| * 10^4 rounded; f64 keeps every f32 below 2^53 / 10^4 exact enough.
        let scaled = libm_round(f64::from(v.abs()) * 10_000.0);
        FixedParts::Number(sign, scaled / 10_000, scaled % 10_000)
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts() {
            FixedParts::Word(w) => f.write_str(w),
            FixedParts::Number(sign, int, frac) => write!(f, "{sign}{int}.{frac:04}"),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Fixed {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self.parts() {
            FixedParts::Word(w) => defmt::write!(f, "{=str}", w),
            FixedParts::Number(sign, int, frac) => {
                defmt::write!(f, "{=str}{=u64}.{=u64:04}", sign, int, frac)
            }
        }
    }
}

/// `x.round()` for `x >= 0` as an integer, without `std` (saturating at `u64::MAX`).
fn libm_round(x: f64) -> u64 {
    (x + 0.5) as u64
}

/// `num / den` with 3 decimals, rounded (`9.974`); `-` when `den` is 0.
#[derive(Debug, Clone, Copy)]
pub struct Ratio(pub u64, pub u64);

impl Ratio {
    /// `num / den` in thousandths, rounded; `None` when `den` is 0.
    fn milli(self) -> Option<u128> {
        let Ratio(num, den) = self;
        (den != 0).then(|| (u128::from(num) * 1000 + u128::from(den) / 2) / u128::from(den))
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.milli() {
            None => f.write_str("-"),
            Some(milli) => write!(f, "{}.{:03}", milli / 1000, milli % 1000),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Ratio {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self.milli() {
            None => defmt::write!(f, "-"),
            Some(milli) => defmt::write!(f, "{=u128}.{=u128:03}", milli / 1000, milli % 1000),
        }
    }
}

/// Hex of a byte string (a model id).
#[derive(Debug, Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Hex<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        for b in self.0 {
            defmt::write!(f, "{=u8:02x}", b);
        }
    }
}

/// Anything `Display` (an error, the panic message) as a report argument: its text, formatted
/// on the board with `core::fmt` (with the `defmt` feature too, through `defmt::Display2Format`).
#[derive(Clone, Copy)]
pub struct Text<'a, T: fmt::Display + ?Sized>(pub &'a T);

impl<T: fmt::Display + ?Sized> fmt::Display for Text<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(feature = "defmt")]
impl<T: fmt::Display + ?Sized> defmt::Format for Text<'_, T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(self.0))
    }
}

/// `ACCEPT` or `REJECT`.
pub fn verdict(accept: bool) -> &'static str {
    if accept {
        "ACCEPT"
    } else {
        "REJECT"
    }
}
