//! The SQLite template store: round trips, revisions across connections, concurrent writers
//! (threads and processes), a SIGKILL mid-enroll, and every bad input the issue names (wrong key,
//! bit flip, truncation, garbage, another model, plaintext vs encrypted), each a clear error with
//! the file unchanged where the operation only reads.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use siamedge_edge::store::{
    Protection, Put, Revision, SqliteStore, StoreError, StoreKey, TemplateStore,
};
use siamedge_format::gallery::GalleryWriter;
use siamedge_format::{EmbeddingRef, ModelId, Template};

const MODEL: ModelId = ModelId([7; 16]);
const OTHER: ModelId = ModelId([8; 16]);
/// The child-process role of this test binary (see `child_role`).
const CHILD_ENV: &str = "SIAMEDGE_STORE_TEST_CHILD";

fn key(b: u8) -> StoreKey {
    StoreKey::from_bytes([b; 32])
}

fn template(model: ModelId, subject: u32) -> Template {
    let values: Vec<i8> = (0..128)
        .map(|i| (subject as i32 * 31 + i * 7) as i8)
        .collect();
    Template::new(
        subject,
        EmbeddingRef {
            model,
            scale: 0.01,
            values: &values,
        },
    )
    .and_then(|t| t.with_label(&format!("person {subject}")))
    .expect("valid template")
}

fn subjects(store: &mut SqliteStore) -> Vec<u32> {
    store
        .list()
        .expect("lists")
        .iter()
        .map(|i| i.subject)
        .collect()
}

fn child(role: &str, args: &[String]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{role} {}", args.join(" ")));
    cmd
}

/// Not a test of its own: the body of the child processes the tests below spawn.
#[test]
fn child_role() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split(' ').collect();
    let path = PathBuf::from(parts[1]);
    let start: u32 = parts[2].parse().unwrap();
    let count: u32 = parts[3].parse().unwrap();
    let mut store = SqliteStore::open_or_create(&path, MODEL, Some(key(1))).expect("opens");
    for s in start..start + count {
        store.put(&template(MODEL, s), Put::New).expect("puts");
        if parts[0] == "ack" {
            println!("ack {s}");
        }
    }
}

#[test]
fn round_trip_list_remove_and_changes_across_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut a = SqliteStore::create(&path, MODEL, Some(key(1))).unwrap();
    assert_eq!(a.protection(), Protection::Encrypted);
    let r1 = a.put(&template(MODEL, 5), Put::New).unwrap();
    let r2 = a.put(&template(MODEL, 2), Put::New).unwrap();
    assert_eq!((r1, r2), (Revision(1), Revision(2)));
    assert!(matches!(
        a.put(&template(MODEL, 5), Put::New),
        Err(StoreError::Duplicate { subject: 5, .. })
    ));
    assert_eq!(a.get(5).unwrap(), Some(template(MODEL, 5)));
    assert_eq!(a.get(6).unwrap(), None);
    let list = a.list().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0].subject, list[0].label.as_str()), (2, "person 2"));
    assert_eq!(list[1].revision, Revision(1));

    // A second connection sees the first one's changes, and follows its removals.
    let mut b = SqliteStore::open(&path, Some(key(1))).unwrap();
    let seen = b.revision().unwrap();
    assert_eq!(seen, Revision(2));
    assert_eq!(a.remove(5).unwrap(), Some(Revision(3)));
    assert_eq!(a.remove(5).unwrap(), None);
    a.put(&template(MODEL, 9), Put::New).unwrap();
    let mut replaced = template(MODEL, 2).with_label("renamed").unwrap();
    replaced
        .add(template(MODEL, 3).embedding(0).unwrap())
        .unwrap();
    a.put(&replaced, Put::Replace).unwrap();
    let c = b.changes_since(seen).unwrap();
    assert_eq!(c.revision, Revision(5));
    assert_eq!(c.removed, vec![5]);
    assert_eq!(c.put, vec![template(MODEL, 9), replaced.clone()]);
    assert!(b.changes_since(c.revision).unwrap().put.is_empty());
    // Re-enrolling a removed subject takes it off the removed list.
    a.put(&template(MODEL, 5), Put::New).unwrap();
    let c = b.changes_since(Revision(0)).unwrap();
    assert!(c.removed.is_empty());
    assert_eq!(c.put.len(), 3);
    let mut n = 0;
    let rev = b.scan(&mut |_| {
        n += 1;
        Ok(())
    });
    assert_eq!((rev.unwrap(), n), (Revision(6), 3));
    assert_eq!(b.len().unwrap(), 3);
    a.integrity_check().unwrap();
}

#[test]
fn two_threads_and_two_processes_enroll_concurrently() {
    const N: u32 = 40;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    SqliteStore::create(&path, MODEL, Some(key(1))).unwrap();
    let threads: Vec<_> = (0..2u32)
        .map(|k| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut s = SqliteStore::open(&path, Some(key(1))).unwrap();
                for i in 0..N {
                    s.put(&template(MODEL, k * 1000 + i), Put::New).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let procs: Vec<_> = (0..2u32)
        .map(|k| {
            let args = [
                path.display().to_string(),
                (10_000 + k * 1000).to_string(),
                N.to_string(),
            ];
            child("enroll", &args)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut p in procs {
        assert!(p.wait().unwrap().success());
    }
    let mut s = SqliteStore::open(&path, Some(key(1))).unwrap();
    assert_eq!(s.len().unwrap(), 4 * u64::from(N));
    assert_eq!(s.revision().unwrap(), Revision(4 * u64::from(N)));
    s.integrity_check().unwrap();
}

#[test]
fn sigkill_mid_enroll_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    SqliteStore::create(&path, MODEL, Some(key(1))).unwrap();
    let args = [path.display().to_string(), "0".into(), "100000".into()];
    let mut p = child("ack", &args).stdout(Stdio::piped()).spawn().unwrap();
    let mut acked = Vec::new();
    let mut lines = BufReader::new(p.stdout.take().unwrap()).lines();
    while acked.len() < 60 {
        let line = lines.next().expect("child ended early").unwrap();
        if let Some(s) = line.strip_prefix("ack ") {
            acked.push(s.parse::<u32>().unwrap());
        }
    }
    p.kill().unwrap(); // SIGKILL
    p.wait().unwrap();
    // Lines the child printed before the kill are acknowledged too.
    for line in lines.map_while(Result::ok) {
        if let Some(s) = line.strip_prefix("ack ") {
            acked.push(s.parse().unwrap());
        }
    }
    let mut s = SqliteStore::open(&path, Some(key(1))).unwrap();
    s.integrity_check().unwrap();
    let present = subjects(&mut s);
    for a in &acked {
        assert!(present.contains(a), "acknowledged subject {a} lost");
    }
    assert!(present.len() >= acked.len());
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// A store of `n` templates, closed (checkpointed into the main file).
fn filled(dir: &Path, n: u32, key: Option<StoreKey>) -> PathBuf {
    let path = dir.join("s.db");
    let mut s = SqliteStore::create(&path, MODEL, key).unwrap();
    for i in 0..n {
        s.put(&template(MODEL, i), Put::New).unwrap();
    }
    path
}

#[test]
fn wrong_key_missing_key_and_plaintext_with_key_are_refused_without_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path(), 5, Some(key(1)));
    let before = bytes(&path);
    let e = SqliteStore::open(&path, Some(key(2))).unwrap_err();
    assert!(matches!(e, StoreError::WrongKey { .. }), "{e}");
    assert!(
        e.to_string().contains("s.db") && e.to_string().contains("wrong key"),
        "{e}"
    );
    let e = SqliteStore::open(&path, None).unwrap_err();
    assert!(matches!(e, StoreError::KeyRequired { .. }), "{e}");
    assert_eq!(bytes(&path), before);

    let plain_dir = tempfile::tempdir().unwrap();
    let plain = filled(plain_dir.path(), 3, None);
    let before = bytes(&plain);
    let e = SqliteStore::open(&plain, Some(key(1))).unwrap_err();
    assert!(matches!(e, StoreError::NotEncrypted { .. }), "{e}");
    assert!(e.to_string().contains("plaintext"), "{e}");
    assert_eq!(bytes(&plain), before);
    let mut s = SqliteStore::open(&plain, None).unwrap();
    assert_eq!(s.protection(), Protection::Plaintext);
    assert_eq!(s.get(2).unwrap(), Some(template(MODEL, 2)));
}

#[test]
fn a_bit_flipped_record_names_its_subject_and_the_rest_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path(), 5, Some(key(1)));
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut rec: Vec<u8> = conn
            .query_row("SELECT record FROM templates WHERE subject = 3", [], |r| {
                r.get(0)
            })
            .unwrap();
        rec[60] ^= 0x10;
        conn.execute("UPDATE templates SET record = ?1 WHERE subject = 3", [rec])
            .unwrap();
    }
    let mut s = SqliteStore::open(&path, Some(key(1))).unwrap();
    let e = s.get(3).unwrap_err();
    assert!(matches!(e, StoreError::BadRecord { subject: 3, .. }), "{e}");
    assert!(e.to_string().contains("subject 3"), "{e}");
    assert_eq!(s.get(4).unwrap(), Some(template(MODEL, 4)));
    assert!(matches!(
        s.list(),
        Err(StoreError::BadRecord { subject: 3, .. })
    ));
    // Removing (or replacing) the bad row repairs the store.
    s.remove(3).unwrap();
    assert_eq!(subjects(&mut s), [0, 1, 2, 4]);
}

#[test]
fn truncated_garbage_and_foreign_files_are_corrupt_and_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path(), 300, Some(key(1)));
    let whole = bytes(&path);
    let cut = dir.path().join("cut.db");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let e = SqliteStore::open(&cut, Some(key(1))).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    assert!(
        e.to_string().contains("cut.db") && e.to_string().contains("truncated"),
        "{e}"
    );
    assert_eq!(bytes(&cut), &whole[..whole.len() / 2]);

    let garbage = dir.path().join("garbage.db");
    let noise: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, &noise).unwrap();
    let e = SqliteStore::open(&garbage, Some(key(1))).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("garbage.db"), "{e}");
    assert_eq!(bytes(&garbage), noise);

    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    let e = SqliteStore::open(&foreign, None).unwrap_err();
    assert!(e.to_string().contains("not a siamedge store"), "{e}");

    let e = SqliteStore::open(&dir.path().join("missing.db"), None).unwrap_err();
    assert!(e.to_string().contains("missing.db"), "{e}");
    assert!(!dir.path().join("missing.db").exists());
}

#[test]
fn another_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path(), 2, Some(key(1)));
    let e = SqliteStore::open_or_create(&path, OTHER, Some(key(1))).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::ModelMismatch {
                expected: MODEL,
                found: OTHER,
                ..
            }
        ),
        "{e}"
    );
    let mut s = SqliteStore::open(&path, Some(key(1))).unwrap();
    let e = s.put(&template(OTHER, 9), Put::New).unwrap_err();
    assert!(matches!(e, StoreError::ModelMismatch { .. }), "{e}");
    assert_eq!(s.len().unwrap(), 2);
    let g = dir.path().join("other.sggl");
    let mut w = GalleryWriter::new(OTHER, 1).unwrap();
    w.push(&template(OTHER, 1)).unwrap();
    std::fs::write(&g, w.finish().unwrap()).unwrap();
    assert!(matches!(
        s.import_gallery(&g, true),
        Err(StoreError::ModelMismatch { .. })
    ));
    assert_eq!(s.len().unwrap(), 2);
}

#[test]
fn rekey_round_trip_refuses_the_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path(), 20, Some(key(1)));
    let mut s = SqliteStore::open(&path, Some(key(1))).unwrap();
    let rev = s.revision().unwrap();
    s.rekey(Some(key(2))).unwrap();
    assert_eq!(s.get(7).unwrap(), Some(template(MODEL, 7)));
    drop(s);
    assert!(matches!(
        SqliteStore::open(&path, Some(key(1))),
        Err(StoreError::WrongKey { .. })
    ));
    let mut s = SqliteStore::open(&path, Some(key(2))).unwrap();
    assert_eq!(s.revision().unwrap(), rev);
    s.rekey(None).unwrap();
    drop(s);
    let mut s = SqliteStore::open(&path, None).unwrap();
    assert_eq!(s.protection(), Protection::Plaintext);
    assert_eq!(s.len().unwrap(), 20);
    s.rekey(Some(key(3))).unwrap();
    drop(s);
    let mut s = SqliteStore::open(&path, Some(key(3))).unwrap();
    assert_eq!(subjects(&mut s), (0..20).collect::<Vec<_>>());
}

#[test]
fn export_import_round_trip_above_the_old_cap() {
    const N: u32 = 70_000;
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("big.sggl");
    let mut w = GalleryWriter::new(MODEL, N as usize).unwrap();
    for s in 0..N {
        w.push(&template(MODEL, s)).unwrap();
    }
    let file = w.finish().unwrap();
    std::fs::write(&g, &file).unwrap();
    let mut a = SqliteStore::create(&dir.path().join("a.db"), MODEL, Some(key(1))).unwrap();
    assert_eq!(a.import_gallery(&g, false).unwrap(), N as usize);
    assert_eq!(a.len().unwrap(), u64::from(N));
    assert_eq!(a.revision().unwrap(), Revision(1));
    // A second import without replace is refused whole.
    assert!(matches!(
        a.import_gallery(&g, false),
        Err(StoreError::Duplicate { subject: 0, .. })
    ));
    assert_eq!(a.revision().unwrap(), Revision(1));
    let out = dir.path().join("out.sggl");
    assert_eq!(a.export_gallery(&out).unwrap(), N as usize);
    assert_eq!(bytes(&out), file);
    let mut b = SqliteStore::create(&dir.path().join("b.db"), MODEL, None).unwrap();
    b.import_gallery(&out, false).unwrap();
    let mut got = Vec::new();
    b.scan(&mut |t| {
        if t.subject() % 9_999 == 0 {
            got.push(t);
        }
        Ok(())
    })
    .unwrap();
    let want: Vec<_> = (0..N)
        .filter(|s| s % 9_999 == 0)
        .map(|s| template(MODEL, s))
        .collect();
    assert_eq!(got, want);
    // A damaged gallery imports nothing.
    let mut bad = file.clone();
    bad[1000] ^= 1;
    std::fs::write(&g, &bad).unwrap();
    let e = b.import_gallery(&g, true).unwrap_err();
    assert!(e.to_string().contains("big.sggl"), "{e}");
}
