//! `siamedge serve` as a process under concurrent enrollments: SIGKILL mid-load loses no
//! acknowledged (201) enrollment, and SIGTERM finishes the requests in flight and exits 0.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use siamedge_edge::store::{SqliteStore, TemplateStore};

fn pgm(seed: u32) -> Vec<u8> {
    let (w, h) = (92usize, 112usize);
    let mut b = format!("P5\n{w} {h}\n255\n").into_bytes();
    b.extend((0..w * h).map(|i| ((i as u32 * (1 + seed % 13)) ^ (seed * 31)) as u8));
    b
}

fn start(store: &Path) -> (Child, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_siamedge"))
        .current_dir(&root)
        .args([
            "--model",
            "models/face-orl",
            "--insecure-plaintext",
            "serve",
            "--store",
        ])
        .arg(store)
        .args(["--bind", "127.0.0.1:0", "--workers", "2", "--queue", "64"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, url)
}

/// Enrolls from `threads` threads (distinct subjects, at most `per_thread` each) until `stop`;
/// returns the subjects acknowledged with 201.
fn load(
    url: &str,
    threads: u32,
    per_thread: u32,
    stop: Arc<AtomicBool>,
) -> (Vec<std::thread::JoinHandle<()>>, Arc<Mutex<Vec<u32>>>) {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let handles = (0..threads)
        .map(|t| {
            let (url, stop, acked) = (url.to_string(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(20))
                    .build();
                for i in 0..per_thread {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let subject = t * 10_000 + i;
                    let img = base64::engine::general_purpose::STANDARD.encode(pgm(subject));
                    let body = serde_json::json!({"subject": subject, "images": [img]});
                    match agent.post(&format!("{url}/v1/enroll")).send_json(body) {
                        Ok(r) if r.status() == 201 => acked.lock().unwrap().push(subject),
                        Ok(_) | Err(ureq::Error::Status(..)) => {}
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    (handles, acked)
}

fn stored(path: &Path) -> Vec<u32> {
    let mut s = SqliteStore::open(path, None).unwrap();
    s.list().unwrap().into_iter().map(|i| i.subject).collect()
}

fn wait_for_acks(acked: &Mutex<Vec<u32>>, n: usize) {
    let start = Instant::now();
    while acked.lock().unwrap().len() < n && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn store_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("store.db")
}

#[test]
fn sigkill_mid_load_loses_no_acknowledged_enroll() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_path(&dir);
    let (mut child, url) = start(&path);
    let stop = Arc::new(AtomicBool::new(false));
    let (handles, acked) = load(&url, 4, 200, stop.clone());
    wait_for_acks(&acked, 20);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 20, "only {} acknowledged", acked.len());
    let stored = stored(&path);
    let lost: Vec<_> = acked.iter().filter(|s| !stored.contains(s)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged but lost: {lost:?}",
        lost.len()
    );
}

#[test]
fn sigterm_finishes_in_flight_enrolls_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_path(&dir);
    let (mut child, url) = start(&path);
    let stop = Arc::new(AtomicBool::new(false));
    let (handles, acked) = load(&url, 4, 200, stop.clone());
    wait_for_acks(&acked, 20);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    assert!(status.success(), "exit status {status:?}");
    let acked = acked.lock().unwrap().clone();
    let stored = stored(&path);
    let lost: Vec<_> = acked.iter().filter(|s| !stored.contains(s)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged but lost: {lost:?}",
        lost.len()
    );
}
