//! `siamedge gallery list|remove|export|import|rekey`: the enrolled subjects of a store.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use siamedge_edge::store::{StoreKey, TemplateStore};

use super::{print, Common};

#[derive(Subcommand, Debug)]
pub enum GalleryCommand {
    /// List the enrolled subjects (id, label, embeddings).
    List(StoreArg),
    /// Remove a subject (one transaction).
    Remove {
        #[command(flatten)]
        store: StoreArg,
        /// Subject id.
        #[arg(long)]
        subject: u32,
    },
    /// Write every template to a portable siamedge-format gallery file (.sgg), the form a
    /// device is flashed with; the file is replaced atomically.
    Export {
        #[command(flatten)]
        store: StoreArg,
        /// The gallery file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Add the templates of a gallery file to the store, all in one transaction (creates the
    /// store if it does not exist).
    Import {
        #[command(flatten)]
        store: StoreArg,
        /// Replace subjects that are already enrolled (otherwise a duplicate refuses the import).
        #[arg(long)]
        replace: bool,
        /// The gallery file (.sgg).
        file: PathBuf,
    },
    /// Re-encrypt every template under a new key, in one transaction.
    Rekey {
        #[command(flatten)]
        store: StoreArg,
        /// The new key: a file of 32 raw bytes or 64 hex digits.
        #[arg(
            long,
            conflicts_with = "new_insecure_plaintext",
            required_unless_present = "new_insecure_plaintext"
        )]
        new_key_file: Option<PathBuf>,
        /// Decrypt every template and keep it in the clear (for tests only).
        #[arg(long)]
        new_insecure_plaintext: bool,
    },
}

#[derive(Args, Debug)]
pub struct StoreArg {
    /// The store (an SQLite file).
    #[arg(long, env = "SIAMEDGE_STORE")]
    pub store: PathBuf,
}

pub fn run(common: &Common, cmd: &GalleryCommand) -> Result<()> {
    let rt = common.runtime()?;
    match cmd {
        GalleryCommand::List(s) => {
            let mut store = common.store(&s.store, &rt, false)?;
            let list = store.list()?;
            #[derive(Serialize)]
            struct Row<'a> {
                subject: u32,
                label: &'a str,
                embeddings: usize,
                revision: u64,
            }
            let rows: Vec<Row> = list
                .iter()
                .map(|i| Row {
                    subject: i.subject,
                    label: &i.label,
                    embeddings: i.embeddings,
                    revision: i.revision.0,
                })
                .collect();
            print(common.json, &rows, || {
                let mut s = format!("{} subject(s) in {}", rows.len(), s.store.display());
                for r in &rows {
                    s.push_str(&format!(
                        "\n  {:<10} {:<32} {} embedding(s)",
                        r.subject, r.label, r.embeddings
                    ));
                }
                s
            })
        }
        GalleryCommand::Remove { store, subject } => {
            let mut st = common.store(&store.store, &rt, false)?;
            let removed = st.remove(*subject)?.is_some();
            print(
                common.json,
                &serde_json::json!({ "subject": subject, "removed": removed, "subjects": st.len()? }),
                || {
                    if removed {
                        format!("removed subject {subject}")
                    } else {
                        format!("subject {subject} was not enrolled; nothing changed")
                    }
                },
            )
        }
        GalleryCommand::Export { store, out } => {
            let mut st = common.store(&store.store, &rt, false)?;
            let n = st.export_gallery(out)?;
            print(
                common.json,
                &serde_json::json!({ "file": out, "templates": n }),
                || format!("wrote {n} template(s) to {}", out.display()),
            )
        }
        GalleryCommand::Import {
            store,
            replace,
            file,
        } => {
            let mut st = common.store(&store.store, &rt, true)?;
            let n = st.import_gallery(file, *replace)?;
            print(
                common.json,
                &serde_json::json!({ "file": file, "templates": n, "subjects": st.len()? }),
                || format!("imported {n} template(s) from {}", file.display()),
            )
        }
        GalleryCommand::Rekey {
            store,
            new_key_file,
            new_insecure_plaintext,
        } => {
            let new = match (new_key_file, new_insecure_plaintext) {
                (Some(path), false) => Some(StoreKey::from_file(path)?),
                (None, true) => None,
                _ => bail!("give exactly one of --new-key-file and --new-insecure-plaintext"),
            };
            let mut st = common.store(&store.store, &rt, false)?;
            let n = st.len()?;
            st.rekey(new)?;
            print(
                common.json,
                &serde_json::json!({ "store": store.store, "templates": n, "encrypted": !new_insecure_plaintext }),
                || {
                    format!(
                        "re-{} {n} template(s) in {}",
                        if *new_insecure_plaintext {
                            "wrote (in the clear)"
                        } else {
                            "encrypted"
                        },
                        store.store.display()
                    )
                },
            )
        }
    }
}
