//! The HTTP service driven over loopback HTTP: every endpoint, every bad request (each a clear
//! 4xx JSON error that leaves the store unchanged), the token, the bounded encoder queue, and
//! changes made by another connection to the same store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::{json, Value};
use siamedge_edge::service::{self, ConfigError, Service, ServiceConfig, ServiceError};
use siamedge_edge::store::{Put, SqliteStore, TemplateStore};
use siamedge_edge::Runtime;

fn encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/face-orl/model.sgm")
}

/// A synthetic `w x h` PGM: smooth gradients whose orientation and frequency depend on `seed`
/// (distinct seeds give distinct embeddings; the model accepts any grey image).
fn pgm(seed: u32, w: usize, h: usize) -> Vec<u8> {
    let mut b = format!("P5\n{w} {h}\n255\n").into_bytes();
    let (fx, fy) = (1 + seed % 7, 1 + (seed / 7) % 5);
    for y in 0..h {
        for x in 0..w {
            let v = ((x as u32 * fx * 255 / w as u32) ^ (y as u32 * fy * 255 / h as u32))
                .wrapping_add(seed * 37);
            b.push((v % 256) as u8);
        }
    }
    b
}

fn img(seed: u32) -> String {
    encode(&pgm(seed, 92, 112))
}

struct Server {
    addr: SocketAddr,
    store: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(config: ServiceConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::int8(&model()).unwrap();
        let path = dir.path().join("store.db");
        let store = SqliteStore::create(&path, rt.id(), None).unwrap();
        let service = Service::new(rt, Box::new(store), config).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(l.local_addr().unwrap()).unwrap();
                service::serve(l, service, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        Server {
            addr,
            store: path,
            stop: Some(tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The store as a second connection sees it: (revision, subjects with their revisions).
    fn snapshot(&self) -> (u64, Vec<(u32, String, u64)>) {
        let mut s = SqliteStore::open(&self.store, None).unwrap();
        let list = s
            .list()
            .unwrap()
            .into_iter()
            .map(|i| (i.subject, i.label, i.revision.0))
            .collect();
        (s.revision().unwrap().0, list)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

/// One request: (status, Retry-After, body text).
fn call(
    method: &str,
    url: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut req = agent().request(method, url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let r = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(b),
        None => req.call(),
    };
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let retry = resp.header("Retry-After").map(str::to_string);
    (status, retry, resp.into_string().unwrap())
}

fn post(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    let (st, _, text) = call("POST", &s.url(path), Some(&body.to_string()), None);
    (
        st,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}")),
    )
}

fn config() -> ServiceConfig {
    ServiceConfig {
        workers: 2,
        queue: 8,
        max_body_bytes: 512 << 10,
        max_pixels: 200_000,
        ..ServiceConfig::default()
    }
}

#[test]
fn every_endpoint_round_trips() {
    let s = Server::start(config());
    let (st, _, h) = call("GET", &s.url("/health"), None, None);
    assert_eq!(st, 200);
    let h: Value = serde_json::from_str(&h).unwrap();
    assert_eq!(
        (h["status"].as_str(), h["subjects"].as_u64()),
        (Some("ok"), Some(0))
    );

    let (st, e) = post(
        &s,
        "/v1/enroll",
        &json!({"subject": 7, "label": "ada", "images": [img(1), img(2)]}),
    );
    assert_eq!(st, 201, "{e}");
    assert_eq!(
        (e["subject"].as_u64(), e["embeddings"].as_u64()),
        (Some(7), Some(2))
    );
    let (st, _) = post(
        &s,
        "/v1/enroll",
        &json!({"subject": 8, "images": [img(20)]}),
    );
    assert_eq!(st, 201);
    // A duplicate is 409 and changes nothing; with replace it is 201.
    let before = s.snapshot();
    let (st, e) = post(
        &s,
        "/v1/enroll",
        &json!({"subject": 8, "images": [img(21)]}),
    );
    assert_eq!(st, 409, "{e}");
    assert!(e["error"].as_str().unwrap().contains('8'), "{e}");
    assert_eq!(s.snapshot(), before);
    let (st, _) = post(
        &s,
        "/v1/enroll",
        &json!({"subject": 8, "label": "bo", "images": [img(20)], "replace": true}),
    );
    assert_eq!(st, 201);
    assert_eq!(
        s.snapshot()
            .1
            .iter()
            .map(|x| (x.0, x.1.as_str()))
            .collect::<Vec<_>>(),
        vec![(7, "ada"), (8, "bo")]
    );

    // Verify: the enrolled image is (near) distance 0 and accepted; another subject's is farther.
    let (st, v) = post(&s, "/v1/verify", &json!({"subject": 7, "image": img(1)}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accept"], json!(true));
    assert!(v["distance"].as_f64().unwrap() < 1e-3, "{v}");
    assert!(v["far"].as_f64().is_some() && v["threshold"].as_f64().unwrap() > 0.0);
    let (st, v2) = post(
        &s,
        "/v1/verify",
        &json!({"subject": 8, "image": img(1), "threshold": 0.0}),
    );
    assert_eq!(st, 200);
    assert_eq!(
        (
            v2["accept"].clone(),
            v2["far"].clone(),
            v2["threshold"].as_f64()
        ),
        (json!(false), Value::Null, Some(0.0))
    );

    // Identify: nearest first, and the match is the enrolled subject.
    let (st, i) = post(&s, "/v1/identify", &json!({"image": img(20), "top": 2}));
    assert_eq!(st, 200, "{i}");
    let c = i["candidates"].as_array().unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(
        (c[0]["subject"].as_u64(), c[1]["subject"].as_u64()),
        (Some(8), Some(7))
    );
    assert!(c[0]["distance"].as_f64() <= c[1]["distance"].as_f64());
    assert_eq!(i["match"], json!(8));

    let (st, _, l) = call("GET", &s.url("/v1/subjects"), None, None);
    assert_eq!(st, 200);
    let l: Value = serde_json::from_str(&l).unwrap();
    assert_eq!(l["count"], json!(2));
    assert_eq!(l["subjects"][0]["label"], json!("ada"));

    let (st, _, d) = call("DELETE", &s.url("/v1/subjects/7"), None, None);
    assert_eq!(st, 200, "{d}");
    let (st, _, d) = call("DELETE", &s.url("/v1/subjects/7"), None, None);
    assert_eq!(st, 404, "{d}");
    let (st, v) = post(&s, "/v1/verify", &json!({"subject": 7, "image": img(1)}));
    assert_eq!(st, 404);
    assert_eq!(v["error"], json!("subject 7: not enrolled"));
    assert_eq!(s.snapshot().1.len(), 1);

    let (st, _, m) = call("GET", &s.url("/metrics"), None, None);
    assert_eq!(st, 200);
    for line in [
        "siamedge_requests_total{route=\"/v1/enroll\",status=\"201\"} 3",
        "siamedge_requests_total{route=\"/v1/enroll\",status=\"409\"} 1",
        "siamedge_requests_total{route=\"/v1/verify\",status=\"404\"} 1",
        "siamedge_requests_total{route=\"/v1/subjects/{id}\",status=\"404\"} 1",
        "siamedge_gallery_subjects 1",
        "siamedge_encoder_queue_depth 0",
    ] {
        assert!(m.lines().any(|l| l == line), "no {line:?} in\n{m}");
    }
    assert!(m.contains("siamedge_request_duration_seconds_count{route=\"/v1/identify\"} 1"));
}

#[test]
fn bad_requests_are_clear_4xx_and_change_nothing() {
    let s = Server::start(config());
    let (st, _) = post(&s, "/v1/enroll", &json!({"subject": 1, "images": [img(1)]}));
    assert_eq!(st, 201);
    let before = s.snapshot();
    let big = encode(&pgm(3, 1000, 1000)); // 1.3 MB of base64, over the 512 KiB body limit
    let huge_px = encode(&pgm(3, 500, 500)); // 250 000 pixels, over the 200 000 limit (333 KB of base64)
    let huge_px_small = encode(b"P5\n5000 5000\n255\n\0\0\0"); // a header that claims 25 Mpx
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 2, "images": [big]}).to_string(),
            413,
            "over the limit of 524288 bytes",
        ),
        (
            "POST",
            "/v1/enroll",
            "{\"subject\": 2, \"images\": [".into(),
            400,
            "JSON body",
        ),
        ("POST", "/v1/enroll", "not json".into(), 400, "JSON body"),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 2}).to_string(),
            400,
            "missing field `images`",
        ),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": -2, "images": [img(1)]}).to_string(),
            400,
            "-2",
        ),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 2, "images": [img(1)], "colour": 1}).to_string(),
            400,
            "unknown field `colour`",
        ),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 2, "images": []}).to_string(),
            400,
            "images: 0 given",
        ),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 2, "images": vec![img(1); 9]}).to_string(),
            400,
            "images: 9 given",
        ),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 2, "label": "x".repeat(33), "images": [img(1)]}).to_string(),
            400,
            "label: 33 bytes",
        ),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 2, "images": [img(1), "%%%"]}).to_string(),
            400,
            "images[1]: not base64",
        ),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 2, "images": [encode(b"GIF89a not an image")]}).to_string(),
            422,
            "images[0]",
        ),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 2, "images": [huge_px_small]}).to_string(),
            422,
            "5000 x 5000 = 25000000 pixels, over the limit of 200000",
        ),
        (
            "POST",
            "/v1/enroll",
            json!({"subject": 1, "images": [img(1)]}).to_string(),
            409,
            "1",
        ),
        (
            "POST",
            "/v1/verify",
            json!({"subject": 99, "image": img(1)}).to_string(),
            404,
            "subject 99: not enrolled",
        ),
        (
            "POST",
            "/v1/verify",
            json!({"subject": 1, "image": img(1), "far": 1e-9}).to_string(),
            400,
            "far = ",
        ),
        (
            "POST",
            "/v1/verify",
            json!({"subject": 1, "image": img(1), "far": 0.1, "threshold": 1.0}).to_string(),
            400,
            "not both",
        ),
        (
            "POST",
            "/v1/verify",
            json!({"subject": 1, "image": huge_px}).to_string(),
            422,
            "250000 pixels",
        ),
        (
            "POST",
            "/v1/identify",
            json!({"image": img(1), "top": 0}).to_string(),
            400,
            "top = 0",
        ),
        (
            "POST",
            "/v1/identify",
            json!({"image": img(1), "top": 101}).to_string(),
            400,
            "top = 101",
        ),
        (
            "DELETE",
            "/v1/subjects/abc",
            String::new(),
            400,
            "\\\"abc\\\"",
        ),
        (
            "DELETE",
            "/v1/subjects/99",
            String::new(),
            404,
            "subject 99",
        ),
        (
            "GET",
            "/v2/nothing",
            String::new(),
            404,
            "no route GET /v2/nothing",
        ),
        (
            "GET",
            "/v1/enroll",
            String::new(),
            405,
            "method GET not allowed",
        ),
    ];
    for (method, path, body, want, says) in cases {
        let b = (!body.is_empty()).then_some(body.as_str());
        let (st, _, text) = call(method, &s.url(path), b, None);
        assert_eq!(st, want, "{method} {path}: {text}");
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {text}: {e}"));
        let msg = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field: {text}"));
        assert!(
            text.contains(says),
            "{method} {path}: {msg:?} does not say {says:?}"
        );
        assert_eq!(s.snapshot(), before, "{method} {path} changed the store");
    }
    // Still serving normally.
    let (st, _) = post(&s, "/v1/verify", &json!({"subject": 1, "image": img(1)}));
    assert_eq!(st, 200);
}

#[test]
fn a_token_protected_instance_refuses_missing_and_wrong_tokens() {
    let token = "0123456789abcdef-secret";
    let s = Server::start(ServiceConfig {
        token: Some(token.into()),
        ..config()
    });
    let body = json!({"subject": 5, "images": [img(5)]}).to_string();
    for t in [
        None,
        Some("0123456789abcdef-secreT"),
        Some("short"),
        Some(""),
    ] {
        let (st, _, text) = call("POST", &s.url("/v1/enroll"), Some(&body), t);
        assert_eq!(st, 401, "{t:?}: {text}");
        assert!(text.contains("\"error\""), "{text}");
        let (st, _, _) = call("GET", &s.url("/v1/subjects"), None, t);
        assert_eq!(st, 401);
        let (st, _, _) = call("GET", &s.url("/metrics"), None, t);
        assert_eq!(st, 401);
    }
    assert_eq!(s.snapshot().1.len(), 0);
    let (st, _, _) = call("GET", &s.url("/health"), None, None);
    assert_eq!(st, 200);
    let (st, _, text) = call("POST", &s.url("/v1/enroll"), Some(&body), Some(token));
    assert_eq!(st, 201, "{text}");
    assert_eq!(s.snapshot().1.len(), 1);
}

#[test]
fn beyond_loopback_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::int8(&model()).unwrap();
    let store = SqliteStore::create(&dir.path().join("s.db"), rt.id(), None).unwrap();
    let bind: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let e = Service::new(rt, Box::new(store), ServiceConfig { bind, ..config() }).unwrap_err();
    assert!(matches!(e, ServiceError::Config(ConfigError::TokenRequired { bind: b }) if b == bind));
    assert!(e.to_string().contains("0.0.0.0:8080"), "{e}");
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let s = Server::start(ServiceConfig {
        workers: 1,
        queue: 0,
        max_body_bytes: 4 << 20,
        max_pixels: 4_000_000,
        ..ServiceConfig::default()
    });
    // A large probe keeps the one worker busy for a while (decode and area resize of 2.2 Mpx).
    let body = Arc::new(json!({"image": encode(&pgm(9, 1600, 1400))}).to_string());
    let url = Arc::new(s.url("/v1/identify"));
    let threads = 6;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (body, url, barrier) = (body.clone(), url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..4)
                    .map(|_| {
                        let (st, retry, text) = call("POST", &url, Some(&body), None);
                        (st, retry, text)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let ok = all.iter().filter(|r| r.0 == 200).count();
    let busy: Vec<_> = all.iter().filter(|r| r.0 == 503).collect();
    assert_eq!(ok + busy.len(), all.len(), "{all:?}");
    assert!(ok >= 1 && !busy.is_empty(), "{ok} ok, {} busy", busy.len());
    for (_, retry, text) in busy {
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(text.contains("encoder queue full"), "{text}");
    }
}

#[test]
fn enrollments_by_another_connection_are_seen() {
    let s = Server::start(config());
    let (st, _) = post(&s, "/v1/enroll", &json!({"subject": 1, "images": [img(1)]}));
    assert_eq!(st, 201);
    // The CLI (another connection) enrolls subject 2 and removes subject 1.
    let rt = Runtime::int8(&model()).unwrap();
    let e = rt
        .embed_gray(
            &siamedge_edge::preprocess::GrayImage {
                width: 92,
                height: 112,
                pixels: pgm(2, 92, 112)["P5\n92 112\n255\n".len()..].to_vec(),
            },
            Path::new("two.pgm"),
        )
        .unwrap();
    let t = siamedge_format::Template::new(2, e.as_ref()).unwrap();
    let mut other = SqliteStore::open(&s.store, None).unwrap();
    other.put(&t, Put::New).unwrap();
    other.remove(1).unwrap();
    let (st, v) = post(&s, "/v1/verify", &json!({"subject": 2, "image": img(2)}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accept"], json!(true));
    let (st, v) = post(&s, "/v1/verify", &json!({"subject": 1, "image": img(1)}));
    assert_eq!(st, 404, "{v}");
    let (st, i) = post(&s, "/v1/identify", &json!({"image": img(2), "top": 5}));
    assert_eq!(st, 200);
    assert_eq!(i["candidates"].as_array().unwrap().len(), 1);
    assert_eq!(i["match"], json!(2));
}
