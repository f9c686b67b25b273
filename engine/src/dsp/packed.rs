//! Packed dual-16-bit arithmetic: the four Armv7E-M DSP instructions the packed kernels use,
//! as inline assembly on Cortex-M4/M7 with the `dsp` feature and as a bit-exact portable
//! emulation everywhere else (so host tests run the very data layout the MCU runs).
//!
//! A packed word holds two i16 lanes: bits 0..16 (low) and 16..32 (high).

/// `SXTB16 x`: sign-extends bytes 0 and 2 of `x` into the low and high lanes.
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    imp::sxtb16(x)
}

/// `SXTB16 x, ROR #8`: sign-extends bytes 1 and 3 of `x` into the low and high lanes.
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    imp::sxtb16_ror8(x)
}

/// `SXTAB16 a, x`: lane-wise `a + sign_extend(bytes 0 and 2 of x)` (each lane wrapping in 16
/// bits).
#[inline(always)]
pub fn sxtab16(a: u32, x: u32) -> u32 {
    imp::sxtab16(a, x)
}

/// `SXTAB16 a, x, ROR #8`: lane-wise `a + sign_extend(bytes 1 and 3 of x)`.
#[inline(always)]
pub fn sxtab16_ror8(a: u32, x: u32) -> u32 {
    imp::sxtab16_ror8(a, x)
}

/// `SMLAD a, b, acc`: `acc + a.low * b.low + a.high * b.high` (signed 16-bit lanes, the sum
/// wrapping in 32 bits as the instruction's result does).
#[inline(always)]
pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    imp::smlad(a, b, acc)
}

/// `SMLABB a, b, acc`: `acc + a.low * b.low` (wrapping).
#[inline(always)]
pub fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
    imp::smlabb(a, b, acc)
}

/// `SMLATT a, b, acc`: `acc + a.high * b.high` (wrapping).
#[inline(always)]
pub fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
    imp::smlatt(a, b, acc)
}

/// `SMMULR a, b`: the high word of `a * b`, rounded: `(a * b + 2^31) >> 32`.
#[inline(always)]
pub fn smmulr(a: i32, b: i32) -> i32 {
    imp::smmulr(a, b)
}

/// Two i16 lanes as a packed word.
#[inline(always)]
pub fn pack(low: i16, high: i16) -> u32 {
    u32::from(low as u16) | (u32::from(high as u16) << 16)
}

/// The little-endian word of 4 int8 values.
#[inline(always)]
pub fn word(bytes: &[i8]) -> u32 {
    u32::from_le_bytes([
        bytes[0] as u8,
        bytes[1] as u8,
        bytes[2] as u8,
        bytes[3] as u8,
    ])
}

#[cfg(not(all(target_arch = "arm", feature = "dsp")))]
mod imp {
    fn lanes(x: u32) -> (i16, i16) {
        (x as u16 as i16, (x >> 16) as u16 as i16)
    }

    fn extend(x: u32) -> u32 {
        super::pack(i16::from(x as u8 as i8), i16::from((x >> 16) as u8 as i8))
    }

    fn add(a: u32, b: u32) -> u32 {
        let ((al, ah), (bl, bh)) = (lanes(a), lanes(b));
        super::pack(al.wrapping_add(bl), ah.wrapping_add(bh))
    }

    #[inline(always)]
    pub fn sxtb16(x: u32) -> u32 {
        extend(x)
    }

    #[inline(always)]
    pub fn sxtb16_ror8(x: u32) -> u32 {
        extend(x.rotate_right(8))
    }

    #[inline(always)]
    pub fn sxtab16(a: u32, x: u32) -> u32 {
        add(a, extend(x))
    }

    #[inline(always)]
    pub fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        add(a, extend(x.rotate_right(8)))
    }

    #[inline(always)]
    pub fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
        let ((al, _), (bl, _)) = (lanes(a), lanes(b));
        acc.wrapping_add(i32::from(al) * i32::from(bl))
    }

    #[inline(always)]
    pub fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
        let ((_, ah), (_, bh)) = (lanes(a), lanes(b));
        acc.wrapping_add(i32::from(ah) * i32::from(bh))
    }

    #[inline(always)]
    pub fn smmulr(a: i32, b: i32) -> i32 {
        ((i64::from(a) * i64::from(b) + (1 << 31)) >> 32) as i32
    }

    #[inline(always)]
    pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let ((al, ah), (bl, bh)) = (lanes(a), lanes(b));
        let products = i64::from(al) * i64::from(bl) + i64::from(ah) * i64::from(bh);
        (i64::from(acc) + products) as i32
    }
}

#[cfg(all(target_arch = "arm", feature = "dsp"))]
mod imp {
    use core::arch::asm;

    #[inline(always)]
    pub fn sxtb16(x: u32) -> u32 {
        let r: u32;
        // SAFETY: a register-only DSP instruction of Armv7E-M; no memory, stack or flags.
        unsafe {
            asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub fn sxtb16_ror8(x: u32) -> u32 {
        let r: u32;
        // SAFETY: as in `sxtb16`.
        unsafe {
            asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub fn sxtab16(a: u32, x: u32) -> u32 {
        let r: u32;
        // SAFETY: as in `sxtb16`.
        unsafe {
            asm!("sxtab16 {r}, {a}, {x}", r = lateout(reg) r, a = in(reg) a, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        let r: u32;
        // SAFETY: as in `sxtb16`.
        unsafe {
            asm!("sxtab16 {r}, {a}, {x}, ror #8", r = lateout(reg) r, a = in(reg) a, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: as in `smlad`.
        unsafe {
            asm!("smlabb {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
                 acc = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }

    #[inline(always)]
    pub fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: as in `smlad`.
        unsafe {
            asm!("smlatt {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
                 acc = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }

    #[inline(always)]
    pub fn smmulr(a: i32, b: i32) -> i32 {
        let r: i32;
        // SAFETY: a register-only multiply of Armv7E-M; no memory, stack or flags.
        unsafe {
            asm!("smmulr {r}, {a}, {b}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: a register-only DSP instruction; it may set the sticky Q flag on overflow,
        // which nothing reads, so flags are not declared preserved.
        unsafe {
            asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
                 acc = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_and_products() {
        // Bytes (little-endian) 0x80 = -128, 0x7f = 127, 0x01 = 1, 0xff = -1.
        let x = u32::from_le_bytes([0x80, 0x7f, 0x01, 0xff]);
        assert_eq!(sxtb16(x), pack(-128, 1));
        assert_eq!(sxtb16_ror8(x), pack(127, -1));
        assert_eq!(sxtab16(pack(10, -10), x), pack(-118, -9));
        assert_eq!(sxtab16_ror8(pack(10, -10), x), pack(137, -11));
        assert_eq!(smlad(pack(3, -4), pack(5, 6), 100), 100 + 15 - 24);
        assert_eq!(smlabb(pack(3, -4), pack(5, 6), 100), 115);
        assert_eq!(smlatt(pack(3, -4), pack(5, 6), 100), 76);
        // The one sum that leaves i32 wraps, as the instruction's result does.
        assert_eq!(
            smlad(pack(i16::MIN, i16::MIN), pack(i16::MIN, i16::MIN), 0),
            i32::MIN
        );
        // (3 * 2^30 + 2^31) >> 32 = 1 (0.75 rounds up); -0.75 rounds to -1; -0.5 to 0.
        assert_eq!(smmulr(3, 1 << 30), 1);
        assert_eq!(smmulr(-3, 1 << 30), -1);
        assert_eq!(smmulr(-2, 1 << 30), 0);
        assert_eq!(smmulr(i32::MIN, i32::MIN), 1 << 30);
        assert_eq!(
            word(&[1, -1, 2, -2]),
            u32::from_le_bytes([1, 0xff, 2, 0xfe])
        );
    }
}
