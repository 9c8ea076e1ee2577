//! Redaction from C (feature `redact`; in the header behind
//! `CUSTODY_REDACT`): detectors written in C ([`CustodyDetector`]) run
//! beside the built-in ones, [`custody_detect`] lists what they find and
//! [`custody_redact`] makes the redacted copy and its log.
//!
//! A C detector is called with each decoded picture ([`CustodyFrame`]) and
//! writes what it found into a buffer the library owns and passes in
//! ([`CustodyDetection`], `cap` entries): the C side never allocates
//! anything the library frees, nor the reverse. What it reports is checked
//! before use: a count over `cap`, an unknown class, a custom label that is
//! not NUL-terminated UTF-8, a coordinate or score that is not finite, a
//! box whose right or bottom edge lies before its left or top edge, or a
//! score outside 0 to 1 fails the job with an error naming the detector and
//! the picture. Boxes reaching outside the picture are clipped to it.

#![cfg(feature = "redact")]
// Each public item says `cfg(feature = "redact")` again: cbindgen reads
// item attributes, not the module's, and guards those items in the header
// with `CUSTODY_REDACT`.

use crate::{CustodyStatus, Failure, call, json, options_arg, path_arg};
use custody::redact::mask::{Shape, Style};
use custody::redact::redact::{Phase, Progress, RedactOptions};
use custody::redact::{BBox, Class, DetectError, Detection, Detector, FrameView, PixelFormat};
use std::ffi::{CStr, c_char, c_void};
use std::path::PathBuf;

#[cfg(feature = "redact")]
/// Room for a custom class's label in a `custody_detection`, its
/// terminating NUL included.
pub const CUSTODY_LABEL_SIZE: usize = 32;

#[cfg(feature = "redact")]
/// Room for detections per picture when a `custody_detector` asks for
/// none (`max_detections` 0).
pub const CUSTODY_DETECTIONS_DEFAULT: usize = 64;

#[cfg(feature = "redact")]
/// The most room for detections per picture a `custody_detector` may ask for.
pub const CUSTODY_DETECTIONS_MAX: usize = 4096;

#[cfg(feature = "redact")]
/// Room for a detector's error message, its terminating NUL included.
pub const CUSTODY_MESSAGE_SIZE: usize = 256;

#[cfg(feature = "redact")]
/// The layout of a `custody_frame`'s planes: 8-bit planar.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustodyPixelFormat {
    /// Y, then U and V at half width and half height (rounded up).
    Yuv420p = 0,
    /// Y, then U and V at half width (rounded up), full height.
    Yuv422p = 1,
    /// Y, U and V at full size.
    Yuv444p = 2,
    /// Y only.
    Gray8 = 3,
}

#[cfg(feature = "redact")]
/// What a detection is of: the values of `custody_detection.kind`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustodyClass {
    /// A face.
    Face = 0,
    /// A licence plate.
    Plate = 1,
    /// A whole person.
    Person = 2,
    /// A screen (phone, laptop, monitor).
    Screen = 3,
    /// Anything else, named by `custody_detection.label`.
    Custom = 4,
}

#[cfg(feature = "redact")]
/// The phases of [`custody_redact`] (and the one of [`custody_detect`]).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustodyPhase {
    /// Decoding the source and running the detectors.
    Detect = 0,
    /// Hashing the source.
    Hash = 1,
    /// Writing the redacted copy.
    Write = 2,
    /// Checking the copy holds every picture of the original at its time.
    Prove = 3,
    /// Writing the copy's frames list and the reviewer's contact sheet
    /// (their pictures were taken while the copy was checked).
    Review = 4,
}

#[cfg(feature = "redact")]
/// A decoded picture as a detector sees it: read-only, valid only during
/// the call it is given to (copy what must outlive it).
///
/// Plane `i` holds `plane height` rows of `strides[i]` bytes, each row
/// starting with `plane width` samples: plane 0 is `width` x `height`;
/// chroma planes are halved as the format says (rounded up). Planes the
/// format has not are NULL with stride 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CustodyFrame {
    /// The planes, luma first.
    pub planes: [*const u8; 3],
    /// Bytes from one row of each plane to the next.
    pub strides: [usize; 3],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The planes' layout.
    pub format: CustodyPixelFormat,
    /// True for full-range (JPEG) levels, 0 to 255; false for limited
    /// range, 16 to 235.
    pub full_range: bool,
    /// The picture's number, from 0, in presentation order (`UINT64_MAX`
    /// when unknown).
    pub index: u64,
    /// Its presentation time, seconds from the video's start (NaN when
    /// unknown).
    pub time: f64,
}

#[cfg(feature = "redact")]
/// One thing a detector found in a picture, written by the detector into
/// the buffer it is given (which the library zeroes before each call).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CustodyDetection {
    /// What it is: a `custody_class` value.
    pub kind: u32,
    /// With `CUSTODY_CLASS_CUSTOM`, what it is: non-empty UTF-8 text,
    /// NUL-terminated within the array. Ignored otherwise.
    pub label: [c_char; CUSTODY_LABEL_SIZE],
    /// Left edge in pixels (inclusive).
    pub x0: f32,
    /// Top edge in pixels (inclusive).
    pub y0: f32,
    /// Right edge in pixels (exclusive); not less than `x0`.
    pub x1: f32,
    /// Bottom edge in pixels (exclusive); not less than `y0`.
    pub y1: f32,
    /// Confidence, 0 to 1.
    pub score: f32,
}

#[cfg(feature = "redact")]
/// A detector's function: looks at `frame` and writes what it found into
/// `out[0]` to `out[cap - 1]`, their number into `*n` (0 when nothing was
/// found; at most `cap`). Returns 0, or non-zero when it cannot look at
/// the picture, which fails the job; it may then write a NUL-terminated
/// message of at most `message_cap` bytes into `message`. Every pointer
/// is valid only during the call.
///
/// Called one call at a time (never concurrently), for each picture the
/// job looks at, in presentation order, before the call to
/// [`custody_detect`] or [`custody_redact`] returns (today on the thread
/// that made it).
pub type CustodyDetectFn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        frame: *const CustodyFrame,
        out: *mut CustodyDetection,
        cap: usize,
        n: *mut usize,
        message: *mut c_char,
        message_cap: usize,
    ) -> i32,
>;

#[cfg(feature = "redact")]
/// A detector of the caller's, run beside the built-in ones. Everything
/// it points to is read during the call it is given to and needs to live
/// only that long (`user` excepted: as long as `detect` may use it).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CustodyDetector {
    /// Its name in the results and the redaction log (non-empty UTF-8,
    /// distinct from every other detector's, built-in ones included:
    /// `centerface`, `plates`).
    pub name: *const c_char,
    /// The SHA-256 of its model as 64 hex digits, logged with its tracks;
    /// NULL when it has none.
    pub model_sha256: *const c_char,
    /// Its function.
    pub detect: CustodyDetectFn,
    /// Given back to `detect` as is.
    pub user: *mut c_void,
    /// Room for detections per picture (`cap`): 0 for
    /// `CUSTODY_DETECTIONS_DEFAULT`, at most `CUSTODY_DETECTIONS_MAX`.
    pub max_detections: usize,
}

#[cfg(feature = "redact")]
/// A redaction's progress: `done` of `total` seconds of media (`total` 0
/// when unknown, as in the detection phase) in `phase`; each phase counts
/// from 0. Return 0 to go on, anything else to cancel (the job then
/// returns `CUSTODY_STATUS_CANCELLED` and leaves no output). Called one
/// call at a time.
pub type CustodyRedactProgress = Option<
    unsafe extern "C" fn(user: *mut c_void, phase: CustodyPhase, done: f64, total: f64) -> i32,
>;

/// A [`CustodyDetector`] made into the redaction crate's hook.
struct CDetector {
    name: String,
    model_sha256: Option<String>,
    detect: unsafe extern "C" fn(
        *mut c_void,
        *const CustodyFrame,
        *mut CustodyDetection,
        usize,
        *mut usize,
        *mut c_char,
        usize,
    ) -> i32,
    user: *mut c_void,
    out: Vec<CustodyDetection>,
    message: Vec<c_char>,
}

// SAFETY: the detector only holds the caller's function pointer and user
// data, which the API contract lets the library call from the job's
// thread, one call at a time; nothing in it is shared.
unsafe impl Send for CDetector {}

const EMPTY: CustodyDetection = CustodyDetection {
    kind: 0,
    label: [0; CUSTODY_LABEL_SIZE],
    x0: 0.0,
    y0: 0.0,
    x1: 0.0,
    y1: 0.0,
    score: 0.0,
};

/// Text in `buf` up to its first NUL (all of it when there is none),
/// invalid UTF-8 replaced.
fn text_until_nul(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .map(|&c| c as u8)
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl CDetector {
    /// Checks one detection the C side wrote into the buffer.
    fn detection(
        &self,
        d: &CustodyDetection,
        width: u32,
        height: u32,
    ) -> Result<Detection, String> {
        const FACE: u32 = CustodyClass::Face as u32;
        const PLATE: u32 = CustodyClass::Plate as u32;
        const PERSON: u32 = CustodyClass::Person as u32;
        const SCREEN: u32 = CustodyClass::Screen as u32;
        const CUSTOM: u32 = CustodyClass::Custom as u32;
        let class = match d.kind {
            FACE => Class::Face,
            PLATE => Class::Plate,
            PERSON => Class::Person,
            SCREEN => Class::Screen,
            CUSTOM => {
                let bytes: Vec<u8> = d.label.iter().map(|&c| c as u8).collect();
                let label = CStr::from_bytes_until_nul(&bytes)
                    .map_err(|_| "its custom label is not NUL-terminated".to_string())?
                    .to_str()
                    .map_err(|_| "its custom label is not UTF-8".to_string())?;
                if label.is_empty() {
                    return Err("its custom label is empty".into());
                }
                Class::Custom(label.to_string())
            }
            k => return Err(format!("class {k} is not a custody_class")),
        };
        let (x0, y0, x1, y1) = (d.x0, d.y0, d.x1, d.y1);
        if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) {
            return Err(format!("box ({x0}, {y0})-({x1}, {y1}) is not finite"));
        }
        if x1 < x0 || y1 < y0 {
            return Err(format!(
                "box ({x0}, {y0})-({x1}, {y1}) ends before it starts"
            ));
        }
        if !(d.score.is_finite() && (0.0..=1.0).contains(&d.score)) {
            return Err(format!("score {} is not 0 to 1", d.score));
        }
        Ok(Detection {
            class,
            bbox: BBox { x0, y0, x1, y1 }.clipped(width, height),
            score: d.score,
            landmarks: Vec::new(),
        })
    }
}

impl Detector for CDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn model_sha256(&self) -> Option<&str> {
        self.model_sha256.as_deref()
    }

    fn detect(&mut self, f: &FrameView) -> Result<Vec<Detection>, DetectError> {
        let format = match f.format() {
            PixelFormat::Yuv420p => CustodyPixelFormat::Yuv420p,
            PixelFormat::Yuv422p => CustodyPixelFormat::Yuv422p,
            PixelFormat::Yuv444p => CustodyPixelFormat::Yuv444p,
            PixelFormat::Gray8 => CustodyPixelFormat::Gray8,
        };
        let mut planes = [std::ptr::null(); 3];
        let mut strides = [0; 3];
        for i in 0..f.format().planes() {
            let (p, s) = f.plane(i);
            planes[i] = p.as_ptr();
            strides[i] = s;
        }
        let frame = CustodyFrame {
            planes,
            strides,
            width: f.width(),
            height: f.height(),
            format,
            full_range: f.full_range(),
            index: f.index.unwrap_or(u64::MAX),
            time: f.pts.unwrap_or(f64::NAN),
        };
        self.out.fill(EMPTY);
        self.message.fill(0);
        let cap = self.out.len();
        let mut n: usize = 0;
        // SAFETY: the caller gave this function for the job's duration;
        // `frame` and the planes it points to (checked by `FrameView` to
        // hold the whole picture) outlive the call; `out` holds `cap`
        // initialised entries and `message` `message.len()` bytes, all
        // writable; `n` is a local.
        let rc = unsafe {
            (self.detect)(
                self.user,
                &frame,
                self.out.as_mut_ptr(),
                cap,
                &mut n,
                self.message.as_mut_ptr(),
                self.message.len(),
            )
        };
        let fail = |what: String| DetectError::Hook(format!("detector {:?} {what}", self.name));
        if rc != 0 {
            let message = text_until_nul(&self.message);
            return Err(fail(if message.is_empty() {
                format!("failed (returned {rc})")
            } else {
                format!("failed (returned {rc}): {message}")
            }));
        }
        if n > cap {
            return Err(fail(format!("reported {n} detections with room for {cap}")));
        }
        self.out[..n]
            .iter()
            .enumerate()
            .map(|(i, d)| {
                self.detection(d, f.width(), f.height())
                    .map_err(|e| fail(format!("detection {i}: {e}")))
            })
            .collect()
    }
}

/// The caller's detectors, checked and wrapped.
fn detectors(list: *const CustodyDetector, n: usize) -> Result<Vec<Box<dyn Detector>>, Failure> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(Failure::invalid(format!(
            "the detectors are null ({n} given)"
        )));
    }
    // SAFETY: non-null, and by the API contract `n` readable detectors.
    let list = unsafe { std::slice::from_raw_parts(list, n) };
    list.iter()
        .enumerate()
        .map(|(i, d)| -> Result<Box<dyn Detector>, Failure> {
            let name = crate::text_arg(d.name, "a detector's name")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| Failure::invalid(format!("detector {i} has no name")))?;
            let model_sha256 = crate::text_arg(d.model_sha256, "a detector's model SHA-256")?;
            if let Some(h) = &model_sha256
                && !(h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(Failure::invalid(format!(
                    "detector {name:?}: model_sha256 {h:?} is not 64 hex digits"
                )));
            }
            let detect = d.detect.ok_or_else(|| {
                Failure::invalid(format!("detector {name:?} has no detect function"))
            })?;
            let cap = match d.max_detections {
                0 => CUSTODY_DETECTIONS_DEFAULT,
                m if m <= CUSTODY_DETECTIONS_MAX => m,
                m => {
                    return Err(Failure::invalid(format!(
                        "detector {name:?}: max_detections {m} is over {CUSTODY_DETECTIONS_MAX}"
                    )));
                }
            };
            Ok(Box::new(CDetector {
                name,
                model_sha256,
                detect,
                user: d.user,
                out: vec![EMPTY; cap],
                message: vec![0; CUSTODY_MESSAGE_SIZE],
            }))
        })
        .collect()
}

/// A redaction progress callback made into a Rust closure: true while it
/// says go on.
fn progress_fn(cb: CustodyRedactProgress, user: *mut c_void) -> impl FnMut(Progress) -> bool {
    move |p: Progress| match cb {
        Some(f) => {
            let phase = match p.phase {
                Phase::Detect => CustodyPhase::Detect,
                Phase::Hash => CustodyPhase::Hash,
                Phase::Write => CustodyPhase::Write,
                Phase::Prove => CustodyPhase::Prove,
                Phase::Review => CustodyPhase::Review,
            };
            // SAFETY: the caller gave this function pointer and its user
            // data for the duration of the call.
            unsafe { f(user, phase, p.done, p.total) == 0 }
        }
        None => true,
    }
}

/// Detection options as JSON: every member optional.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct DetectJson {
    faces: bool,
    plates: bool,
    models: Option<PathBuf>,
    every: Option<u64>,
    detect_width: Option<u32>,
}

/// Redaction options as JSON: every member optional.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RedactJson {
    faces: bool,
    plates: bool,
    models: Option<PathBuf>,
    every: Option<u64>,
    detect_width: Option<u32>,
    regions: Option<PathBuf>,
    mask: Option<Style>,
    shape: Option<Shape>,
    crf: Option<u8>,
    preset: Option<String>,
    threads: Option<usize>,
    keep_other_tracks: bool,
}

/// The detection width, refused under 32 pixels as the CLI refuses it.
fn detect_width(w: Option<u32>) -> Result<Option<u32>, Failure> {
    match w {
        Some(w) if w < 32 => Err(Failure::invalid(format!(
            "detect_width {w} is under 32 pixels"
        ))),
        w => Ok(w),
    }
}

/// The detection interval, refused at 0 as the CLI refuses it.
fn every(e: Option<u64>) -> Result<u64, Failure> {
    match e {
        None => Ok(1),
        Some(0) => Err(Failure::invalid("every must be at least 1")),
        Some(e) => Ok(e),
    }
}

#[cfg(feature = "redact")]
/// Runs the built-in detectors `options_json` asks for and the caller's
/// `detectors` (`n_detectors` of them; NULL with 0 for none) on the video
/// at `input`, and gives in `*json_out` what they found picture by picture,
/// as `custody detect --json` prints it: `{"file", "every", "stats",
/// "frames": [{"frame", "time", "detections": [{"detector", "class", "box",
/// "score"}]}]}`. `options_json` (NULL for the defaults) may give `faces`,
/// `plates` (the built-in detectors; false by default), `models` (their
/// folder), `detect_width` (find faces on pictures scaled to this width;
/// default: full size) and `every` (look at every n-th picture; default 1).
/// Nothing is written. `progress` (else NULL) gets seconds decoded and may cancel.
///
/// A detector that fails gives `CUSTODY_STATUS_DETECTOR`, with a last
/// error naming it and the picture.
///
/// # Safety
/// `input` is a NUL-terminated string; `options_json` is NULL or one;
/// `detectors` points to `n_detectors` detectors (or is NULL with 0);
/// `json_out` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_detect(
    input: *const c_char,
    options_json: *const c_char,
    detectors: *const CustodyDetector,
    n_detectors: usize,
    progress: CustodyRedactProgress,
    user: *mut c_void,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        let input = path_arg(input, "the input")?;
        let o: DetectJson = options_arg(options_json)?;
        let every = every(o.every)?;
        let mut opts = RedactOptions {
            faces: o.faces,
            plates: o.plates,
            models: o.models,
            every,
            detect_width: detect_width(o.detect_width)?,
            detectors: self::detectors(detectors, n_detectors)?,
            ..Default::default()
        };
        let (frames, stats) = custody::detect(&input, &mut opts, progress_fn(progress, user))?;
        Ok((
            CustodyStatus::Ok,
            serde_json::json!({
                "file": input.display().to_string(),
                "every": every,
                "stats": stats,
                "frames": frames,
            }),
        ))
    })
}

#[cfg(feature = "redact")]
/// Redacts the video at `input` into `output` (H.264 + AAC in MP4; refused
/// if it exists), as `custody redact` does: runs the built-in detectors
/// `options_json` asks for and the caller's `detectors` (`n_detectors`;
/// NULL with 0 for none), tracks what they find, masks it in every picture,
/// checks the copy holds every picture of the original at its time and
/// writes the redaction log beside it (`OUTPUT.redaction.json`,
/// `OUTPUT.tracks.csv`). `*json_out` receives the log, as `custody redact
/// --json` prints it (`tracks` names each track's detector; `ok` says
/// whether the check held).
///
/// `options_json` (NULL for the defaults) may give `faces`, `plates`,
/// `models`, `detect_width`, `every` (as [`custody_detect`]), `regions` (a
/// regions file),
/// `mask` (`"blur"`, the default, `"pixelate"` or `"fill"`), `shape`
/// (`"rectangle"`, the default, or `"ellipse"`), `crf` (0 to 51, default
/// 23), `preset` (libx264's, default `"medium"`) and `threads` (encoder
/// threads; 0, the default, for one per core) and `keep_other_tracks`
/// (keep subtitle, timed-metadata and telemetry tracks; false, the default,
/// drops them, as they may carry positions). `progress` (else NULL)
/// follows the phases and may cancel.
///
/// `CUSTODY_STATUS_FINDINGS` when the copy failed its check (it is then
/// removed). On any error nothing is left at `output` or beside it; a
/// detector that fails gives `CUSTODY_STATUS_DETECTOR`, with a last error
/// naming it and the picture.
///
/// # Safety
/// `input` and `output` are NUL-terminated strings; `options_json` is NULL
/// or one; `detectors` points to `n_detectors` detectors (or is NULL with
/// 0); `json_out` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_redact(
    input: *const c_char,
    output: *const c_char,
    options_json: *const c_char,
    detectors: *const CustodyDetector,
    n_detectors: usize,
    progress: CustodyRedactProgress,
    user: *mut c_void,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        let input = path_arg(input, "the input")?;
        let output = path_arg(output, "the output")?;
        let o: RedactJson = options_arg(options_json)?;
        let defaults = RedactOptions::default();
        let mut opts = RedactOptions {
            faces: o.faces,
            plates: o.plates,
            models: o.models,
            every: every(o.every)?,
            detect_width: detect_width(o.detect_width)?,
            regions: o.regions,
            style: o.mask.unwrap_or(defaults.style),
            shape: o.shape.unwrap_or(defaults.shape),
            crf: o.crf.unwrap_or(defaults.crf),
            preset: o.preset.unwrap_or(defaults.preset),
            threads: o.threads.unwrap_or(defaults.threads),
            keep_other_tracks: o.keep_other_tracks,
            detectors: self::detectors(detectors, n_detectors)?,
            ..RedactOptions::default()
        };
        let r = custody::redact(&input, &output, &mut opts, progress_fn(progress, user))?;
        let ok = r.proof.as_ref().is_some_and(|p| p.ok());
        let mut v = json(&r);
        v["ok"] = serde_json::Value::Bool(ok);
        Ok((crate::verdict(ok), v))
    })
}
