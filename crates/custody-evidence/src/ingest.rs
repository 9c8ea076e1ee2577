//! Verified collection from a recorder's mounted file system.
//!
//! Each file is opened read-only and read once: the bytes are written to a
//! temporary file in the store while the streaming digester hashes them
//! (BLAKE3 with its chunk tree, SHA-256). The copy is fsynced, re-read and
//! re-hashed with BLAKE3 on a second thread while the next file is copied
//! (unless `reverify` is off), parsed, its manifest signed, and only then
//! moved into place, logged, and described by its manifest. A crash at any moment
//! leaves a temporary file (removed at the next start) or a complete
//! registration; running ingest again completes the work. The source is
//! never written to, and symlinks or paths that leave the source are refused.

use crate::keys::StationKey;
use crate::log::NewEntry;
use crate::manifest::{
    Collection, Event, Manifest, Media, Object, Original, Recording, SCHEMA, TrackSummary,
};
use crate::store::{DirStore, Store};
use custody_hash::{Algorithms, DigestOptions, Digester};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Who and where, for the manifests and the log.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Station identifier.
    pub station: String,
    /// Operator.
    pub operator: Option<String>,
    /// Officer number given by the caller (wins over file names and metadata).
    pub officer: Option<String>,
    /// Device serial given by the caller.
    pub device: Option<String>,
    /// Re-read and re-hash each copy before registering it.
    pub reverify: bool,
    /// File-name patterns (see [`crate::names`]); empty means the defaults.
    pub patterns: Vec<String>,
    /// The recorders' UTC offset (`+HH:MM`), for starts known only in local
    /// time (file names); validated by [`crate::parse_offset`].
    pub utc_offset: Option<String>,
    /// UTC offsets per device serial, from the station's configuration
    /// (see [`parse_device_offsets`]); `utc_offset` wins over these.
    pub device_offsets: std::collections::BTreeMap<String, String>,
    /// Files collected at once; 1 reads strictly one file after another
    /// (one USB recorder, spinning disks). 0 counts as 1.
    pub jobs: usize,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Copied, verified and registered.
    Registered,
    /// Its bytes were registered before; nothing was added.
    AlreadyRegistered,
    /// Not collected (symlink, escaping path, unreadable, changed while copying).
    Refused,
    /// A system file, not evidence.
    Skipped,
}

/// One file's result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Item {
    /// Path relative to the source root (lossy UTF-8).
    pub path: String,
    /// Outcome.
    pub outcome: Outcome,
    /// BLAKE3 of the registered bytes.
    pub blake3: Option<String>,
    /// Why, for refused or skipped files.
    pub reason: Option<String>,
}

/// Summary of an ingest run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestReport {
    /// Files looked at.
    pub files: u64,
    /// Bytes read from the source.
    pub bytes: u64,
    /// Newly registered.
    pub registered: u64,
    /// Already present.
    pub already_present: u64,
    /// Refused.
    pub refused: u64,
    /// Skipped system files.
    pub skipped: u64,
    /// Warnings from parsing.
    pub warnings: u64,
    /// Wall time.
    pub seconds: f64,
    /// Source throughput.
    pub mb_per_s: f64,
    /// Per-file results.
    pub items: Vec<Item>,
    /// Registrations that could not be indexed in the catalog (rebuild it).
    pub catalog_errors: Vec<String>,
    /// Files collected at once (after capping).
    pub jobs: usize,
    /// Notes on how the run was set up (a capped `jobs`).
    pub notes: Vec<String>,
}

/// The most files collected at once: four per core, and no more than the
/// open-file limit allows (each file in flight holds about eight
/// descriptors: source, copy, re-read, catalog).
fn max_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let files = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(1024);
    (cores * 4).min(files / 8).max(1)
}

/// System files that recorders and operating systems leave on a volume.
fn is_system_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || matches!(
            lower.as_str(),
            "system volume information"
                | "$recycle.bin"
                | "thumbs.db"
                | "desktop.ini"
                | "autorun.inf"
        )
}

/// Walks `src` without following symlinks; returns files (relative paths) and refusals.
fn walk(src: &Path) -> (Vec<PathBuf>, Vec<Item>) {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(src.join(&rel)) else {
            notes.push(Item {
                path: crate::osname::display(rel.as_os_str()),
                outcome: Outcome::Refused,
                blake3: None,
                reason: Some("directory cannot be read".into()),
            });
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let child = rel.join(&name);
            let shown = crate::osname::display(child.as_os_str());
            let Ok(meta) = std::fs::symlink_metadata(src.join(&child)) else {
                continue;
            };
            if is_system_file(&name.to_string_lossy()) {
                notes.push(Item {
                    path: shown,
                    outcome: Outcome::Skipped,
                    blake3: None,
                    reason: Some("system file".into()),
                });
            } else if meta.file_type().is_symlink() {
                notes.push(Item {
                    path: shown,
                    outcome: Outcome::Refused,
                    blake3: None,
                    reason: Some("symbolic link: not followed".into()),
                });
            } else if meta.is_dir() {
                stack.push(child);
            } else if meta.is_file() {
                files.push(child);
            } else {
                notes.push(Item {
                    path: shown,
                    outcome: Outcome::Refused,
                    blake3: None,
                    reason: Some("not a regular file".into()),
                });
            }
        }
    }
    files.sort();
    (files, notes)
}

/// A temporary copy in the store's `tmp/`, removed when dropped (also while
/// unwinding from a panic), unless it was moved into place first.
struct TempCopy(PathBuf);

impl Drop for TempCopy {
    fn drop(&mut self) {
        // Gone already when it was renamed into `objects/`; the name is unique
        // to this process, so nothing else can be removed by mistake.
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Copied {
    temp: TempCopy,
    digest: custody_hash::FileDigest,
    tree: custody_hash::ChunkTree,
    mtime: Option<String>,
}

fn mtime_of(meta: &std::fs::Metadata) -> Option<String> {
    let t = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(custody_container::time::rfc3339_utc(t.as_secs() as i64))
}

/// Copies `path` into the store's tmp/ while hashing it; checks the source did not change.
fn copy_and_hash(path: &Path, store: &DirStore) -> Result<Copied, String> {
    // Never blocks: a path swapped for a FIFO after the walk is refused.
    let mut src = custody_io::open_regular(path).map_err(|e| format!("cannot open: {e}"))?;
    let before = src.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    let temp = TempCopy(store.temp_path("copy"));
    let result = (|| {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp.0)
            .map_err(|e| format!("cannot create {}: {e}", temp.0.display()))?;
        let mut digester = Digester::new(DigestOptions {
            algorithms: Algorithms::BOTH,
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read failed: {e}")),
            };
            out.write_all(&buf[..n])
                .map_err(|e| format!("write failed: {e}"))?;
            digester.update(&buf[..n]);
        }
        out.sync_all().map_err(|e| format!("fsync failed: {e}"))?;
        // The re-read that verifies the copy must see the disk, not the page cache.
        let _ = custody_io::drop_cache(&out);
        let (digest, tree) = digester.finish();
        let after = std::fs::metadata(path).map_err(|e| format!("vanished while copying: {e}"))?;
        if digest.size != before.len()
            || after.len() != before.len()
            || after.modified().ok() != before.modified().ok()
        {
            return Err(format!(
                "changed while copying ({} bytes before, {} read, {} after)",
                before.len(),
                digest.size,
                after.len()
            ));
        }
        Ok((digest, tree.ok_or("no BLAKE3 tree")?))
    })();
    let (digest, tree) = result?;
    Ok(Copied {
        temp,
        digest,
        tree,
        mtime: mtime_of(&before),
    })
}

/// Streams a file and returns its BLAKE3 digest (and size).
fn blake3_of(path: &Path) -> std::io::Result<custody_hash::FileDigest> {
    let mut f = std::fs::File::open(path)?;
    let opts = DigestOptions {
        algorithms: Algorithms::BLAKE3,
        ..Default::default()
    };
    Ok(custody_hash::hash_reader(&mut f, opts, |_| {})?.0)
}

/// Re-reads the copy and checks its BLAKE3.
fn reverify(c: &Copied) -> Result<(), String> {
    let d = blake3_of(&c.temp.0).map_err(|e| format!("cannot re-read copy: {e}"))?;
    if d.blake3 == c.digest.blake3 && d.size == c.digest.size {
        Ok(())
    } else {
        Err("the copy does not match the source on re-read".into())
    }
}

/// Probes the stored bytes into the manifest's media section.
fn describe(path: &Path) -> (Option<Media>, Recording) {
    let mut rec = Recording::default();
    let Ok(ev) = custody_io::Evidence::open(path, custody_io::ReadMode::Auto) else {
        return (None, rec);
    };
    let p = match custody_container::probe(ev.bytes(), Default::default()) {
        Ok(p) => p,
        Err(e) => {
            let container = custody_container::detect(ev.bytes()).map_or("unknown", |f| f.name());
            let media = Media {
                container: container.to_string(),
                duration_s: None,
                tracks: Vec::new(),
                warnings: Vec::new(),
                error: Some(e.to_string()),
                missing_samples: 0,
            };
            return (Some(media), rec);
        }
    };
    let missing_samples = custody_container::bmff::Mp4::parse(ev.bytes(), Default::default())
        .map_or(0, |m| {
            m.tracks
                .iter()
                .map(|t| {
                    let mut it = t.samples();
                    for _ in it.by_ref() {}
                    it.missing()
                })
                .sum()
        });
    let content =
        custody_hash::content::content_hashes(ev.bytes(), Default::default()).unwrap_or_default();
    rec.location = p.location;
    // Make, model and firmware from QuickTime, Apple/Android `mdta` and GoPro boxes.
    let text = |keys: &[&str]| {
        keys.iter().find_map(|k| match p.metadata.get(*k) {
            Some(custody_container::bmff::MetaValue::Text(t)) => Some(t.trim().to_string()),
            _ => None,
        })
    };
    for (field, keys) in [
        (
            "make",
            &[
                "©mak",
                "com.apple.quicktime.make",
                "com.android.manufacturer",
            ][..],
        ),
        (
            "model",
            &["©mod", "com.apple.quicktime.model", "com.android.model"][..],
        ),
        (
            "firmware",
            &["FIRM", "©swr", "com.apple.quicktime.software"][..],
        ),
    ] {
        if let Some(v) = text(keys) {
            let slot = match field {
                "make" => &mut rec.make,
                "model" => &mut rec.model,
                _ => &mut rec.firmware,
            };
            *slot = Some(v);
            rec.sources.insert(field.into(), "metadata".into());
        }
    }
    if let Some(c) = &p.created {
        rec.start = Some(c.clone());
        rec.sources.insert("start".into(), "metadata".into());
    }
    let tracks = p
        .tracks
        .iter()
        .map(|t| {
            let c = content.iter().find(|c| c.id == t.id);
            TrackSummary {
                id: t.id,
                kind: t.kind.to_string(),
                codec: t.codec.map(str::to_string),
                samples: t.samples,
                keyframes: t.keyframes,
                duration_s: t.duration_s,
                content_blake3: c.map(|c| c.content_blake3.clone()),
                params_blake3: c.and_then(|c| c.params_blake3.clone()),
            }
        })
        .collect();
    let media = Media {
        container: p.container.to_string(),
        duration_s: p.duration_s,
        tracks,
        warnings: p.warnings.iter().map(|w| w.to_string()).collect(),
        error: None,
        missing_samples,
    };
    (Some(media), rec)
}

/// What every ingest worker shares.
struct Shared<'a> {
    src: &'a Path,
    store: &'a DirStore,
    key: &'a StationKey,
    opts: &'a IngestOptions,
    log: crate::log::CustodyLog,
    report: std::sync::Mutex<IngestReport>,
}

impl Shared<'_> {
    fn report(&self) -> std::sync::MutexGuard<'_, IngestReport> {
        self.report.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn push(&self, item: Item) {
        self.report().items.push(item);
    }

    /// Records that `shown`'s bytes are registered already: a log entry, no copy.
    fn already_registered(&self, rel: &Path, shown: String, b3: String) -> std::io::Result<()> {
        let mut details = serde_json::json!({"source": shown, "result": "already registered"});
        source_bytes(&mut details, rel);
        self.log.append(
            self.key,
            NewEntry {
                station: &self.opts.station,
                actor: "custody ingest",
                operator: self.opts.operator.as_deref(),
                event: "fixity check",
                object: Some(&b3),
                details,
            },
        )?;
        self.push(Item {
            path: shown,
            outcome: Outcome::AlreadyRegistered,
            blake3: Some(b3),
            reason: None,
        });
        Ok(())
    }

    /// Records that `shown` was not collected, and why.
    fn refuse(&self, shown: String, reason: String) {
        self.push(Item {
            path: shown,
            outcome: Outcome::Refused,
            blake3: None,
            reason: Some(reason),
        });
    }
}

/// The BLAKE3 of `path` when the catalog knows a registration from the same
/// source path and size and the file's bytes, hashed now, still match it.
fn known_registration(
    sh: &Shared<'_>,
    catalog: Option<&crate::catalog::Catalog>,
    shown: &str,
    path: &Path,
) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    let candidates = catalog?.by_source(shown, size).ok()?;
    let candidates: Vec<String> = candidates
        .into_iter()
        .filter(|h| sh.store.is_registered(h))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let d = blake3_of(path).ok()?;
    let h = d.blake3_hex()?;
    (d.size == size && candidates.contains(&h)).then_some(h)
}

/// Indexes a registered object the catalog lacks (a run stopped between
/// the manifest and the catalog): the catalog heals on the next sighting.
fn index_if_missing(
    sh: &Shared<'_>,
    catalog: Option<&crate::catalog::Catalog>,
    shown: &str,
    b3: &str,
) {
    let Some(c) = catalog else { return };
    let result = c.contains(b3).and_then(|known| {
        if known {
            return Ok(());
        }
        let bytes = sh.store.manifest_bytes(b3)?;
        let signed: crate::manifest::SignedManifest = serde_json::from_slice(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        c.upsert(&signed)
    });
    if let Err(e) = result {
        sh.report().warnings += 1;
        sh.report().catalog_errors.push(format!("{shown}: {e}"));
    }
}

/// Parses a station configuration's device offsets: one `SERIAL +HH:MM` per
/// line; blank lines and `#` comments are skipped.
///
/// ```
/// let m = custody_evidence::ingest::parse_device_offsets("# docks\nSN1234 +01:00\n").unwrap();
/// assert_eq!(m["SN1234"], "+01:00");
/// assert!(custody_evidence::ingest::parse_device_offsets("SN1 one hour").is_err());
/// ```
pub fn parse_device_offsets(
    text: &str,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            [serial, offset] if crate::parse_offset(offset).is_some() => {
                out.insert(serial.to_string(), offset.to_string());
            }
            _ => {
                return Err(format!(
                    "line {}: expected `SERIAL +HH:MM`, found {line:?}",
                    n + 1
                ));
            }
        }
    }
    Ok(out)
}

/// Settles the recording's UTC offset and, with it, a UTC start for a
/// recording known only in local time. A given offset (the caller's, or the
/// station configuration's for this device) wins; otherwise a
/// file holding both a UTC start (metadata) and a local one (its name) gives
/// its own offset, rounded to a quarter hour and kept only within 14 hours.
/// Local and UTC times are never mixed up: without an offset a local start
/// stays local.
fn place_in_utc(rec: &mut Recording, given: Option<(&str, &'static str)>) {
    let derived = || {
        let utc = crate::parse_utc(rec.start.as_deref()?)?;
        let local = crate::parse_utc(&format!("{}Z", rec.start_local.as_deref()?))?;
        let off = ((local - utc) as f64 / 900.0).round() as i64 * 900;
        (off.abs() <= 14 * 3600).then_some(off)
    };
    let given = given.and_then(|(o, source)| Some((crate::parse_offset(o)?, source)));
    let (offset, source) = match (given, derived()) {
        (Some((o, source)), _) => (o, source),
        (None, Some(o)) => (o, "derived: metadata (UTC) and file name (local)"),
        (None, None) => return,
    };
    rec.utc_offset = Some(crate::format_offset(offset));
    rec.sources.insert("utc_offset".into(), source.into());
    if rec.start.is_none()
        && let Some(local) = rec
            .start_local
            .as_deref()
            .and_then(|l| crate::parse_utc(&format!("{l}Z")))
    {
        rec.start = Some(custody_container::time::rfc3339_utc(local - offset));
        rec.sources
            .insert("start".into(), "file name (local) and UTC offset".into());
    }
}

/// Adds `source_bytes` (the exact bytes of a source path that is not UTF-8,
/// [`crate::osname::bytes_hex`]) to a log entry's details.
fn source_bytes(details: &mut serde_json::Value, rel: &Path) {
    if let (Some(hex), Some(map)) = (
        crate::osname::bytes_hex(rel.as_os_str()),
        details.as_object_mut(),
    ) {
        map.insert("source_bytes".into(), hex.into());
    }
}

/// A file copied into the store's `tmp/`, waiting for its re-read and its
/// registration.
struct Pending {
    rel: PathBuf,
    shown: String,
    copied: Copied,
    b3: String,
}

/// The first half of collecting one file: copy while hashing. `None` when
/// the file is done already (refused, or its bytes already registered).
fn copy_one(
    sh: &Shared<'_>,
    rel: PathBuf,
    catalog: Option<&crate::catalog::Catalog>,
) -> std::io::Result<Option<Pending>> {
    let shown = crate::osname::display(rel.as_os_str());
    let path = sh.src.join(&rel);
    // The walk never follows links, but a path can still be swapped under us.
    match std::fs::canonicalize(&path) {
        Ok(real) if real.starts_with(sh.src) => {}
        _ => {
            sh.refuse(shown, "resolves outside the source".into());
            return Ok(None);
        }
    }
    // Seen before at this path with this size? Then hash the source alone
    // (nothing is written) and, if its bytes are registered, we are done.
    if let Some(b3) = known_registration(sh, catalog, &shown, &path) {
        sh.report().bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
        return sh.already_registered(&rel, shown, b3).map(|_| None);
    }
    let copied = match copy_and_hash(&path, sh.store) {
        Ok(c) => c,
        Err(reason) => {
            sh.refuse(shown, reason);
            return Ok(None);
        }
    };
    sh.report().bytes += copied.digest.size;
    let b3 = copied.digest.blake3_hex().unwrap_or_default();
    if sh.store.is_registered(&b3) {
        index_if_missing(sh, catalog, &shown, &b3);
        return sh.already_registered(&rel, shown, b3).map(|_| None);
    }
    Ok(Some(Pending {
        rel,
        shown,
        copied,
        b3,
    }))
}

/// The second half: given the outcome of the copy's re-read (`Ok` when it
/// was not asked for), probe, sign, register, log.
fn register_one(
    sh: &Shared<'_>,
    p: Pending,
    reread: Result<(), String>,
    catalog: Option<&crate::catalog::Catalog>,
) -> std::io::Result<()> {
    let Pending {
        rel,
        shown,
        copied,
        b3,
    } = p;
    if let Err(reason) = reread {
        sh.refuse(shown, reason);
        return Ok(());
    }
    #[cfg(feature = "fault-injection")]
    crate::fault::parse_panic(&shown);
    let (media, mut recording) = describe(&copied.temp.0);
    let patterns: Vec<String> = if sh.opts.patterns.is_empty() {
        crate::names::DEFAULT_PATTERNS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        sh.opts.patterns.clone()
    };
    if let Some(f) = rel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| crate::names::facts_from_name(&patterns, n))
    {
        for (field, value) in [
            ("device_serial", &f.serial),
            ("officer", &f.officer),
            ("unit", &f.unit),
            ("start_local", &f.start_local),
        ] {
            let Some(v) = value else { continue };
            let slot = match field {
                "device_serial" => &mut recording.device_serial,
                "officer" => &mut recording.officer,
                "unit" => &mut recording.unit,
                _ => &mut recording.start_local,
            };
            *slot = Some(v.clone());
            recording
                .sources
                .insert(field.into(), format!("file name ({})", f.pattern));
        }
    }
    let device_offset = recording
        .device_serial
        .as_ref()
        .and_then(|d| sh.opts.device_offsets.get(d));
    place_in_utc(
        &mut recording,
        sh.opts
            .utc_offset
            .as_deref()
            .map(|o| (o, "caller"))
            .or(device_offset.map(|o| (o.as_str(), "station configuration (device)"))),
    );
    if let (Some(start), Some(d)) = (&recording.start, media.as_ref().and_then(|m| m.duration_s)) {
        recording.end = crate::end_time(start, d);
    }
    sh.report().warnings += media.as_ref().map_or(0, |m| m.warnings.len() as u64);
    for (field, value) in [
        ("device_serial", &sh.opts.device),
        ("officer", &sh.opts.officer),
    ] {
        if let Some(v) = value {
            match field {
                "device_serial" => recording.device_serial = Some(v.clone()),
                _ => recording.officer = Some(v.clone()),
            }
            recording.sources.insert(field.into(), "caller".into());
        }
    }
    let now = crate::now_utc();
    let manifest = Manifest {
        schema: SCHEMA.into(),
        object: Object {
            size: copied.digest.size,
            blake3: b3.clone(),
            sha256: copied.digest.sha256_hex().unwrap_or_default(),
            device_md5: None,
            tree_leaf_size: copied.tree.leaf_size,
            tree: DirStore::tree_rel(&b3),
        },
        original: Original {
            name: rel
                .file_name()
                .map(crate::osname::display)
                .unwrap_or_default(),
            path: shown.clone(),
            path_bytes: crate::osname::bytes_hex(rel.as_os_str()),
            mtime: copied.mtime.clone(),
        },
        media,
        recording,
        collection: Collection {
            station: sh.opts.station.clone(),
            operator: sh.opts.operator.clone(),
            time: now.clone(),
            tool: format!("custody {}", env!("CARGO_PKG_VERSION")),
            station_key: sh.key.fingerprint(),
        },
        events: vec![
            Event {
                kind: "ingestion".into(),
                time: now.clone(),
                outcome: "success".into(),
                detail: Some(format!("copied from {shown}")),
            },
            Event {
                kind: "message digest calculation".into(),
                time: now.clone(),
                outcome: "success".into(),
                detail: Some("BLAKE3 and SHA-256 while copying".into()),
            },
            Event {
                kind: "fixity check".into(),
                time: now.clone(),
                outcome: "success".into(),
                detail: Some(if sh.opts.reverify {
                    "copy re-read and re-hashed".into()
                } else {
                    "re-read skipped (--no-reverify)".into()
                }),
            },
            Event {
                kind: "digital signature generation".into(),
                time: now,
                outcome: "success".into(),
                detail: Some(format!("ed25519 key {}", sh.key.fingerprint())),
            },
        ],
        derived: Vec::new(),
    };
    // Signed before anything is registered: a manifest that cannot be signed
    // (no canonical form) refuses the file and leaves nothing behind.
    let signed = match manifest.sign(sh.key) {
        Ok(s) => s,
        Err(e) => {
            sh.refuse(shown, format!("its manifest cannot be signed: {e}"));
            return Ok(());
        }
    };
    // One registration per object: another ingest (thread or process) may
    // have registered the same bytes since the check above.
    let registering = sh.store.lock_registration()?;
    if sh.store.is_registered(&b3) {
        drop(registering);
        index_if_missing(sh, catalog, &shown, &b3);
        return sh.already_registered(&rel, shown, b3);
    }
    // Order matters for crash safety: the object, then its log entry, then the
    // manifest that makes it registered. A crash before the manifest leaves an
    // unregistered object that the next run registers (logging it again), so
    // every manifest has an ingestion entry in the log.
    sh.store.put_object(&b3, &copied.temp.0, &copied.tree)?;
    sh.log.append(
        sh.key,
        NewEntry {
            station: &sh.opts.station,
            actor: "custody ingest",
            operator: sh.opts.operator.as_deref(),
            event: "ingestion",
            object: Some(&b3),
            details: {
                let mut d = serde_json::json!({"source": shown, "size": copied.digest.size});
                source_bytes(&mut d, &rel);
                d
            },
        },
    )?;
    sh.store.put_manifest(&signed)?;
    drop(registering);
    // The catalog is derived from the manifests (`custody catalog rebuild`):
    // a failure to index is a warning, never a lost registration.
    if let Err(e) = catalog.as_ref().map_or(Ok(()), |c| c.upsert(&signed)) {
        sh.report().warnings += 1;
        sh.report().catalog_errors.push(format!("{shown}: {e}"));
    }
    sh.push(Item {
        path: shown,
        outcome: Outcome::Registered,
        blake3: Some(b3),
        reason: None,
    });

    Ok(())
}

/// Runs one step for the file `shown` with a panic confined to it: the file
/// is refused with the panic's message (`Ok(None)`) and the other files are
/// collected.
///
/// Every parser is meant never to panic on any input (and is fuzzed for it);
/// this is the defence should one still do so. The store stays consistent:
/// a panic before the object is moved into place leaves nothing (the
/// temporary copy is removed while unwinding); one after it leaves what a
/// crash at that point would, which the next run completes.
fn isolated<T>(
    sh: &Shared<'_>,
    shown: &str,
    step: impl FnOnce() -> std::io::Result<T>,
) -> std::io::Result<Option<T>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(r) => r.map(Some),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            sh.refuse(
                shown.to_string(),
                format!(
                    "internal error while reading this file (nothing registered for it): {message}"
                ),
            );
            Ok(None)
        }
    }
}

/// One worker: takes files one after another and copies each, while the
/// previous file's copy is re-read from disk on a second thread; then
/// registers that previous file. The source is read strictly sequentially;
/// the re-read (the store's disk) overlaps the next copy (the source's).
fn worker(
    sh: &Shared<'_>,
    next: &dyn Fn() -> Option<PathBuf>,
    finished: &dyn Fn(),
    catalog: Option<&crate::catalog::Catalog>,
) -> std::io::Result<()> {
    std::thread::scope(|s| {
        type Reread<'s> = std::thread::ScopedJoinHandle<'s, (Pending, Result<(), String>)>;
        let mut pending: Option<(String, Reread<'_>)> = None;
        loop {
            let rel = next();
            let copied = match &rel {
                Some(r) => {
                    let shown = crate::osname::display(r.as_os_str());
                    isolated(sh, &shown, || copy_one(sh, r.clone(), catalog))?.flatten()
                }
                None => None,
            };
            if let Some((shown, reread)) = pending.take() {
                match reread.join() {
                    Ok((p, r)) => {
                        isolated(sh, &shown, || register_one(sh, p, r, catalog))?;
                    }
                    Err(_) => sh.refuse(shown, "internal error while re-reading the copy".into()),
                }
                finished();
            }
            let Some(_) = rel else { return Ok(()) };
            match copied {
                Some(p) if sh.opts.reverify => {
                    let shown = p.shown.clone();
                    pending = Some((
                        shown,
                        s.spawn(move || {
                            let r = reverify(&p.copied);
                            (p, r)
                        }),
                    ));
                }
                Some(p) => {
                    let shown = p.shown.clone();
                    isolated(sh, &shown, || register_one(sh, p, Ok(()), catalog))?;
                    finished();
                }
                None => finished(),
            }
        }
    })
}

/// Checks that `key` may sign in `store`: a new store publishes it as its
/// first key; otherwise it must be one of the store's keys (a new key joins
/// only through `custody key rotate`, introduced by the key it replaces).
fn adopt_key(store: &DirStore, key: &StationKey) -> std::io::Result<()> {
    if store.has_key(&key.fingerprint()) {
        return Ok(());
    }
    // Two ingests may start on a new store at once: one publishes.
    let _registering = store.lock_registration()?;
    if store.has_key(&key.fingerprint()) {
        return Ok(());
    }
    if store.key_records()?.is_empty() {
        return store.publish_key(&crate::keyring::KeyRecord::introduce(key, key)?);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!(
            "station key {} is not a key of the store {}: use its own key, or introduce this one with `custody key rotate`",
            key.fingerprint(),
            store.root().display()
        ),
    ))
}

/// Collects every file under `src` into `store`, `opts.jobs` files at a time.
pub fn ingest(
    src: &Path,
    store: &DirStore,
    key: &StationKey,
    opts: &IngestOptions,
) -> std::io::Result<IngestReport> {
    ingest_with_progress(src, store, key, opts, &|_, _| {})
}

/// [`ingest`], calling `progress(done, total)` after each file.
pub fn ingest_with_progress(
    src: &Path,
    store: &DirStore,
    key: &StationKey,
    opts: &IngestOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> std::io::Result<IngestReport> {
    let started = std::time::Instant::now();
    if let Some(o) = opts.utc_offset.as_deref()
        && crate::parse_offset(o).is_none()
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("UTC offset {o:?} is not +HH:MM or -HH:MM (at most 14 hours)"),
        ));
    }
    let src = std::fs::canonicalize(src)?;
    if !src.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is not a directory: give the recorder's mounted folder",
                src.display()
            ),
        ));
    }
    let root = std::fs::canonicalize(store.root())?;
    if root.starts_with(&src) || src.starts_with(&root) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "the store {} and the source {} must not contain one another",
                root.display(),
                src.display()
            ),
        ));
    }
    adopt_key(store, key)?;
    let (files, notes) = walk(&src);
    let report = IngestReport {
        files: files.len() as u64,
        ..Default::default()
    };
    let shared = Shared {
        src: &src,
        store,
        key,
        opts,
        log: store.log(),
        report: std::sync::Mutex::new(report),
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let cap = max_jobs();
    let jobs = opts.jobs.clamp(1, cap).min(files.len().max(1));
    if opts.jobs > cap {
        shared.report().notes.push(format!(
            "jobs {} capped at {cap} (four per core, within the open-file limit)",
            opts.jobs
        ));
    }
    shared.report().jobs = jobs;
    let results: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| -> std::io::Result<()> {
                    // SQLite connections are per thread; the catalog is derived data.
                    let catalog = match crate::catalog::Catalog::open(store) {
                        Ok(c) => Some(c),
                        Err(e) => {
                            shared
                                .report()
                                .catalog_errors
                                .push(format!("catalog unavailable: {e}"));
                            None
                        }
                    };
                    let take = || {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        files.get(i).cloned()
                    };
                    let finished = || {
                        progress(
                            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                            files.len(),
                        )
                    };
                    worker(&shared, &take, &finished, catalog.as_ref())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("an ingest worker panicked")))
            })
            .collect()
    });
    for r in results {
        r?;
    }
    let mut report = shared
        .report
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    report.items.sort_by(|a, b| a.path.cmp(&b.path));
    report.items.extend(notes);
    for i in &report.items {
        match i.outcome {
            Outcome::Registered => report.registered += 1,
            Outcome::AlreadyRegistered => report.already_present += 1,
            Outcome::Refused => report.refused += 1,
            Outcome::Skipped => report.skipped += 1,
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.mb_per_s = if report.seconds > 0.0 {
        report.bytes as f64 / 1e6 / report.seconds
    } else {
        0.0
    };
    Ok(report)
}
