//! Writing vectors files on a host (`alloc`): [`VectorsSpec::to_bytes`].

use alloc::vec::Vec;

use crate::crc::crc32;
use crate::ModelId;

use crate::EnrollPolicy;

use super::{
    Probe, Source, TestVectors, VectorsError, HEADER_LEN, MAGIC, MAX_ENROLL, MAX_IMAGES,
    MAX_PROBES, VERSION,
};

/// Everything a vectors file holds, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorsSpec {
    /// The model the vectors are for.
    pub model: ModelId,
    /// Where the images came from.
    pub source: Source,
    /// The subject enrolled.
    pub subject: u32,
    /// How its captures became the template.
    pub policy: EnrollPolicy,
    /// Per image: the identity it shows.
    pub labels: Vec<u16>,
    /// Per image: the int8 model input (all the same length).
    pub inputs: Vec<Vec<i8>>,
    /// Per image: the expected int8 embedding (all the same length).
    pub embeddings: Vec<Vec<i8>>,
    /// Image indices enrolled as `subject`.
    pub enroll: Vec<u16>,
    /// The probes and their expected decisions.
    pub probes: Vec<Probe>,
}

fn invalid(field: &'static str, reason: &'static str) -> VectorsError {
    VectorsError::Invalid { field, reason }
}

impl VectorsSpec {
    /// Encodes the file and checks it by decoding it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, VectorsError> {
        let images = self.inputs.len();
        if images == 0 || images > usize::from(MAX_IMAGES) {
            return Err(invalid("images", "1 to 64 images"));
        }
        if self.labels.len() != images || self.embeddings.len() != images {
            return Err(invalid(
                "labels",
                "one label, input and embedding per image",
            ));
        }
        let input_len = self.inputs[0].len();
        if self.inputs.iter().any(|i| i.len() != input_len) {
            return Err(invalid("inputs", "every input has the same length"));
        }
        let dim = self.embeddings[0].len();
        if self.embeddings.iter().any(|e| e.len() != dim) {
            return Err(invalid("embeddings", "every embedding has the same length"));
        }
        let enroll = u8::try_from(self.enroll.len())
            .ok()
            .filter(|n| (1..=MAX_ENROLL).contains(n))
            .ok_or(invalid("enroll", "1 to 8 enrollment captures"))?;
        let probes = u8::try_from(self.probes.len())
            .ok()
            .filter(|n| (1..=MAX_PROBES).contains(n))
            .ok_or(invalid("probes", "1 to 16 probes"))?;
        let input_len32 =
            u32::try_from(input_len).map_err(|_| invalid("input_len", "larger than u32"))?;
        let dim16 = u16::try_from(dim).map_err(|_| invalid("dim", "larger than u16"))?;

        let mut out = Vec::with_capacity(HEADER_LEN + images * (input_len + dim + 2) + 64);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(self.model.as_bytes());
        out.extend_from_slice(&input_len32.to_le_bytes());
        out.extend_from_slice(&dim16.to_le_bytes());
        out.extend_from_slice(&(images as u16).to_le_bytes());
        out.extend_from_slice(&self.subject.to_le_bytes());
        out.push(enroll);
        out.push(probes);
        out.push(self.source.to_byte());
        out.push(match self.policy {
            EnrollPolicy::Keep => 0,
            EnrollPolicy::Mean => 1,
        });
        out.extend_from_slice(&[0, 0]);
        self.labels
            .iter()
            .for_each(|l| out.extend_from_slice(&l.to_le_bytes()));
        self.enroll
            .iter()
            .for_each(|i| out.extend_from_slice(&i.to_le_bytes()));
        for p in &self.probes {
            out.extend_from_slice(&p.image.to_le_bytes());
            out.push(u8::from(p.accept));
            out.push(0);
            out.extend_from_slice(&p.distance.to_bits().to_le_bytes());
            out.extend_from_slice(&p.score.to_bits().to_le_bytes());
        }
        for v in self.inputs.iter().chain(&self.embeddings) {
            out.extend(v.iter().map(|&x| x as u8));
        }
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        TestVectors::decode(&out)?;
        Ok(out)
    }
}
