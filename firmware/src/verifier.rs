//! Decisions over templates for one model: verification (1:1) and identification (1:N).
//!
//! The verifier borrows the decoded [`Model`] (zero-copy, typically from flash) and never
//! allocates. Every comparison checks that template and probe come from this model.

use siamedge_format::{Decision, EmbeddingRef, FormatError, Model, OperatingPoint, Template};

/// Verifies and identifies probes for one model, at the model's default operating point or at
/// an override.
#[derive(Debug, Clone)]
pub struct Verifier<'m, 'a> {
    model: &'m Model<'a>,
    point: OperatingPoint,
}

impl<'m, 'a> Verifier<'m, 'a> {
    /// A verifier at the model's default operating point.
    pub fn new(model: &'m Model<'a>) -> Self {
        Self {
            model,
            point: model.decision().default_point(),
        }
    }

    /// The same verifier at the model's most permissive operating point whose false-accept rate
    /// is at most `far` (e.g. `1e-3`); `None` when the model has no such point.
    pub fn at_far(&self, far: f32) -> Option<Self> {
        let point = self.model.decision().point_for_far(far)?;
        Some(Self {
            model: self.model,
            point,
        })
    }

    /// The same verifier with a threshold set by the integrator (distance units of the model's
    /// metric; accept when `distance <= threshold`). `far` is kept for reporting only.
    pub fn with_threshold(&self, threshold: f32) -> Self {
        Self {
            model: self.model,
            point: OperatingPoint {
                far: self.point.far,
                threshold,
            },
        }
    }

    /// The model it decides for.
    pub fn model(&self) -> &'m Model<'a> {
        self.model
    }

    /// The operating point in use.
    pub fn operating_point(&self) -> OperatingPoint {
        self.point
    }

    /// 1:1: `probe` against `template`. [`FormatError::ModelMismatch`] when either was made by
    /// another model.
    pub fn verify(
        &self,
        template: &Template,
        probe: EmbeddingRef<'_>,
    ) -> Result<Decision, FormatError> {
        self.check_model(template)?;
        let distance = template.distance(probe, &self.model.metric())?;
        Ok(self.model.decision().decide_at(distance, self.point))
    }

    /// 1:N: the nearest of `templates` to `probe` (index into `templates`, decision on it), or
    /// `None` when `templates` is empty. A rejected decision means "nobody enrolled".
    pub fn identify(
        &self,
        templates: &[Template],
        probe: EmbeddingRef<'_>,
    ) -> Result<Option<(usize, Decision)>, FormatError> {
        let metric = self.model.metric();
        let mut best: Option<(usize, f32)> = None;
        for (i, t) in templates.iter().enumerate() {
            self.check_model(t)?;
            let d = t.distance(probe, &metric)?;
            if best.is_none_or(|(_, b)| d < b) {
                best = Some((i, d));
            }
        }
        Ok(best.map(|(i, d)| (i, self.model.decision().decide_at(d, self.point))))
    }

    fn check_model(&self, template: &Template) -> Result<(), FormatError> {
        if template.model() != self.model.id() {
            return Err(FormatError::ModelMismatch {
                expected: self.model.id(),
                found: template.model(),
            });
        }
        Ok(())
    }
}
