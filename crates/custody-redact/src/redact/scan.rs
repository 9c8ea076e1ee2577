//! The detection pass: decodes the source once and runs every detector on
//! every `every`-th picture, in presentation order.

use super::{Phase, Progress, RedactError};
use crate::detect::{Detection, Detector};
use crate::frame::{FrameView, PixelFormat};
use custody_transcode::{Picture, PictureFormat};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The redaction crate's layout for a transcode picture layout.
pub(crate) fn pixel_format(f: PictureFormat) -> PixelFormat {
    match f {
        PictureFormat::Yuv420p => PixelFormat::Yuv420p,
        PictureFormat::Yuv422p => PixelFormat::Yuv422p,
        PictureFormat::Yuv444p => PixelFormat::Yuv444p,
        PictureFormat::Gray8 => PixelFormat::Gray8,
    }
}

/// A decoded picture as a detector sees it.
pub(crate) fn view<'a>(p: &Picture<'a>) -> Result<FrameView<'a>, crate::FrameError> {
    let fmt = pixel_format(p.info.format);
    let n = fmt.planes();
    let planes: Vec<&[u8]> = (0..n).map(|i| p.plane(i).0).collect();
    let strides: Vec<usize> = (0..n).map(|i| p.plane(i).1).collect();
    let mut v = FrameView::new(
        fmt,
        p.info.width,
        p.info.height,
        p.info.full_range,
        &planes,
        &strides,
    )?;
    v.pts = Some(p.info.time);
    v.index = Some(p.info.index);
    Ok(v)
}

/// What the detectors found in one picture.
#[derive(Debug, Clone, Serialize)]
pub struct FrameDetections {
    /// The picture's number, from 0, in presentation order.
    pub frame: u64,
    /// Its time, seconds from the video's start.
    pub time: f64,
    /// Each detection, with the detector that made it.
    pub detections: Vec<Found>,
}

/// One detection and its detector.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// The detector's name.
    pub detector: String,
    /// The detection.
    #[serde(flatten)]
    pub detection: Detection,
}

/// What a detection pass did, and how fast.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanStats {
    /// Pictures decoded.
    pub frames: u64,
    /// Pictures the detectors looked at.
    pub detected_frames: u64,
    /// Seconds the detectors took, in all.
    pub detect_seconds: f64,
    /// Seconds the whole pass took (decoding included).
    pub seconds: f64,
    /// Every picture's time (index = picture number).
    #[serde(skip)]
    pub times: Vec<f64>,
}

/// Decodes `input` and runs `detectors` on every `every`-th picture (from
/// picture 0), calling `found(frame, time, detector index, detections)`
/// for each picture looked at (with empty detections too).
pub(crate) fn scan(
    input: &Path,
    detectors: &mut [Box<dyn Detector>],
    every: u64,
    mut found: impl FnMut(u64, f64, usize, &[Detection]),
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<ScanStats, RedactError> {
    let every = every.max(1);
    let mut stats = ScanStats::default();
    let started = Instant::now();
    let mut failed: Option<RedactError> = None;
    let r = custody_transcode::visit_pictures(
        input,
        |t| {
            progress(Progress {
                phase: Phase::Detect,
                done: t.max(0.0),
                total: 0.0,
            })
        },
        |p| {
            stats.frames += 1;
            stats.times.push(p.info.time);
            if p.info.index % every != 0 {
                return Ok(true);
            }
            let v = match view(p) {
                Ok(v) => v,
                Err(e) => {
                    failed = Some(RedactError::Picture {
                        frame: p.info.index,
                        message: e.to_string(),
                    });
                    return Ok(false);
                }
            };
            let t0 = Instant::now();
            for (k, d) in detectors.iter_mut().enumerate() {
                match d.detect(&v) {
                    Ok(dets) => found(p.info.index, p.info.time, k, &dets),
                    Err(source) => {
                        failed = Some(RedactError::Detect {
                            frame: p.info.index,
                            source,
                        });
                        return Ok(false);
                    }
                }
            }
            stats.detect_seconds += t0.elapsed().as_secs_f64();
            stats.detected_frames += 1;
            Ok(true)
        },
    );
    if let Some(e) = failed {
        return Err(e);
    }
    r.map_err(RedactError::from)?;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}
