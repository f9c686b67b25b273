//! Signature-pad traces: points with pen up/down, in a fixed-capacity list.

/// Whether the pen touches the pad at a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pen {
    /// Touching: a line joins this point to the previous one when that one was down too.
    Down,
    /// Lifted: ends the current stroke; the point's coordinates are not drawn and do not count
    /// for the bounding box.
    Up,
}

/// One sample of a trace, in the pad's coordinates (any unit, `0..=u16::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StrokePoint {
    /// Column.
    pub x: u16,
    /// Row (down the pad).
    pub y: u16,
    /// Pen state at this sample.
    pub pen: Pen,
}

impl StrokePoint {
    /// A pen-down sample at `(x, y)`.
    pub const fn down(x: u16, y: u16) -> Self {
        Self {
            x,
            y,
            pen: Pen::Down,
        }
    }

    /// A pen-up sample (coordinates kept for reference, ignored by the rasterizer).
    pub const fn up(x: u16, y: u16) -> Self {
        Self { x, y, pen: Pen::Up }
    }
}

/// A trace of at most `N` samples, without an allocator.
///
/// Strokes are maximal runs of [`Pen::Down`] samples; a single down sample between lifts is a
/// dot. [`StrokeList::pen_up`] ends a stroke without storing redundant lifts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrokeList<const N: usize> {
    points: heapless::Vec<StrokePoint, N>,
}

impl<const N: usize> Default for StrokeList<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> StrokeList<N> {
    /// An empty trace.
    pub const fn new() -> Self {
        Self {
            points: heapless::Vec::new(),
        }
    }

    /// Appends a sample; a full list hands it back.
    pub fn push(&mut self, p: StrokePoint) -> Result<(), StrokePoint> {
        self.points.push(p)
    }

    /// Ends the current stroke: appends a pen-up sample at the last position unless the trace
    /// is empty or already lifted. A full list hands the lift back.
    pub fn pen_up(&mut self) -> Result<(), StrokePoint> {
        match self.points.last() {
            Some(last) if last.pen == Pen::Down => self.push(StrokePoint::up(last.x, last.y)),
            _ => Ok(()),
        }
    }

    /// The samples in order.
    pub fn points(&self) -> &[StrokePoint] {
        &self.points
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Whether no further sample fits.
    pub fn is_full(&self) -> bool {
        self.points.is_full()
    }

    /// The last sample, if any.
    pub fn last(&self) -> Option<&StrokePoint> {
        self.points.last()
    }

    /// Number of strokes (runs of pen-down samples).
    pub fn strokes(&self) -> usize {
        let mut prev = Pen::Up;
        let mut n = 0;
        for p in &self.points {
            if p.pen == Pen::Down && prev == Pen::Up {
                n += 1;
            }
            prev = p.pen;
        }
        n
    }

    /// Forgets every sample.
    pub fn clear(&mut self) {
        self.points.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_and_strokes() {
        let mut t = StrokeList::<4>::new();
        assert_eq!(t.pen_up(), Ok(()));
        assert!(t.is_empty());
        assert_eq!(t.push(StrokePoint::down(1, 2)), Ok(()));
        assert_eq!(t.push(StrokePoint::down(3, 4)), Ok(()));
        assert_eq!(t.pen_up(), Ok(()));
        assert_eq!(t.pen_up(), Ok(()));
        assert_eq!(t.len(), 3);
        assert_eq!(t.last(), Some(&StrokePoint::up(3, 4)));
        assert_eq!(t.push(StrokePoint::down(9, 9)), Ok(()));
        assert_eq!(t.strokes(), 2);
        assert!(t.is_full());
        assert_eq!(
            t.push(StrokePoint::down(5, 5)),
            Err(StrokePoint::down(5, 5))
        );
        assert_eq!(t.pen_up(), Err(StrokePoint::up(9, 9)));
        t.clear();
        assert_eq!(t.strokes(), 0);
    }
}
