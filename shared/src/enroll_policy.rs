//! How several enrollment captures of one subject become one template: kept side by side, or
//! averaged into one. The firmware's `enroll` implements both; the board's test vectors record which
//! one their expected template used.

/// How captures become a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EnrollPolicy {
    /// Keep every capture; verification uses the nearest one.
    #[default]
    Keep,
    /// Keep one embedding, the (re-normalized) mean of the captures.
    Mean,
}
