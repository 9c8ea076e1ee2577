//! Verified collection from a recorder's mounted file system.
//!
//! Each file is opened read-only and read once: the bytes are written to a
//! temporary file in the store while the streaming digester hashes them
//! (BLAKE3 with its chunk tree, SHA-256). The copy is fsynced, re-read and
//! re-hashed with BLAKE3 on a second thread while the next file is copied
//! (unless `reverify` is off), parsed, its manifest signed, and only then
//! moved into place, logged, and described by its manifest. A crash at any moment
//! leaves a temporary file (removed at the next start) or a complete
//! registration, or an object that the next run's [`crate::recover`] step
//! completes or rolls back. The source is never written to; it is walked and
//! opened relative to directory handles, so no symbolic
//! link is followed and paths of any depth are collected.
//!
//! Every entry under the source ends as one [`Item`]: registered, already
//! registered, deferred (still being written: it changed between the walk,
//! the copy and the end of a settle time), refused with the reason, or
//! skipped (a system file).

use crate::keys::StationKey;
use crate::log::NewEntry;
use crate::manifest::{
    Collection, Event, Manifest, Media, Object, Original, Recording, SCHEMA, TrackSummary,
};
use crate::source::{Cursor, Kind, Stamp, Tree};
use crate::store::DirStore;
use custody_hash::{Algorithms, DigestOptions, Digester};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a file must have stood still before it is collected, by default
/// (see [`IngestOptions::settle`]).
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(2);

/// Who and where, for the manifests and the log.
#[derive(Debug, Clone)]
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
    /// Settle time: a file is collected only once it has stood still this
    /// long, judged by its modification time or, for a time in the future
    /// (a recorder's clock), by watching it from the walk on. Its size,
    /// modification time and identity must not move between the walk, the
    /// copy and the end of that time, else it is deferred as still being
    /// written. A run waits at most this long in all (default
    /// [`DEFAULT_SETTLE`]; zero only compares before and after the copy).
    pub settle: Duration,
    /// Set to stop between files: those not begun are reported `deferred`
    /// ("cancelled"), the ones in progress finish.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            station: String::new(),
            operator: None,
            officer: None,
            device: None,
            reverify: false,
            patterns: Vec::new(),
            utc_offset: None,
            device_offsets: Default::default(),
            jobs: 0,
            settle: DEFAULT_SETTLE,
            cancel: None,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Copied, verified and registered.
    Registered,
    /// Its bytes were registered before; nothing was added.
    AlreadyRegistered,
    /// Not collected now because it is still being written (it changed
    /// during or right after its copy): collect it again later.
    Deferred,
    /// Not collected (symlink, escaping path, unreadable, vanished, the
    /// store could not take it).
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
    /// Why, for deferred, refused or skipped files.
    pub reason: Option<String>,
    /// The object this registration supersedes: an earlier registration
    /// from the same path whose bytes are the start of these (collected
    /// while the recorder was still writing). Recorded in the log; the
    /// earlier object is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
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
    /// Deferred: still being written.
    pub deferred: u64,
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
    /// What the run did, before collecting, about registrations an earlier
    /// run left unfinished (see [`crate::recover`]).
    pub recovered: Vec<crate::recover::Recovery>,
    /// Registrations that could not be indexed in the catalog (rebuild it).
    pub catalog_errors: Vec<String>,
    /// Files collected at once (after capping).
    pub jobs: usize,
    /// Notes on how the run was set up (a capped `jobs`).
    pub notes: Vec<String>,
}

impl IngestReport {
    /// True when every file was registered, already present or skipped, and
    /// nothing an earlier run left unfinished was left so: the recorder was
    /// fully collected.
    pub fn complete(&self) -> bool {
        self.deferred == 0
            && self.refused == 0
            && self
                .recovered
                .iter()
                .all(|r| r.action != crate::recover::Action::Left)
    }
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

/// A refusal of `path`, for `reason`.
fn refused(path: String, reason: String) -> Item {
    Item {
        path,
        outcome: Outcome::Refused,
        blake3: None,
        reason: Some(reason),
        supersedes: None,
    }
}

/// Walks the source through directory handles, never following a symbolic
/// link; returns its files (relative paths, with their stamps as the walk
/// saw them), and an item for every other entry: skipped system files and
/// refusals, each with its reason (an entry that cannot be examined, a
/// directory that cannot be read, a link, a special file).
fn walk(tree: &Tree) -> (Vec<(PathBuf, Stamp)>, Vec<Item>) {
    let mut cursor = tree.cursor();
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let shown_dir = if rel.as_os_str().is_empty() {
            ".".to_string()
        } else {
            crate::osname::display(rel.as_os_str())
        };
        let (entries, stopped) = match cursor.list(&rel) {
            Ok(l) => l,
            Err(e) => {
                notes.push(refused(
                    shown_dir,
                    format!("directory cannot be read: {e}; nothing in it was collected"),
                ));
                continue;
            }
        };
        if let Some(e) = stopped {
            notes.push(refused(
                shown_dir,
                format!("directory could not be read to its end: {e}; entries after the error were not seen"),
            ));
        }
        for (name, st) in entries {
            let child = rel.join(&name);
            let shown = crate::osname::display(child.as_os_str());
            #[cfg(feature = "fault-injection")]
            let st = crate::fault::stat(&shown, st);
            if is_system_file(&name.to_string_lossy()) {
                notes.push(Item {
                    path: shown,
                    outcome: Outcome::Skipped,
                    blake3: None,
                    reason: Some("system file".into()),
                    supersedes: None,
                });
                continue;
            }
            match st {
                Err(e) => notes.push(refused(
                    shown,
                    format!("cannot be examined (stat failed: {e}); nothing collected"),
                )),
                Ok(s) => match s.kind {
                    Kind::Symlink => {
                        notes.push(refused(shown, "symbolic link: not followed".into()))
                    }
                    Kind::Dir => stack.push(child),
                    Kind::File => files.push((child, s)),
                    Kind::Other => notes.push(refused(shown, "not a regular file".into())),
                },
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
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

/// A stamp's modification time for the manifest (RFC 3339 UTC), when after 1970.
fn mtime_text(st: &Stamp) -> Option<String> {
    (st.mtime.0 >= 0).then(|| custody_container::time::rfc3339_utc(st.mtime.0))
}

/// Why a file is not collected in this run.
enum NotNow {
    /// It is still being written: collect it again later.
    Deferred(String),
    /// It cannot be collected, and why.
    Refused(String),
}

/// A file that moved (`change`) between two looks at it.
fn still_written(change: String) -> NotNow {
    NotNow::Deferred(format!(
        "still being written: {change}; collect it again once the recorder has finished"
    ))
}

/// Copies the open source `src` (stamped `before` when it was opened) into
/// the store's tmp/ while hashing it; the file must not have moved during
/// the copy.
fn copy_and_hash(
    src: &mut std::fs::File,
    before: &Stamp,
    store: &DirStore,
) -> Result<Copied, NotNow> {
    let temp = TempCopy(store.temp_path("copy"));
    let result = (|| {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp.0)
            .map_err(|e| NotNow::Refused(format!("cannot create {}: {e}", temp.0.display())))?;
        let mut digester = Digester::new(DigestOptions {
            algorithms: Algorithms::BOTH,
            ..Default::default()
        })
        .map_err(|e| NotNow::Refused(e.to_string()))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NotNow::Refused(format!("read failed: {e}"))),
            };
            out.write_all(&buf[..n]).map_err(|e| {
                NotNow::Refused(format!(
                    "the store could not take the copy: write failed: {e}"
                ))
            })?;
            digester.update(&buf[..n]);
        }
        out.sync_all().map_err(|e| {
            NotNow::Refused(format!(
                "the store could not take the copy: fsync failed: {e}"
            ))
        })?;
        // The re-read that verifies the copy must see the disk, not the page cache.
        let _ = custody_io::drop_cache(&out);
        let (digest, tree) = digester.finish();
        let after = crate::source::stamp_of(src)
            .map_err(|e| NotNow::Refused(format!("cannot stat after copying: {e}")))?;
        if digest.size != before.size {
            return Err(still_written(format!(
                "changed while copying ({} bytes at the start, {} read)",
                before.size, digest.size
            )));
        }
        if let Some(change) = before.change(&after) {
            return Err(still_written(format!("changed while copying ({change})")));
        }
        Ok((
            digest,
            tree.ok_or(NotNow::Refused("no BLAKE3 tree".into()))?,
        ))
    })();
    let (digest, tree) = result?;
    Ok(Copied {
        temp,
        digest,
        tree,
        mtime: mtime_text(before),
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
pub(crate) fn describe(path: &Path) -> (Option<Media>, Recording) {
    let mut rec = Recording::default();
    let Ok(ev) = custody_io::Evidence::open(path, custody_io::ReadMode::Auto) else {
        return (None, rec);
    };
    let described = match custody_hash::content::describe(ev.bytes(), Default::default()) {
        Ok(d) => d,
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
    let p = described.probe;
    let missing_samples = described.samples_beyond_end;
    let content = described.content.unwrap_or_default();
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
                "exif:Make",
            ][..],
        ),
        (
            "model",
            &[
                "©mod",
                "com.apple.quicktime.model",
                "com.android.model",
                "exif:Model",
            ][..],
        ),
        (
            "firmware",
            &[
                "FIRM",
                "©swr",
                "com.apple.quicktime.software",
                "INFO:ISFT",
                "exif:Software",
            ][..],
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
    // The recorder's local time: Broadcast Wave's origination, a photo's
    // DateTimeOriginal (UTC already in `start` when the photo gave its offset).
    for (key, source) in [
        ("bext:origination", "metadata (bext)"),
        ("exif:taken", "metadata (EXIF)"),
    ] {
        if let Some(local) = text(&[key]) {
            rec.start_local = Some(local);
            rec.sources.insert("start_local".into(), source.into());
        }
    }
    if let Some(serial) = text(&["exif:SerialNumber"]).filter(|s| !s.is_empty()) {
        rec.device_serial = Some(serial);
        rec.sources
            .insert("device_serial".into(), "metadata (EXIF)".into());
    }
    let tracks = p
        .tracks
        .iter()
        .map(|t| {
            let c = content.iter().find(|c| c.id == t.id);
            TrackSummary {
                id: t.id,
                kind: t.kind.to_string(),
                codec: t.codec.map(|c| c.to_string()),
                samples: t.samples,
                keyframes: t.keyframes,
                duration_s: t.duration_s,
                content_blake3: c.map(|c| c.content_blake3.to_string()),
                params_blake3: c.and_then(|c| c.params_blake3.map(|p| p.to_string())),
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
    tree: &'a Tree,
    store: &'a DirStore,
    key: &'a StationKey,
    opts: &'a IngestOptions,
    log: crate::log::CustodyLog,
    /// When the walk began: a file whose stamp has not moved since is
    /// settled once `opts.settle` has passed.
    walked: SystemTime,
    report: std::sync::Mutex<IngestReport>,
}

impl Shared<'_> {
    fn report(&self) -> std::sync::MutexGuard<'_, IngestReport> {
        self.report.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn push(&self, item: Item) {
        self.report().items.push(item);
    }

    /// Records that `shown`'s bytes are registered already: a log entry, no
    /// copy. A sighting that cannot be logged is refused (with the object
    /// it matched): the record of custody is then incomplete.
    fn already_registered(&self, rel: &Path, shown: String, b3: String) {
        let mut details = serde_json::json!({"source": shown, "result": "already registered"});
        source_bytes(&mut details, rel);
        let logged = self.log.append(
            self.key,
            NewEntry {
                station: &self.opts.station,
                actor: "custody ingest",
                operator: self.opts.operator.as_deref(),
                event: "fixity check",
                object: Some(&b3),
                details,
            },
        );
        let (outcome, reason) = match logged {
            Ok(_) => (Outcome::AlreadyRegistered, None),
            Err(e) => (
                Outcome::Refused,
                Some(format!(
                    "its bytes are registered already, but this sighting could not be logged: {e}"
                )),
            ),
        };
        self.push(Item {
            path: shown,
            outcome,
            blake3: Some(b3),
            reason,
            supersedes: None,
        });
    }

    /// Records that `shown` was not collected, and why.
    fn refuse(&self, shown: String, reason: String) {
        self.push(refused(shown, reason));
    }

    /// Records that `shown` was not collected now (deferred or refused).
    fn not_now(&self, shown: String, why: NotNow) {
        self.push(match why {
            NotNow::Refused(reason) => refused(shown, reason),
            NotNow::Deferred(reason) => Item {
                path: shown,
                outcome: Outcome::Deferred,
                blake3: None,
                reason: Some(reason),
                supersedes: None,
            },
        });
    }
}

/// The BLAKE3 of the open source `file` (`size` bytes) when the catalog
/// knows a registration from the same source path and size and the file's
/// bytes, hashed now, still match it. The file is read from its start and
/// left positioned at its start.
fn known_registration(
    sh: &Shared<'_>,
    catalog: Option<&crate::catalog::Catalog>,
    shown: &str,
    file: &mut std::fs::File,
    size: u64,
) -> Option<String> {
    let candidates = catalog?.by_source(shown, size).ok()?;
    let candidates: Vec<String> = candidates
        .into_iter()
        .filter(|h| sh.store.is_registered(h))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let opts = DigestOptions {
        algorithms: Algorithms::BLAKE3,
        ..Default::default()
    };
    let d = custody_hash::hash_reader(&mut *file, opts, |_| {});
    file.rewind().ok()?;
    let d = d.ok()?.0;
    let h = d.blake3_hex()?;
    (d.size == size && candidates.contains(&h)).then_some(h)
}

/// The registration that the copy `c` of `shown` supersedes: the largest
/// object registered (in the catalog) from the same source path that is
/// shorter than `c` and whose bytes are exactly the start of `c`'s, i.e. a
/// version collected while the recorder was still writing. Its chunk tree
/// rules candidates out cheaply (a leaf that differs); the prefix is then
/// hashed and compared with its BLAKE3, so the claim is exact.
fn superseded(
    sh: &Shared<'_>,
    catalog: Option<&crate::catalog::Catalog>,
    shown: &str,
    c: &Copied,
) -> Option<String> {
    let mut candidates: Vec<(String, u64)> = catalog?
        .from_source(shown)
        .ok()?
        .into_iter()
        .filter(|(h, size)| {
            *size > 0
                && *size < c.digest.size
                && crate::keys::is_digest_hex(h)
                && sh.store.is_registered(h)
        })
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.1));
    candidates.into_iter().find_map(|(h, size)| {
        let old_tree = std::fs::read(sh.store.root().join(DirStore::tree_rel(&h)))
            .ok()
            .and_then(|b| custody_hash::ChunkTree::decode(&b).ok());
        if let Some(t) = old_tree
            && t.leaf_size == c.tree.leaf_size
            && t.size == size
        {
            let full = (size / u64::from(t.leaf_size)) as usize;
            if t.leaves.get(..full) != c.tree.leaves.get(..full) {
                return None;
            }
        }
        let mut f = std::fs::File::open(&c.temp.0).ok()?;
        let mut hasher = blake3::Hasher::new();
        let n = std::io::copy(&mut (&mut f).take(size), &mut hasher).ok()?;
        (n == size && hasher.finalize().to_hex().as_str() == h).then_some(h)
    })
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
) -> Result<std::collections::BTreeMap<String, String>, OffsetsError> {
    let mut out = std::collections::BTreeMap::new();
    for (line, l) in crate::config_lines(text) {
        match l.split_whitespace().collect::<Vec<_>>()[..] {
            [serial, offset] if crate::parse_offset(offset).is_some() => {
                out.insert(serial.to_string(), offset.to_string());
            }
            _ => {
                return Err(OffsetsError {
                    line,
                    text: l.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// A line of a device-offsets file that is not `SERIAL +HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: expected `SERIAL +HH:MM`, found {text:?}")]
pub struct OffsetsError {
    /// 1-based line number.
    pub line: usize,
    /// The line.
    pub text: String,
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

/// Whether the caller asked the ingest to stop.
fn cancelled(opts: &IngestOptions) -> bool {
    opts.cancel
        .as_ref()
        .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
}

/// A file copied into the store's `tmp/`, waiting for its re-read and its
/// registration.
struct Pending {
    rel: PathBuf,
    shown: String,
    copied: Copied,
    b3: String,
}

/// The first half of collecting one file: wait until it has settled, copy
/// it while hashing, check it did not move. `None` when the file is done
/// already (deferred, refused, or its bytes already registered).
fn copy_one(
    sh: &Shared<'_>,
    cursor: &mut Cursor<'_>,
    rel: PathBuf,
    walked: Stamp,
    catalog: Option<&crate::catalog::Catalog>,
) -> std::io::Result<Option<Pending>> {
    let shown = crate::osname::display(rel.as_os_str());
    // Opened through directory handles, never following a link, never
    // blocking (a FIFO swapped in after the walk is refused).
    let (mut file, before) = match cursor.open(&rel) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            sh.refuse(shown, "vanished before it could be copied".into());
            return Ok(None);
        }
        Err(e) => {
            sh.refuse(shown, format!("cannot open: {e}"));
            return Ok(None);
        }
    };
    if let Some(change) = walked.change(&before) {
        sh.not_now(
            shown,
            still_written(format!("changed since the source was listed ({change})")),
        );
        return Ok(None);
    }
    // Settled? Unchanged for `settle` since its modification time, or (a
    // time in the future, a recorder's clock) since the walk. All waits end
    // by the walk's start plus `settle`.
    let since = before.modified().min(sh.walked);
    if let Ok(wait) = (since + sh.opts.settle).duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
        match cursor.stat(&rel) {
            Ok(now) => {
                if let Some(change) = before.change(&now) {
                    let waited = format!(
                        "changed within the settle time of {:?} ({change})",
                        sh.opts.settle
                    );
                    sh.not_now(shown, still_written(waited));
                    return Ok(None);
                }
            }
            Err(e) => {
                sh.refuse(shown, format!("vanished before it could be copied: {e}"));
                return Ok(None);
            }
        }
    }
    // Seen before at this path with this size? Then hash the source alone
    // (nothing is written) and, if its bytes are registered, we are done.
    if let Some(b3) = known_registration(sh, catalog, &shown, &mut file, before.size) {
        sh.report().bytes += before.size;
        sh.already_registered(&rel, shown, b3);
        return Ok(None);
    }
    let copied = match copy_and_hash(&mut file, &before, sh.store) {
        Ok(c) => c,
        Err(why) => {
            sh.not_now(shown, why);
            return Ok(None);
        }
    };
    // Still the same file under the same name?
    match cursor.stat(&rel) {
        Ok(now) => {
            if let Some(change) = before.change(&now) {
                sh.not_now(
                    shown,
                    still_written(format!("changed while copying ({change})")),
                );
                return Ok(None);
            }
        }
        Err(e) => {
            sh.refuse(
                shown,
                format!("vanished while it was copied: {e}; nothing registered"),
            );
            return Ok(None);
        }
    }
    sh.report().bytes += copied.digest.size;
    let b3 = copied.digest.blake3_hex().unwrap_or_default();
    if sh.store.is_registered(&b3) {
        index_if_missing(sh, catalog, &shown, &b3);
        sh.already_registered(&rel, shown, b3);
        return Ok(None);
    }
    Ok(Some(Pending {
        rel,
        shown,
        copied,
        b3,
    }))
}

/// What a manifest says of the bytes it describes and where they came from.
pub(crate) struct Facts<'a> {
    /// Path relative to the source (its last component is the file name),
    /// in display form ([`crate::osname::display`]).
    pub path: &'a str,
    /// The path's exact bytes in hex when it is not UTF-8.
    pub path_bytes: Option<String>,
    /// File name, for the name patterns.
    pub name: &'a str,
    /// Digest of the bytes.
    pub digest: &'a custody_hash::FileDigest,
    /// Leaf size of their chunk tree.
    pub leaf_size: u32,
    /// Modification time on the recorder.
    pub mtime: Option<String>,
    /// Where the bytes are now (probed for the media section).
    pub stored: &'a Path,
    /// Details of the `ingestion`, `message digest calculation` and
    /// `fixity check` events.
    pub events: [String; 3],
}

/// The manifest of `f`, with the warnings the probe found.
pub(crate) fn manifest_for(
    opts: &IngestOptions,
    key: &StationKey,
    f: Facts<'_>,
) -> (Manifest, u64) {
    let (media, mut recording) = describe(f.stored);
    let patterns: Vec<String> = if opts.patterns.is_empty() {
        crate::names::DEFAULT_PATTERNS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        opts.patterns.clone()
    };
    if let Some(n) = crate::names::facts_from_name(&patterns, f.name) {
        for (field, value) in [
            ("device_serial", &n.serial),
            ("officer", &n.officer),
            ("unit", &n.unit),
            ("start_local", &n.start_local),
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
                .insert(field.into(), format!("file name ({})", n.pattern));
        }
    }
    let device_offset = recording
        .device_serial
        .as_ref()
        .and_then(|d| opts.device_offsets.get(d));
    place_in_utc(
        &mut recording,
        opts.utc_offset
            .as_deref()
            .map(|o| (o, "caller"))
            .or(device_offset.map(|o| (o.as_str(), "station configuration (device)"))),
    );
    if let (Some(start), Some(d)) = (&recording.start, media.as_ref().and_then(|m| m.duration_s)) {
        recording.end = crate::end_time(start, d);
    }
    let warnings = media.as_ref().map_or(0, |m| m.warnings.len() as u64);
    for (field, value) in [("device_serial", &opts.device), ("officer", &opts.officer)] {
        if let Some(v) = value {
            match field {
                "device_serial" => recording.device_serial = Some(v.clone()),
                _ => recording.officer = Some(v.clone()),
            }
            recording.sources.insert(field.into(), "caller".into());
        }
    }
    let now = crate::now_utc();
    let b3 = f.digest.blake3_hex().unwrap_or_default();
    let [ingestion, digests, fixity] = f.events;
    let event = |kind: &str, detail: String| Event {
        kind: kind.into(),
        time: now.clone(),
        outcome: "success".into(),
        detail: Some(detail),
    };
    let events = vec![
        event("ingestion", ingestion),
        event("message digest calculation", digests),
        event("fixity check", fixity),
        event(
            "digital signature generation",
            format!("ed25519 key {}", key.fingerprint()),
        ),
    ];
    let manifest = Manifest {
        schema: SCHEMA.into(),
        object: Object {
            size: f.digest.size,
            blake3: b3.clone(),
            sha256: f.digest.sha256_hex().unwrap_or_default(),
            device_md5: None,
            tree_leaf_size: f.leaf_size,
            tree: DirStore::tree_rel(&b3),
        },
        original: Original {
            name: f.name.to_string(),
            path: f.path.to_string(),
            path_bytes: f.path_bytes,
            mtime: f.mtime,
        },
        media,
        recording,
        collection: Collection {
            station: opts.station.clone(),
            operator: opts.operator.clone(),
            time: now.clone(),
            tool: format!("custody {}", env!("CARGO_PKG_VERSION")),
            station_key: key.fingerprint(),
        },
        events,
        derived: None,
        derivation: None,
    };
    (manifest, warnings)
}

/// The store steps after which a test can make the store fail.
#[cfg(feature = "fault-injection")]
use crate::fault::Step;
#[cfg(not(feature = "fault-injection"))]
enum Step {
    Object,
    Log,
}

/// The fault a test injected after `step` for `shown`, if any (feature
/// `fault-injection`; always `Ok` without it).
fn injected(shown: &str, step: Step) -> std::io::Result<()> {
    #[cfg(feature = "fault-injection")]
    return crate::fault::store_full(shown, step);
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = (shown, step);
        Ok(())
    }
}

/// The second half: given the outcome of the copy's re-read (`Ok` when it
/// was not asked for), probe, sign, register, log. A store that cannot take
/// a step refuses the file and says what it left behind (the next run's
/// recovery completes or removes it).
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
    let supersedes = superseded(sh, catalog, &shown, &copied);
    let copied_from = match &supersedes {
        Some(old) => format!(
            "copied from {shown}; supersedes {old}, registered earlier from the same path, \
             whose bytes are the start of these (collected while still being written)"
        ),
        None => format!("copied from {shown}"),
    };
    let name = rel
        .file_name()
        .map(crate::osname::display)
        .unwrap_or_default();
    let (manifest, warnings) = manifest_for(
        sh.opts,
        sh.key,
        Facts {
            path: &shown,
            path_bytes: crate::osname::bytes_hex(rel.as_os_str()),
            name: &name,
            digest: &copied.digest,
            leaf_size: copied.tree.leaf_size,
            mtime: copied.mtime.clone(),
            stored: &copied.temp.0,
            events: [
                copied_from,
                "BLAKE3 and SHA-256 while copying".into(),
                if sh.opts.reverify {
                    "copy re-read and re-hashed".into()
                } else {
                    "re-read skipped (--no-reverify)".into()
                },
            ],
        },
    );
    sh.report().warnings += warnings;
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
    let registering = match sh.store.lock_registration() {
        Ok(l) => l,
        Err(e) => {
            sh.refuse(
                shown,
                format!("the store cannot be locked for registration: {e}; nothing registered"),
            );
            return Ok(());
        }
    };
    if sh.store.is_registered(&b3) {
        drop(registering);
        index_if_missing(sh, catalog, &shown, &b3);
        sh.already_registered(&rel, shown, b3);
        return Ok(());
    }
    // Order matters for crash safety: the object, then its log entry, then the
    // manifest that makes it registered. A crash (or a full disk) before the
    // manifest leaves an object, with or without its entry, that the next
    // run completes or rolls back (`crate::recover`), so every manifest has
    // an ingestion entry in the log.
    if let Err(e) = sh.store.put_object(&b3, &copied.temp.0, &copied.tree) {
        sh.refuse(
            shown,
            format!("the store could not take the object: {e}; nothing registered"),
        );
        return Ok(());
    }
    let mut details = serde_json::json!({"source": shown, "size": copied.digest.size});
    source_bytes(&mut details, &rel);
    if let Some(old) = &supersedes {
        details["supersedes"] = old.clone().into();
    }
    let logged = injected(&shown, Step::Object).and_then(|()| {
        sh.log.append(
            sh.key,
            NewEntry {
                station: &sh.opts.station,
                actor: "custody ingest",
                operator: sh.opts.operator.as_deref(),
                event: "ingestion",
                object: Some(&b3),
                details,
            },
        )
    });
    if let Err(e) = logged {
        sh.refuse(
            shown,
            format!(
                "stored, but its log entry could not be written: {e}; not registered \
                 (the next ingest removes the unregistered object)"
            ),
        );
        return Ok(());
    }
    let described = injected(&shown, Step::Log).and_then(|()| sh.store.put_manifest(&signed));
    if let Err(e) = described {
        sh.refuse(
            shown,
            format!(
                "stored and logged, but its manifest could not be written: {e}; not registered \
                 (the next ingest completes the registration from the stored object)"
            ),
        );
        return Ok(());
    }
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
        supersedes,
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
    next: &dyn Fn() -> Option<(PathBuf, Stamp)>,
    finished: &dyn Fn(),
    catalog: Option<&crate::catalog::Catalog>,
) -> std::io::Result<()> {
    let mut cursor = sh.tree.cursor();
    std::thread::scope(|s| {
        type Reread<'s> = std::thread::ScopedJoinHandle<'s, (Pending, Result<(), String>)>;
        let mut pending: Option<(String, Reread<'_>)> = None;
        loop {
            let rel = next();
            let copied = match &rel {
                Some((r, walked)) => {
                    let shown = crate::osname::display(r.as_os_str());
                    isolated(sh, &shown, || {
                        copy_one(sh, &mut cursor, r.clone(), *walked, catalog)
                    })?
                    .flatten()
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
    // What an earlier run left unfinished (a crash, a full disk) is
    // completed or rolled back first, and reported.
    let recovered = crate::recover::recover(store, key, opts)?;
    let tree = Tree::open(&src)?;
    let walked = SystemTime::now();
    let (files, notes) = walk(&tree);
    let report = IngestReport {
        files: files.len() as u64,
        recovered,
        ..Default::default()
    };
    let shared = Shared {
        tree: &tree,
        store,
        key,
        opts,
        log: store.log(),
        walked,
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
                        if cancelled(opts) {
                            return None;
                        }
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
    // Files never begun because the caller cancelled: collect them later.
    let begun = next
        .load(std::sync::atomic::Ordering::Relaxed)
        .min(files.len());
    for (rel, _) in &files[begun..] {
        report.items.push(Item {
            path: crate::osname::display(rel.as_os_str()),
            outcome: Outcome::Deferred,
            blake3: None,
            reason: Some(
                "not collected: the ingest was cancelled before it; collect it again".into(),
            ),
            supersedes: None,
        });
    }
    report.items.sort_by(|a, b| a.path.cmp(&b.path));
    report.items.extend(notes);
    for i in &report.items {
        match i.outcome {
            Outcome::Registered => report.registered += 1,
            Outcome::AlreadyRegistered => report.already_present += 1,
            Outcome::Deferred => report.deferred += 1,
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
