//! Data-crate tests that need no fetched data: decoders against golden and hostile bytes, the
//! CR LF damage and repair. They always run. (Area resize is `siamedge_format::preprocess`; the
//! trainer's `tests/data_resize.rs` checks it on face-sized images.)

use proptest::prelude::*;
use siamedge_data::idx::{read_idx, IdxArray};
use siamedge_data::mnist::{from_pickle, MnistError};
use siamedge_data::pgm::{parse_pgm, GrayImage};
use siamedge_data::pickle::{load_bytes, Dtype, PickleError, PyValue};
use siamedge_data::repair::{repair_pgm, repair_pgm_with, unix2dos, RepairOutcome};

/// `((x, y),)` with `x = np.arange(6, dtype=np.uint8).reshape(2, 3).astype(np.float32) / 256` and
/// `y = np.array([7, 1], dtype=np.int64)`, made with numpy 2.4.6 and Python 3:
/// ```python
/// import numpy as np, pickle
/// x = np.arange(6, dtype=np.uint8).reshape(2, 3).astype(np.float32) / 256
/// y = np.array([7, 1], dtype=np.int64)
/// print(pickle.dumps(((x, y),), protocol=P).hex())   # P = 3, 4, 2
/// ```
const GOLDEN_P3: &str = concat!(
    "8003636e756d70792e5f636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a",
    "6e6461727261790a71014b008571024301627103877104527105284b014b024b03867106636e756d70790a6474797065",
    "0a7107580200000066347108898887710952710a284b0358010000003c710b4e4e4e4affffffff4affffffff4b007471",
    "0c62894318000000000000803b0000003c0000403c0000803c0000a03c710d74710e62680068014b0085710f68038771",
    "10527111284b014b0285711268075802000000693871138988877114527115284b03680b4e4e4e4affffffff4affffff",
    "ff4b00747116628943100700000000000000010000000000000071177471186286711985711a2e",
);
const GOLDEN_P4: &str = concat!(
    "800495f7000000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e73747275",
    "63749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b024b0386946803",
    "8c0564747970659493948c02663494898887945294284b038c013c944e4e4e4affffffff4affffffff4b007494628943",
    "18000000000000803b0000003c0000403c0000803c0000a03c94749462680268054b008594680787945294284b014b02",
    "8594680c8c02693894898887945294284b0368104e4e4e4affffffff4affffffff4b0074946289431007000000000000",
    "00010000000000000094749462869485942e",
);
/// Protocol 2 from Python 3 stores `bytes` through `_codecs.encode`, a global the reader refuses.
const GOLDEN_P2_PY3: &str = concat!(
    "8002636e756d70792e5f636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a",
    "6e6461727261790a71014b00857102635f636f646563730a656e636f64650a7103580100000062710458060000006c61",
    "74696e317105867106527107877108527109284b014b024b0386710a636e756d70790a64747970650a710b5802000000",
    "6634710c898887710d52710e284b0358010000003c710f4e4e4e4affffffff4affffffff4b0074711062896803581b00",
    "0000000000000000c2803b0000003c0000403c0000c2803c0000c2a03c7111680586711252711374711462680068014b",
    "008571156807877116527117284b014b02857118680b580200000069387119898887711a52711b284b03680f4e4e4e4a",
    "ffffffff4affffffff4b0074711c62896803581000000007000000000000000100000000000000711d680586711e5271",
    "1f747120628671218571222e",
);

fn check_golden(value: PyValue) {
    let mut outer = value.into_tuple(1).unwrap();
    let pair = outer.remove(0).into_tuple(2).unwrap();
    let mut it = pair.into_iter();
    let x = it.next().unwrap().into_array().unwrap();
    let y = it.next().unwrap().into_array().unwrap();
    assert_eq!(
        (x.shape.as_slice(), x.dtype),
        ([2, 3].as_slice(), Dtype::F32)
    );
    assert_eq!(
        x.to_f32().unwrap(),
        [
            0.0,
            1.0 / 256.0,
            2.0 / 256.0,
            3.0 / 256.0,
            4.0 / 256.0,
            5.0 / 256.0
        ]
    );
    assert_eq!(
        (y.shape.as_slice(), y.to_i64().unwrap()),
        ([2].as_slice(), vec![7, 1])
    );
    assert!(matches!(
        x.to_i64(),
        Err(PickleError::WrongDtype {
            expected: Dtype::I64,
            found: Dtype::F32
        })
    ));
}

#[test]
fn numpy_goldens_protocol_3_and_4() {
    check_golden(load_bytes(&hex::decode(GOLDEN_P3).unwrap()).unwrap());
    check_golden(load_bytes(&hex::decode(GOLDEN_P4).unwrap()).unwrap());
}

#[test]
fn codecs_global_is_refused() {
    match load_bytes(&hex::decode(GOLDEN_P2_PY3).unwrap()) {
        Err(PickleError::ForbiddenGlobal {
            module,
            name,
            offset,
        }) => {
            assert_eq!(
                (module.as_str(), name.as_str(), offset),
                ("_codecs", "encode", 63)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn code_execution_globals_are_refused() {
    let evil = b"\x80\x02cos\nsystem\nq\x00U\x04trueq\x01\x85q\x02Rq\x03.";
    assert!(
        matches!(load_bytes(evil), Err(PickleError::ForbiddenGlobal { ref module, .. }) if module == "os")
    );
    let stack_global = b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93.";
    assert!(
        matches!(load_bytes(stack_global), Err(PickleError::ForbiddenGlobal { ref name, .. }) if name == "eval")
    );
    assert!(matches!(
        load_bytes(b"\x80\x02(I1\n."),
        Err(PickleError::UnsupportedOpcode {
            opcode: b'I',
            offset: 3
        })
    ));
}

/// Writes pickles the way Python 2's cPickle wrote `mnist.pkl.gz` (protocol 2, `BINSTRING` data,
/// `numpy.core.multiarray._reconstruct`), with the same opcodes in the same order.
struct Py2Pickler {
    out: Vec<u8>,
}

impl Py2Pickler {
    fn new() -> Self {
        let out =
            b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02".to_vec();
        Py2Pickler { out }
    }

    fn array(&mut self, shape: &[u16], dtype: &str, data: &[u8], first: bool) {
        if !first {
            self.out.extend_from_slice(b"h\x01h\x02");
        }
        self.out.extend_from_slice(b"K\x00\x85U\x01b\x87R(K\x01");
        for &d in shape {
            self.out.push(b'M');
            self.out.extend_from_slice(&d.to_le_bytes());
        }
        self.out.push(if shape.len() == 1 { 0x85 } else { 0x86 });
        self.out.extend_from_slice(b"cnumpy\ndtype\nU\x02");
        self.out.extend_from_slice(dtype.as_bytes());
        self.out.extend_from_slice(
            b"K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T",
        );
        self.out
            .extend_from_slice(&(data.len() as i32).to_le_bytes());
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"tb");
    }

    fn split(&mut self, pixels: &[f32], labels: &[i64], first: bool) {
        let n = labels.len() as u16;
        let x: Vec<u8> = pixels.iter().flat_map(|p| p.to_le_bytes()).collect();
        let y: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
        self.array(&[n, 784], "f4", &x, first);
        self.array(&[n], "i8", &y, false);
        self.out.push(0x86);
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"\x87.");
        self.out
    }
}

fn mnist_like(pixels: [&[f32]; 3], labels: [&[i64]; 3]) -> Vec<u8> {
    let mut p = Py2Pickler::new();
    for (i, (x, y)) in pixels.iter().zip(labels).enumerate() {
        p.split(x, y, i == 0);
    }
    p.finish()
}

#[test]
fn python2_style_pickle_converts_to_bytes_train_then_valid() {
    let img = |seed: usize| -> Vec<f32> {
        (0..784)
            .map(|i| ((i * 7 + seed * 31) % 256) as f32 / 256.0)
            .collect()
    };
    let (a, b, c, d) = (img(1), img(2), img(3), img(4));
    let train: Vec<f32> = [a.clone(), b.clone()].concat();
    let bytes = mnist_like([&train, &c, &d], [&[3, 9], &[0], &[5]]);
    let m = from_pickle(load_bytes(&bytes).unwrap()).unwrap();
    assert_eq!(
        (m.width, m.height, m.train_len(), m.test_len()),
        (28, 28, 3, 1)
    );
    assert_eq!(m.train_labels, [3, 9, 0]);
    assert_eq!(m.test_labels, [5]);
    let as_bytes = |v: &[f32]| v.iter().map(|p| (p * 256.0) as u8).collect::<Vec<u8>>();
    assert_eq!(m.train_image(0), as_bytes(&a).as_slice());
    assert_eq!(m.train_image(2), as_bytes(&c).as_slice());
    assert_eq!(m.test_image(0), as_bytes(&d).as_slice());
    let idx = m.to_idx();
    assert_eq!(idx[0].dims, [3, 28, 28]);
    assert_eq!(idx[3].dims, [1]);
}

#[test]
fn pixels_that_are_not_bytes_over_256_and_bad_labels_are_refused() {
    let mut x = vec![0.0f32; 784];
    x[5] = 0.3;
    let ok = vec![0.0f32; 784];
    let bytes = mnist_like([&ok, &x, &ok], [&[1], &[1], &[1]]);
    assert!(matches!(
        from_pickle(load_bytes(&bytes).unwrap()),
        Err(MnistError::Pixel {
            split: "valid",
            index: 5,
            ..
        })
    ));
    let bytes = mnist_like([&ok, &ok, &ok], [&[1], &[1], &[10]]);
    assert!(matches!(
        from_pickle(load_bytes(&bytes).unwrap()),
        Err(MnistError::Label {
            split: "test",
            index: 0,
            value: 10
        })
    ));
}

#[test]
fn truncated_pickles_give_typed_errors() {
    let full = hex::decode(GOLDEN_P3).unwrap();
    for cut in 0..full.len() {
        assert!(
            load_bytes(&full[..cut]).is_err(),
            "prefix of {cut} bytes accepted"
        );
    }
}

/// A smooth 92x112 image of diagonal ramps (slope 3 per column, 1 per row, values 1..=121) whose
/// pixels include original 13,10 pairs (down-ramps), lone 10s and lone 13s (up-ramps 7,10,13,16).
fn synthetic_face() -> GrayImage {
    let (w, h): (usize, usize) = (92, 112);
    let px = (0..w * h)
        .map(|i| (((3 * (i % w) + i / w + 17) % 240).abs_diff(120) + 1) as u8)
        .collect();
    GrayImage::new(w, h, px).unwrap()
}

#[test]
fn repaired_synthetic_face_equals_the_original() {
    let img = synthetic_face();
    let px = &img.pixels;
    let pairs = (1..px.len())
        .filter(|&i| px[i - 1] == 13 && px[i] == 10)
        .count();
    let lone_lf = (1..px.len())
        .filter(|&i| px[i - 1] != 13 && px[i] == 10)
        .count();
    let lone_cr = (0..px.len() - 1)
        .filter(|&i| px[i] == 13 && px[i + 1] != 10)
        .count();
    assert!(
        pairs > 10 && lone_lf > 10 && lone_cr > 10,
        "{pairs} {lone_lf} {lone_cr}"
    );
    let clean = img.to_pgm();
    let damaged = unix2dos(&clean);
    assert!(parse_pgm(&damaged).is_err());
    for limit in [u64::MAX, 0] {
        match repair_pgm_with(&damaged, limit).unwrap() {
            RepairOutcome::Repaired(r) => {
                assert_eq!(r.bytes, clean);
                assert_eq!((r.header_crs, r.pixel_crs), (3, lone_lf));
                assert_eq!(r.ambiguity.unwrap().kept, pairs);
            }
            RepairOutcome::Clean => panic!("damage not detected"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn pgm_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_pgm(&bytes);
        let _ = repair_pgm(&bytes);
    }

    #[test]
    fn pgm_parser_never_panics_on_plausible_headers(w in 0usize..6, h in 0usize..6, tail in proptest::collection::vec(prop_oneof![Just(10u8), Just(13u8), any::<u8>()], 0..60)) {
        let mut bytes = format!("P5\r\n{w} {h}\r\n255\r\n").into_bytes();
        bytes.extend_from_slice(&tail);
        let _ = parse_pgm(&bytes);
        if let Ok(RepairOutcome::Repaired(r)) = repair_pgm(&bytes) {
            prop_assert!(parse_pgm(&r.bytes).is_ok());
        }
    }

    #[test]
    fn idx_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), n in 0u8..4) {
        let _ = read_idx(&bytes);
        let mut framed = vec![0, 0, 8, n];
        framed.extend_from_slice(&bytes);
        let _ = read_idx(&framed);
    }

    #[test]
    fn idx_round_trips(dims in proptest::collection::vec(1usize..5, 1..4), seed in any::<u8>()) {
        let n: usize = dims.iter().product();
        let a = IdxArray::new(dims, (0..n).map(|i| (i as u8).wrapping_mul(seed)).collect()).unwrap();
        prop_assert_eq!(read_idx(&a.to_bytes().unwrap()).unwrap(), a);
    }

    #[test]
    fn pickle_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = load_bytes(&bytes);
        let mut framed = b"\x80\x02".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = load_bytes(&framed);
    }

    #[test]
    fn pickle_reader_never_panics_on_mutated_goldens(at in 0usize..279, byte in any::<u8>(), cut in 0usize..280) {
        let mut g = hex::decode(GOLDEN_P3).unwrap();
        g[at] = byte;
        g.truncate(cut.max(1));
        let _ = load_bytes(&g);
        let mut g4 = hex::decode(GOLDEN_P4).unwrap();
        let i = at % g4.len();
        g4[i] = byte;
        let _ = load_bytes(&g4);
    }
}
