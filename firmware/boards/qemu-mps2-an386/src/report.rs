//! Number formatting for the semihosting report without `core`'s float formatting (which would
//! cost several KiB of flash for a handful of lines).

use core::fmt;

/// An `f32` printed with 4 decimals, rounded half away from zero (`-0.1235`, `1.0000`);
/// non-finite values print as `nan`, `inf`, `-inf`.
#[derive(Debug, Clone, Copy)]
pub struct Fixed(pub f32);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            return f.write_str("nan");
        }
        if v.is_infinite() {
            return f.write_str(if v > 0.0 { "inf" } else { "-inf" });
        }
        let sign = if v.is_sign_negative() && v != 0.0 {
            "-"
        } else {
            ""
        };
        // |v| * 10^4 rounded; f64 keeps every f32 below 2^53 / 10^4 exact enough.
        let scaled = libm_round(f64::from(v.abs()) * 10_000.0);
        let (int, frac) = (scaled / 10_000, scaled % 10_000);
        write!(f, "{sign}{int}.{frac:04}")
    }
}

/// `x.round()` for `x >= 0` as an integer, without `std` (saturating at `u64::MAX`).
fn libm_round(x: f64) -> u64 {
    (x + 0.5) as u64
}

/// `num / den` with 3 decimals, rounded (`9.974`); `-` when `den` is 0.
#[derive(Debug, Clone, Copy)]
pub struct Ratio(pub u64, pub u64);

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ratio(num, den) = *self;
        if den == 0 {
            return f.write_str("-");
        }
        let milli = (u128::from(num) * 1000 + u128::from(den) / 2) / u128::from(den);
        write!(f, "{}.{:03}", milli / 1000, milli % 1000)
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

/// `ACCEPT` or `REJECT`.
pub fn verdict(accept: bool) -> &'static str {
    if accept {
        "ACCEPT"
    } else {
        "REJECT"
    }
}
