//! Reads chosen members out of a gzipped tar archive (`.tgz`, the form `npm pack` saves a package
//! in: gzip around a POSIX ustar tar), without trusting the bytes.
//!
//! What: [`read_members`] streams the archive once (gzip through flate2, the tar headers through
//! the `tar` crate, which checks each header's checksum and handles ustar prefixes, GNU long names
//! and pax headers) and returns the bytes of exactly the members it is asked for, each of a known
//! size. It refuses, with an error naming the member: a member that is missing, appears twice,
//! is not a regular file (a link, a folder, a sparse file), has another size than expected, or
//! whose data ends early; a corrupt gzip or tar stream names the last member read before it. The
//! size is checked before any byte of a member is read, so a lying header allocates nothing. It
//! never panics (the property tests feed it arbitrary and mutated bytes).
//!
//! When not: nothing is written to disk and no path is interpreted (no `..`, no links followed):
//! members are matched by their exact path bytes, `package/LICENSE`, not `./package/LICENSE`. The
//! caller checks the content (sha256); this module only delivers it.

use std::io::{self, Read};

use flate2::read::GzDecoder;
use thiserror::Error;

/// A member to read: its exact path inside the archive and its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted<'a> {
    /// Path inside the archive, `/`-separated, as the tar header spells it.
    pub path: &'a str,
    /// Expected size in bytes; a member of another size is refused before it is read.
    pub bytes: u64,
}

/// Why members could not be read from a `.tgz`; each variant names the member.
#[derive(Debug, Error)]
pub enum TgzError {
    /// The gzip or tar stream is corrupt or ends early outside a wanted member's data.
    #[error("corrupt archive {}: {source}", after_member(.after))]
    Corrupt {
        /// The last member read before the damage (`None`: at the first header).
        after: Option<String>,
        /// The gzip, tar or I/O error.
        source: io::Error,
    },
    /// Reading a wanted member's data failed.
    #[error("{member}: {source}")]
    Read {
        /// The member.
        member: String,
        /// The gzip or I/O error.
        source: io::Error,
    },
    /// A wanted member is not in the archive.
    #[error("{member}: not in the archive")]
    Missing {
        /// The member.
        member: String,
    },
    /// A wanted member appears more than once (tar would keep the last; we refuse to choose).
    #[error("{member}: appears more than once in the archive")]
    Duplicate {
        /// The member.
        member: String,
    },
    /// A wanted member is a link, folder or other non-regular entry.
    #[error("{member}: entry type {kind:?}, not a regular file")]
    NotFile {
        /// The member.
        member: String,
        /// The tar type flag as found (`'2'`: symbolic link, `'5'`: folder, ...).
        kind: char,
    },
    /// A wanted member's header states another size than expected.
    #[error("{member}: {found} bytes, expected {expected}")]
    Size {
        /// The member.
        member: String,
        /// Expected size in bytes.
        expected: u64,
        /// Size in the header.
        found: u64,
    },
    /// The archive ends inside a wanted member's data.
    #[error("{member}: the archive ends after {found} of its {expected} bytes")]
    Truncated {
        /// The member.
        member: String,
        /// Size in the header.
        expected: u64,
        /// Bytes there were.
        found: u64,
    },
}

fn after_member(after: &Option<String>) -> String {
    match after {
        Some(member) => format!("after member {member}"),
        None => "at its first entry".to_string(),
    }
}

/// The bytes of each of `wanted`, in the same order, read from the gzipped tar `tgz`; see the
/// module docs for what is refused. The whole stream is read, to its gzip trailer (whose CRC-32
/// flate2 checks), so a duplicate after the last wanted member is found too.
pub fn read_members<R: Read>(tgz: R, wanted: &[Wanted<'_>]) -> Result<Vec<Vec<u8>>, TgzError> {
    let mut found: Vec<Option<Vec<u8>>> = vec![None; wanted.len()];
    let mut archive = tar::Archive::new(GzDecoder::new(tgz));
    let mut last: Option<String> = None;
    {
        let entries = archive.entries().map_err(|source| TgzError::Corrupt {
            after: None,
            source,
        })?;
        for entry in entries {
            let mut entry = entry.map_err(|source| TgzError::Corrupt {
                after: last.clone(),
                source,
            })?;
            let path = entry.path_bytes().into_owned();
            let name = String::from_utf8_lossy(&path).into_owned();
            if let Some(i) = wanted.iter().position(|w| w.path.as_bytes() == path) {
                found[i] = Some(read_member(
                    &mut entry,
                    &name,
                    &wanted[i],
                    found[i].is_some(),
                )?);
            }
            last = Some(name);
        }
    }
    // The end-of-archive blocks and the gzip trailer: draining them makes flate2 check the CRC-32.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|source| TgzError::Corrupt {
        after: last,
        source,
    })?;
    wanted
        .iter()
        .zip(found)
        .map(|(w, bytes)| {
            bytes.ok_or_else(|| TgzError::Missing {
                member: w.path.to_string(),
            })
        })
        .collect()
}

fn read_member<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    wanted: &Wanted<'_>,
    seen: bool,
) -> Result<Vec<u8>, TgzError> {
    let member = || name.to_string();
    if seen {
        return Err(TgzError::Duplicate { member: member() });
    }
    let kind = entry.header().entry_type();
    if !kind.is_file() {
        return Err(TgzError::NotFile {
            member: member(),
            kind: char::from(kind.as_byte()),
        });
    }
    let size = entry.size();
    if size != wanted.bytes {
        return Err(TgzError::Size {
            member: member(),
            expected: wanted.bytes,
            found: size,
        });
    }
    // The size is the caller's: cap the first allocation all the same.
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(1 << 26)).unwrap_or(0));
    entry
        .take(size)
        .read_to_end(&mut bytes)
        .map_err(|source| TgzError::Read {
            member: member(),
            source,
        })?;
    if bytes.len() as u64 != size {
        return Err(TgzError::Truncated {
            member: member(),
            expected: size,
            found: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;
    use proptest::prelude::*;

    use super::*;

    /// A ustar header for a regular file (or `kind`) named `path` of `size` bytes.
    fn header(path: &str, size: u64, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_cksum();
        h
    }

    /// An uncompressed ustar archive of `(path, data)` regular files.
    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let h = header(path, data.len() as u64, tar::EntryType::Regular);
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    const LICENSE: &[u8] = b"MIT License\n";
    const WEIGHTS: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 10, 0, 255];

    fn package() -> Vec<u8> {
        tar_of(&[
            ("package/package.json", b"{}"),
            ("package/LICENSE", LICENSE),
            ("package/model/w.bin", WEIGHTS),
            ("package/README.md", b"# readme\n"),
        ])
    }

    fn wanted() -> [Wanted<'static>; 2] {
        [
            Wanted {
                path: "package/model/w.bin",
                bytes: WEIGHTS.len() as u64,
            },
            Wanted {
                path: "package/LICENSE",
                bytes: LICENSE.len() as u64,
            },
        ]
    }

    #[test]
    fn reads_the_wanted_members_in_the_order_asked() {
        let got = read_members(&gzip(&package())[..], &wanted()).unwrap();
        assert_eq!(got, [WEIGHTS.to_vec(), LICENSE.to_vec()]);
        assert_eq!(read_members(&gzip(&package())[..], &[]).unwrap().len(), 0);
    }

    #[test]
    fn missing_member_is_named() {
        let mut w = wanted().to_vec();
        w.push(Wanted {
            path: "package/model/other.bin",
            bytes: 1,
        });
        let e = read_members(&gzip(&package())[..], &w).unwrap_err();
        assert!(
            matches!(&e, TgzError::Missing { member } if member == "package/model/other.bin"),
            "{e}"
        );
        // Exact path bytes: `./package/LICENSE` is another member (written into the name field
        // by hand: the tar crate's `set_path` would drop the `./`).
        let mut tar = tar_of(&[("package/LICENSE", LICENSE)]);
        let name = b"./package/LICENSE";
        tar[..name.len()].copy_from_slice(name);
        let mut h = tar::Header::from_byte_slice(&tar[..512]).clone();
        h.set_cksum();
        tar[..512].copy_from_slice(h.as_bytes());
        let e = read_members(&gzip(&tar)[..], &wanted()[1..]).unwrap_err();
        assert!(matches!(e, TgzError::Missing { .. }), "{e}");
    }

    #[test]
    fn wrong_size_is_refused_before_reading() {
        let mut w = wanted();
        w[0].bytes = 1 << 40;
        let e = read_members(&gzip(&package())[..], &w).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "package/model/w.bin: {} bytes, expected {}",
                WEIGHTS.len(),
                1u64 << 40
            )
        );
    }

    #[test]
    fn duplicates_are_refused_even_after_the_last_wanted_member() {
        let mut tar = package();
        let end = tar.len() - 1024;
        tar.truncate(end);
        let mut again = tar_of(&[("package/LICENSE", b"evil\n")]);
        tar.append(&mut again);
        let e = read_members(&gzip(&tar)[..], &wanted()).unwrap_err();
        assert!(
            matches!(&e, TgzError::Duplicate { member } if member == "package/LICENSE"),
            "{e}"
        );
    }

    #[test]
    fn links_and_folders_are_not_files() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header("package/LICENSE", 0, tar::EntryType::Symlink);
        h.set_link_name("/etc/passwd").unwrap();
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
        let tgz = gzip(&b.into_inner().unwrap());
        let e = read_members(&tgz[..], &wanted()[1..]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "package/LICENSE: entry type '2', not a regular file"
        );
    }

    #[test]
    fn truncation_inside_a_member_names_it() {
        let tar = package();
        // Each file is a header block and one data block: w.bin's header at 2048, its data at
        // 2560; cut in the middle of its data and gzip what is left.
        let cut = &tar[..2560 + 5];
        let e = read_members(&gzip(cut)[..], &wanted()).unwrap_err();
        assert!(
            matches!(&e, TgzError::Truncated { member, expected: 14, found: 5 } if member == "package/model/w.bin"),
            "{e}"
        );
    }

    #[test]
    fn corrupt_gzip_and_bad_checksums_are_errors() {
        let mut tgz = gzip(&package());
        let n = tgz.len();
        tgz[n - 8] ^= 1; // the CRC-32 in the gzip trailer
        let e = read_members(&tgz[..], &wanted()).unwrap_err();
        assert!(matches!(e, TgzError::Corrupt { after: Some(_), .. }), "{e}");

        let mut tar = package();
        tar[0] ^= 0x20; // the first header's name, its checksum now wrong
        let e = read_members(&gzip(&tar)[..], &wanted()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("corrupt archive at its first entry"),
            "{e}"
        );

        let e = read_members(&b"not gzip at all"[..], &wanted()).unwrap_err();
        assert!(matches!(e, TgzError::Corrupt { after: None, .. }), "{e}");
    }

    /// A valid archive with one byte of one header replaced and the header checksum made right
    /// again, so the tar parser takes the mutated field at its word.
    fn mutated(at: usize, byte: u8, cut: usize) -> Vec<u8> {
        let mut tar = package();
        let block = (at / 512) * 512;
        tar[at] = byte;
        let mut h = tar::Header::from_byte_slice(&tar[block..block + 512]).clone();
        h.set_cksum();
        tar[block..block + 512].copy_from_slice(h.as_bytes());
        tar.truncate(cut.min(tar.len()));
        gzip(&tar)
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = read_members(&bytes[..], &wanted());
        }

        #[test]
        fn arbitrary_tar_streams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = read_members(&gzip(&bytes)[..], &wanted());
        }

        #[test]
        fn mutated_headers_never_panic(
            block in proptest::sample::select(vec![0usize, 2, 4, 6]),
            offset in 0usize..512,
            byte in any::<u8>(),
            cut in 0usize..5200,
        ) {
            // Blocks 0, 2, 4 and 6 are the headers of the four files.
            let _ = read_members(&mutated(block * 512 + offset, byte, cut)[..], &wanted());
        }
    }
}
