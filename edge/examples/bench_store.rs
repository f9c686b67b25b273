//! The SQLite template store at scale: insert N templates (default 1,000,000; one transaction per
//! put, the way enrollment writes, or `--bulk` through a gallery import), scan them, export them to
//! a gallery file, and print seconds and bytes per template.
//!
//! `cargo run --release -p siamedge-edge --example bench_store -- [N] [--plaintext] [--per-put K]`
//!
//! `--per-put K` times K single-transaction puts (each fsynced) after the bulk import instead of
//! making all N that way (a million fsyncs take as long as the disk needs for a million fsyncs).

use std::time::Instant;

use siamedge_edge::store::{Put, SqliteStore, StoreKey, TemplateStore};
use siamedge_format::gallery::GalleryWriter;
use siamedge_format::{EmbeddingRef, ModelId, Template};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u32 = args
        .iter()
        .find(|a| !a.starts_with("--") && a.parse::<u32>().is_ok())
        .map_or(Ok(1_000_000), |a| a.parse())?;
    let per_put: u32 = args
        .iter()
        .position(|a| a == "--per-put")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(1000), |a| a.parse())?;
    let key = (!args.iter().any(|a| a == "--plaintext")).then(|| StoreKey::from_bytes([7; 32]));
    let model = ModelId([3; 16]);
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let gallery = dir.path().join("in.sggl");

    let t = Instant::now();
    let mut w = GalleryWriter::new(model, n as usize)?;
    for s in 0..n {
        w.push(&template(model, s))?;
    }
    let file = w.finish()?;
    std::fs::write(&gallery, &file)?;
    let gen = t.elapsed().as_secs_f64();

    let mut store = SqliteStore::create(&db, model, key)?;
    let t = Instant::now();
    store.import_gallery(&gallery, false)?;
    let import = t.elapsed().as_secs_f64();

    let t = Instant::now();
    for s in n..n + per_put {
        store.put(&template(model, s), Put::New)?;
    }
    let puts = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut count = 0u64;
    store.scan(&mut |_| {
        count += 1;
        Ok(())
    })?;
    let scan = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let out = dir.path().join("out.sggl");
    store.export_gallery(&out)?;
    let export = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let got = store.get(n / 2)?;
    let get_us = t.elapsed().as_secs_f64() * 1e6;
    assert_eq!(got, Some(template(model, n / 2)));
    drop(store);
    let db_bytes = std::fs::metadata(&db)?.len();
    let total = u64::from(n + per_put);
    println!(
        "templates          {total} (128 values, 1 embedding, {:?})",
        if args.iter().any(|a| a == "--plaintext") {
            "plaintext"
        } else {
            "encrypted"
        }
    );
    println!(
        "gallery build      {gen:.2} s ({} bytes, {:.0} B/template)",
        file.len(),
        file.len() as f64 / f64::from(n)
    );
    println!(
        "import (1 txn)     {import:.2} s ({:.1} us/template)",
        import * 1e6 / f64::from(n)
    );
    println!(
        "put (1 txn each)   {puts:.2} s for {per_put} ({:.2} ms/put)",
        puts * 1e3 / f64::from(per_put.max(1))
    );
    println!(
        "scan               {scan:.2} s ({count} templates, {:.2} us/template)",
        scan * 1e6 / count as f64
    );
    println!(
        "export             {export:.2} s ({} bytes)",
        std::fs::metadata(&out)?.len()
    );
    println!("get one            {get_us:.0} us");
    println!(
        "store file         {db_bytes} bytes ({:.0} B/template)",
        db_bytes as f64 / total as f64
    );
    Ok(())
}
