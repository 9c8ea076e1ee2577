//! The store (format v1, docs/FORMAT.md): a marker file naming the format,
//! content-addressed objects (`objects/ab/<blake3>`) with their chunk trees
//! beside them, signed manifests (`manifests/<blake3>.json`), the station
//! keys' public records (`keys/`), the custody log with its signed head, and
//! a `tmp/` directory for files being written.
//!
//! [`DirStore::open`] is for writers (it creates a new store and tidies
//! temporary files); [`DirStore::open_existing`] is for readers such as
//! verification, and never writes.
//!
//! [`DirStore`] is the one implementation: an object store or a server
//! database would implement the same format (docs/FORMAT.md) beside it.

use crate::format::{STORE_FORMAT, STORE_MARKER};
use crate::manifest::SignedManifest;
use custody_hash::ChunkTree;
use std::path::{Path, PathBuf};

/// The store's registration lock (see [`DirStore::lock_registration`]).
#[derive(Debug)]
pub struct RegistrationLock {
    _dir: std::fs::File,
}

/// A store in a local directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

/// Whether process `pid` is running (Linux: `/proc`); elsewhere only this process counts.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    cfg!(target_os = "linux") && Path::new(&format!("/proc/{pid}")).exists()
}

fn valid_hash(h: &str) -> bool {
    crate::keys::is_digest_hex(h)
}

impl DirStore {
    /// Opens a store for writing at `root`, creating it when `root` is
    /// absent or an empty directory, and removes temporary files left by an
    /// interrupted run. A directory that holds something other than a
    /// Custody store, or a store of an unknown format version, is refused.
    pub fn open(root: &Path) -> std::io::Result<DirStore> {
        let marker = root.join(STORE_MARKER);
        if !marker.exists() {
            // Another process may be creating the same store: its temporary
            // marker does not make the directory "not empty".
            let in_progress = format!(".{STORE_MARKER}.tmp-");
            let empty = match std::fs::read_dir(root) {
                Ok(rd) => rd
                    .flatten()
                    .all(|e| e.file_name().to_string_lossy().starts_with(&in_progress)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => return Err(e),
            };
            // A concurrent opener may have made the store meanwhile.
            if !empty && !marker.exists() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "{} is not empty and holds no {STORE_MARKER}: not a Custody store",
                        root.display()
                    ),
                ));
            }
            // The marker first: from then on the directory is a store, and a
            // concurrent opener only adds the folders below, as this one does.
            std::fs::create_dir_all(root)?;
        }
        if !marker.exists() {
            let body =
                crate::canonical::to_canonical(&serde_json::json!({"format": STORE_FORMAT}))?;
            custody_io::write_atomic(&marker, &body)?;
        }
        let s = DirStore::open_existing(root)?;
        for d in ["objects", "manifests", "keys", "tmp"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        s.clean_temp()?;
        Ok(s)
    }

    /// Opens an existing store for reading: checks its marker and format
    /// version and writes nothing. A missing path, a directory that is not
    /// a store, or an unknown format version is an error.
    pub fn open_existing(root: &Path) -> std::io::Result<DirStore> {
        let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
        let marker = root.join(STORE_MARKER);
        let bytes = std::fs::read(&marker).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "{}: not a Custody store ({STORE_MARKER}: {e})",
                    root.display()
                ),
            )
        })?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("{STORE_MARKER} is not JSON: {e}")))?;
        match v.get("format").and_then(|f| f.as_str()) {
            Some(STORE_FORMAT) if crate::canonical::canonical_value(&v).ok() == Some(bytes) => {
                Ok(DirStore {
                    root: root.to_path_buf(),
                })
            }
            Some(STORE_FORMAT) => Err(invalid(format!(
                "{STORE_MARKER} is not exactly {{\"format\":\"{STORE_FORMAT}\"}} in canonical form"
            ))),
            other => Err(invalid(format!(
                "unknown store format {}; this version reads {STORE_FORMAT}",
                other.unwrap_or("(none)")
            ))),
        }
    }

    /// Publishes a public key record in `keys/` (atomically; an existing
    /// record is kept).
    pub fn publish_key(&self, record: &crate::keyring::KeyRecord) -> std::io::Result<()> {
        let path = self
            .root
            .join("keys")
            .join(format!("{}.json", record.fingerprint));
        if path.exists() {
            return Ok(());
        }
        custody_io::write_atomic(&path, &record.to_bytes()?)
    }

    /// Whether `keys/` holds a record for this fingerprint.
    pub fn has_key(&self, fingerprint: &str) -> bool {
        self.root
            .join("keys")
            .join(format!("{fingerprint}.json"))
            .is_file()
    }

    /// Every record in `keys/` as (file name, bytes), sorted by name; a
    /// record being written (a `.NAME.tmp-` file) is not one yet.
    pub fn key_records(&self) -> std::io::Result<Vec<crate::keyring::RawRecord>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(self.root.join("keys")) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for e in rd {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                continue;
            }
            out.push((name, std::fs::read(e.path())?));
        }
        out.sort();
        Ok(out)
    }

    /// Every file under `objects/` as a path relative to the store, sorted:
    /// objects (`objects/ab/<blake3>`), trees (`.b3tree`) and anything else.
    pub fn object_files(&self) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        for d in std::fs::read_dir(self.root.join("objects"))? {
            let d = d?;
            let dn = d.file_name().to_string_lossy().into_owned();
            if !d.file_type()?.is_dir() {
                out.push(format!("objects/{dn}"));
                continue;
            }
            for f in std::fs::read_dir(d.path())? {
                let f = f?;
                out.push(format!("objects/{dn}/{}", f.file_name().to_string_lossy()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes temporary files left by processes that are no longer running
    /// (an interrupted copy or atomic write leaves nothing registered): copies
    /// in `tmp/`, and `.NAME.tmp-PID-N` files beside manifests, trees, key
    /// records, the marker and the log head. Files of live processes, this one included, belong to
    /// concurrent ingests and are kept.
    pub fn clean_temp(&self) -> std::io::Result<usize> {
        let mut n = 0;
        for e in std::fs::read_dir(self.root.join("tmp"))?.flatten() {
            let name = e.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<u32>().ok());
            if !pid.is_some_and(process_alive) && std::fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
        let mut dirs = vec![
            self.root.clone(),
            self.root.join("manifests"),
            self.root.join("keys"),
        ];
        dirs.extend(
            std::fs::read_dir(self.root.join("objects"))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir()),
        );
        for d in dirs {
            for e in std::fs::read_dir(&d)?.flatten() {
                let name = e.file_name();
                let pid = name
                    .to_str()
                    .filter(|n| n.starts_with('.'))
                    .and_then(|n| n.rsplit_once(".tmp-"))
                    .and_then(|(_, rest)| rest.split('-').next())
                    .and_then(|p| p.parse::<u32>().ok());
                if let Some(pid) = pid
                    && !process_alive(pid)
                    && std::fs::remove_file(e.path()).is_ok()
                {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Takes the store's registration lock, waiting for it: an exclusive
    /// lock on the `manifests/` directory, held by one ingest (thread or
    /// process) at a time from "is this object registered?" until its
    /// manifest is written, so the same bytes are registered exactly once.
    /// Released when the guard is dropped (or the process ends).
    pub fn lock_registration(&self) -> std::io::Result<RegistrationLock> {
        let dir = std::fs::File::open(self.root.join("manifests"))?;
        dir.lock()?;
        Ok(RegistrationLock { _dir: dir })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A new temporary path inside the store (same file system as the objects).
    pub fn temp_path(&self, tag: &str) -> PathBuf {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.root
            .join("tmp")
            .join(format!("{}-{n}-{tag}.part", std::process::id()))
    }

    /// Path of an object.
    pub fn object_path(&self, blake3: &str) -> PathBuf {
        self.root
            .join("objects")
            .join(&blake3[..2.min(blake3.len())])
            .join(blake3)
    }

    /// Path of an object's chunk tree, relative to the store root.
    pub fn tree_rel(blake3: &str) -> String {
        format!("objects/{}/{blake3}.b3tree", &blake3[..2.min(blake3.len())])
    }

    fn manifest_path(&self, blake3: &str) -> PathBuf {
        self.root.join("manifests").join(format!("{blake3}.json"))
    }

    /// The custody log of this store.
    pub fn log(&self) -> crate::log::CustodyLog {
        crate::log::CustodyLog::in_dir(&self.root)
    }
}

impl DirStore {
    /// True when an object with this BLAKE3 is stored.
    pub fn has_object(&self, blake3: &str) -> bool {
        valid_hash(blake3) && self.object_path(blake3).is_file()
    }

    /// True when the object has a manifest (it is registered).
    pub fn is_registered(&self, blake3: &str) -> bool {
        valid_hash(blake3) && self.manifest_path(blake3).is_file()
    }

    /// Moves a fully written, fsynced temporary file into place as the object
    /// `blake3`, with its chunk tree. Idempotent.
    pub fn put_object(&self, blake3: &str, temp: &Path, tree: &ChunkTree) -> std::io::Result<()> {
        if !valid_hash(blake3) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a BLAKE3 hex digest",
            ));
        }
        let dest = self.object_path(blake3);
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir)?;
        custody_io::write_atomic(&self.root.join(Self::tree_rel(blake3)), &tree.encode())?;
        if dest.is_file() {
            std::fs::remove_file(temp)?;
        } else {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(temp, std::fs::Permissions::from_mode(0o444))?;
            }
            std::fs::rename(temp, &dest)?;
        }
        std::fs::File::open(&dir)?.sync_all()
    }

    /// Writes a signed manifest atomically.
    pub fn put_manifest(&self, signed: &SignedManifest) -> std::io::Result<()> {
        let bytes = signed
            .to_bytes()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        custody_io::write_atomic(&self.manifest_path(&signed.manifest.object.blake3), &bytes)
    }

    /// Reads a manifest's bytes.
    pub fn manifest_bytes(&self, blake3: &str) -> std::io::Result<Vec<u8>> {
        if !valid_hash(blake3) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a BLAKE3 hex digest",
            ));
        }
        std::fs::read(self.manifest_path(blake3))
    }

    /// Every registered object's BLAKE3.
    pub fn registered(&self) -> std::io::Result<Vec<String>> {
        let mut out: Vec<String> = std::fs::read_dir(self.root.join("manifests"))?
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .filter(|h| valid_hash(h))
            .collect();
        out.sort();
        Ok(out)
    }
}
