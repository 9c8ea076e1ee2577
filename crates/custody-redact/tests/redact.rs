//! The redaction pipeline with the real FFmpeg on clips the ffmpeg CLI
//! generates: masks change only the pixels inside them (checked sample by
//! sample in the picture hook), the redacted copy keeps the rest of every
//! picture, the log says what was done, and damaged inputs leave nothing;
//! the reviewer's frames CSV holds the hashes `frame_digests` gives and the
//! contact sheet outlines the masks where they are.

use custody_redact::mask::{Region, Shape, Style};
use custody_redact::redact::{Masks, Phase, RedactError, RedactOptions, redact};
use custody_redact::regions::Regions;
use custody_redact::track::{TrackOptions, Tracker};
use custody_redact::{BBox, Class, DetectError, Detection, Detector, FrameView};
use custody_transcode::{Options, PictureHook, Profile, archive, frame_digests, visit_pictures};
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
            "redacted.mp4.contact.png",
            "redacted.mp4.frames.csv",
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

/// A region from 0.59 s to 0.74 s (pictures 18 to 22 at 30 fps), moving
/// right and down.
const BRIEF: &str = r#"{"regions": [{"label": "plate", "class": "plate", "keyframes": [
  {"time": 0.59, "box": {"x0": 40, "y0": 40, "x1": 120, "y1": 100}},
  {"time": 0.74, "box": {"x0": 121, "y0": 101, "x1": 201, "y1": 161}}]}]}"#;

/// The PNG at `path`: width, height and RGB samples.
fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let mut r = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgb, png::BitDepth::Eight)
    );
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn b3(path: &Path) -> String {
    blake3::hash(&std::fs::read(path).unwrap())
        .to_hex()
        .to_string()
}

#[test]
fn the_reviewer_gets_each_pictures_hash_and_a_contact_sheet_with_the_masks_outlined() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let regions = dir.path().join("regions.json");
    std::fs::write(&regions, BRIEF).unwrap();
    let out = dir.path().join("redacted.mp4");
    let mut opts = fast(RedactOptions {
        regions: Some(regions.clone()),
        style: Style::Fill,
        ..Default::default()
    });
    let done = redact(&src, &out, &mut opts, |_| true).unwrap();
    assert_eq!((done.counts.frames, done.counts.masked_frames), (60, 5));
    // The frames CSV: a line per picture of the copy, its hash as
    // frame_digests (custody compare) has it, the masks applied to it.
    let f = &done.frames_csv;
    assert_eq!(f.path, dir.path().join("redacted.mp4.frames.csv"));
    assert_eq!((f.pictures, f.blake3.as_str()), (60, b3(&f.path).as_str()));
    assert_eq!(f.size, std::fs::metadata(&f.path).unwrap().len());
    let csv = std::fs::read_to_string(&f.path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("frame,time,blake3,masks"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let digests = frame_digests(&out, |_| true).unwrap();
    let video = digests.iter().find(|d| d.kind == "video").unwrap();
    assert_eq!((rows.len(), video.frames.len()), (60, 60));
    for (i, (row, d)) in rows.iter().zip(&video.frames).enumerate() {
        assert_eq!(row.len(), 4, "{row:?}");
        assert_eq!(row[0], i.to_string());
        let t: f64 = row[1].parse().unwrap();
        assert!((t - i as f64 / 30.0).abs() < 1e-3, "picture {i} at {t}");
        assert_eq!(row[2], d.blake3, "picture {i}");
        let masks = if (18..=22).contains(&i) { "1" } else { "0" };
        assert_eq!(row[3], masks, "picture {i}");
    }
    // Masking changed the pictures: the source's hashes differ where the
    // mask is and the hash is of the copy, not of the original.
    let original = frame_digests(&src, |_| true).unwrap();
    assert_ne!(original[0].frames[20].blake3, rows[20][2]);
    // The log names both files with their hashes.
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&done.log).unwrap()).unwrap();
    assert_eq!(log["frames_csv"]["blake3"], f.blake3.as_str());
    assert_eq!(log["frames_csv"]["pictures"], 60);
    let sheet = done.contact_sheet.as_ref().unwrap();
    assert_eq!(sheet.path, dir.path().join("redacted.mp4.contact.png"));
    assert_eq!(log["contact_sheet"]["blake3"], b3(&sheet.path).as_str());
    // Six pictures (one per 10), spread over the copy; in the stretches
    // holding masked pictures, the masked picture nearest the middle.
    let on: Vec<(u64, u32)> = sheet.pictures.iter().map(|p| (p.frame, p.masks)).collect();
    assert_eq!(on, [(5, 0), (18, 1), (22, 1), (35, 0), (45, 0), (55, 0)]);
    // 320x240 thumbnails in 4 columns with 4-pixel gaps and an 11-pixel
    // label strip: 2 rows.
    let (w, h, rgb) = read_png(&sheet.path);
    assert_eq!((w, h), (sheet.width, sheet.height));
    assert_eq!((w, h), (4 + 4 * (320 + 4), 4 + 2 * (240 + 11 + 4)));
    let px = |x: u32, y: u32| {
        let i = (y as usize * w as usize + x as usize) * 3;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    };
    const RED: [u8; 3] = [255, 0, 0];
    let region = Regions::parse(BRIEF, "r.json".as_ref())
        .unwrap()
        .regions
        .remove(0);
    for p in sheet.pictures.iter().filter(|p| p.masks > 0) {
        assert_eq!((p.width, p.height), (320, 240));
        // The mask as applied: the box at the picture's time, on the
        // chroma grid; the thumbnail is at full size.
        let b = region.at(p.time).unwrap();
        let r = Region::aligned(&b, (2, 2), 320, 240).unwrap();
        let at = |x: u32, y: u32| px(p.x + x, p.y + y);
        for x in r.x0..r.x1 {
            for y in [r.y0, r.y0 + 1, r.y1 - 2, r.y1 - 1] {
                assert_eq!(at(x, y), RED, "picture {} ({x}, {y})", p.frame);
            }
        }
        for y in r.y0..r.y1 {
            for x in [r.x0, r.x0 + 1, r.x1 - 2, r.x1 - 1] {
                assert_eq!(at(x, y), RED, "picture {} ({x}, {y})", p.frame);
            }
        }
        // Inside the outline, the filled mask (black); outside it, the picture.
        let (cx, cy) = ((r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2);
        assert!(at(cx, cy).iter().all(|&c| c < 40), "{:?}", at(cx, cy));
        let ring = (r.x0..r.x1)
            .map(|x| (x, r.y0 + 2))
            .chain((r.x0..r.x1).map(|x| (x, r.y0 - 1)))
            .filter(|&(x, y)| at(x, y) == RED)
            .count();
        assert!(ring < 10, "{ring} red pixels next to the outline");
        assert_eq!(at(r.x0 - 1, cy), [255, 255, 255], "the outline's halo");
    }
    // The two masked pictures show the region where it was at each time.
    let (a, b) = (&sheet.pictures[1], &sheet.pictures[2]);
    let (ra, rb) = (
        Region::aligned(&region.at(a.time).unwrap(), (2, 2), 320, 240).unwrap(),
        Region::aligned(&region.at(b.time).unwrap(), (2, 2), 320, 240).unwrap(),
    );
    assert!(rb.x0 >= ra.x0 + 60, "{ra:?} {rb:?}");
    assert_ne!(px(a.x + rb.x1 - 1, a.y + rb.y1 - 1), RED);
    // An unmasked picture has no outline where the region was.
    let u = &sheet.pictures[0];
    assert!((ra.x0..ra.x1).any(|x| px(u.x + x, u.y + ra.y0) != RED));
    // No contact sheet when none is asked for; the frames CSV all the same.
    let out2 = dir.path().join("plain.mp4");
    let mut opts = fast(RedactOptions {
        regions: Some(regions),
        contact_sheet: 0,
        ..Default::default()
    });
    let done = redact(&src, &out2, &mut opts, |_| true).unwrap();
    assert!(done.contact_sheet.is_none());
    assert_eq!(done.frames_csv.pictures, 60);
    assert!(!dir.path().join("plain.mp4.contact.png").exists());
}

#[test]
fn a_failure_after_the_copy_is_written_leaves_none_of_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let regions = dir.path().join("regions.json");
    std::fs::write(&regions, BRIEF).unwrap();
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    // A file appears where the contact sheet (then, in a second run, the
    // log) goes while the copy is being reviewed: writing it fails (a
    // redaction never replaces a file), and the copy, the frames CSV and
    // the contact sheet already written are removed; the file that
    // appeared is left as it was.
    for (k, suffix) in ["contact.png", "redaction.json"].into_iter().enumerate() {
        let out = dir.path().join(format!("out{k}.mp4"));
        let planted = dir.path().join(format!("out{k}.mp4.{suffix}"));
        let mut opts = fast(RedactOptions {
            regions: Some(regions.clone()),
            ..Default::default()
        });
        let mut reviewing = false;
        let e = redact(&src, &out, &mut opts, |p| {
            if p.phase == Phase::Review && !reviewing {
                reviewing = true;
                // The copy is written and checked by now.
                assert!(out.exists());
                std::fs::write(&planted, b"someone else's").unwrap();
            }
            true
        })
        .unwrap_err();
        assert!(reviewing);
        assert!(
            matches!(&e, RedactError::Io { path, source }
                if path == &planted && source.kind() == std::io::ErrorKind::AlreadyExists),
            "{e:?}"
        );
        assert_eq!(std::fs::read(&planted).unwrap(), b"someone else's");
        std::fs::remove_file(&planted).unwrap();
        assert_eq!(names(dir.path()), ["clip.mp4", "regions.json"]);
    }
    // Cancelled while the copy is reviewed: nothing is left.
    let mut opts = fast(RedactOptions {
        regions: Some(regions),
        ..Default::default()
    });
    let e = redact(&src, dir.path().join("out.mp4"), &mut opts, |p| {
        !(p.phase == Phase::Review && p.done > 0.5)
    })
    .unwrap_err();
    assert!(matches!(e, RedactError::Cancelled), "{e:?}");
    assert_eq!(names(dir.path()), ["clip.mp4", "regions.json"]);
}
