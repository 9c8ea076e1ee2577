//! Faces redacted end to end on a real recording with faces (Megamind.avi
//! from Debian's opencv-doc, extracted by scripts/setup.sh) with the real
//! CenterFace model: every face CenterFace finds in the source (threshold
//! 0.5, every picture) lies under a mask of the redacted copy, found from
//! detections on every second picture; the copy decodes without error.
//! Also: missing models give the error naming scripts/models.sh.
//!
//! Without the models or the recording the test says so and skips, unless
//! `CUSTODY_REQUIRE_TOOLS` is set.

use custody_redact::models::{CenterFace, models_dir};
use custody_redact::redact::{RedactError, RedactOptions, redact};
use custody_redact::{BBox, Detector};
use std::path::{Path, PathBuf};
use std::process::Command;

fn megamind() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/opencv-doc/data/Megamind.avi");
    let model = models_dir().join("centerface.onnx");
    if p.is_file() && model.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
        "missing {} or {}: run scripts/setup.sh and scripts/models.sh",
        p.display(),
        model.display()
    );
    eprintln!(
        "SKIPPED: missing Megamind.avi or the CenterFace model (scripts/setup.sh, scripts/models.sh)"
    );
    None
}

/// The share of `b`'s area covered by the union of `masks` (counted on a
/// pixel grid).
fn covered(b: &BBox, masks: &[BBox]) -> f64 {
    let (mut inside, mut all) = (0u64, 0u64);
    let mut y = b.y0.floor();
    while y < b.y1 {
        let mut x = b.x0.floor();
        while x < b.x1 {
            let (cx, cy) = (x + 0.5, y + 0.5);
            all += 1;
            if masks
                .iter()
                .any(|m| cx >= m.x0 && cx < m.x1 && cy >= m.y0 && cy < m.y1)
            {
                inside += 1;
            }
            x += 1.0;
        }
        y += 1.0;
    }
    inside as f64 / all.max(1) as f64
}

#[test]
fn every_face_centerface_finds_is_under_a_mask_of_the_redacted_copy() {
    let Some(original) = megamind() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Its AC3 sound is damaged (the ffmpeg CLI cannot decode it either, and
    // a redaction refuses it as such): the video alone, stream-copied.
    let src = dir.path().join("megamind.avi");
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&original)
        .args(["-map", "0:v", "-c", "copy"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The reference: CenterFace on every picture of the source.
    let mut cf = CenterFace::load(&models_dir()).unwrap();
    let mut reference: Vec<(u64, BBox)> = Vec::new();
    let mut frames = 0;
    custody_transcode::visit_pictures(
        &src,
        |_| true,
        |p| {
            frames += 1;
            let (y, u, v) = (p.plane(0), p.plane(1), p.plane(2));
            let f = custody_redact::FrameView::new(
                custody_redact::PixelFormat::Yuv420p,
                p.info.width,
                p.info.height,
                p.info.full_range,
                &[y.0, u.0, v.0],
                &[y.1, u.1, v.1],
            )
            .unwrap();
            for d in cf.detect(&f).unwrap() {
                reference.push((p.info.index, d.bbox));
            }
            Ok(true)
        },
    )
    .unwrap();
    let with_faces: std::collections::BTreeSet<u64> = reference.iter().map(|r| r.0).collect();
    assert!(
        with_faces.len() > frames / 2,
        "CenterFace found faces in only {} of {frames} pictures",
        with_faces.len()
    );
    // The redaction, detecting on every second picture.
    let out = dir.path().join("redacted.mp4");
    let mut opts = RedactOptions {
        faces: true,
        every: 2,
        preset: "veryfast".into(),
        ..Default::default()
    };
    let done = redact(&src, &out, &mut opts, |_| true).unwrap();
    assert_eq!(done.counts.frames, frames as u64);
    assert_eq!(done.parameters.detectors[0].0, "centerface");
    assert_eq!(
        done.tracks[0].model_sha256.as_deref(),
        Some(custody_redact::models::CENTERFACE.sha256)
    );
    // Each reference face against the masks of its picture, rebuilt from
    // the log's tracks exactly as the pipeline masks them.
    let mut tracker = custody_redact::track::Tracker::new(opts.track);
    let mut seen: Vec<(u64, &custody_redact::track::Seen, &str)> = done
        .tracks
        .iter()
        .flat_map(|t| {
            t.boxes
                .iter()
                .map(move |s| (s.frame, s, t.detector.as_str()))
        })
        .collect();
    seen.sort_by_key(|s| s.0);
    let mut i = 0;
    while i < seen.len() {
        let f = seen[i].0;
        let dets: Vec<custody_redact::Detection> = seen[i..]
            .iter()
            .take_while(|s| s.0 == f)
            .map(|s| custody_redact::Detection {
                class: custody_redact::Class::Face,
                bbox: s.1.bbox,
                score: s.1.score,
                landmarks: vec![],
            })
            .collect();
        i += dets.len();
        tracker.observe(f, "centerface", &dets);
    }
    let (mut full, mut worst) = (0usize, 1.0f64);
    for (f, b) in &reference {
        let masks: Vec<BBox> = tracker.boxes_at(*f).into_iter().map(|x| x.1).collect();
        let c = covered(b, &masks);
        worst = worst.min(c);
        full += usize::from(c >= 0.999);
    }
    let share = full as f64 / reference.len() as f64;
    eprintln!(
        "{} reference faces in {} of {frames} pictures; {:.1}% fully under a mask, the worst {:.1}% covered; {} tracks; detection {:.1} fps, whole pipeline {:.1} fps",
        reference.len(),
        with_faces.len(),
        share * 100.0,
        worst * 100.0,
        done.tracks.len(),
        done.timing.detected_frames as f64 / done.timing.detectors,
        frames as f64 / (done.timing.detect_pass + done.timing.encode_pass)
    );
    // Detection on every second picture, interpolated, with a 1.2 margin:
    // every face is at least mostly covered, nearly all fully.
    assert!(
        share >= 0.98,
        "only {:.1}% of reference faces fully masked",
        share * 100.0
    );
    assert!(
        worst >= 0.8,
        "a reference face only {:.1}% masked",
        worst * 100.0
    );
    // It decodes without an error (pictures the AVI leaves without a
    // timestamp get the next one, so times always increase).
    let dec = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&out)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&dec.stderr);
    assert!(dec.status.success() && stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn missing_models_name_the_setup_command_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-models");
    std::fs::create_dir(&empty).unwrap();
    let src = dir.path().join("any.mp4");
    std::fs::write(&src, b"not even read").unwrap();
    let out = dir.path().join("out.mp4");
    let mut opts = RedactOptions {
        faces: true,
        models: Some(empty),
        ..Default::default()
    };
    let e = redact(&src, &out, &mut opts, |_| true).unwrap_err();
    assert!(matches!(e, RedactError::Model(_)), "{e:?}");
    assert!(e.to_string().contains("scripts/models.sh"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}
