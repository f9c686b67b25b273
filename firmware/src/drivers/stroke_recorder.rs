//! Turning touch samples into a signature trace with pen up/down.

use crate::preprocess::{StrokeList, StrokePoint};

/// A digitizer that reports where it is touched, if at all.
pub trait TouchSource {
    /// The digitizer's error.
    type Error;

    /// The touched position in panel coordinates, or `None` when nothing touches.
    fn touch(&mut self) -> Result<Option<(u16, u16)>, Self::Error>;
}

/// The recorder's trace is full; the sample that did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecorderFull {
    /// The sample that was refused.
    pub point: StrokePoint,
    /// The trace's capacity (samples).
    pub capacity: usize,
}

/// Why [`StrokeRecorder::poll`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecordError<E> {
    /// The touch source failed; the trace is unchanged.
    Source(E),
    /// The trace is full.
    Full(RecorderFull),
}

/// Records a signature from a stream of touch samples into a [`StrokeList`] of `N` samples.
///
/// A touch while the pen is up starts a stroke (a pen-down sample); further touches add
/// pen-down samples when they moved at least `min_step` in either axis since the last stored
/// one (filtering jitter and saving capacity); a release ends the stroke with a pen-up sample.
/// Once full, samples are refused with [`RecorderFull`] and the trace so far stays usable (after
/// [`finish`](StrokeRecorder::finish), which ends an open stroke if there is room).
#[derive(Debug, Clone)]
pub struct StrokeRecorder<const N: usize> {
    trace: StrokeList<N>,
    min_step: u16,
    down: bool,
}

impl<const N: usize> Default for StrokeRecorder<N> {
    fn default() -> Self {
        Self::new(1)
    }
}

impl<const N: usize> StrokeRecorder<N> {
    /// A recorder storing moves of at least `min_step` panel units (0 and 1 keep every change of
    /// position).
    pub const fn new(min_step: u16) -> Self {
        Self {
            trace: StrokeList::new(),
            min_step,
            down: false,
        }
    }

    fn full(&self, point: StrokePoint) -> RecorderFull {
        RecorderFull { point, capacity: N }
    }

    /// Feeds one sample: `Some((x, y))` while touched, `None` when released.
    pub fn sample(&mut self, touch: Option<(u16, u16)>) -> Result<(), RecorderFull> {
        match touch {
            Some((x, y)) => {
                let p = StrokePoint::down(x, y);
                if self.down {
                    let moved = self.trace.last().is_none_or(|l| {
                        l.x.abs_diff(x).max(l.y.abs_diff(y)) >= self.min_step.max(1)
                    });
                    if !moved {
                        return Ok(());
                    }
                }
                self.trace.push(p).map_err(|p| self.full(p))?;
                self.down = true;
            }
            None => {
                if self.down {
                    self.trace.pen_up().map_err(|p| self.full(p))?;
                    self.down = false;
                }
            }
        }
        Ok(())
    }

    /// Polls `source` once and feeds the result. The two failures stay apart: a source error
    /// (a bus glitch, which a caller may skip) and a full trace (which ends the recording).
    pub fn poll<S: TouchSource>(&mut self, source: &mut S) -> Result<(), RecordError<S::Error>> {
        let touch = source.touch().map_err(RecordError::Source)?;
        self.sample(touch).map_err(RecordError::Full)
    }

    /// Ends an open stroke and returns the trace.
    pub fn finish(&mut self) -> Result<&StrokeList<N>, RecorderFull> {
        self.sample(None)?;
        Ok(&self.trace)
    }

    /// The trace so far.
    pub fn trace(&self) -> &StrokeList<N> {
        &self.trace
    }

    /// Whether the pen is down (a stroke is open).
    pub fn pen_is_down(&self) -> bool {
        self.down
    }

    /// Forgets the trace, ready for the next signature.
    pub fn clear(&mut self) {
        self.trace.clear();
        self.down = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::ft6x06::{Error, Ft6x06};
    use crate::preprocess::{rasterize, Pen, RasterConfig};
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};

    #[test]
    fn strokes_from_samples() -> Result<(), RecorderFull> {
        let mut r = StrokeRecorder::<16>::new(3);
        for s in [
            None,
            Some((10, 10)),
            Some((11, 11)), // jitter, dropped
            Some((14, 10)),
            None,
            None,
            Some((50, 50)),
        ] {
            r.sample(s)?;
        }
        assert!(r.pen_is_down());
        let trace = r.finish()?;
        let got: Vec<(u16, u16, Pen)> = trace.points().iter().map(|p| (p.x, p.y, p.pen)).collect();
        assert_eq!(
            got,
            [
                (10, 10, Pen::Down),
                (14, 10, Pen::Down),
                (14, 10, Pen::Up),
                (50, 50, Pen::Down),
                (50, 50, Pen::Up)
            ]
        );
        assert_eq!(trace.strokes(), 2);
        Ok(())
    }

    #[test]
    fn full_trace_refuses_samples() {
        let mut r = StrokeRecorder::<2>::new(0);
        assert_eq!(r.sample(Some((1, 1))), Ok(()));
        assert_eq!(r.sample(Some((1, 1))), Ok(())); // no move: nothing stored
        assert_eq!(r.sample(Some((2, 2))), Ok(()));
        assert_eq!(
            r.sample(Some((3, 3))),
            Err(RecorderFull {
                point: StrokePoint::down(3, 3),
                capacity: 2
            })
        );
        assert!(r.finish().is_err());
        assert_eq!(r.trace().len(), 2);
        r.clear();
        assert!(r.trace().is_empty() && !r.pen_is_down());
    }

    #[test]
    fn records_from_the_touch_controller_and_rasterizes() {
        let touch = |x: u16, y: u16| {
            T::write_read(
                0x38,
                vec![0x02],
                vec![
                    1,
                    0x80 | (x >> 8) as u8,
                    x as u8,
                    (y >> 8) as u8,
                    y as u8,
                    0,
                    0,
                ],
            )
        };
        let t = [
            touch(100, 100),
            touch(300, 100),
            touch(300, 200),
            T::write_read(0x38, vec![0x02], vec![0; 7]),
            T::write_read(0x38, vec![0x02], vec![0; 7]).with_error(ErrorKind::Bus),
        ];
        let mut pad = Ft6x06::new(Mock::new(&t));
        let mut r = StrokeRecorder::<8>::new(2);
        for _ in 0..4 {
            assert_eq!(r.poll(&mut pad), Ok(()));
        }
        assert_eq!(
            r.poll(&mut pad),
            Err(RecordError::Source(Error::Bus(ErrorKind::Bus)))
        );
        assert_eq!(r.trace().len(), 4);
        let mut img = [0u8; 12 * 8];
        let cfg = RasterConfig::new(12, 8).with_margin(1);
        assert_eq!(rasterize(r.trace().points(), &cfg, &mut img), Ok(()));
        assert!(img.iter().filter(|v| **v == 0).count() >= 10);
        pad.release().done();
    }
}
