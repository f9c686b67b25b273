//! A load test of `siamedge serve` as a separate process, loopback only, every loop bounded in
//! count and time:
//!
//! 1. N concurrent enrolls (distinct subjects) from C client threads, then `GET /v1/subjects`
//!    and `siamedge gallery list --json` on the store must both count exactly N;
//! 2. verify and identify, R requests each (or S seconds, whichever ends first): requests/s,
//!    p50 and p99 latency;
//! 3. the bare embedding throughput of the same model in this process (decode + embed, one
//!    thread, same images) and the ratio of service requests/s to it;
//! 4. peak RSS (VmHWM) of a server on an empty store and of one on a store pre-filled with
//!    100,000 templates, after the same identify requests; bytes per template between them;
//! 5. SIGKILL mid-load: C threads enroll, the server is killed after half of them were
//!    acknowledged, and every 201-acknowledged subject must be in the reopened store.
//!
//! `cargo build -p siamedge-edge --bin siamedge &&
//!  cargo run -p siamedge-edge --example load_service -- [--bin target/debug/siamedge]
//!  [--model models/face-orl] [--clients 4] [--enrolls 200] [--requests 2000] [--seconds 20]
//!  [--workers 2] [--queue 64] [--big 100000] [--big-probes 200] [--kill-enrolls 800] [--json]`
//!
//! A benchmark: the figures depend on the machine and its load. It exits non-zero only when a
//! correctness check fails (a count that is not N, an acknowledged enroll lost) or on an error.
//! Probe images are the ORL PGMs under ~/.cache/siamedge/orl when present, synthetic 92x112
//! PGMs otherwise; enrolled images are synthetic (one distinct image per subject).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use base64::Engine as _;
use siamedge_edge::store::{SqliteStore, TemplateStore};
use siamedge_edge::ModelBundle;
use siamedge_format::gallery::GalleryWriter;
use siamedge_format::{EmbeddingRef, ModelId, Template};

/// Command-line settings (see the module docs for the flags).
struct Opts {
    bin: PathBuf,
    model: PathBuf,
    clients: usize,
    enrolls: usize,
    requests: usize,
    seconds: f64,
    workers: usize,
    queue: usize,
    big: usize,
    big_probes: usize,
    kill_enrolls: usize,
    json: bool,
}

impl Opts {
    fn parse() -> Result<Self> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut o = Opts {
            bin: root.join("target/debug/siamedge"),
            model: root.join("models/face-orl"),
            clients: 4,
            enrolls: 200,
            requests: 2000,
            seconds: 20.0,
            workers: 2,
            queue: 64,
            big: 100_000,
            big_probes: 200,
            kill_enrolls: 800,
            json: false,
        };
        let mut i = 0;
        while i < args.len() {
            let flag = args[i].as_str();
            if flag == "--json" {
                o.json = true;
                i += 1;
                continue;
            }
            let value = args
                .get(i + 1)
                .with_context(|| format!("flag {flag} needs a value"))?;
            let num = || -> Result<usize> {
                value
                    .parse()
                    .with_context(|| format!("{flag}: {value:?} is not a count"))
            };
            match flag {
                "--bin" => o.bin = value.into(),
                "--model" => o.model = value.into(),
                "--clients" => o.clients = num()?.max(1),
                "--enrolls" => o.enrolls = num()?.max(1),
                "--requests" => o.requests = num()?.max(1),
                "--seconds" => {
                    o.seconds = value
                        .parse()
                        .with_context(|| format!("--seconds: {value:?} is not a number"))?
                }
                "--workers" => o.workers = num()?.max(1),
                "--queue" => o.queue = num()?,
                "--big" => o.big = num()?,
                "--big-probes" => o.big_probes = num()?.max(1),
                "--kill-enrolls" => o.kill_enrolls = num()?.max(2),
                _ => bail!("unknown flag {flag:?}"),
            }
            i += 2;
        }
        Ok(o)
    }
}

/// A synthetic 92x112 PGM, distinct per seed.
fn pgm(seed: u32) -> Vec<u8> {
    let (w, h) = (92usize, 112usize);
    let mut b = format!("P5\n{w} {h}\n255\n").into_bytes();
    b.extend((0..w * h).map(|i| {
        let (x, y) = ((i % w) as u32, (i / w) as u32);
        (x.wrapping_mul(3 + seed % 7) ^ y.wrapping_mul(5 + seed % 11) ^ seed.wrapping_mul(31)) as u8
    }));
    b
}

/// Probe images: up to 400 ORL PGMs from the cache, else 64 synthetic ones. Returns the bytes
/// and where they came from.
fn probe_images() -> (Vec<Vec<u8>>, String) {
    let orl = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/siamedge/orl"));
    let mut files = Vec::new();
    if let Some(dir) = &orl {
        for s in 1..=40 {
            for k in 1..=10 {
                let p = dir.join(format!("s{s}/{k}.pgm"));
                if let Ok(b) = std::fs::read(&p) {
                    files.push(b);
                }
            }
        }
    }
    if files.is_empty() {
        (
            (1000..1064).map(pgm).collect(),
            "64 synthetic 92x112 PGMs".into(),
        )
    } else {
        let n = files.len();
        (files, format!("{n} ORL PGMs"))
    }
}

/// A `siamedge serve` child process; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(o: &Opts, store: &Path) -> Result<Self> {
        let mut child = Command::new(&o.bin)
            .arg("--model")
            .arg(&o.model)
            .args(["--insecure-plaintext", "serve", "--store"])
            .arg(store)
            .args(["--bind", "127.0.0.1:0", "--workers"])
            .arg(o.workers.to_string())
            .arg("--queue")
            .arg(o.queue.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} (build it first)", o.bin.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("server stdout")?)
            .read_line(&mut line)
            .context("reading the server's first line")?;
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "server on {}: unexpected first line {line:?}",
                store.display()
            );
        };
        ensure!(
            url.starts_with("http://127.0.0.1:"),
            "server bound {url}, not loopback"
        );
        Ok(Self {
            url: url.to_string(),
            child,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmHWM, VmRSS) in bytes from /proc/PID/status.
    fn memory(&self) -> Result<(u64, u64)> {
        let path = format!("/proc/{}/status", self.pid());
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| -> Result<u64> {
            let line = text
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("{path}: no {name}"))?;
            let kb: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{path}: bad line {line:?}"))?;
            Ok(kb * 1024)
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }

    fn kill(&mut self) -> Result<()> {
        self.child.kill().context("SIGKILL to the server")?;
        self.child.wait().context("waiting for the server")?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one bounded run of requests gave.
#[derive(Default)]
struct Run {
    ok: usize,
    failed: usize,
    /// Latency of every successful request, sorted.
    latencies: Vec<Duration>,
    secs: f64,
    /// The indices acknowledged with the expected status.
    acked: Vec<usize>,
}

impl Run {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.secs.max(1e-9)
    }

    fn pct_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1].as_secs_f64() * 1e3
    }
}

/// Sends requests `0..count` (each `body(i)` POSTed to `url + path`) from `clients` threads
/// until all are sent, `limit` passed, or `stop` is set; a request counts as ok when it gets
/// `expect`. Stops a thread on a transport error (the server is gone).
#[allow(clippy::too_many_arguments)]
fn drive(
    url: &str,
    path: &str,
    clients: usize,
    count: usize,
    limit: Duration,
    expect: u16,
    stop: Arc<AtomicBool>,
    body: Arc<dyn Fn(usize) -> serde_json::Value + Send + Sync>,
    acked_count: Arc<AtomicUsize>,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let out = Arc::new(Mutex::new(Run::default()));
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (url, path) = (url.to_string(), path.to_string());
            let (next, failed, out, stop, body, acked_count) = (
                next.clone(),
                failed.clone(),
                out.clone(),
                stop.clone(),
                body.clone(),
                acked_count.clone(),
            );
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .build();
                let mut lat = Vec::new();
                let mut acked = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || start.elapsed() > limit || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let b = body(i);
                    let t = Instant::now();
                    match agent.post(&format!("{url}{path}")).send_json(b) {
                        Ok(r) if r.status() == expect => {
                            // Read the whole body: the latency is the full response.
                            let _ = r.into_string();
                            lat.push(t.elapsed());
                            acked.push(i);
                            acked_count.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) | Err(ureq::Error::Status(..)) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
                let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                o.ok += lat.len();
                o.latencies.extend(lat);
                o.acked.extend(acked);
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let mut run = std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
    run.secs = start.elapsed().as_secs_f64();
    run.failed = failed.load(Ordering::Relaxed) as usize;
    run.latencies.sort();
    run.acked.sort();
    run
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn get_json(url: &str) -> Result<serde_json::Value> {
    let r = ureq::get(url)
        .timeout(Duration::from_secs(30))
        .call()
        .with_context(|| format!("GET {url}"))?;
    r.into_json().with_context(|| format!("GET {url}: body"))
}

/// `siamedge gallery list --json` on `store`: the number of subjects it lists.
fn cli_count(o: &Opts, store: &Path) -> Result<usize> {
    let out = Command::new(&o.bin)
        .arg("--model")
        .arg(&o.model)
        .args([
            "--insecure-plaintext",
            "--json",
            "gallery",
            "list",
            "--store",
        ])
        .arg(store)
        .output()
        .with_context(|| format!("running {} gallery list", o.bin.display()))?;
    ensure!(
        out.status.success(),
        "gallery list --store {}: {}",
        store.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("gallery list --json output")?;
    v.as_array()
        .map(Vec::len)
        .with_context(|| format!("gallery list --json: not an array: {v}"))
}

/// A store at `path` pre-filled with `n` random int8 templates of `model` (dim, scale), in one
/// gallery import.
fn fill_store(
    path: &Path,
    tmp: &Path,
    model: ModelId,
    dim: usize,
    scale: f32,
    n: usize,
) -> Result<()> {
    let mut w = GalleryWriter::new(model, n)?;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut values = vec![0i8; dim];
    for s in 0..n {
        for v in values.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *v = (x >> 56) as i8;
        }
        let t = Template::new(
            s as u32,
            EmbeddingRef {
                model,
                scale,
                values: &values,
            },
        )?;
        w.push(&t)?;
    }
    let gallery = tmp.join("big.sggl");
    std::fs::write(&gallery, w.finish()?)
        .with_context(|| format!("writing {}", gallery.display()))?;
    let mut store = SqliteStore::create(path, model, None)?;
    let got = store.import_gallery(&gallery, false)?;
    ensure!(
        got == n,
        "import of {}: {got} templates, expected {n}",
        gallery.display()
    );
    Ok(())
}

fn main() -> Result<()> {
    let o = Opts::parse()?;
    let limit = Duration::from_secs_f64(o.seconds);
    let tmp = tempfile::tempdir()?;
    let (probes, probe_src) = probe_images();
    let probes: Arc<Vec<String>> = Arc::new(probes.iter().map(|b| b64(b)).collect());
    let bundle = ModelBundle::open(&o.model)?;
    let rt = bundle.runtime_int8()?;
    let spec = *rt.embedding_spec();
    let no_stop = || Arc::new(AtomicBool::new(false));
    let counter = || Arc::new(AtomicUsize::new(0));

    // 1. N concurrent enrolls.
    let store = tmp.path().join("main.db");
    let server = Server::start(&o, &store)?;
    let enroll_body: Arc<dyn Fn(usize) -> serde_json::Value + Send + Sync> =
        Arc::new(|i| serde_json::json!({"subject": i as u32, "images": [b64(&pgm(i as u32))]}));
    let enroll = drive(
        &server.url,
        "/v1/enroll",
        o.clients,
        o.enrolls,
        Duration::from_secs(120),
        201,
        no_stop(),
        enroll_body.clone(),
        counter(),
    );
    let api_count = get_json(&format!("{}/v1/subjects", server.url))?["count"]
        .as_u64()
        .context("GET /v1/subjects: no count")? as usize;
    let cli = cli_count(&o, &store)?;
    let enroll_ok = enroll.ok == o.enrolls && api_count == o.enrolls && cli == o.enrolls;

    // 2. verify and identify.
    let n = o.enrolls;
    let p = probes.clone();
    let verify = drive(
        &server.url,
        "/v1/verify",
        o.clients,
        o.requests,
        limit,
        200,
        no_stop(),
        Arc::new(move |i| serde_json::json!({"subject": (i % n) as u32, "image": p[i % p.len()]})),
        counter(),
    );
    let p = probes.clone();
    let identify = drive(
        &server.url,
        "/v1/identify",
        o.clients,
        o.requests,
        limit,
        200,
        no_stop(),
        Arc::new(move |i| serde_json::json!({"image": p[i % p.len()], "top": 5})),
        counter(),
    );
    drop(server);

    // 3. bare embedding: decode + embed, one thread, the same images, bounded.
    let raw: Vec<Vec<u8>> = probes
        .iter()
        .map(|s| base64::engine::general_purpose::STANDARD.decode(s))
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    let mut embedded = 0usize;
    while embedded < 20_000 && (t.elapsed() < Duration::from_secs(3) || embedded < 32) {
        let bytes = &raw[embedded % raw.len()];
        let name = Path::new("probe.pgm");
        let img = siamedge_edge::preprocess::decode_gray(bytes, name)?;
        std::hint::black_box(rt.embed_gray(&img, name)?);
        embedded += 1;
    }
    let bare = embedded as f64 / t.elapsed().as_secs_f64();

    // 4. peak RSS: empty store vs `big` templates, the same identify probes.
    let mut mem = Vec::new();
    for (label, size) in [("empty", 0usize), ("big", o.big)] {
        let path = tmp.path().join(format!("{label}.db"));
        let t = Instant::now();
        if size > 0 {
            fill_store(
                &path,
                tmp.path(),
                rt.id(),
                usize::from(spec.dim),
                spec.scale,
                size,
            )?;
        }
        let fill_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let server = Server::start(&o, &path)?;
        let start_s = t.elapsed().as_secs_f64();
        let p = probes.clone();
        let run = drive(
            &server.url,
            "/v1/identify",
            o.clients,
            o.big_probes,
            limit,
            200,
            no_stop(),
            Arc::new(move |i| serde_json::json!({"image": p[i % p.len()], "top": 5})),
            counter(),
        );
        let (hwm, rss) = server.memory()?;
        mem.push((size, fill_s, start_s, run, hwm, rss));
    }
    let per_template =
        (mem[1].4 as f64 - mem[0].4 as f64) / (mem[1].0.saturating_sub(mem[0].0).max(1)) as f64;

    // 5. SIGKILL mid-load.
    let kill_store = tmp.path().join("kill.db");
    let mut server = Server::start(&o, &kill_store)?;
    let stop = no_stop();
    let acked_count = counter();
    let handle = {
        let (url, stop, body, acked_count, clients, total) = (
            server.url.clone(),
            stop.clone(),
            enroll_body.clone(),
            acked_count.clone(),
            o.clients,
            o.kill_enrolls,
        );
        std::thread::spawn(move || {
            drive(
                &url,
                "/v1/enroll",
                clients,
                total,
                Duration::from_secs(120),
                201,
                stop,
                body,
                acked_count,
            )
        })
    };
    let t = Instant::now();
    while acked_count.load(Ordering::Relaxed) < o.kill_enrolls / 2
        && t.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(2));
    }
    server.kill()?;
    stop.store(true, Ordering::Relaxed);
    let killed = handle
        .join()
        .map_err(|_| anyhow::anyhow!("load thread panicked"))?;
    let stored: std::collections::HashSet<u32> = SqliteStore::open(&kill_store, None)?
        .list()?
        .into_iter()
        .map(|i| i.subject)
        .collect();
    let lost: Vec<usize> = killed
        .acked
        .iter()
        .copied()
        .filter(|&s| !stored.contains(&(s as u32)))
        .collect();

    // Report.
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    if o.json {
        let run = |r: &Run| {
            serde_json::json!({"ok": r.ok, "failed": r.failed, "seconds": r.secs,
                "requests_per_s": r.rps(), "p50_ms": r.pct_ms(0.5), "p99_ms": r.pct_ms(0.99)})
        };
        let m = |i: usize| {
            let (size, fill_s, start_s, r, hwm, rss) = &mem[i];
            serde_json::json!({"templates": size, "fill_s": fill_s, "server_start_s": start_s,
                "identify": run(r), "vm_hwm_bytes": hwm, "vm_rss_bytes": rss})
        };
        let v = serde_json::json!({
            "model": rt.id().to_string(), "clients": o.clients, "server_workers": o.workers,
            "probes": probe_src,
            "enroll": {"requested": o.enrolls, "run": run(&enroll), "api_count": api_count,
                "cli_count": cli, "exact": enroll_ok},
            "verify": run(&verify), "identify": run(&identify),
            "bare_embed_per_s_1_thread": bare,
            "verify_over_bare": verify.rps() / bare, "identify_over_bare": identify.rps() / bare,
            "memory": {"empty": m(0), "big": m(1), "bytes_per_template": per_template},
            "sigkill": {"acked": killed.acked.len(), "stored": stored.len(), "lost": lost.len()},
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "siamedge serve load test: model {}, {} client threads, server --workers {}, probes: {}",
            rt.id(),
            o.clients,
            o.workers,
            probe_src
        );
        println!(
            "{:<34} {:>9} {:>7} {:>10} {:>9} {:>9}",
            "phase", "ok", "failed", "req/s", "p50 ms", "p99 ms"
        );
        let row = |name: &str, r: &Run| {
            println!(
                "{:<34} {:>9} {:>7} {:>10.1} {:>9.2} {:>9.2}",
                name,
                r.ok,
                r.failed,
                r.rps(),
                r.pct_ms(0.5),
                r.pct_ms(0.99)
            )
        };
        row("enroll (1 image, fsynced)", &enroll);
        row("verify", &verify);
        row("identify top-5", &identify);
        row(
            &format!("identify top-5, {} templates", mem[0].0),
            &mem[0].3,
        );
        row(
            &format!("identify top-5, {} templates", mem[1].0),
            &mem[1].3,
        );
        println!(
            "enrolled {}: GET /v1/subjects {}, gallery list --json {} -> {}",
            o.enrolls,
            api_count,
            cli,
            if enroll_ok { "exact" } else { "MISMATCH" }
        );
        println!(
            "bare decode+embed, 1 thread: {bare:.1} images/s; service/bare: verify {:.2}, identify {:.2} (server {} workers)",
            verify.rps() / bare,
            identify.rps() / bare,
            o.workers
        );
        for (size, fill_s, start_s, _, hwm, rss) in &mem {
            println!(
                "server on {size} templates: VmHWM {:.1} MiB, VmRSS {:.1} MiB (fill {fill_s:.1} s, start {start_s:.2} s)",
                mib(*hwm),
                mib(*rss)
            );
        }
        println!("peak RSS per template above the empty server: {per_template:.0} B");
        println!(
            "SIGKILL once {} of {} enrolls were acked: {} acknowledged, {} stored, {} lost",
            o.kill_enrolls / 2,
            o.kill_enrolls,
            killed.acked.len(),
            stored.len(),
            lost.len()
        );
    }
    ensure!(
        enroll_ok,
        "after {} enrolls: {} acknowledged, GET /v1/subjects {api_count}, gallery list {cli}",
        o.enrolls,
        enroll.ok
    );
    ensure!(
        lost.is_empty(),
        "{} acknowledged enrolls lost after SIGKILL: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    Ok(())
}
