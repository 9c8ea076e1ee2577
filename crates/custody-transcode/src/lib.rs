//! Archival transcoding of recorder media with FFmpeg (through
//! `ffmpeg-next`), each output proven against its original.
//!
//! Profiles ([`Profile`]):
//!
//! - `remux-mkv`, `remux-mp4`: every track the target can hold, stream-copied
//!   (the bitstream is untouched); tracks it cannot hold are listed as
//!   dropped, never silently lost.
//! - `preservation`: FFV1 version 3 (every frame a keyframe, slices, slice
//!   CRCs), pixel format, colour range, primaries, transfer and matrix kept
//!   exactly; AAC, Opus, MP2 and other compressed audio stream-copied; 16-
//!   and 24-bit PCM to FLAC (bit-exact); Matroska with the source's BLAKE3
//!   and provenance in its tags.
//! - `access`: H.264 (libx264, CRF and preset configurable) and AAC in an
//!   MP4 with the index first (faststart); optionally with the UTC time,
//!   device and officer burned into every picture ([`Overlay`]), and time
//!   ranges of the sound muted or bleeped ([`AudioEdit`]).
//! - `join`: consecutive segments of one recording stream-copied into one
//!   file, the boundaries as chapters; segments whose codecs or parameters
//!   differ are refused, naming the difference.
//! - `clip`: a time range stream-copied, cut at keyframes; the range
//!   actually taken is reported.
//!
//! Proofs: stream copies are proven packet by packet ([`prove_copy`]: each
//! output packet, in a container-independent form, equals an original packet,
//! in order; no decoding), re-encodes by decoded frames ([`compare`]:
//! BLAKE3 of every decoded picture's planes and of the decoded audio, in
//! presentation order). A preservation master is compared with its source
//! automatically.
//!
//! Every output is written to a temporary file beside its destination,
//! fsynced and moved into place; any failure or cancellation leaves nothing.
//! Inputs are opened read-only and never changed.
//!
//! ```no_run
//! # fn main() -> Result<(), custody_transcode::Error> {
//! use custody_transcode::{Options, Profile, archive};
//! let opts = Options { profile: Profile::Preservation, ..Default::default() };
//! let done = archive(&["CLIP.MP4"], "CLIP.preservation.mkv", &opts, |_| true)?;
//! assert!(done.proof.as_ref().is_some_and(|p| p.ok()));
//! # Ok(()) }
//! ```
//!
//! FFmpeg's log is captured per thread and folded into the typed errors
//! (nothing is printed); this replaces any log callback the host process
//! had installed.

#![deny(missing_docs)]

mod audio_edit;
mod canon;
mod copy;
mod encode;
mod error;
mod ffi;
mod frames;
mod gops;
mod output;
mod overlay;
mod picture;
mod proof;
mod provenance;
mod source;
mod source_hashes;
mod writeback;

pub use audio_edit::{AudioEdit, AudioEditKind, BLEEP_DBFS, BLEEP_HZ};
pub use error::{Error, Position, Result};
pub use frames::{
    Comparison, Difference, FrameDigest, Plane, StreamComparison, StreamDigest, compare,
    frame_digests,
};
pub use overlay::{DEFAULT_FONT, Overlay};
pub use picture::{
    Matrix, Picture, PictureFn, PictureFormat, PictureHook, PictureInfo, PictureMut,
    PictureVisitor, VisitFn, visit_pictures,
};
pub use proof::{Coverage, PacketProof, TrackProof, Unmatched, prove_copy};
pub use provenance::{SourceTags, SourceTagsFn};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What to make of the input(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Stream copy into Matroska.
    RemuxMkv,
    /// Stream copy into MP4, index first.
    RemuxMp4,
    /// FFV1 version 3 + lossless audio in Matroska, proven frame by frame.
    Preservation,
    /// H.264 + AAC in MP4, index first.
    Access,
    /// Consecutive segments stream-copied into one file, with chapters.
    Join,
    /// A time range stream-copied, cut at keyframes.
    Clip,
}

impl Profile {
    /// Every profile, in the order the CLI lists them.
    pub const ALL: [Profile; 6] = [
        Profile::RemuxMkv,
        Profile::RemuxMp4,
        Profile::Preservation,
        Profile::Access,
        Profile::Join,
        Profile::Clip,
    ];

    /// The profile's name (`remux-mkv`, `preservation`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Profile::RemuxMkv => "remux-mkv",
            Profile::RemuxMp4 => "remux-mp4",
            Profile::Preservation => "preservation",
            Profile::Access => "access",
            Profile::Join => "join",
            Profile::Clip => "clip",
        }
    }

    /// The container a profile writes when the output's name does not
    /// choose one (`join` and `clip` follow the output's extension).
    pub fn default_container(self) -> Container {
        match self {
            Profile::RemuxMp4 | Profile::Access => Container::Mp4,
            _ => Container::Matroska,
        }
    }

    /// True for the profiles proven packet by packet (stream copies).
    pub fn is_copy(self) -> bool {
        matches!(
            self,
            Profile::RemuxMkv | Profile::RemuxMp4 | Profile::Join | Profile::Clip
        )
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Profile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown profile {s:?} (remux-mkv, remux-mp4, preservation, access, join, clip)"
                ))
            })
    }
}

/// An output container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// Matroska (`.mkv`, `.mka`).
    Matroska,
    /// MP4 (`.mp4`, `.m4a`, `.m4v`), written with its index first.
    Mp4,
    /// QuickTime (`.mov`), written with its index first.
    Mov,
}

impl Container {
    /// The container an output file name asks for, by its extension.
    ///
    /// ```
    /// use custody_transcode::Container;
    /// assert_eq!(Container::from_path("a/CLIP.mkv".as_ref()), Some(Container::Matroska));
    /// assert_eq!(Container::from_path("CLIP.MP4".as_ref()), Some(Container::Mp4));
    /// assert_eq!(Container::from_path("CLIP".as_ref()), None);
    /// ```
    pub fn from_path(path: &Path) -> Option<Container> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "mkv" | "mka" => Some(Container::Matroska),
            "mp4" | "m4a" | "m4v" => Some(Container::Mp4),
            "mov" => Some(Container::Mov),
            _ => None,
        }
    }

    /// FFmpeg's muxer name.
    pub fn muxer(self) -> &'static str {
        match self {
            Container::Matroska => "matroska",
            Container::Mp4 => "mp4",
            Container::Mov => "mov",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Matroska => "mkv",
            Container::Mp4 => "mp4",
            Container::Mov => "mov",
        }
    }
}

/// How a preservation master's frames are encoded in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Parallel {
    /// Frames are independent (every FFV1 frame is a keyframe): several
    /// encoders work on different frames at once, one slice thread each.
    /// Where the source's video starts afresh at IDR pictures, each worker
    /// also decodes its own runs of GOPs; otherwise one decoder feeds them.
    #[default]
    Frames,
    /// One encoder, FFmpeg's own slice threads (what the ffmpeg CLI does).
    Slices,
}

/// How to run a job. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// The profile.
    pub profile: Profile,
    /// `clip`: start of the range, seconds from the recording's start.
    pub from: Option<f64>,
    /// `clip`: end of the range, seconds from the recording's start.
    pub to: Option<f64>,
    /// `access`: libx264's constant rate factor (0-51; default 23).
    pub crf: u8,
    /// `access`: libx264's preset (default `medium`).
    pub preset: String,
    /// `preservation`: FFV1 slices per frame (default 16).
    pub slices: u32,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// `preservation`: how frames are encoded in parallel.
    pub parallel: Parallel,
    /// Prove the output after writing it (default true): packets for stream
    /// copies, decoded frames for re-encodes.
    pub prove: bool,
    /// Container for `join` and `clip` (default: from the output's
    /// extension, else the source's family: Matroska).
    pub container: Option<Container>,
    /// Extra tags written into the output (provenance from the caller:
    /// content hashes, case numbers).
    pub tags: Vec<(String, String)>,
    /// More tags the caller makes from the sources (their content hashes),
    /// made on another thread while the sources' BLAKE3 is taken and the
    /// input opened; written after [`Options::tags`]. `None` (the default)
    /// makes none.
    pub source_tags: Option<SourceTags>,
    /// Re-encodes (`preservation`, `access`): keep the tracks other than pictures and sound (subtitles,
    /// timed metadata, telemetry) where the target can hold them (the
    /// default); `false` drops them, each listed as dropped with the reason
    /// (a redacted copy must not carry the positions a telemetry track holds).
    pub other_tracks: bool,
    /// `access`: burn the UTC time, device and officer into every picture
    /// (FFmpeg's `drawtext` filter); `None` (the default) leaves the
    /// pictures as they are.
    pub overlay: Option<Overlay>,
    /// `access`: a function applied to every decoded picture before it is
    /// encoded (masks for redaction), after its buffers are made its own;
    /// `None` (the default) leaves the pictures as they are.
    pub pictures: Option<PictureHook>,
    /// `access`: a function given every picture of the output, read-only,
    /// as the proof decodes it (numbered and timed as [`visit_pictures`]
    /// does, with the digest the proof took): a reviewer's look at the copy
    /// without a second decode. It does not change the output; `None` (the
    /// default) visits nothing.
    pub proof_pictures: Option<PictureVisitor>,
    /// `access`: time ranges of the sound muted or bleeped ([`AudioEdit`]).
    /// When there are any, every audio track is decoded, edited sample by
    /// sample and encoded to AAC (never stream-copied, its samples being
    /// changed); empty (the default) leaves the sound as it is.
    pub audio_edits: Vec<AudioEdit>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            profile: Profile::RemuxMkv,
            from: None,
            to: None,
            crf: 23,
            preset: "medium".into(),
            slices: 16,
            threads: 0,
            parallel: Parallel::Frames,
            prove: true,
            container: None,
            tags: Vec::new(),
            source_tags: None,
            other_tracks: true,
            overlay: None,
            pictures: None,
            proof_pictures: None,
            audio_edits: Vec::new(),
        }
    }
}

impl Options {
    /// The parameters that shape the output, as recorded in its tags and
    /// the report (only those the profile uses).
    pub fn parameters(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("profile".into(), self.profile.name().into());
        match self.profile {
            Profile::Preservation => {
                m.insert("video".into(), "ffv1 level=3 g=1 slicecrc=1".into());
                m.insert("slices".into(), self.slices.to_string());
                m.insert("audio".into(), "copy; pcm_s16/s24 -> flac".into());
            }
            Profile::Access => {
                m.insert("video".into(), "libx264 yuv420p".into());
                m.insert("crf".into(), self.crf.to_string());
                m.insert("preset".into(), self.preset.clone());
                if self.audio_edits.is_empty() {
                    m.insert("audio".into(), "aac copy, else aac 128k".into());
                } else {
                    m.insert("audio".into(), "aac 128k".into());
                    m.insert(
                        "audio_edits".into(),
                        format!(
                            "{} (bleep: {BLEEP_HZ} Hz sine at {BLEEP_DBFS} dBFS)",
                            audio_edit::describe_all(&self.audio_edits)
                        ),
                    );
                }
                if let Some(o) = &self.overlay {
                    m.insert("overlay".into(), o.describe());
                }
                if !self.other_tracks {
                    m.insert("other_tracks".into(), "dropped".into());
                }
                if let Some(h) = &self.pictures {
                    m.insert("pictures".into(), h.name().to_string());
                }
            }
            Profile::Clip => {
                if let Some(f) = self.from {
                    m.insert("from".into(), format!("{f}"));
                }
                if let Some(t) = self.to {
                    m.insert("to".into(), format!("{t}"));
                }
            }
            _ => {}
        }
        m
    }
}

/// Where a job stands: `done` of `total` seconds of media in `phase`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// What is being done.
    pub phase: Phase,
    /// Seconds of media done so far.
    pub done: f64,
    /// Seconds of media in all (0 when unknown).
    pub total: f64,
}

/// The phases of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Hashing the source(s).
    Hash,
    /// Writing the output.
    Write,
    /// Proving the output against the source(s).
    Prove,
}

/// One source file of a job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceFile {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its BLAKE3 (hex), as recorded in the output's tags.
    pub blake3: String,
}

/// What happened to one track of a source.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackOutcome {
    /// The source (index into [`Archived::sources`]).
    pub source: usize,
    /// The track's stream index in the source.
    pub stream: usize,
    /// `video`, `audio`, `subtitle`, `data`, `attachment`.
    pub kind: String,
    /// FFmpeg's codec name.
    pub codec: String,
    /// What was done with it.
    pub action: Action,
    /// Its stream index in the output, when it is there.
    pub output_stream: Option<usize>,
}

/// What was done with a track.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Stream-copied: the bitstream is untouched.
    Copied,
    /// Re-encoded with `codec`.
    Encoded {
        /// The encoder's codec name (`ffv1`, `flac`, `h264`, `aac`).
        codec: String,
    },
    /// Not in the output, and why.
    Dropped {
        /// Why the target cannot hold it.
        reason: String,
    },
}

/// A chapter of a joined output: one source segment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Chapter {
    /// Start in the output, seconds.
    pub start: f64,
    /// End in the output, seconds.
    pub end: f64,
    /// The segment's file name.
    pub title: String,
}

/// The range a clip took.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ClipRange {
    /// Requested start, seconds from the recording's start.
    pub requested_from: f64,
    /// Requested end.
    pub requested_to: f64,
    /// Start actually taken (the keyframe at or before `requested_from`).
    pub from: f64,
    /// End actually taken (the keyframe at or after `requested_to`, or the
    /// recording's end).
    pub to: f64,
}

/// The proof of an output.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Proof {
    /// A stream copy, proven packet by packet.
    Packets(PacketProof),
    /// A re-encode, proven (or, for a lossy access copy, measured) by decoded frames.
    Frames(FramesProof),
}

/// A re-encode's decoded-frame proof.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FramesProof {
    /// True when the output must decode to the same frames as the source
    /// (preservation); false for a lossy access copy, where only the frame
    /// count and timing must match.
    pub lossless: bool,
    /// The comparison of source and output.
    pub comparison: Comparison,
    /// The packet proof of the tracks that were stream-copied (compressed
    /// audio), when there are any.
    pub copies: Option<PacketProof>,
}

impl Proof {
    /// True when the proof holds: every packet matched and the expected
    /// coverage (stream copies); identical frames (preservation); the same
    /// frames at the same times (access).
    pub fn ok(&self) -> bool {
        match self {
            Proof::Packets(p) => p.ok,
            Proof::Frames(f) => {
                let copies = f.copies.as_ref().is_none_or(|p| p.ok);
                copies
                    && if f.lossless {
                        f.comparison.identical
                    } else {
                        f.comparison.same_frames()
                    }
            }
        }
    }
}

/// What a job wrote and how it was proven.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Archived {
    /// The profile.
    pub profile: Profile,
    /// The output file.
    pub output: PathBuf,
    /// False when the proof failed: the output was then removed (run again
    /// with the proof off to keep it for inspection).
    pub kept: bool,
    /// Its container.
    pub container: Container,
    /// Its size in bytes.
    pub size: u64,
    /// Its BLAKE3 (hex).
    pub blake3: String,
    /// The source(s).
    pub sources: Vec<SourceFile>,
    /// Every track of every source and what became of it.
    pub tracks: Vec<TrackOutcome>,
    /// `clip`: the range requested and taken.
    pub range: Option<ClipRange>,
    /// `join`: one chapter per segment.
    pub chapters: Vec<Chapter>,
    /// The parameters (as in the output's tags).
    pub parameters: BTreeMap<String, String>,
    /// The FFmpeg libraries' version.
    pub ffmpeg: String,
    /// The proof, unless it was switched off.
    pub proof: Option<Proof>,
    /// What was noticed on the way (timestamps repaired, an audio edit
    /// beyond the sound, ...).
    pub warnings: Vec<String>,
    /// `access`: the samples (per channel, every audio track together)
    /// each of [`Options::audio_edits`] replaced, in the same order (0 for
    /// a range where there is no sound).
    pub audio_edited: Vec<u64>,
}

impl Archived {
    /// The tracks that are not in the output, with the reason.
    pub fn dropped(&self) -> impl Iterator<Item = &TrackOutcome> {
        self.tracks
            .iter()
            .filter(|t| matches!(t.action, Action::Dropped { .. }))
    }
}

/// Parses a time: seconds (`12.5`) or `[HH:]MM:SS[.fff]` (`1:02:03.5`).
///
/// ```
/// use custody_transcode::parse_time;
/// assert_eq!(parse_time("12.5").unwrap(), 12.5);
/// assert_eq!(parse_time("1:02:03.5").unwrap(), 3723.5);
/// assert!(parse_time("-1").is_err() && parse_time("1:75").is_err());
/// ```
pub fn parse_time(s: &str) -> Result<f64> {
    let bad = || {
        Error::InvalidArgument(format!(
            "{s:?} is not a time (seconds, or [HH:]MM:SS[.fff])"
        ))
    };
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.is_empty() || parts.len() > 3 {
        return Err(bad());
    }
    let mut total = 0.0f64;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit() || (last && c == '.')) {
            return Err(bad());
        }
        let v: f64 = p.parse().map_err(|_| bad())?;
        if i > 0 && v >= 60.0 {
            return Err(bad());
        }
        total = total * 60.0 + v;
    }
    if total.is_finite() {
        Ok(total)
    } else {
        Err(bad())
    }
}

/// Parses a time range `FROM-TO`, each time as [`parse_time`] takes it
/// (`1.5-3`, `1:02-1:04.5`), FROM before TO.
///
/// ```
/// use custody_transcode::parse_range;
/// assert_eq!(parse_range("1.5-3").unwrap(), (1.5, 3.0));
/// assert_eq!(parse_range("1:02-1:04.5").unwrap(), (62.0, 64.5));
/// assert!(parse_range("3-1").is_err() && parse_range("2-2").is_err());
/// assert!(parse_range("1-2-3").is_err() && parse_range("-1-2").is_err());
/// ```
pub fn parse_range(s: &str) -> Result<(f64, f64)> {
    let bad = |why: &str| {
        Error::InvalidArgument(format!(
            "{s:?} is not a time range FROM-TO ({why}; each time in seconds, or [HH:]MM:SS[.fff])"
        ))
    };
    // No time holds a '-': the one '-' splits the two.
    let (from, to) = s
        .split_once('-')
        .filter(|(_, to)| !to.contains('-'))
        .ok_or_else(|| bad("one '-' between two times"))?;
    let (from, to) = (
        parse_time(from).map_err(|_| bad("FROM is not a time"))?,
        parse_time(to).map_err(|_| bad("TO is not a time"))?,
    );
    if from >= to {
        return Err(bad("FROM must come before TO"));
    }
    Ok((from, to))
}

/// The FFmpeg libraries' version string (`5.1.6-0+deb12u1`).
pub fn ffmpeg_version() -> String {
    ffi::init();
    ffi::version_info()
}

/// The tag names Custody writes into every output.
pub mod tags {
    /// The profile.
    pub const PROFILE: &str = "CUSTODY_PROFILE";
    /// The parameters, `key=value` separated by `; `.
    pub const PARAMETERS: &str = "CUSTODY_PARAMETERS";
    /// The source file name(s), `; `-separated.
    pub const SOURCE: &str = "CUSTODY_SOURCE";
    /// The source BLAKE3 hash(es), hex, `; `-separated.
    pub const SOURCE_BLAKE3: &str = "CUSTODY_SOURCE_BLAKE3";
    /// The source size(s) in bytes, `; `-separated.
    pub const SOURCE_SIZE: &str = "CUSTODY_SOURCE_SIZE";
    /// The FFmpeg libraries' version.
    pub const FFMPEG: &str = "CUSTODY_FFMPEG";
    /// Custody's version.
    pub const VERSION: &str = "CUSTODY_VERSION";
}

/// Runs `opts.profile` on `inputs` (one file, or the segments to `join` in
/// order) writing `output`, then proves the output (unless `opts.prove` is
/// off). `progress` is called often; returning `false` cancels the job
/// ([`Error::Cancelled`]) and leaves no output.
///
/// The output is refused if it exists already or is one of the inputs.
pub fn archive<P: AsRef<Path>>(
    inputs: &[P],
    output: impl AsRef<Path>,
    opts: &Options,
    mut progress: impl FnMut(Progress) -> bool,
) -> Result<Archived> {
    ffi::init();
    let output = output.as_ref();
    let inputs: Vec<PathBuf> = inputs.iter().map(|p| p.as_ref().to_path_buf()).collect();
    check_request(&inputs, output, opts)?;
    let container = match opts.profile {
        Profile::Join | Profile::Clip => opts
            .container
            .or_else(|| Container::from_path(output))
            .unwrap_or(Container::Matroska),
        p => p.default_container(),
    };
    for p in &inputs {
        source::check_file(p)?;
    }
    if !progress(Progress {
        phase: Phase::Hash,
        done: 0.0,
        total: 0.0,
    }) {
        return Err(Error::Cancelled);
    }
    // Every source's BLAKE3 goes into the output's tags: the sources are
    // hashed on another thread while the input is opened, and waited for
    // when the output's header is written.
    std::thread::scope(|scope| {
        let hashing = scope.spawn(|| provenance::gather(&inputs, opts));
        let mut tags = provenance::Tags::later(move || {
            hashing
                .join()
                .unwrap_or_else(|_| Err(Error::InvalidArgument("hashing a source failed".into())))
        });
        let tmp = output::TempOutput::new(output)?;
        let written = match opts.profile {
            Profile::Preservation | Profile::Access => {
                encode::transcode(&inputs[0], &tmp, container, opts, &mut tags, &mut progress)?
            }
            _ => copy::stream_copy(&inputs, &tmp, container, opts, &mut tags, &mut progress)?,
        };
        let sources = tags.into_sources()?;
        finish(
            &inputs,
            output,
            tmp,
            opts,
            container,
            sources,
            written,
            &mut progress,
        )
    })
}

/// Proves the output written to `tmp`, takes its BLAKE3, and keeps it
/// (renamed to `output`) when the proof holds.
#[allow(clippy::too_many_arguments)]
fn finish(
    inputs: &[PathBuf],
    output: &Path,
    tmp: output::TempOutput,
    opts: &Options,
    container: Container,
    sources: Vec<SourceFile>,
    mut written: Written,
    mut progress: impl FnMut(Progress) -> bool,
) -> Result<Archived> {
    // The output's BLAKE3 is taken on another thread while the proof reads it.
    let out_path = tmp.path().to_path_buf();
    let (proof, digest) = std::thread::scope(|scope| {
        let digest = scope.spawn(|| source::blake3_file(&out_path));
        let proof = prove_output(inputs, &tmp, output, opts, &mut written, &mut progress);
        let digest = digest
            .join()
            .unwrap_or_else(|_| Err(Error::InvalidArgument("hashing the output failed".into())));
        (proof, digest)
    });
    let (proof, (size, blake3)) = (proof?, digest?);
    // An output that fails its proof is not left beside the evidence.
    let kept = proof.as_ref().is_none_or(Proof::ok);
    if kept {
        tmp.commit()?;
    } else {
        drop(tmp);
    }
    // The early writeback thread ends now that the commit has synced.
    drop(written.writeback.take());
    let mut proof = proof;
    if let Some(Proof::Packets(p)) = &mut proof {
        p.output = output.to_path_buf();
    }
    Ok(Archived {
        profile: opts.profile,
        output: output.to_path_buf(),
        kept,
        container,
        size,
        blake3,
        sources,
        tracks: written.tracks,
        range: written.range,
        chapters: written.chapters,
        parameters: opts.parameters(),
        ffmpeg: ffi::version_info(),
        proof,
        warnings: written.warnings,
        audio_edited: written.audio_edited,
    })
}

/// Proves the output written to `tmp`, unless the proof is off.
fn prove_output(
    inputs: &[PathBuf],
    tmp: &output::TempOutput,
    output: &Path,
    opts: &Options,
    written: &mut Written,
    progress: &mut impl FnMut(Progress) -> bool,
) -> Result<Option<Proof>> {
    if !opts.prove {
        return Ok(None);
    }
    let total = written.duration;
    let mut prog = |done: f64| {
        progress(Progress {
            phase: Phase::Prove,
            done,
            total,
        })
    };
    Ok(Some(match opts.profile {
        Profile::Preservation | Profile::Access => {
            let lossless = opts.profile == Profile::Preservation;
            let comparison = match written.recorded.take() {
                Some((rec, outs)) => frames::prove_reencode(
                    &inputs[0],
                    tmp.path(),
                    output,
                    (rec, &outs),
                    lossless,
                    opts.proof_pictures.as_ref(),
                    &mut prog,
                )?,
                None => frames::compare_with(&inputs[0], tmp.path(), output, &mut prog)?,
            };
            // Copied tracks are proven bit for bit as well.
            let copied: Vec<usize> = written
                .tracks
                .iter()
                .filter(|t| t.action == Action::Copied)
                .filter_map(|t| t.output_stream)
                .collect();
            let copies = if copied.is_empty() {
                None
            } else {
                let mut p = proof::prove(inputs, tmp.path(), Some(&copied), true, &mut prog)?;
                p.output = output.to_path_buf();
                Some(p)
            };
            Proof::Frames(FramesProof {
                lossless,
                comparison,
                copies,
            })
        }
        _ => Proof::Packets(proof::prove_against(
            inputs,
            tmp.path(),
            None,
            opts.profile != Profile::Clip,
            written.packets.take(),
            &mut prog,
        )?),
    }))
}

fn check_request(inputs: &[PathBuf], output: &Path, opts: &Options) -> Result<()> {
    if inputs.is_empty() {
        return Err(Error::InvalidArgument("no input file".into()));
    }
    if inputs.len() > 1 && opts.profile != Profile::Join {
        return Err(Error::InvalidArgument(format!(
            "profile {} takes one input; join takes several",
            opts.profile
        )));
    }
    if opts.profile == Profile::Clip {
        match (opts.from, opts.to) {
            (Some(f), Some(t)) if f.is_finite() && t.is_finite() && f >= 0.0 && t > f => {}
            (Some(_), Some(_)) => {
                return Err(Error::InvalidArgument(
                    "clip needs 0 <= --from < --to".into(),
                ));
            }
            _ => {
                return Err(Error::InvalidArgument("clip needs --from and --to".into()));
            }
        }
    } else if opts.from.is_some() || opts.to.is_some() {
        return Err(Error::InvalidArgument(
            "--from and --to belong to the clip profile".into(),
        ));
    }
    if opts.overlay.is_some() && opts.profile != Profile::Access {
        return Err(Error::InvalidArgument(
            "--overlay belongs to the access profile".into(),
        ));
    }
    if opts.pictures.is_some() && opts.profile != Profile::Access {
        return Err(Error::InvalidArgument(
            "a picture hook belongs to the access profile".into(),
        ));
    }
    if opts.proof_pictures.is_some() && (opts.profile != Profile::Access || !opts.prove) {
        return Err(Error::InvalidArgument(
            "a proof's picture visitor belongs to the access profile with its proof on".into(),
        ));
    }
    if !opts.audio_edits.is_empty() && opts.profile != Profile::Access {
        return Err(Error::InvalidArgument(
            "muting and bleeping belong to the access profile".into(),
        ));
    }
    for e in &opts.audio_edits {
        e.check()?;
    }
    if opts.crf > 51 {
        return Err(Error::InvalidArgument("--crf must be 0 to 51".into()));
    }
    if !(1..=1024).contains(&opts.slices) {
        return Err(Error::InvalidArgument("--slices must be 1 to 1024".into()));
    }
    // The original is never replaced: refuse an output that is an input.
    let out_abs = absolute(output);
    for i in inputs {
        if absolute(i) == out_abs {
            return Err(Error::InvalidArgument(format!(
                "{}: the output would replace an input",
                output.display()
            )));
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
    match (dir.map(|d| d.canonicalize()), p.file_name()) {
        (Some(Ok(d)), Some(n)) => d.join(n),
        (None, Some(n)) => std::env::current_dir()
            .map(|d| d.join(n))
            .unwrap_or_else(|_| p.to_path_buf()),
        _ => p.to_path_buf(),
    }
}

/// What a writer reports back.
pub(crate) struct Written {
    pub(crate) tracks: Vec<TrackOutcome>,
    pub(crate) range: Option<ClipRange>,
    pub(crate) chapters: Vec<Chapter>,
    /// Seconds of media written.
    pub(crate) duration: f64,
    pub(crate) warnings: Vec<String>,
    /// Samples each audio edit replaced ([`Archived::audio_edited`]).
    pub(crate) audio_edited: Vec<u64>,
    /// Re-encodes: the source's decoded-frame digests, taken while
    /// encoding, and the output streams they belong to.
    pub(crate) recorded: Option<(frames::Recorder, Vec<usize>)>,
    /// Stream copies: the originals' packets, hashed as they were read.
    pub(crate) packets: Option<proof::SourcePackets>,
    /// The output's early writeback, finished by the time this is dropped
    /// (after the commit).
    pub(crate) writeback: Option<writeback::Writeback>,
}
