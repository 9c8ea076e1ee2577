//! The redaction pipeline, end to end: a detection pass (when detectors
//! are used) feeding the tracker, manual regions, then an `access`
//! re-encode (H.264 + AAC in MP4) whose picture hook masks every track's
//! and region's box in every picture, and whose check decodes the copy
//! once, read-only, for the proof and the reviewer alike (the BLAKE3 of
//! every picture, a contact sheet with the masks outlined); the redaction
//! log beside the output.
//!
//! Audio is passed through unchanged (AAC stream-copied, anything else
//! encoded to AAC) unless time ranges are to be muted or bleeped
//! ([`RedactOptions::audio_edits`]): then every audio track is decoded,
//! those ranges replaced sample by sample, and encoded to AAC.

mod log;
mod review;
mod scan;

pub use log::{RegionLog, TrackLog};
pub use review::{ContactSheet, FramesLog, SHEET_PICTURES, Sampled};
pub use scan::{Found, FrameDetections, ScanStats};

use crate::detect::{BBox, DetectError, Detector};
use crate::frame::FrameMut;
use crate::mask::{self, Shape, Style};
use crate::regions::{Regions, RegionsError};
use crate::track::{TrackOptions, Tracker};
use custody_transcode::{
    Action, AudioEdit, AudioEditKind, BLEEP_DBFS, BLEEP_HZ, Options, PictureHook, PictureMut,
    Profile, TrackOutcome,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Why a redaction could not be made. Nothing is left behind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactError {
    /// Decoding, encoding or writing failed (a damaged input, a full disk).
    #[error(transparent)]
    Transcode(Box<custody_transcode::Error>),
    /// A built-in detector's model cannot be used.
    #[cfg(feature = "models")]
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// The regions file cannot be used.
    #[error(transparent)]
    Regions(#[from] RegionsError),
    /// A detector failed on a picture.
    #[error("picture {frame}: {source}")]
    Detect {
        /// The picture's number.
        frame: u64,
        /// The detector's error.
        source: DetectError,
    },
    /// A picture's planes cannot be used.
    #[error("picture {frame}: {message}")]
    Picture {
        /// The picture's number.
        frame: u64,
        /// What is wrong.
        message: String,
    },
    /// The log could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An option is outside what redaction accepts.
    #[error("{0}")]
    InvalidArgument(String),
    /// The caller cancelled (its progress callback returned `false`).
    #[error("cancelled")]
    Cancelled,
}

impl From<custody_transcode::Error> for RedactError {
    fn from(e: custody_transcode::Error) -> RedactError {
        match e {
            custody_transcode::Error::Cancelled => RedactError::Cancelled,
            e => RedactError::Transcode(Box::new(e)),
        }
    }
}

/// The phases of a redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Finding faces and plates.
    Detect,
    /// Hashing the source.
    Hash,
    /// Writing the redacted copy.
    Write,
    /// Checking the copy has every picture at its time.
    Prove,
    /// Writing the copy's frames list and contact sheet (their pictures
    /// were taken while the check decoded the copy).
    Review,
}

/// Where a redaction stands: `done` of `total` seconds (0: unknown) in `phase`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// What is being done.
    pub phase: Phase,
    /// Seconds of media done.
    pub done: f64,
    /// Seconds of media in all (0 when unknown).
    pub total: f64,
}

/// How to redact. `Default` masks nothing until something is asked for.
pub struct RedactOptions {
    /// Mask faces (CenterFace; feature `models`).
    pub faces: bool,
    /// Mask licence plates (feature `models`).
    pub plates: bool,
    /// Where the built-in models are (default [`crate::models::models_dir`]).
    pub models: Option<PathBuf>,
    /// The caller's own detectors, run beside the built-in ones.
    pub detectors: Vec<Box<dyn Detector>>,
    /// A regions file ([`crate::regions`]).
    pub regions: Option<PathBuf>,
    /// How masks hide.
    pub style: Style,
    /// The masks' outline.
    pub shape: Shape,
    /// Run the detectors on every `every`-th picture (default 1: all);
    /// the tracker interpolates between, and holds each track at least
    /// `every - 1` pictures before its first and after its last detection
    /// ([`TrackOptions::for_every`]), so that a face seen between two
    /// detections is masked there too.
    pub every: u64,
    /// Find faces on the picture scaled to this width (aspect kept, never
    /// upscaled; default: the picture's own size). Smaller is faster and
    /// misses small faces.
    pub detect_width: Option<u32>,
    /// How detections become tracks.
    pub track: TrackOptions,
    /// libx264's constant rate factor (default 23).
    pub crf: u8,
    /// libx264's preset (default `medium`).
    pub preset: String,
    /// Worker threads for the encoder (0: one per core).
    pub threads: usize,
    /// Keep the tracks other than pictures and sound (subtitles, timed
    /// metadata, telemetry) where MP4 can hold them; by default (`false`)
    /// they are dropped, since they may carry positions, and listed in the
    /// log's `streams` as dropped.
    pub keep_other_tracks: bool,
    /// The original's container-independent content hashes, as text
    /// (`custody::redact` fills it): logged with the original's hash and
    /// written into the copy's `CUSTODY_SOURCE_CONTENT` tag.
    pub source_content: Option<String>,
    /// Time ranges of the sound to mute or bleep (seconds on the pictures'
    /// timeline, as regions count them), every audio track alike; empty
    /// (the default) passes the sound through unchanged.
    pub audio_edits: Vec<AudioEdit>,
    /// Pictures on the contact sheet, at most (default
    /// [`SHEET_PICTURES`]; 0: no contact sheet).
    pub contact_sheet: usize,
}

impl Default for RedactOptions {
    fn default() -> Self {
        RedactOptions {
            faces: false,
            plates: false,
            models: None,
            detectors: Vec::new(),
            regions: None,
            style: Style::Blur,
            shape: Shape::Rectangle,
            every: 1,
            detect_width: None,
            track: TrackOptions::default(),
            crf: 23,
            preset: "medium".into(),
            threads: 0,
            keep_other_tracks: false,
            source_content: None,
            audio_edits: Vec::new(),
            contact_sheet: SHEET_PICTURES,
        }
    }
}

impl std::fmt::Debug for RedactOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactOptions")
            .field("faces", &self.faces)
            .field("plates", &self.plates)
            .field("models", &self.models)
            .field(
                "detectors",
                &self.detectors.iter().map(|d| d.name()).collect::<Vec<_>>(),
            )
            .field("regions", &self.regions)
            .field("style", &self.style)
            .field("shape", &self.shape)
            .field("every", &self.every)
            .field("detect_width", &self.detect_width)
            .field("track", &self.track)
            .field("crf", &self.crf)
            .field("preset", &self.preset)
            .field("threads", &self.threads)
            .field("keep_other_tracks", &self.keep_other_tracks)
            .field("source_content", &self.source_content)
            .field("audio_edits", &self.audio_edits)
            .field("contact_sheet", &self.contact_sheet)
            .finish()
    }
}

/// A file and its BLAKE3.
#[derive(Debug, Clone, Serialize)]
pub struct Hashed {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its BLAKE3, hex.
    pub blake3: String,
    /// Its container-independent content hashes, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// The parameters a redaction ran with, as logged.
#[derive(Debug, Clone, Serialize)]
pub struct Parameters {
    /// Faces asked for.
    pub faces: bool,
    /// Plates asked for.
    pub plates: bool,
    /// Every detector run (built-in first), with its model's SHA-256.
    pub detectors: Vec<(String, Option<String>)>,
    /// The regions file.
    pub regions_file: Option<PathBuf>,
    /// Mask style.
    pub style: Style,
    /// Mask shape.
    pub shape: Shape,
    /// Detection on every n-th picture.
    pub every: u64,
    /// Faces found on pictures scaled to this width (`None`: full size).
    pub detect_width: Option<u32>,
    /// Tracking: least IoU to continue a track.
    pub track_iou: f32,
    /// Tracking: pictures held before and after a track.
    pub track_pad: u64,
    /// Tracking: largest gap bridged.
    pub track_max_gap: u64,
    /// Tracking: box growth factor.
    pub track_margin: f32,
    /// The time ranges of the sound muted or bleeped, as asked.
    pub audio_edits: Vec<AudioEdit>,
    /// The access encode's parameters (profile, codec, crf, preset, audio).
    pub encode: std::collections::BTreeMap<String, String>,
}

/// Counts of what was masked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Pictures in the output.
    pub frames: u64,
    /// Pictures with at least one mask.
    pub masked_frames: u64,
    /// Masks applied, in all.
    pub masks: u64,
    /// Tracks.
    pub tracks: u64,
    /// Manual regions.
    pub regions: u64,
}

/// Seconds spent, for the operator (not part of the evidence).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timing {
    /// The detection pass, decoding included (0 without detectors).
    pub detect_pass: f64,
    /// The detectors alone.
    pub detectors: f64,
    /// Pictures the detectors looked at.
    pub detected_frames: u64,
    /// The re-encode with masks, hashing and its check included.
    pub encode_pass: f64,
    /// The masks alone (inside `encode_pass`): the time the picture hook
    /// spent masking, all pictures together.
    pub masks: f64,
    /// Writing the frames list and the contact sheet (the pictures they
    /// show come from the check's decode, inside `encode_pass`).
    pub review_pass: f64,
}

/// What a redaction made: the redaction log.
#[derive(Debug, Clone, Serialize)]
pub struct Redacted {
    /// The original (read, never changed).
    pub source: Hashed,
    /// The redacted copy (H.264 + AAC in MP4).
    pub output: Hashed,
    /// The log beside it (this, as JSON).
    pub log: PathBuf,
    /// The tracks as CSV beside it.
    pub tracks_csv: PathBuf,
    /// The copy's pictures (number, time, BLAKE3 of the decoded picture,
    /// masks) as CSV beside it.
    pub frames_csv: FramesLog,
    /// The contact sheet (PNG) beside it, unless none was asked for.
    pub contact_sheet: Option<ContactSheet>,
    /// Every track masked.
    pub tracks: Vec<TrackLog>,
    /// Every manual region masked.
    pub regions: Vec<RegionLog>,
    /// The parameters.
    pub parameters: Parameters,
    /// The FFmpeg libraries' version.
    pub ffmpeg: String,
    /// Custody's version.
    pub version: String,
    /// What was masked.
    pub counts: Counts,
    /// What was done to the sound: the ranges muted and bleeped and how
    /// the tracks were encoded, "passed through unchanged (...)", or "no
    /// audio track".
    pub audio: String,
    /// What became of each track of the original (video encoded, audio
    /// copied or encoded, other tracks dropped, each with its reason).
    pub streams: Vec<custody_transcode::TrackOutcome>,
    /// The check that the copy holds every picture (and sound) of the
    /// original at its time.
    pub proof: Option<custody_transcode::Proof>,
    /// What the encode noticed.
    pub warnings: Vec<String>,
    /// Seconds spent.
    pub timing: Timing,
}

/// The log's path for `output` (`OUT.redaction.json`).
pub fn log_path(output: &Path) -> PathBuf {
    sibling(output, "redaction.json")
}

/// The tracks CSV's path for `output` (`OUT.tracks.csv`).
pub fn csv_path(output: &Path) -> PathBuf {
    sibling(output, "tracks.csv")
}

/// The frames CSV's path for `output` (`OUT.frames.csv`).
///
/// ```
/// use custody_redact::redact::frames_path;
/// use std::path::Path;
/// assert_eq!(frames_path(Path::new("out/CLIP.mp4")), Path::new("out/CLIP.mp4.frames.csv"));
/// ```
pub fn frames_path(output: &Path) -> PathBuf {
    sibling(output, "frames.csv")
}

/// The contact sheet's path for `output` (`OUT.contact.png`).
///
/// ```
/// use custody_redact::redact::contact_sheet_path;
/// use std::path::Path;
/// assert_eq!(contact_sheet_path(Path::new("CLIP.mp4")), Path::new("CLIP.mp4.contact.png"));
/// ```
pub fn contact_sheet_path(output: &Path) -> PathBuf {
    sibling(output, "contact.png")
}

fn sibling(output: &Path, suffix: &str) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    output.with_file_name(name)
}

/// The built-in detectors asked for, then the caller's.
fn detectors(opts: &mut RedactOptions) -> Result<Vec<Box<dyn Detector>>, RedactError> {
    let mut out: Vec<Box<dyn Detector>> = Vec::new();
    if opts.faces || opts.plates {
        #[cfg(feature = "models")]
        {
            let dir = opts
                .models
                .clone()
                .unwrap_or_else(crate::models::models_dir);
            if opts.faces {
                let mut f = crate::models::CenterFace::load(&dir)?;
                if let Some(w) = opts.detect_width {
                    f = f.with_width(w);
                }
                out.push(Box::new(f));
            }
            if opts.plates {
                out.push(Box::new(crate::models::Plates::load(&dir)?));
            }
        }
        #[cfg(not(feature = "models"))]
        return Err(RedactError::InvalidArgument(
            "faces and plates need the built-in detectors: build custody-redact with feature `models`"
                .into(),
        ));
    }
    out.append(&mut opts.detectors);
    // Tracks and the log tell detectors apart by name.
    let mut names = std::collections::HashSet::new();
    if let Some(d) = out.iter().find(|d| !names.insert(d.name())) {
        return Err(RedactError::InvalidArgument(format!(
            "two detectors are named {:?}: the log tells them apart by name",
            d.name()
        )));
    }
    Ok(out)
}

/// Runs the detectors asked for in `opts` on `input` (every `opts.every`-th
/// picture) and returns what they found, picture by picture (pictures with
/// nothing found included), with the pass's figures.
pub fn detect(
    input: impl AsRef<Path>,
    opts: &mut RedactOptions,
    mut progress: impl FnMut(Progress) -> bool,
) -> Result<(Vec<FrameDetections>, ScanStats), RedactError> {
    let mut dets = detectors(opts)?;
    if dets.is_empty() {
        return Err(RedactError::InvalidArgument(
            "no detector: ask for faces, plates or a detector of your own".into(),
        ));
    }
    let names: Vec<String> = dets.iter().map(|d| d.name().to_string()).collect();
    let mut frames: Vec<FrameDetections> = Vec::new();
    let stats = scan::scan(
        input.as_ref(),
        &mut dets,
        opts.every,
        |frame, time, k, found| {
            if frames.last().is_none_or(|f| f.frame != frame) {
                frames.push(FrameDetections {
                    frame,
                    time,
                    detections: Vec::new(),
                });
            }
            if let Some(f) = frames.last_mut() {
                f.detections.extend(found.iter().map(|d| Found {
                    detector: names[k].clone(),
                    detection: d.clone(),
                }));
            }
        },
        &mut progress,
    )?;
    Ok((frames, stats))
}

/// What the picture hook masks: the tracks' and the regions' boxes, each
/// picture's own, counted as they are applied.
#[derive(Debug)]
pub struct Masks {
    tracker: Tracker,
    regions: Regions,
    style: Style,
    shape: Shape,
    masked_frames: AtomicU64,
    masks: AtomicU64,
    frames: AtomicU64,
    /// Nanoseconds spent masking, all pictures together.
    spent: AtomicU64,
    /// Each picture's time and masks applied, by its number.
    applied: Mutex<Vec<(f64, u32)>>,
}

impl Masks {
    /// Masks for `tracker`'s tracks and `regions`, in `style` and `shape`.
    pub fn new(tracker: Tracker, regions: Regions, style: Style, shape: Shape) -> Masks {
        Masks {
            tracker,
            regions,
            style,
            shape,
            masked_frames: AtomicU64::new(0),
            masks: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            spent: AtomicU64::new(0),
            applied: Mutex::new(Vec::new()),
        }
    }

    /// Every box to mask in picture `frame` at `time` (seconds).
    pub fn boxes(&self, frame: u64, time: f64) -> Vec<BBox> {
        let mut v: Vec<BBox> = self
            .tracker
            .boxes_at(frame)
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        v.extend(self.regions.regions.iter().filter_map(|r| r.at(time)));
        v
    }

    /// Masks picture `p` in place; the regions changed (each aligned to
    /// the chroma grid; with an ellipse, only the samples inside it).
    pub fn apply(&self, p: &mut PictureMut) -> Result<Vec<mask::Region>, String> {
        self.frames.fetch_add(1, Ordering::Relaxed);
        let (index, time) = (p.info.index, p.info.time);
        let started = Instant::now();
        let changed = self.mask(p)?;
        let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.spent.fetch_add(spent, Ordering::Relaxed);
        let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(i) = usize::try_from(index) {
            if applied.len() <= i {
                applied.resize(i + 1, (0.0, 0));
            }
            applied[i] = (time, u32::try_from(changed.len()).unwrap_or(u32::MAX));
        }
        Ok(changed)
    }

    /// Each picture masked so far, by number: the time it was masked at
    /// and the masks applied.
    pub(crate) fn applied(&self) -> Vec<(f64, u32)> {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn mask(&self, p: &mut PictureMut) -> Result<Vec<mask::Region>, String> {
        let boxes = self.boxes(p.info.index, p.info.time);
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let info = p.info;
        let (planes, strides) = p.planes_mut();
        let fmt = scan::pixel_format(info.format);
        let mut f = FrameMut::new(fmt, info.width, info.height, planes, &strides)
            .map_err(|e| e.to_string())?;
        let changed: Vec<mask::Region> = boxes
            .iter()
            .filter_map(|b| mask::apply(&mut f, b, self.style, self.shape))
            .collect();
        if !changed.is_empty() {
            self.masked_frames.fetch_add(1, Ordering::Relaxed);
            self.masks
                .fetch_add(changed.len() as u64, Ordering::Relaxed);
        }
        Ok(changed)
    }

    /// The tracks.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Seconds spent masking so far, all pictures together.
    pub fn seconds(&self) -> f64 {
        self.spent.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// (pictures seen, pictures masked, masks applied) so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.frames.load(Ordering::Relaxed),
            self.masked_frames.load(Ordering::Relaxed),
            self.masks.load(Ordering::Relaxed),
        )
    }
}

/// Redacts `input` into `output` (H.264 + AAC MP4; refused if it exists):
/// detects (when faces, plates or detectors are asked for), tracks, masks
/// every picture, decodes the copy once to check it and to take the BLAKE3
/// of each picture (`OUT.frames.csv`) and a contact sheet
/// (`OUT.contact.png`), then writes
/// the redaction log (`OUT.redaction.json`) and the tracks
/// (`OUT.tracks.csv`) beside it. `progress` returning false cancels; on any
/// failure nothing is left.
///
/// ```no_run
/// # fn main() -> Result<(), custody_redact::redact::RedactError> {
/// use custody_redact::redact::{RedactOptions, redact};
/// let mut opts = RedactOptions { faces: true, ..Default::default() };
/// let done = redact("CLIP.MP4", "CLIP.redacted.mp4", &mut opts, |_| true)?;
/// println!("{} faces tracked, {} pictures masked", done.tracks.len(), done.counts.masked_frames);
/// # Ok(()) }
/// ```
pub fn redact(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    opts: &mut RedactOptions,
    mut progress: impl FnMut(Progress) -> bool,
) -> Result<Redacted, RedactError> {
    let (input, output) = (input.as_ref(), output.as_ref());
    if opts.crf > 51 {
        return Err(RedactError::InvalidArgument("crf must be 0 to 51".into()));
    }
    for e in &opts.audio_edits {
        e.check()
            .map_err(|e| RedactError::InvalidArgument(e.to_string()))?;
    }
    for p in [
        log_path(output),
        csv_path(output),
        frames_path(output),
        contact_sheet_path(output),
        output.to_path_buf(),
    ] {
        if p.symlink_metadata().is_ok() {
            return Err(RedactError::InvalidArgument(format!(
                "{} already exists; a redaction never replaces a file",
                p.display()
            )));
        }
    }
    let regions = match &opts.regions {
        Some(p) => Regions::load(p)?,
        None => Regions::default(),
    };
    let mut dets = detectors(opts)?;
    let described: Vec<(String, Option<String>)> = dets
        .iter()
        .map(|d| (d.name().to_string(), d.model_sha256().map(str::to_string)))
        .collect();
    let track = opts.track.for_every(opts.every);
    let mut tracker = Tracker::new(track);
    let mut timing = Timing::default();
    let mut times = Vec::new();
    if !dets.is_empty() {
        let names: Vec<String> = described.iter().map(|d| d.0.clone()).collect();
        let stats = scan::scan(
            input,
            &mut dets,
            opts.every,
            |frame, _, k, found| tracker.observe(frame, &names[k], found),
            &mut progress,
        )?;
        timing.detect_pass = stats.seconds;
        timing.detectors = stats.detect_seconds;
        timing.detected_frames = stats.detected_frames;
        times = stats.times;
    }
    let plan = Arc::new(Masks::new(tracker, regions, opts.style, opts.shape));
    let hook_plan = plan.clone();
    // The proof's decode of the copy serves the reviewer too.
    let review = Arc::new(review::Review::new(
        output,
        plan.clone(),
        opts.contact_sheet,
    )?);
    let topts = Options {
        profile: Profile::Access,
        crf: opts.crf,
        preset: opts.preset.clone(),
        threads: opts.threads,
        other_tracks: opts.keep_other_tracks,
        pictures: Some(PictureHook::new("redact", move |p| {
            hook_plan.apply(p).map(|_| ())
        })),
        tags: opts
            .source_content
            .iter()
            .map(|c| ("CUSTODY_SOURCE_CONTENT".to_string(), c.clone()))
            .collect(),
        audio_edits: opts.audio_edits.clone(),
        proof_pictures: Some(review::Review::visitor(&review)),
        ..Default::default()
    };
    let started = Instant::now();
    let archived = custody_transcode::archive(&[input], output, &topts, |p| {
        progress(Progress {
            phase: match p.phase {
                custody_transcode::Phase::Hash => Phase::Hash,
                custody_transcode::Phase::Write => Phase::Write,
                custody_transcode::Phase::Prove => Phase::Prove,
            },
            done: p.done,
            total: p.total,
        })
    })
    .map_err(|e| review.failure().unwrap_or_else(|| e.into()))?;
    timing.encode_pass = started.elapsed().as_secs_f64();
    timing.masks = plan.seconds();
    let remove = |why: RedactError| {
        let _ = std::fs::remove_file(output);
        why
    };
    if !archived.kept {
        return Err(remove(RedactError::InvalidArgument(format!(
            "the redacted copy does not hold every picture of {} at its time; it was removed",
            input.display()
        ))));
    }
    let started = Instant::now();
    let total = plan.applied().iter().map(|a| a.0).fold(0.0, f64::max);
    if !progress(Progress {
        phase: Phase::Review,
        done: total,
        total,
    }) {
        return Err(remove(RedactError::Cancelled));
    }
    let reviewed = review.finish(output, &archived.blake3).map_err(remove)?;
    timing.review_pass = started.elapsed().as_secs_f64();
    let src = &archived.sources[0];
    let plan_ref = &*plan;
    let tracks = log::tracks(&plan_ref.tracker, &described, &times);
    let region_logs = log::regions(&plan_ref.regions);
    let (frames, masked_frames, masks) = plan_ref.counts();
    let done = Redacted {
        source: Hashed {
            path: src.path.clone(),
            size: src.size,
            blake3: src.blake3.clone(),
            content: opts.source_content.clone(),
        },
        output: Hashed {
            path: output.to_path_buf(),
            size: archived.size,
            blake3: archived.blake3.clone(),
            content: None,
        },
        log: log_path(output),
        tracks_csv: csv_path(output),
        frames_csv: reviewed.frames.clone(),
        contact_sheet: reviewed.sheet.clone(),
        counts: Counts {
            frames,
            masked_frames,
            masks,
            tracks: tracks.len() as u64,
            regions: region_logs.len() as u64,
        },
        tracks,
        regions: region_logs,
        parameters: Parameters {
            faces: opts.faces,
            plates: opts.plates,
            detectors: described,
            regions_file: opts.regions.clone(),
            style: opts.style,
            shape: opts.shape,
            every: opts.every.max(1),
            detect_width: opts.detect_width,
            track_iou: track.iou,
            track_pad: track.pad,
            track_max_gap: track.max_gap,
            track_margin: track.margin,
            audio_edits: opts.audio_edits.clone(),
            encode: archived.parameters.clone(),
        },
        ffmpeg: archived.ffmpeg.clone(),
        version: format!("custody-redact {}", env!("CARGO_PKG_VERSION")),
        audio: audio_summary(&opts.audio_edits, &archived.audio_edited, &archived.tracks),
        streams: archived.tracks.clone(),
        proof: archived.proof.clone(),
        warnings: archived.warnings.clone(),
        timing,
    };
    log::write(&done).map_err(|e| {
        reviewed.remove();
        remove(e)
    })?;
    Ok(done)
}

/// What was done to the sound, for the log: the ranges muted and bleeped
/// (`edited[k]` samples per channel replaced by `edits[k]`), then what
/// became of each audio track.
fn audio_summary(edits: &[AudioEdit], edited: &[u64], tracks: &[TrackOutcome]) -> String {
    let audio: Vec<&TrackOutcome> = tracks.iter().filter(|t| t.kind == "audio").collect();
    if audio.is_empty() {
        return if edits.is_empty() {
            "no audio track".into()
        } else {
            "no audio track: nothing muted or bleeped".into()
        };
    }
    let fate = audio
        .iter()
        .map(|t| {
            let what = match &t.action {
                Action::Copied => "stream-copied".to_string(),
                Action::Encoded { codec } => format!("encoded to {codec}"),
                Action::Dropped { reason } => format!("dropped ({reason})"),
            };
            format!("track {} {} {what}", t.stream, t.codec)
        })
        .collect::<Vec<_>>()
        .join(", ");
    if edits.is_empty() {
        return format!("passed through unchanged ({fate})");
    }
    let mut parts: Vec<String> = edits
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let verb = match e.kind {
                AudioEditKind::Mute => "muted",
                AudioEditKind::Bleep => "bleeped",
            };
            match edited.get(k).copied().unwrap_or(0) {
                0 => format!(
                    "{} {:.3}-{:.3} s: no sound there, nothing changed",
                    e.kind.name(),
                    e.from,
                    e.to
                ),
                _ => format!("{verb} {:.3}-{:.3} s", e.from, e.to),
            }
        })
        .collect();
    if edits.iter().any(|e| e.kind == AudioEditKind::Bleep) {
        parts.push(format!("bleep: {BLEEP_HZ} Hz sine at {BLEEP_DBFS} dBFS"));
    }
    format!("{}; {fate}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(stream: usize, kind: &str, codec: &str, action: Action) -> TrackOutcome {
        TrackOutcome {
            source: 0,
            stream,
            kind: kind.into(),
            codec: codec.into(),
            action,
            output_stream: Some(stream),
        }
    }

    #[test]
    fn the_audio_summary_says_what_was_done() {
        let video = track(
            0,
            "video",
            "h264",
            Action::Encoded {
                codec: "h264".into(),
            },
        );
        let aac = |a| track(1, "audio", "aac", a);
        let mute = AudioEdit::new(AudioEditKind::Mute, 1.0, 2.0).unwrap();
        let bleep = AudioEdit::new(AudioEditKind::Bleep, 2.5, 9.0).unwrap();
        assert_eq!(
            audio_summary(&[], &[], std::slice::from_ref(&video)),
            "no audio track"
        );
        assert_eq!(
            audio_summary(&[mute], &[0], std::slice::from_ref(&video)),
            "no audio track: nothing muted or bleeped"
        );
        assert_eq!(
            audio_summary(&[], &[], &[video.clone(), aac(Action::Copied)]),
            "passed through unchanged (track 1 aac stream-copied)"
        );
        let encoded = aac(Action::Encoded {
            codec: "aac".into(),
        });
        assert_eq!(
            audio_summary(
                &[mute, bleep],
                &[48000, 24000],
                &[video.clone(), encoded.clone()]
            ),
            "muted 1.000-2.000 s; bleeped 2.500-9.000 s; bleep: 1000 Hz sine at -12 dBFS; \
             track 1 aac encoded to aac"
        );
        assert_eq!(
            audio_summary(&[bleep], &[0], &[video, encoded]),
            "bleep 2.500-9.000 s: no sound there, nothing changed; \
             bleep: 1000 Hz sine at -12 dBFS; track 1 aac encoded to aac"
        );
    }
}
