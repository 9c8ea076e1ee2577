//! Redaction jobs (feature `redact`): find faces and plates ([`detect`]),
//! make a redacted copy with its log ([`redact`]), and register that copy in
//! a store as a derivative of its sealed original ([`redact_to_store`]).

use crate::error::{Error, Result};
use crate::jobs::{StoreTarget, check_store, source_content_tag};
use custody_evidence::derive::Registration;
use custody_evidence::store::DirStore;
use custody_redact::redact::{
    FrameDetections, Progress, RedactError, RedactOptions, Redacted, ScanStats,
};
use std::path::Path;

impl Error {
    /// A redaction error, placed on `input` unless it names its own file.
    pub(crate) fn redact(input: &Path, e: RedactError) -> Error {
        match e {
            RedactError::Cancelled => Error::Cancelled,
            RedactError::InvalidArgument(m) => Error::InvalidArgument(m),
            RedactError::Transcode(t) => Error::transcode(input, *t),
            e => Error::Redact {
                path: match &e {
                    RedactError::Io { path, .. } => path.clone(),
                    _ => input.to_path_buf(),
                },
                source: Box::new(e),
            },
        }
    }
}

/// Runs the detectors `opts` asks for on `input` (every `opts.every`-th
/// picture) and returns what they found, picture by picture, with the
/// pass's figures. Nothing is written.
///
/// ```no_run
/// # fn main() -> custody::Result<()> {
/// use custody::redact::redact::RedactOptions;
/// let mut opts = RedactOptions { faces: true, every: 5, ..Default::default() };
/// let (frames, stats) = custody::detect("CLIP.MP4", &mut opts, |_| true)?;
/// println!("{} pictures looked at, {} with a face", stats.detected_frames,
///     frames.iter().filter(|f| !f.detections.is_empty()).count());
/// # Ok(()) }
/// ```
pub fn detect(
    input: impl AsRef<Path>,
    opts: &mut RedactOptions,
    progress: impl FnMut(Progress) -> bool,
) -> Result<(Vec<FrameDetections>, ScanStats)> {
    let input = input.as_ref();
    custody_redact::redact::detect(input, opts, progress).map_err(|e| Error::redact(input, e))
}

/// Redacts `input` into `output` (H.264 + AAC in MP4; refused if it
/// exists): detects, tracks, masks every picture, checks the copy holds
/// every picture at its time, then writes each picture's BLAKE3
/// (`OUT.frames.csv`), a contact sheet (`OUT.contact.png`), the redaction
/// log (`OUT.redaction.json`) and the tracks (`OUT.tracks.csv`) beside it. The
/// original's content hashes are logged and written into the copy's tags.
/// `progress` returning `false` cancels; on any failure nothing is left.
///
/// ```no_run
/// # fn main() -> custody::Result<()> {
/// use custody::redact::redact::RedactOptions;
/// let mut opts = RedactOptions { faces: true, plates: true, ..Default::default() };
/// let done = custody::redact("CLIP.MP4", "CLIP.redacted.mp4", &mut opts, |_| true)?;
/// println!("{} objects masked in {} pictures", done.tracks.len(), done.counts.masked_frames);
/// # Ok(()) }
/// ```
pub fn redact(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    opts: &mut RedactOptions,
    progress: impl FnMut(Progress) -> bool,
) -> Result<Redacted> {
    let input = input.as_ref();
    if opts.source_content.is_none() {
        opts.source_content = source_content_tag(&[input]).map(|(_, v)| v);
    }
    custody_redact::redact::redact(input, output, opts, progress)
        .map_err(|e| Error::redact(input, e))
}

/// A redacted copy made and, when its check held, registered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredRedaction {
    /// What was made: the redaction log.
    #[serde(flatten)]
    pub redacted: Redacted,
    /// The registration; `None` when the copy failed its check (it was
    /// then removed, and nothing is registered).
    pub registration: Option<Registration>,
}

/// [`redact`], then registers the copy in the store `target.store` as a
/// derivative (profile `redaction`, docs/FORMAT.md §10) of its original,
/// which must be registered there (checked, with the key, before anything
/// is made). The signed parameters name every detector with its model's
/// SHA-256, the masks, the tracking, the encode and the BLAKE3 of the
/// redaction log, so the log beside the copy is bound to it.
///
/// ```no_run
/// # fn main() -> custody::Result<()> {
/// use custody::redact::redact::RedactOptions;
/// let key = custody::load_key(custody::default_key_path())?;
/// let who = custody::evidence::derive::DeriveOptions { station: "dock-07".into(), operator: None };
/// let target = custody::StoreTarget { store: "store".as_ref(), key: &key, who: &who };
/// let mut opts = RedactOptions { faces: true, ..Default::default() };
/// let done = custody::redact_to_store("CLIP.MP4", "CLIP.redacted.mp4", &mut opts, &target, |_| true)?;
/// println!("{:?}", done.registration.map(|r| r.outcome));
/// # Ok(()) }
/// ```
pub fn redact_to_store(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    opts: &mut RedactOptions,
    target: &StoreTarget<'_>,
    progress: impl FnMut(Progress) -> bool,
) -> Result<StoredRedaction> {
    let (input, output) = (input.as_ref(), output.as_ref());
    let dir = target.store;
    let store = DirStore::open_existing(dir).map_err(Error::io(dir))?;
    check_store(&store, target, &[input])?;
    let redacted = redact(input, output, opts, progress)?;
    let parameters = parameters(&redacted)?;
    let Some(derivation) = redacted.proof.as_ref().and_then(|proof| {
        crate::provenance::record(
            proof,
            &redacted.streams,
            vec![redacted.source.blake3.clone()],
            "redaction",
            parameters,
            &redacted.ffmpeg,
        )
    }) else {
        return Ok(StoredRedaction {
            redacted,
            registration: None,
        });
    };
    let registration = custody_evidence::derive::register(
        &store,
        target.key,
        output,
        Some(&redacted.output.blake3),
        derivation,
        target.who,
    )
    .map_err(|source| Error::Derive {
        path: output.to_path_buf(),
        source,
    })?;
    Ok(StoredRedaction {
        redacted,
        registration: Some(registration),
    })
}

/// The signed parameters of a redaction: the encode's, then what shaped
/// the masks, and the BLAKE3 of the log.
fn parameters(r: &Redacted) -> Result<std::collections::BTreeMap<String, String>> {
    let p = &r.parameters;
    let mut m = p.encode.clone();
    m.insert("container".into(), "mp4".into());
    let detectors: Vec<String> = p
        .detectors
        .iter()
        .map(|(name, sha)| match sha {
            Some(s) => format!("{name} (model sha256 {s})"),
            None => name.clone(),
        })
        .collect();
    let mut put = |k: &str, v: String| {
        m.insert(k.into(), v);
    };
    put("redaction_detectors", detectors.join(", "));
    put("redaction_every", p.every.to_string());
    if let Some(w) = p.detect_width {
        put("redaction_detect_width", w.to_string());
    }
    put("redaction_style", name(&p.style));
    put("redaction_shape", name(&p.shape));
    put(
        "redaction_tracking",
        format!(
            "iou {} pad {} max_gap {} margin {}",
            p.track_iou, p.track_pad, p.track_max_gap, p.track_margin
        ),
    );
    if let Some(f) = &p.regions_file {
        put("redaction_regions_file", f.display().to_string());
    }
    put("redaction_audio", r.audio.clone());
    put(
        "redaction_counts",
        format!(
            "{} tracks, {} regions, {} of {} pictures masked",
            r.counts.tracks, r.counts.regions, r.counts.masked_frames, r.counts.frames
        ),
    );
    put("redaction_log_blake3", blake3_of(&r.log)?);
    if let Some(f) = &p.regions_file {
        put("redaction_regions_blake3", blake3_of(f)?);
    }
    Ok(m)
}

/// The name serde gives `v` (a unit enum variant).
fn name(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The BLAKE3 of the file at `path`, hex.
fn blake3_of(path: &Path) -> Result<String> {
    let opts = custody_hash::DigestOptions {
        algorithms: custody_hash::Algorithms::BLAKE3,
        ..Default::default()
    };
    let (d, _) = crate::hash(path, opts, custody_io::ReadMode::Auto, |_| {})?;
    Ok(d.blake3_hex().unwrap_or_default())
}
