//! The redaction pipeline with the real FFmpeg on clips the ffmpeg CLI
//! generates: masks change only the pixels inside them (checked sample by
//! sample in the picture hook), the redacted copy keeps the rest of every
//! picture, the log says what was done, and damaged inputs leave nothing.

use custody_redact::mask::{Shape, Style};
use custody_redact::redact::{Masks, RedactError, RedactOptions, redact};
use custody_redact::regions::Regions;
use custody_redact::track::{TrackOptions, Tracker};
use custody_redact::{BBox, Class, DetectError, Detection, Detector, FrameView};
use custody_transcode::{Options, PictureHook, Profile, archive, visit_pictures};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed (scripts/setup.sh)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 2 s of 320x240 at 30 fps (H.264 with B-pictures) and a 440 Hz tone (AAC).
fn clip(dir: &Path) -> PathBuf {
    let p = dir.join("clip.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=30:d=2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:r=48000:d=2",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-bf",
        "2",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        p.to_str().unwrap(),
    ]);
    p
}

/// A region moving from the top left to the bottom right over 2 s.
const REGIONS: &str = r#"{"regions": [{"label": "door number", "class": "screen", "keyframes": [
  {"time": 0.0, "box": {"x0": 20, "y0": 20, "x1": 100, "y1": 90}},
  {"time": 2.0, "box": {"x0": 180, "y0": 130, "x1": 260, "y1": 200}}]}]}"#;

/// Finds a "face" at a fixed place in every picture.
struct Fixed;
impl Detector for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    fn detect(&mut self, _: &FrameView) -> Result<Vec<Detection>, DetectError> {
        Ok(vec![Detection {
            class: Class::Face,
            bbox: BBox {
                x0: 220.0,
                y0: 16.0,
                x1: 300.0,
                y1: 80.0,
            },
            score: 0.9,
            landmarks: vec![],
        }])
    }
}

fn fast(opts: RedactOptions) -> RedactOptions {
    RedactOptions {
        preset: "veryfast".into(),
        ..opts
    }
}

/// One plane's samples without padding.
fn rows(data: &[u8], stride: usize, w: usize, h: usize) -> Vec<u8> {
    (0..h)
        .flat_map(|r| data[r * stride..r * stride + w].iter().copied())
        .collect()
}

#[test]
fn masks_change_exactly_the_samples_inside_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let regions = Regions::parse(REGIONS, "r.json".as_ref()).unwrap();
    // A tracked "face" seen every fifth picture, moving right: the boxes in
    // between are interpolated.
    let mut tracker = Tracker::new(TrackOptions::default());
    for f in (0..60u64).step_by(5).chain([59]) {
        let x = 120.0 + f as f32;
        let d = Detection {
            class: Class::Face,
            bbox: BBox {
                x0: x,
                y0: 150.0,
                x1: x + 41.0,
                y1: 203.0,
            },
            score: 0.8,
            landmarks: vec![],
        };
        tracker.observe(f, "test", &[d]);
    }
    for (style, shape) in [
        (Style::Blur, Shape::Rectangle),
        (Style::Pixelate, Shape::Ellipse),
    ] {
        let masks = Arc::new(Masks::new(tracker.clone(), regions.clone(), style, shape));
        let checked = Arc::new(Mutex::new(0u64));
        let (m, c) = (masks.clone(), checked.clone());
        let hook = PictureHook::new("check", move |p| {
            let (w, h) = (p.info.width as usize, p.info.height as usize);
            let before: Vec<Vec<u8>> = {
                let q = p.as_picture();
                (0..3)
                    .map(|i| {
                        let (pw, ph) = if i == 0 { (w, h) } else { (w / 2, h / 2) };
                        let (d, s) = q.plane(i);
                        rows(d, s, pw, ph)
                    })
                    .collect()
            };
            let changed = m.apply(p)?;
            if changed.len() != 2 {
                return Err(format!("{} masks, 2 expected", changed.len()));
            }
            let q = p.as_picture();
            for (i, plane) in before.iter().enumerate() {
                let (pw, ph, sh) = if i == 0 { (w, h, 0) } else { (w / 2, h / 2, 1) };
                let (d, s) = q.plane(i);
                let after = rows(d, s, pw, ph);
                let mut inside_changed = vec![0u32; changed.len()];
                for y in 0..ph {
                    for x in 0..pw {
                        let k = y * pw + x;
                        let (lx, ly) = ((x << sh) as u32, (y << sh) as u32);
                        let hit: Vec<usize> = (0..changed.len())
                            .filter(|&r| changed[r].contains(shape, lx, ly))
                            .collect();
                        if hit.is_empty() && plane[k] != after[k] {
                            return Err(format!(
                                "picture {} plane {i} ({x},{y}) outside every mask changed",
                                p.info.index
                            ));
                        }
                        for r in hit {
                            inside_changed[r] += u32::from(plane[k] != after[k]);
                        }
                    }
                }
                if i == 0 && inside_changed.contains(&0) {
                    return Err(format!("picture {}: a mask changed nothing", p.info.index));
                }
            }
            *c.lock().unwrap() += 1;
            Ok(())
        });
        let opts = Options {
            profile: Profile::Access,
            preset: "veryfast".into(),
            pictures: Some(hook),
            ..Default::default()
        };
        let out = dir.path().join(format!("out-{style:?}.mp4"));
        archive(&[&src], &out, &opts, |_| true).unwrap();
        assert_eq!(*checked.lock().unwrap(), 60);
        assert_eq!(masks.counts(), (60, 60, 120));
    }
}

#[test]
fn a_redacted_copy_keeps_the_rest_of_every_picture_and_logs_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let regions = dir.path().join("regions.json");
    std::fs::write(&regions, REGIONS).unwrap();
    let out = dir.path().join("redacted.mp4");
    let mut opts = fast(RedactOptions {
        detectors: vec![Box::new(Fixed)],
        regions: Some(regions.clone()),
        style: Style::Fill,
        every: 2,
        track: TrackOptions {
            margin: 1.0,
            ..Default::default()
        },
        ..Default::default()
    });
    let done = redact(&src, &out, &mut opts, |_| true).unwrap();
    // The log.
    assert_eq!(
        done.source.blake3,
        blake3::hash(&std::fs::read(&src).unwrap())
            .to_hex()
            .as_str()
    );
    assert_eq!(
        done.output.blake3,
        blake3::hash(&std::fs::read(&out).unwrap())
            .to_hex()
            .as_str()
    );
    assert_eq!(
        (
            done.counts.frames,
            done.counts.masked_frames,
            done.counts.masks
        ),
        (60, 60, 120)
    );
    assert_eq!(done.tracks.len(), 1);
    let t = &done.tracks[0];
    assert_eq!(
        (t.detector.as_str(), t.frames, t.first_frame, t.last_frame),
        ("fixed", 30, 0, 58)
    );
    assert!((t.last_time - 58.0 / 30.0).abs() < 1e-3);
    assert_eq!(done.regions.len(), 1);
    assert_eq!(done.parameters.every, 2);
    assert_eq!(
        done.parameters.encode.get("pictures").map(String::as_str),
        Some("redact")
    );
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&done.log).unwrap()).unwrap();
    assert_eq!(log["tracks"][0]["boxes"].as_array().unwrap().len(), 30);
    assert_eq!(log["output"]["blake3"], done.output.blake3.as_str());
    let csv = std::fs::read_to_string(&done.tracks_csv).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("1,face,fixed,,0,58,"),
        "{csv}"
    );
    // The copy: H.264 + AAC, decodes without error.
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["h264", "aac"]
    );
    let dec = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&out)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        dec.status.success() && dec.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    // Inside the masks the pictures are black; well away from them, as the source's.
    let lumas = |p: &Path| {
        let mut v = Vec::new();
        visit_pictures(
            p,
            |_| true,
            |pic| {
                let (d, s) = pic.plane(0);
                v.push((pic.info.time, rows(d, s, 320, 240)));
                Ok(true)
            },
        )
        .unwrap();
        v
    };
    let (a, b) = (lumas(&src), lumas(&out));
    assert_eq!(b.len(), 60);
    let region = Regions::parse(REGIONS, "r.json".as_ref())
        .unwrap()
        .regions
        .remove(0);
    let face = BBox {
        x0: 220.0,
        y0: 16.0,
        x1: 300.0,
        y1: 80.0,
    };
    for (i, ((t, s), (_, r))) in a.iter().zip(&b).enumerate() {
        let boxes = [region.at(*t).unwrap(), face];
        let (mut far, mut far_diff, mut inside, mut inside_sum) = (0u64, 0u64, 0u64, 0u64);
        for y in 0..240u32 {
            for x in 0..320u32 {
                let k = (y * 320 + x) as usize;
                let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                let dist = boxes
                    .iter()
                    .map(|b| (b.x0 - fx).max(fx - b.x1).max(b.y0 - fy).max(fy - b.y1))
                    .fold(f32::INFINITY, f32::min);
                if dist < -4.0 {
                    inside += 1;
                    inside_sum += r[k] as u64;
                } else if dist > 16.0 {
                    far += 1;
                    far_diff += s[k].abs_diff(r[k]) as u64;
                }
            }
        }
        let (inside_mean, far_mean) = (
            inside_sum as f64 / inside as f64,
            far_diff as f64 / far as f64,
        );
        assert!(
            inside_mean < 24.0,
            "picture {i}: mean {inside_mean} inside the masks"
        );
        assert!(
            far_mean < 4.0,
            "picture {i}: {far_mean} from the source away from the masks"
        );
    }
    // The original is untouched and nothing else was left.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "clip.mp4",
            "redacted.mp4",
            "redacted.mp4.redaction.json",
            "redacted.mp4.tracks.csv",
            "regions.json"
        ]
    );
    // A second run never replaces the first.
    let mut again = fast(RedactOptions {
        regions: Some(regions),
        ..Default::default()
    });
    assert!(matches!(
        redact(&src, &out, &mut again, |_| true),
        Err(RedactError::InvalidArgument(_))
    ));
}

#[test]
fn damaged_inputs_and_bad_regions_give_typed_errors_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let bytes = std::fs::read(&src).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, vec![0x5a; 4096]).unwrap();
    let bad_regions = dir.path().join("bad.json");
    std::fs::write(&bad_regions, "{\"regions\": [{\"keyframes\": []}]}").unwrap();
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    for (input, with_detector) in [(&cut, true), (&cut, false), (&junk, true), (&junk, false)] {
        let mut opts = fast(RedactOptions::default());
        if with_detector {
            opts.detectors.push(Box::new(Fixed));
        }
        let e = redact(input, dir.path().join("out.mp4"), &mut opts, |_| true).unwrap_err();
        assert!(matches!(e, RedactError::Transcode(_)), "{e:?}");
    }
    let mut opts = fast(RedactOptions {
        regions: Some(bad_regions),
        ..Default::default()
    });
    let e = redact(&src, dir.path().join("out.mp4"), &mut opts, |_| true).unwrap_err();
    assert!(matches!(e, RedactError::Regions(_)), "{e:?}");
    // Cancelled half way through the encode.
    let mut opts = fast(RedactOptions {
        detectors: vec![Box::new(Fixed)],
        ..Default::default()
    });
    let e = redact(&src, dir.path().join("out.mp4"), &mut opts, |p| {
        p.done < 1.0
    })
    .unwrap_err();
    assert!(matches!(e, RedactError::Cancelled), "{e:?}");
    let after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before.len(), after.len(), "left behind: {after:?}");
}
