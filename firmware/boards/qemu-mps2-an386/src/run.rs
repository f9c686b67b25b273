//! The check: run the engine on every test image, enroll, verify, and compare everything with
//! the host's answers in the vectors file.

use siamedge_firmware::engine::{Arena, Engine};
use siamedge_format::vectors::TestVectors;
use siamedge_firmware::Verifier;
use siamedge_format::{EmbeddingRef, Model, MAX_TEMPLATE_EMBEDDINGS, MAX_TEMPLATE_VALUES};

use crate::clock::{Calibration, Clock};
use crate::exit::Status;
use crate::profile::Profile;
use crate::report::{verdict, Fixed, Hex, Ratio, Text};
use crate::say::say;

/// What the inferences cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    /// MACs of one inference (both passes of a flip-average model).
    pub macs: u64,
    /// Passes of the network per inference: 2 for a flip-average model, else 1.
    pub passes: u64,
    /// Inferences timed.
    pub inferences: u64,
    /// Fewest instructions of one inference.
    pub min: u64,
    /// Most instructions of one inference.
    pub max: u64,
    /// Instructions of all of them.
    pub total: u64,
}

impl Measured {
    fn add(&mut self, instructions: u64) {
        if self.inferences == 0 || instructions < self.min {
            self.min = instructions;
        }
        self.max = self.max.max(instructions);
        self.total += instructions;
        self.inferences += 1;
    }
}

/// How the run ended, and what it measured.
pub struct Outcome {
    /// The exit status.
    pub status: Status,
    /// The costs, when the engine ran.
    pub measured: Option<Measured>,
}

impl Outcome {
    fn refused(what: &str, why: &dyn core::fmt::Display) -> Self {
        say!("{}: {}", what, Text(why));
        Outcome {
            status: Status::BadInput,
            measured: None,
        }
    }
}

/// One inference of image `i`: its embedding and its instruction count.
struct Runner<'e, 'm, 'a, 'v> {
    engine: &'e mut Engine<'m, 'a>,
    vectors: &'v TestVectors<'v>,
    clock: &'v Clock,
    calibration: Calibration,
    measured: Measured,
    mismatches: u32,
    profile: Profile,
}

impl Runner<'_, '_, '_, '_> {
    /// Runs image `i` and compares its embedding with the host's; prints one line.
    fn embed(&mut self, i: usize, role: &str) -> &[i8] {
        let (input, expected) = match (self.vectors.input(i), self.vectors.embedding(i)) {
            (Some(input), Some(expected)) => (input, expected),
            // Indices come from the decoded file, which checked them.
            _ => return &[],
        };
        self.engine.input_mut().copy_from_slice(input);
        let before = self.clock.ticks();
        let output = self
            .profile
            .invoke(self.engine, self.clock, self.calibration);
        let after = self.clock.ticks();
        let instructions = self.calibration.instructions(after - before);
        self.measured.add(instructions);
        let label = self.vectors.label(i).unwrap_or(0);
        let differing = output.iter().zip(expected).filter(|(a, b)| a != b).count();
        if differing == 0 {
            say!(
                "image {} (identity {}, {}): embedding matches the host ({} values), {} instructions",
                i,
                label,
                role,
                output.len(),
                instructions
            );
        } else {
            self.mismatches += 1;
            let first = output.iter().zip(expected).position(|(a, b)| a != b);
            let at = first.unwrap_or(0);
            say!(
                "image {} (identity {}, {}): embedding MISMATCH in {} of {} values, first at {}: board {} host {}",
                i,
                label,
                role,
                differing,
                output.len(),
                at,
                output.get(at).copied().unwrap_or(0),
                expected.get(at).copied().unwrap_or(0)
            );
        }
        output
    }
}

/// Decodes the embedded model and vectors, runs every check, prints the report lines.
pub fn run<const N: usize>(
    model_bytes: &'static [u8],
    vectors_bytes: &'static [u8],
    arena: &'static mut Arena<N>,
    clock: &Clock,
    calibration: Calibration,
) -> Outcome {
    let model = match Model::decode(model_bytes) {
        Ok(m) => m,
        Err(e) => return Outcome::refused("model", &e),
    };
    let vectors = match TestVectors::decode(vectors_bytes) {
        Ok(v) => v,
        Err(e) => return Outcome::refused("vectors", &e),
    };
    let id = model.id();
    let (input_len, dim) = (
        model.input().shape().elements() as usize,
        usize::from(model.embedding().dim),
    );
    if vectors.model() != id {
        say!(
            "vectors: made for model {}, the embedded model is {}",
            Hex(vectors.model().as_bytes()),
            Hex(id.as_bytes())
        );
        return Outcome::refused("vectors", &"model mismatch");
    }
    if vectors.input_len() != input_len || vectors.dim() != dim {
        say!(
            "vectors: input {} / embedding {} values, the model has {} / {}",
            vectors.input_len(),
            vectors.dim(),
            input_len,
            dim
        );
        return Outcome::refused("vectors", &"shape mismatch");
    }
    let mut engine = match Engine::new(&model, arena) {
        Ok(e) => e,
        Err(e) => return Outcome::refused("engine", &e),
    };
    let shape = model.input().shape();
    say!(
        "model: id {}, {} layers, input {}x{}x{}, embedding {} (scale {}), arena {} B of {} B static, {} MACs, {} pass(es) per embedding",
        Hex(id.as_bytes()),
        model.layers().len(),
        shape.h,
        shape.w,
        shape.c,
        dim,
        Fixed(model.embedding().scale),
        model.arena_bytes(),
        N,
        engine.macs(),
        engine.passes()
    );
    say!(
        "vectors: {} images ({}), enroll subject {} from {} captures, {} probes",
        vectors.images(),
        vectors.source().name(),
        vectors.subject(),
        vectors.enroll_images().len(),
        vectors.probes().len()
    );

    let (macs, passes) = (engine.macs(), engine.passes());
    let mut runner = Runner {
        engine: &mut engine,
        vectors: &vectors,
        clock,
        calibration,
        measured: Measured {
            macs,
            passes,
            ..Measured::default()
        },
        mismatches: 0,
        profile: Profile::new(),
    };

    // Enroll: the captures' embeddings side by side, then one template under the file's policy.
    let scale = model.embedding().scale;
    let verifier = Verifier::new(&model);
    let mut values = [0i8; MAX_TEMPLATE_VALUES];
    let mut used = 0;
    for i in vectors.enroll_images() {
        let out = runner.embed(i, "enroll");
        // The vectors hold at most 8 captures of `dim` values, as many as a template holds.
        if let Some(slot) = values.get_mut(used..used + out.len()) {
            slot.copy_from_slice(out);
            used += out.len();
        }
    }
    let empty = EmbeddingRef {
        model: id,
        scale,
        values: &[],
    };
    let mut captures = [empty; MAX_TEMPLATE_EMBEDDINGS];
    let mut count = 0;
    for (slot, chunk) in captures.iter_mut().zip(values[..used].chunks_exact(dim)) {
        slot.values = chunk;
        count += 1;
    }
    let template = match verifier.enroll(vectors.subject(), &captures[..count], vectors.policy()) {
        Ok(t) => t,
        Err(e) => return Outcome::refused("enroll", &e),
    };
    say!(
        "enrolled subject {} from {} captures ({:?}): template of {} embeddings",
        template.subject(),
        count,
        vectors.policy(),
        template.count()
    );

    // Verify each probe against the template, from the board's own embedding.
    let mut wrong_decisions = 0u32;
    for p in vectors.probes() {
        let i = usize::from(p.image);
        let values = runner.embed(i, "probe");
        let probe = EmbeddingRef {
            model: id,
            scale,
            values,
        };
        let d = match verifier.verify(&template, probe) {
            Ok(d) => d,
            Err(e) => return Outcome::refused("verify", &e),
        };
        let same = d.accept == p.accept
            && d.distance.to_bits() == p.distance.to_bits()
            && d.score.to_bits() == p.score.to_bits();
        if !same {
            wrong_decisions += 1;
        }
        say!(
            "verify image {} (identity {}) as subject {}: {} distance {} score {} | host {} distance {} score {} | {}",
            i,
            vectors.label(i).unwrap_or(0),
            template.subject(),
            verdict(d.accept),
            Fixed(d.distance),
            Fixed(d.score),
            verdict(p.accept),
            Fixed(p.distance),
            Fixed(p.score),
            if same { "match" } else { "MISMATCH" }
        );
    }

    // Every other image: its embedding only.
    for i in 0..vectors.images() {
        let used = vectors.enroll_images().any(|e| e == i)
            || vectors.probes().any(|p| usize::from(p.image) == i);
        if !used {
            runner.embed(i, "embedding only");
        }
    }

    runner.profile.report(&model, runner.engine);
    let (mismatches, measured) = (runner.mismatches, runner.measured);
    say!(
        "checked: {} embeddings differ, {} decisions differ",
        mismatches,
        wrong_decisions
    );
    say!(
        "instructions per MAC: {} (mean over {} inferences)",
        Ratio(measured.total, measured.macs * measured.inferences),
        measured.inferences
    );
    Outcome {
        status: if mismatches == 0 && wrong_decisions == 0 {
            Status::Pass
        } else {
            Status::Mismatch
        },
        measured: Some(measured),
    }
}
