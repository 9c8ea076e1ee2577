//! Registration of a derivative: an archival or access copy made from files
//! registered in the store (docs/FORMAT.md §10).
//!
//! The derivative becomes an object of its own, stored exactly as ingest
//! stores objects (copied while hashed with BLAKE3 and SHA-256 and its chunk
//! tree, fsynced, re-read and re-hashed, moved into place read-only), with
//! a signed `custody.manifest/2` whose `derivation` names the BLAKE3 of each
//! source, the profile and every parameter, the software (FFmpeg libraries'
//! versions) and the proof's result; a `derivation` entry in the custody
//! log registers it. The sources' manifests are never rewritten: the link
//! goes from the derivative to its sources.
//!
//! Crash safety is ingest's (§9): object, then log entry, then manifest,
//! under the registration lock. A run stopped after the log entry leaves an
//! object whose manifest is missing (`manifest_missing`); registering the
//! same derivative again completes it.

use crate::keys::StationKey;
use crate::log::NewEntry;
use crate::manifest::{
    Collection, Derivation, Event, Manifest, ManifestError, Object, Original, Recording, SCHEMA,
    SignedManifest,
};
use crate::store::DirStore;
use custody_hash::{Algorithms, DigestOptions, Digester};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The log event (and actor) that registers a derivative.
pub const EVENT: &str = "derivation";

/// Who registers, for the manifest and the log.
#[derive(Debug, Clone, Default)]
pub struct DeriveOptions {
    /// Station identifier.
    pub station: String,
    /// Operator.
    pub operator: Option<String>,
}

/// What became of a derivative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored, logged and described by its signed manifest.
    Registered,
    /// Its bytes were registered before; nothing was written.
    AlreadyRegistered,
}

/// The result of [`register`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Registration {
    /// What was done.
    pub outcome: Outcome,
    /// BLAKE3 of the derivative (its object in the store).
    pub blake3: String,
    /// BLAKE3 of each source it names.
    pub sources: Vec<String>,
    /// The `derivation` log entry, when one was written now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Why the catalog could not index it (a warning: rebuild the catalog).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_error: Option<String>,
}

/// Why a derivative was not registered. Nothing is left registered when
/// one of these is returned, except as [`DeriveError::Store`] says.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    /// A source named by the derivation has no manifest in the store.
    #[error("source {source_blake3} is not registered in the store")]
    SourceNotRegistered {
        /// The source's BLAKE3.
        source_blake3: String,
    },
    /// A source's manifest does not verify with the store's keys.
    #[error("the manifest of source {source_blake3} does not verify: {reason}")]
    SourceUnverified {
        /// The source's BLAKE3.
        source_blake3: String,
        /// Why.
        reason: String,
    },
    /// The station key is not one of the store's keys.
    #[error(
        "station key {0} is not a key of the store: use its own key, or introduce this one with `custody key rotate`"
    )]
    KeyNotInStore(String),
    /// The derivation record is not one a manifest can hold.
    #[error("invalid derivation: {0}")]
    Invalid(String),
    /// The derivative's bytes are not those its maker reported, or changed
    /// while they were copied into the store.
    #[error("{}: {detail}", path.display())]
    Changed {
        /// The derivative.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// The manifest could not be signed.
    #[error("its manifest cannot be signed: {0}")]
    Manifest(#[from] ManifestError),
    /// Reading the derivative or writing the store failed; `step` says
    /// what the store holds now.
    #[error("{step}: {source}")]
    Store {
        /// What was being done, and what it left.
        step: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl DeriveError {
    fn store(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> DeriveError {
        let step = step.into();
        move |source| DeriveError::Store { step, source }
    }
}

/// A copy in the store's `tmp/`, removed when dropped unless moved into place.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Size, modification time and identity: what must not move while copying.
fn stamp(m: &std::fs::Metadata) -> (u64, Option<std::time::SystemTime>, u64, u64) {
    #[cfg(unix)]
    let (dev, ino) = {
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino())
    };
    #[cfg(not(unix))]
    let (dev, ino) = (0, 0);
    (m.len(), m.modified().ok(), dev, ino)
}

/// Copies `file` into the store's `tmp/` while hashing it (BLAKE3 with its
/// chunk tree, SHA-256), fsyncs the copy, then re-reads it from disk and
/// checks its BLAKE3.
fn copy_verified(
    store: &DirStore,
    file: &Path,
) -> Result<(Temp, custody_hash::FileDigest, custody_hash::ChunkTree), DeriveError> {
    let changed = |detail: String| DeriveError::Changed {
        path: file.to_path_buf(),
        detail,
    };
    let read = |e| DeriveError::Store {
        step: format!("cannot read {}", file.display()),
        source: e,
    };
    let mut src = custody_io::open_regular(file).map_err(read)?;
    let before = stamp(&src.metadata().map_err(read)?);
    let temp = Temp(store.temp_path("derivative"));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp.0)
        .map_err(DeriveError::store("cannot create the copy in the store"))?;
    let mut digester = Digester::new(DigestOptions {
        algorithms: Algorithms::BOTH,
        ..Default::default()
    })
    .map_err(|e| DeriveError::Invalid(e.to_string()))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read(e)),
        };
        out.write_all(&buf[..n])
            .map_err(DeriveError::store("the store could not take the copy"))?;
        digester.update(&buf[..n]);
    }
    out.sync_all()
        .map_err(DeriveError::store("the store could not take the copy"))?;
    let _ = custody_io::drop_cache(&out);
    drop(out);
    let (digest, tree) = digester.finish();
    let after = stamp(&src.metadata().map_err(read)?);
    if before != after || digest.size != before.0 {
        return Err(changed("changed while it was copied into the store".into()));
    }
    let tree = tree.ok_or_else(|| DeriveError::Invalid("no chunk tree".into()))?;
    let mut again = std::fs::File::open(&temp.0)
        .map_err(DeriveError::store("cannot re-read the copy in the store"))?;
    let reread = custody_hash::hash_reader(
        &mut again,
        DigestOptions {
            algorithms: Algorithms::BLAKE3,
            ..Default::default()
        },
        |_| {},
    )
    .map_err(DeriveError::store("cannot re-read the copy in the store"))?
    .0;
    if reread.blake3 != digest.blake3 || reread.size != digest.size {
        return Err(changed(
            "the copy in the store does not match it on re-read".into(),
        ));
    }
    Ok((temp, digest, tree))
}

/// Checks what a manifest can hold: sources as BLAKE3 digests, a proof
/// whose kind and result are known and that did not fail.
fn check(d: &Derivation) -> Result<(), DeriveError> {
    if d.sources.is_empty() {
        return Err(DeriveError::Invalid("no source".into()));
    }
    if let Some(s) = d.sources.iter().find(|s| !crate::keys::is_digest_hex(s)) {
        return Err(DeriveError::Invalid(format!(
            "source {s:?} is not a BLAKE3 digest"
        )));
    }
    if !matches!(d.proof.kind.as_str(), "packets" | "frames") {
        return Err(DeriveError::Invalid(format!(
            "unknown proof kind {:?} (packets, frames)",
            d.proof.kind
        )));
    }
    if !matches!(
        d.proof.result.as_str(),
        "packets_matched" | "identical" | "lossy"
    ) {
        return Err(DeriveError::Invalid(format!(
            "proof result {:?}: only a proven derivative is registered",
            d.proof.result
        )));
    }
    Ok(())
}

/// The verified manifest of each source, in order.
fn source_manifests(
    store: &DirStore,
    sources: &[String],
) -> Result<Vec<SignedManifest>, DeriveError> {
    let (trust, _, _) = crate::keyring::trust_store(store, &[])
        .map_err(DeriveError::store("cannot read the store's keys"))?;
    sources
        .iter()
        .map(|s| {
            if !store.is_registered(s) {
                return Err(DeriveError::SourceNotRegistered {
                    source_blake3: s.clone(),
                });
            }
            let unverified = |reason: String| DeriveError::SourceUnverified {
                source_blake3: s.clone(),
                reason,
            };
            let bytes = store
                .manifest_bytes(s)
                .map_err(|e| unverified(e.to_string()))?;
            let m = SignedManifest::verify_json(&bytes, &trust)
                .map_err(|e| unverified(e.to_string()))?;
            if m.manifest.object.blake3 != *s {
                return Err(unverified("it is filed under another object".into()));
            }
            Ok(m)
        })
        .collect()
}

/// The recording the derivative shows: its sources' (the first one's, ending
/// where the last one ends).
fn recording_of(sources: &[SignedManifest]) -> Recording {
    let mut rec = sources
        .first()
        .map(|s| s.manifest.recording.clone())
        .unwrap_or_default();
    if let Some(last) = sources.last().filter(|_| sources.len() > 1) {
        rec.end = last.manifest.recording.end.clone();
    }
    rec
}

/// The manifest of the derivative `file`, stored as `digest`.
fn manifest(
    key: &StationKey,
    opts: &DeriveOptions,
    file: &Path,
    stored: &Path,
    (digest, leaf_size): (&custody_hash::FileDigest, u32),
    derivation: Derivation,
    sources: &[SignedManifest],
) -> Manifest {
    let b3 = digest.blake3_hex().unwrap_or_default();
    let name = file.file_name().unwrap_or(file.as_os_str());
    let now = crate::now_utc();
    let event = |kind: &str, detail: String| Event {
        kind: kind.into(),
        time: now.clone(),
        outcome: "success".into(),
        detail: Some(detail),
    };
    let proof = &derivation.proof;
    let events = vec![
        event(
            "migration",
            format!(
                "made from {} with profile {} ({}, FFmpeg {})",
                derivation.sources.join(" + "),
                derivation.profile,
                derivation.software.tool,
                derivation.software.ffmpeg
            ),
        ),
        event(
            "message digest calculation",
            "BLAKE3 and SHA-256 while copying into the store".into(),
        ),
        event(
            "fixity check",
            format!(
                "proof by {}: {}; copy re-read and re-hashed",
                proof.kind, proof.result
            ),
        ),
        event(
            "digital signature generation",
            format!("ed25519 key {}", key.fingerprint()),
        ),
    ];
    let (media, _) = crate::ingest::describe(stored);
    Manifest {
        schema: SCHEMA.into(),
        object: Object {
            size: digest.size,
            blake3: b3.clone(),
            sha256: digest.sha256_hex().unwrap_or_default(),
            device_md5: None,
            tree_leaf_size: leaf_size,
            tree: DirStore::tree_rel(&b3),
        },
        original: Original {
            name: crate::osname::display(name),
            path: crate::osname::display(name),
            path_bytes: crate::osname::bytes_hex(name),
            mtime: None,
        },
        media,
        recording: recording_of(sources),
        collection: Collection {
            station: opts.station.clone(),
            operator: opts.operator.clone(),
            time: now,
            tool: crate::format::TOOL.into(),
            station_key: key.fingerprint(),
        },
        events,
        derived: None,
        derivation: Some(derivation),
    }
}

/// Registers the derivative `file` in `store`, made as `derivation` says
/// from sources registered there: its own object, a signed manifest naming
/// its sources, and a `derivation` log entry, under the registration lock.
/// `expected` is the BLAKE3 its maker computed: bytes that differ are
/// refused ([`DeriveError::Changed`]). Bytes registered already (the same
/// output twice) are [`Outcome::AlreadyRegistered`], and nothing is written.
///
/// ```
/// use custody_evidence::derive::{DeriveOptions, Outcome, register};
/// use custody_evidence::manifest::{Derivation, DerivationProof, Software};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let rec = dir.path().join("recorder");
/// std::fs::create_dir(&rec)?;
/// std::fs::write(rec.join("CLIP.MP4"), b"original bytes")?;
/// let store = custody_evidence::store::DirStore::open(&dir.path().join("store"))?;
/// let key = custody_evidence::keys::StationKey::generate()?;
/// let opts = custody_evidence::ingest::IngestOptions { settle: Default::default(), ..Default::default() };
/// let ingested = custody_evidence::ingest::ingest(&rec, &store, &key, &opts)?;
/// let source = ingested.items[0].blake3.clone().unwrap();
/// let copy = dir.path().join("CLIP.mkv");
/// std::fs::write(&copy, b"a derivative")?;
/// let derivation = Derivation {
///     sources: vec![source],
///     profile: "remux-mkv".into(),
///     parameters: Default::default(),
///     software: Software { tool: "example".into(), ffmpeg: "n/a".into() },
///     proof: DerivationProof { kind: "packets".into(), result: "packets_matched".into(), tracks: vec![] },
/// };
/// let r = register(&store, &key, &copy, None, derivation.clone(), &DeriveOptions::default())?;
/// assert_eq!(r.outcome, Outcome::Registered);
/// let again = register(&store, &key, &copy, None, derivation, &DeriveOptions::default())?;
/// assert_eq!(again.outcome, Outcome::AlreadyRegistered);
/// # Ok(()) }
/// ```
pub fn register(
    store: &DirStore,
    key: &StationKey,
    file: &Path,
    expected: Option<&str>,
    derivation: Derivation,
    opts: &DeriveOptions,
) -> Result<Registration, DeriveError> {
    check(&derivation)?;
    if !store.has_key(&key.fingerprint()) {
        return Err(DeriveError::KeyNotInStore(key.fingerprint()));
    }
    let sources = source_manifests(store, &derivation.sources)?;
    let (temp, digest, tree) = copy_verified(store, file)?;
    let b3 = digest.blake3_hex().unwrap_or_default();
    if let Some(e) = expected
        && e != b3
    {
        return Err(DeriveError::Changed {
            path: file.to_path_buf(),
            detail: format!("its BLAKE3 is {b3}, but its maker reported {e}"),
        });
    }
    let names = derivation.sources.clone();
    let done = |outcome, seq, catalog_error| Registration {
        outcome,
        blake3: b3.clone(),
        sources: names.clone(),
        seq,
        catalog_error,
    };
    if store.is_registered(&b3) {
        return Ok(done(Outcome::AlreadyRegistered, None, None));
    }
    let profile = derivation.profile.clone();
    let signed = manifest(
        key,
        opts,
        file,
        &temp.0,
        (&digest, tree.leaf_size),
        derivation,
        &sources,
    )
    .sign(key)?;
    let registering = store
        .lock_registration()
        .map_err(DeriveError::store("cannot lock the store for registration"))?;
    // Again under the lock: another registration may have finished meanwhile.
    if store.is_registered(&b3) {
        return Ok(done(Outcome::AlreadyRegistered, None, None));
    }
    store
        .put_object(&b3, &temp.0, &tree)
        .map_err(DeriveError::store("the store could not take the object"))?;
    let name = file.file_name().unwrap_or(file.as_os_str());
    let entry = store
        .log()
        .append(
            key,
            NewEntry {
                station: &opts.station,
                actor: "custody archive",
                operator: opts.operator.as_deref(),
                event: EVENT,
                object: Some(&b3),
                details: serde_json::json!({
                    "sources": names,
                    "profile": profile,
                    "name": crate::osname::display(name),
                    "size": digest.size,
                }),
            },
        )
        .map_err(DeriveError::store(
            "stored, but its log entry could not be written (not registered)",
        ))?;
    store.put_manifest(&signed).map_err(DeriveError::store(
        "stored and logged, but its manifest could not be written (registering it again completes it)",
    ))?;
    drop(registering);
    // The catalog is derived from the manifests: failing to index is a warning.
    let catalog_error = crate::catalog::Catalog::open(store)
        .and_then(|c| c.upsert(&signed))
        .err()
        .map(|e| e.to_string());
    Ok(done(Outcome::Registered, Some(entry.seq), catalog_error))
}
