//! One function per job, each taking paths: what a station, an evidence
//! system or the C and Python bindings call.

use crate::error::{Error, Result};
use custody_container::Probe;
use custody_container::summary::ProbeOptions;
use custody_evidence::keys::StationKey;
use custody_evidence::store::DirStore;
use custody_hash::{ChunkTree, DigestOptions, FileDigest, LocateReport};
use custody_io::{Evidence, ReadMode};
use std::path::{Path, PathBuf};

/// How to probe a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProbeRequest {
    /// What to list and how strictly to parse.
    pub options: ProbeOptions,
    /// How to read the file: [`ReadMode::Read`] for recorder media (only the
    /// ranges the probe looks at are read, never the whole file).
    pub mode: ReadMode,
}

/// Probes the file at `path`: container, tracks, durations, metadata,
/// warnings. A file that is not mapped is read only where the probe looks
/// (its index), or, for a transport or program stream, front to back
/// through a window of a few MiB: never held whole.
///
/// ```
/// # fn main() -> custody::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("clip.mp4");
/// std::fs::write(&path, custody_testkit::mp4::synthetic_recording(2, 30, 30)).unwrap();
/// let p = custody::probe(&path, &Default::default())?;
/// assert_eq!((p.container.as_str(), p.tracks.len()), ("mp4", 2));
/// # Ok(()) }
/// ```
pub fn probe(path: impl AsRef<Path>, req: &ProbeRequest) -> Result<Probe> {
    let path = path.as_ref();
    let opts = req.options;
    let mut p = match crate::stream::open_windowed(path, req.mode)? {
        // A transport or program stream: read front to back through a window.
        Some(mut w) => custody_container::probe_input(&mut w, opts)
            .map_err(|e| crate::stream::parse_error(path, &mut w, e))?,
        None => {
            let ev = Evidence::open_planned(path, req.mode, |len, read| {
                custody_container::probe_ranges(len, opts, read)
            })
            .map_err(Error::io(path))?;
            custody_container::probe(ev.bytes(), opts).map_err(|source| Error::Parse {
                path: path.to_path_buf(),
                source,
            })?
        }
    };
    p.path = Some(path.display().to_string());
    Ok(p)
}

/// Probes the media segment at `segment` (`.m4s`) against its init segment.
pub fn probe_segment(
    init: impl AsRef<Path>,
    segment: impl AsRef<Path>,
    req: &ProbeRequest,
) -> Result<Probe> {
    let (init, segment) = (init.as_ref(), segment.as_ref());
    let i = Evidence::open(init, req.mode).map_err(Error::io(init))?;
    let s = Evidence::open(segment, req.mode).map_err(Error::io(segment))?;
    let mut p =
        custody_container::probe_segment(i.bytes(), s.bytes(), req.options).map_err(|source| {
            Error::Parse {
                path: segment.to_path_buf(),
                source,
            }
        })?;
    p.path = Some(segment.display().to_string());
    Ok(p)
}

/// Hashes the file at `path` in one pass (BLAKE3, SHA-256, optionally MD5)
/// and builds its chunk tree; `progress` gets the bytes done so far.
///
/// ```
/// # fn main() -> custody::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.bin");
/// std::fs::write(&path, b"abc").unwrap();
/// let (d, tree) = custody::hash(&path, Default::default(), Default::default(), |_| {})?;
/// assert_eq!(d.blake3_hex().unwrap(), blake3::hash(b"abc").to_hex().as_str());
/// assert!(tree.is_some());
/// # Ok(()) }
/// ```
pub fn hash(
    path: impl AsRef<Path>,
    opts: DigestOptions,
    mode: ReadMode,
    progress: impl FnMut(u64),
) -> Result<(FileDigest, Option<ChunkTree>)> {
    let path = path.as_ref();
    custody_hash::hash_file(path, opts, mode, progress).map_err(Error::io(path))
}

/// What `custody hash` reports for one file (the JSON of every interface).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HashSummary {
    /// The file hashed.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// BLAKE3 (hex), when computed.
    pub blake3: Option<String>,
    /// SHA-256 (hex), when computed.
    pub sha256: Option<String>,
    /// MD5 (hex), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// Where its chunk tree was written, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
}

impl HashSummary {
    /// The summary of `digest`, the digest of `path`.
    pub fn new(path: &Path, digest: &FileDigest) -> HashSummary {
        HashSummary {
            path: path.display().to_string(),
            size: digest.size,
            blake3: digest.blake3_hex(),
            sha256: digest.sha256_hex(),
            md5: digest.md5_hex(),
            tree: None,
        }
    }
}

/// Writes `tree`, the chunk tree of `file`, into folder `dir` (created when
/// missing) as [`tree_path`] names it, atomically; returns where.
pub fn write_tree(
    dir: impl AsRef<Path>,
    file: impl AsRef<Path>,
    tree: &ChunkTree,
) -> Result<PathBuf> {
    let dir = dir.as_ref();
    let out = tree_path(dir, file);
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    custody_io::write_atomic(&out, &tree.encode()).map_err(Error::io(&out))?;
    Ok(out)
}

/// What `custody hash --content` reports for one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContentSummary {
    /// The file.
    pub path: String,
    /// Version of the content-hash definition.
    pub content_version: u32,
    /// One content hash per track.
    pub tracks: Vec<custody_hash::content::TrackContent>,
}

/// [`hash`] reading with `read()` (never a map), calling `progress` with the
/// bytes hashed so far after each block; `progress` returning `false`
/// cancels the job ([`Error::Cancelled`]).
pub fn hash_cancellable(
    path: impl AsRef<Path>,
    opts: DigestOptions,
    mut progress: impl FnMut(u64) -> bool,
) -> Result<(FileDigest, Option<ChunkTree>)> {
    /// Stops the reader once `progress` says so.
    struct Watched<'a, R> {
        inner: R,
        done: u64,
        go_on: &'a mut dyn FnMut(u64) -> bool,
        cancelled: bool,
    }
    impl<R: std::io::Read> std::io::Read for Watched<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if !(self.go_on)(self.done) {
                self.cancelled = true;
                return Err(std::io::Error::other("cancelled"));
            }
            let n = self.inner.read(buf)?;
            self.done += n as u64;
            Ok(n)
        }
    }
    let path = path.as_ref();
    let f = custody_io::open_regular(path).map_err(Error::io(path))?;
    let mut r = Watched {
        inner: f,
        done: 0,
        go_on: &mut progress,
        cancelled: false,
    };
    match custody_hash::hash_reader(&mut r, opts, |_| {}) {
        Err(_) if r.cancelled => Err(Error::Cancelled),
        other => other.map_err(Error::io(path)),
    }
}

/// Content hashes of the file at `path`: one per track, over the decoded
/// bitstream's units, independent of the container.
pub fn content(path: impl AsRef<Path>) -> Result<ContentSummary> {
    content_with(path, ReadMode::Auto)
}

/// [`content`], reading the file as `mode` says: a transport or program
/// stream that is not mapped is read front to back through a window of a
/// few MiB, never held whole.
pub fn content_with(path: impl AsRef<Path>, mode: ReadMode) -> Result<ContentSummary> {
    let path = path.as_ref();
    let limits = Default::default();
    let tracks = match crate::stream::open_windowed(path, mode)? {
        Some(mut w) => custody_hash::content::content_hashes_input(&mut w, limits)
            .map_err(|e| crate::stream::parse_error(path, &mut w, e))?,
        None => crate::stream::content_indexed(path, mode, limits)?,
    };
    Ok(ContentSummary {
        path: path.display().to_string(),
        content_version: custody_hash::content::CONTENT_VERSION,
        tracks,
    })
}

/// Where the chunk tree of `file` is written in folder `dir`:
/// `dir/<file name>.b3tree`.
pub fn tree_path(dir: impl AsRef<Path>, file: impl AsRef<Path>) -> PathBuf {
    let name = file
        .as_ref()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    dir.as_ref().join(format!("{name}.b3tree"))
}

/// Reads a chunk tree and checks that its leaves produce its root hash.
pub fn read_tree(path: impl AsRef<Path>) -> Result<ChunkTree> {
    let path = path.as_ref();
    let bytes = custody_io::read_regular(path).map_err(Error::io(path))?;
    let tree = ChunkTree::decode(&bytes).map_err(|source| Error::Tree {
        path: path.to_path_buf(),
        source,
    })?;
    if !tree.is_consistent() {
        return Err(Error::InconsistentTree {
            path: path.to_path_buf(),
        });
    }
    Ok(tree)
}

/// Compares the file at `file` with the chunk tree at `tree` (a consistent
/// one, [`read_tree`]) and lists the byte ranges that changed.
///
/// ```
/// # fn main() -> custody::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.bin");
/// std::fs::write(&path, vec![7u8; 100_000]).unwrap();
/// let (_, tree) = custody::hash(&path, Default::default(), Default::default(), |_| {})?;
/// let tree_file = custody::tree_path(dir.path(), &path);
/// std::fs::write(&tree_file, tree.unwrap().encode()).unwrap();
/// let mut bytes = std::fs::read(&path).unwrap();
/// bytes[70_000] ^= 1;
/// std::fs::write(&path, bytes).unwrap();
/// let r = custody::locate(&path, &tree_file)?;
/// assert!(!r.ok && r.changed[0].start <= 70_000 && 70_000 < r.changed[0].end);
/// # Ok(()) }
/// ```
pub fn locate(file: impl AsRef<Path>, tree: impl AsRef<Path>) -> Result<LocateReport> {
    let (file, tree_file) = (file.as_ref(), tree.as_ref());
    let tree = read_tree(tree_file)?;
    let mut f = custody_io::open_regular(file).map_err(Error::io(file))?;
    custody_hash::locate(&mut f, &tree).map_err(|source| Error::Tree {
        path: file.to_path_buf(),
        source,
    })
}

/// Checks the bytes `range` of the file at `file` against a trusted BLAKE3
/// `root` (64 hex digits: the sealed original's, from its signed manifest),
/// reading only the leaves that cover the range; the chunk tree at `tree`
/// (from the store) supplies the rest and need not be trusted. `Ok(true)`
/// when the range is intact.
pub fn verify_range(
    file: impl AsRef<Path>,
    tree: impl AsRef<Path>,
    root: &str,
    range: std::ops::Range<u64>,
) -> Result<bool> {
    let (file, tree_file) = (file.as_ref(), tree.as_ref());
    let root: [u8; 32] = custody_evidence::keys::from_hex(root)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| Error::InvalidArgument(format!("{root:?} is not a BLAKE3 digest")))?;
    let tree = read_tree(tree_file)?;
    let mut f = custody_io::open_regular(file).map_err(Error::io(file))?;
    custody_hash::verify_range(&mut f, &tree, &root, range).map_err(|source| Error::Tree {
        path: file.to_path_buf(),
        source,
    })
}

/// Where the station key lives unless told otherwise: `CUSTODY_KEY`, else
/// `$XDG_CONFIG_HOME/custody/station.key`, else
/// `~/.config/custody/station.key`.
pub fn default_key_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CUSTODY_KEY") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("custody/station.key")
}

/// Loads the station key at `path`; never creates one (only
/// [`StationKey::init`], `custody key init`, does).
pub fn load_key(path: impl AsRef<Path>) -> Result<StationKey> {
    let path = path.as_ref();
    StationKey::load(path).map_err(|source| Error::Key {
        path: path.to_path_buf(),
        source,
    })
}

/// Collects every file under `src` into the store at `store` (created when
/// missing): verified copy, signed manifest, custody-log entry.
/// `progress(done, total)` is called after each file.
///
/// ```
/// # fn main() -> custody::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let rec = dir.path().join("recorder/DCIM");
/// std::fs::create_dir_all(&rec).unwrap();
/// std::fs::write(rec.join("CLIP.MP4"), custody_testkit::mp4::synthetic_recording(1, 30, 30)).unwrap();
/// let key = custody::evidence::keys::StationKey::init(&dir.path().join("station.key")).unwrap();
/// let store = dir.path().join("store");
/// let r = custody::ingest(dir.path().join("recorder"), &store, &key, &Default::default(), |_, _| {})?;
/// assert_eq!(r.registered, 1);
/// let v = custody::verify(&store, &custody::evidence::verify::VerifyOptions {
///     anchors: vec![key.public()],
///     ..Default::default()
/// })?;
/// assert!(v.ok);
/// # Ok(()) }
/// ```
pub fn ingest(
    src: impl AsRef<Path>,
    store: impl AsRef<Path>,
    key: &StationKey,
    opts: &custody_evidence::ingest::IngestOptions,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<custody_evidence::ingest::IngestReport> {
    let (src, store_dir) = (src.as_ref(), store.as_ref());
    let store = DirStore::open(store_dir).map_err(Error::io(store_dir))?;
    custody_evidence::ingest::ingest_with_progress(src, &store, key, opts, &progress)
        .map_err(Error::io(src))
}

/// Verifies the store at `store` as `opts` says; never writes.
pub fn verify(
    store: impl AsRef<Path>,
    opts: &custody_evidence::verify::VerifyOptions,
) -> Result<custody_evidence::verify::VerifyReport> {
    let dir = store.as_ref();
    let s = DirStore::open_existing(dir).map_err(Error::io(dir))?;
    custody_evidence::verify::verify_with(&s, opts).map_err(|source| Error::Verify {
        path: dir.to_path_buf(),
        source,
    })
}

/// Makes an archival derivative of `inputs` (one recording, or the segments
/// of one recording for `join`) at `output`, as `opts.profile` says:
/// `remux-mkv`, `remux-mp4`, `preservation` (FFV1 + lossless audio in
/// Matroska), `access` (H.264 + AAC in MP4), `join`, `clip`. The original is
/// only read. The output is written to a temporary file, fsynced and moved
/// into place, then proven against the original (packet by packet for
/// stream copies, decoded frame by decoded frame for re-encodes); an output
/// whose proof fails is removed ([`crate::transcode::Archived::kept`]). The
/// sources' BLAKE3 and content hashes, the profile, its parameters and the
/// FFmpeg version are written into the output's tags. An access overlay
/// ([`custody_transcode::Options::overlay`]) shows what the caller gave,
/// else the recording's creation time and the device and officer its file
/// name carries. `progress` returning `false` cancels the job, leaving
/// nothing behind. [`archive_to_store`] also registers the output.
///
/// ```no_run
/// # fn main() -> custody::Result<()> {
/// use custody::transcode::{Options, Profile};
/// let opts = Options { profile: Profile::Preservation, ..Default::default() };
/// let done = custody::archive(&["CLIP.MP4"], "CLIP.preservation.mkv", &opts, |_| true)?;
/// assert!(done.kept && done.proof.as_ref().is_some_and(|p| p.ok()));
/// # Ok(()) }
/// ```
#[cfg(feature = "transcode")]
pub fn archive<P: AsRef<Path>>(
    inputs: &[P],
    output: impl AsRef<Path>,
    opts: &custody_transcode::Options,
    progress: impl FnMut(custody_transcode::Progress) -> bool,
) -> Result<custody_transcode::Archived> {
    let output = output.as_ref();
    let fallback = inputs.first().map(|p| p.as_ref()).unwrap_or(output);
    let mut opts = opts.clone();
    if let (Some(o), Some(first)) = (opts.overlay.as_mut(), inputs.first()) {
        crate::provenance::fill_overlay(o, None, first.as_ref());
    }
    // The sources' content hashes are taken while the job hashes their
    // bytes and opens them.
    opts.source_tags = Some(custody_transcode::SourceTags::new(|sources| {
        source_content_tag(sources).into_iter().collect()
    }));
    custody_transcode::archive(inputs, output, &opts, progress)
        .map_err(|e| Error::transcode(fallback, e))
}

/// The `CUSTODY_SOURCE_CONTENT` tag: the container-independent content
/// hashes of each source the parsers read (MP4, MPEG-TS, MPEG-PS), so that a
/// derivative names its source's content as well as its bytes; `-` where
/// they do not apply. `None` for an empty first source.
#[cfg(feature = "transcode")]
pub(crate) fn source_content_tag<P: AsRef<Path>>(inputs: &[P]) -> Option<(String, String)> {
    let mut parts = Vec::new();
    for p in inputs {
        let p = p.as_ref();
        if std::fs::metadata(p).is_ok_and(|m| m.len() == 0) {
            break;
        }
        parts.push(match content(p) {
            Ok(c) => c
                .tracks
                .iter()
                .map(|t| {
                    format!(
                        "{}:{}:{}:{}",
                        t.id,
                        t.codec.unwrap_or("-"),
                        t.form,
                        t.content_blake3
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            Err(_) => "-".into(),
        });
    }
    (!parts.is_empty()).then(|| {
        (
            "CUSTODY_SOURCE_CONTENT".into(),
            format!(
                "v{} {}",
                custody_hash::content::CONTENT_VERSION,
                parts.join("; ")
            ),
        )
    })
}

/// Where [`archive_to_store`] registers a derivative.
#[cfg(feature = "transcode")]
#[derive(Debug, Clone, Copy)]
pub struct StoreTarget<'a> {
    /// The store (it must exist and hold the sources).
    pub store: &'a Path,
    /// The station key: one of the store's keys.
    pub key: &'a StationKey,
    /// Station and operator, for the manifest and the log.
    pub who: &'a custody_evidence::derive::DeriveOptions,
}

/// A derivative made and, when its proof held, registered.
#[cfg(feature = "transcode")]
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredArchive {
    /// What was made, and its proof.
    #[serde(flatten)]
    pub archived: custody_transcode::Archived,
    /// The registration; `None` when the output failed its proof (it was
    /// then removed, and nothing is registered).
    pub registration: Option<custody_evidence::derive::Registration>,
}

/// [`archive`], then registers the output in the store `target.store` as a
/// derivative of its sources (docs/FORMAT.md §10): its own object, a
/// manifest signed with `target.key` naming each source's BLAKE3, the
/// profile, every parameter, the FFmpeg versions, the output's hashes and
/// the proof, and a `derivation` entry in the custody log. Every source must
/// be registered in that store, and the key must be one of its keys: both
/// are checked before anything is made ([`Error::Derive`]). The proof
/// cannot be switched off. An access overlay shows, where the caller gave
/// nothing, what the source's signed manifest says (start, device,
/// officer).
///
/// ```no_run
/// # fn main() -> custody::Result<()> {
/// use custody::transcode::{Options, Profile};
/// let key = custody::load_key(custody::default_key_path())?;
/// let who = custody::evidence::derive::DeriveOptions { station: "dock-07".into(), operator: None };
/// let target = custody::StoreTarget { store: "store".as_ref(), key: &key, who: &who };
/// let opts = Options { profile: Profile::Preservation, ..Default::default() };
/// let done = custody::archive_to_store(&["CLIP.MP4"], "CLIP.mkv", &opts, &target, |_| true)?;
/// println!("{:?}", done.registration.map(|r| r.outcome));
/// # Ok(()) }
/// ```
#[cfg(feature = "transcode")]
pub fn archive_to_store<P: AsRef<Path>>(
    inputs: &[P],
    output: impl AsRef<Path>,
    opts: &custody_transcode::Options,
    target: &StoreTarget<'_>,
    progress: impl FnMut(custody_transcode::Progress) -> bool,
) -> Result<StoredArchive> {
    let output = output.as_ref();
    let dir = target.store;
    let store = DirStore::open_existing(dir).map_err(Error::io(dir))?;
    if !opts.prove {
        return Err(Error::InvalidArgument(
            "a derivative is registered only with its proof (--no-proof cannot go with --store)"
                .into(),
        ));
    }
    let first_recording = check_store(&store, target, inputs)?;
    let mut opts = opts.clone();
    if let (Some(o), Some(first)) = (opts.overlay.as_mut(), inputs.first()) {
        crate::provenance::fill_overlay(o, first_recording.as_ref(), first.as_ref());
    }
    let archived = archive(inputs, output, &opts, progress)?;
    let Some(derivation) = crate::provenance::derivation(&archived) else {
        return Ok(StoredArchive {
            archived,
            registration: None,
        });
    };
    let registration = custody_evidence::derive::register(
        &store,
        target.key,
        output,
        Some(&archived.blake3),
        derivation,
        target.who,
    )
    .map_err(|source| Error::Derive {
        path: output.to_path_buf(),
        source,
    })?;
    Ok(StoredArchive {
        archived,
        registration: Some(registration),
    })
}

/// Checks, before anything is made, that `target.key` is one of the store's
/// keys and that every input is registered there; returns the first
/// input's recording, as its signed manifest says.
#[cfg(feature = "transcode")]
pub(crate) fn check_store<P: AsRef<Path>>(
    store: &DirStore,
    target: &StoreTarget<'_>,
    inputs: &[P],
) -> Result<Option<custody_evidence::manifest::Recording>> {
    use custody_evidence::derive::DeriveError;
    let dir = target.store;
    let derive_error = |path: &Path, source| Error::Derive {
        path: path.to_path_buf(),
        source,
    };
    if !store.has_key(&target.key.fingerprint()) {
        return Err(derive_error(
            dir,
            DeriveError::KeyNotInStore(target.key.fingerprint()),
        ));
    }
    // Every source registered, before anything is made.
    let mut first_recording = None;
    for p in inputs {
        let p = p.as_ref();
        let opts = DigestOptions {
            algorithms: custody_hash::Algorithms::BLAKE3,
            ..Default::default()
        };
        let (d, _) = hash(p, opts, ReadMode::Auto, |_| {})?;
        let b3 = d.blake3_hex().unwrap_or_default();
        if !store.is_registered(&b3) {
            return Err(derive_error(
                p,
                DeriveError::SourceNotRegistered { source_blake3: b3 },
            ));
        }
        if first_recording.is_none() {
            let (trust, _, _) =
                custody_evidence::keyring::trust_store(store, &[]).map_err(Error::io(dir))?;
            first_recording = store
                .manifest_bytes(&b3)
                .ok()
                .and_then(|b| {
                    custody_evidence::manifest::SignedManifest::verify_json(&b, &trust).ok()
                })
                .map(|m| m.manifest.recording);
        }
    }
    Ok(first_recording)
}

/// Compares the files `a` and `b` by their decoded pictures and sound (video
/// streams paired in order, then audio streams): identical, or the first
/// differing frame (time, plane, position) and how many differ. A picture's
/// colour range, primaries, transfer and matrix are part of it, so a
/// full-range recording turned limited range is caught. Both files are only
/// read; `progress` gets the seconds of `a` decoded and may cancel.
///
/// ```no_run
/// # fn main() -> custody::Result<()> {
/// let c = custody::compare("CLIP.MP4", "CLIP.preservation.mkv", |_| true)?;
/// println!("{}", if c.identical { "identical" } else { "different" });
/// # Ok(()) }
/// ```
#[cfg(feature = "transcode")]
pub fn compare(
    a: impl AsRef<Path>,
    b: impl AsRef<Path>,
    progress: impl FnMut(f64) -> bool,
) -> Result<custody_transcode::Comparison> {
    let a = a.as_ref();
    custody_transcode::compare(a, b.as_ref(), progress).map_err(|e| Error::transcode(a, e))
}
