//! 1:N identification benchmark of [`GalleryIndex`]: probe latency and probes/s at 1k, 10k,
//! 100k and 1M templates of the shipped face model's shape, with the vectors written out for
//! the peers (numpy, faiss) that `scripts/bench-identify.sh` runs on the same data.
//!
//! Run: `cargo run -p siamedge-edge --example bench_identify -- [--out DIR] [--sizes
//! 1000,10000,100000,1000000] [--probes 100] [--threads N] [--model models/face-orl/model.sgm]`
//! (the dev profile builds siamedge-edge at opt-level 3 with wrapping kernel arithmetic, so it
//! runs the same code as a release build).
//!
//! Data: uniform random int8 values (xorshift64*, seed 0x5eed), one embedding per template,
//! subject id = row number; the probes come from the same generator. Files in `DIR`:
//! `gallery.i8` (`max_size x dim` int8, row-major), `probes.i8` (`probes x dim`),
//! `ours_<size>.top10` (`probes x 10` u32 little-endian subject ids, one thread's search) and
//! `ours.json` (the figures printed, for the peers' table).

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use siamedge_edge::GalleryIndex;
use siamedge_format::{EmbeddingRef, Model, Template};

const K: usize = 10;

struct Args {
    out: PathBuf,
    sizes: Vec<usize>,
    probes: usize,
    threads: usize,
    model: PathBuf,
}

fn args() -> Result<Args, Box<dyn Error>> {
    let mut a = Args {
        out: std::env::temp_dir().join("siamedge-bench-identify"),
        sizes: vec![1_000, 10_000, 100_000, 1_000_000],
        probes: 100,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        model: PathBuf::from("models/face-orl/model.sgm"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--out" => a.out = value.into(),
            "--sizes" => {
                a.sizes = value
                    .split(',')
                    .map(|s| s.parse().map_err(|e| format!("--sizes {s}: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--probes" => {
                a.probes = value
                    .parse()
                    .map_err(|e| format!("--probes {value}: {e}"))?
            }
            "--threads" => {
                a.threads = value
                    .parse()
                    .map_err(|e| format!("--threads {value}: {e}"))?
            }
            "--model" => a.model = value.into(),
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    Ok(a)
}

/// xorshift64* bytes.
fn random_i8(n: usize, state: &mut u64) -> Vec<i8> {
    (0..n)
        .map(|_| {
            *state ^= *state >> 12;
            *state ^= *state << 25;
            *state ^= *state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8 as i8
        })
        .collect()
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN) * 1e3
}

fn main() -> Result<(), Box<dyn Error>> {
    let a = args()?;
    let bytes =
        std::fs::read(&a.model).map_err(|e| format!("reading {}: {e}", a.model.display()))?;
    let model =
        Model::decode(&bytes).map_err(|e| format!("decoding {}: {e}", a.model.display()))?;
    let (id, dim, scale) = (
        model.id(),
        usize::from(model.embedding().dim),
        model.embedding().scale,
    );
    let metric = model.metric();
    let max = a.sizes.iter().copied().max().unwrap_or(0);
    let mut state = 0x5eed_u64;
    let gallery = random_i8(max * dim, &mut state);
    let probes = random_i8(a.probes * dim, &mut state);
    std::fs::create_dir_all(&a.out)?;
    std::fs::write(
        a.out.join("gallery.i8"),
        gallery.iter().map(|v| *v as u8).collect::<Vec<_>>(),
    )?;
    std::fs::write(
        a.out.join("probes.i8"),
        probes.iter().map(|v| *v as u8).collect::<Vec<_>>(),
    )?;
    let probe_refs: Vec<EmbeddingRef<'_>> = probes
        .chunks_exact(dim)
        .map(|values| EmbeddingRef {
            model: id,
            scale,
            values,
        })
        .collect();

    println!(
        "siamedge GalleryIndex: model {} (dim {dim}, metric {}), {} probes, top-{K}, {} threads max",
        a.model.display(),
        metric.name(),
        a.probes,
        a.threads
    );
    let mut json = String::from("[");
    for &n in &a.sizes {
        let mut index = GalleryIndex::new(id, dim, scale, &metric)?;
        index.reserve(n, n);
        let t0 = Instant::now();
        for (s, values) in gallery[..n * dim].chunks_exact(dim).enumerate() {
            index.upsert(&Template::new(
                s as u32,
                EmbeddingRef {
                    model: id,
                    scale,
                    values,
                },
            )?)?;
        }
        let build_s = t0.elapsed().as_secs_f64();
        let per_template = index.memory_bytes() as f64 / n as f64;

        // One thread, one probe at a time: latency, and probes/s over the whole run.
        let mut lat = Vec::with_capacity(a.probes);
        let mut top = Vec::with_capacity(a.probes * K * 4);
        let t0 = Instant::now();
        for p in &probe_refs {
            let t = Instant::now();
            let hits = index.search(*p, K)?;
            lat.push(t.elapsed().as_secs_f64());
            top.extend(hits.iter().flat_map(|h| h.subject.to_le_bytes()));
        }
        let seq_pps = a.probes as f64 / t0.elapsed().as_secs_f64();
        std::fs::write(a.out.join(format!("ours_{n}.top10")), &top)?;
        let lat1 = median_ms(lat);

        // All threads on one probe.
        let mut lat = Vec::with_capacity(a.probes);
        for p in &probe_refs {
            let t = Instant::now();
            let hits = index.search_threads(*p, K, a.threads)?;
            lat.push(t.elapsed().as_secs_f64());
            std::hint::black_box(hits);
        }
        let latn = median_ms(lat);

        // Batches: every probe in one call, at 1 thread and all threads.
        let batch = |threads| -> Result<f64, Box<dyn Error>> {
            let t0 = Instant::now();
            let hits = index.search_batch(&probe_refs, K, threads)?;
            let pps = a.probes as f64 / t0.elapsed().as_secs_f64();
            let ids: Vec<u8> = hits
                .iter()
                .flatten()
                .flat_map(|h| h.subject.to_le_bytes())
                .collect();
            if ids != top {
                return Err(
                    format!("size {n}: batch at {threads} threads differs from search").into(),
                );
            }
            Ok(pps)
        };
        let (b1, bn) = (batch(1)?, batch(a.threads)?);
        println!(
            "n {n:>8}: build {build_s:6.2} s, {per_template:6.1} B/template ({} B values), isa {}; \
             1 thread: {lat1:8.3} ms/probe, {seq_pps:8.1} probes/s, batch {b1:8.1} probes/s; \
             {} threads: {latn:8.3} ms/probe, batch {bn:8.1} probes/s",
            dim,
            index.isa().name(),
            a.threads
        );
        if json.len() > 1 {
            json.push(',');
        }
        write!(
            json,
            "{{\"n\":{n},\"bytes_per_template\":{per_template:.1},\"lat1_ms\":{lat1:.4},\"seq_pps\":{seq_pps:.2},\
             \"batch1_pps\":{b1:.2},\"latn_ms\":{latn:.4},\"batchn_pps\":{bn:.2}}}"
        )?;
    }
    json.push(']');
    let meta = format!(
        "{{\"dim\":{dim},\"probes\":{},\"k\":{K},\"threads\":{},\"sizes\":{:?},\"isa\":\"{}\",\"results\":{json}}}",
        a.probes,
        a.threads,
        a.sizes,
        siamedge_edge::index::Isa::detect().name()
    );
    std::fs::write(a.out.join("ours.json"), meta)?;
    println!("vectors and results in {}", a.out.display());
    Ok(())
}
