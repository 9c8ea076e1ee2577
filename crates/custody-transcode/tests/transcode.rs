//! Every profile with the real FFmpeg, on clips the ffmpeg CLI generates
//! (H.264/AAC, full-range yuvj420p, PCM, audio only, segments) and on every
//! video file of the shared corpus that FFmpeg decodes; each output proven
//! against its original, and a deliberately wrong transcode caught.

use custody_transcode::{
    Action, Container, Error, Options, Profile, Proof, archive, compare, frame_digests, prove_copy,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Runs the ffmpeg CLI (quiet, never asking); panics with its stderr on failure.
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

fn ffprobe(args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .output()
        .expect("ffprobe is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A 2-second 320x240 30 fps H.264 (GOP 15) + AAC recording in MP4, in full
/// range (yuvj420p, as body cameras write), with camera metadata.
fn full_range_clip(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
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
        "ultrafast",
        "-pix_fmt",
        "yuvj420p",
        "-g",
        "15",
        "-c:a",
        "aac",
        "-shortest",
        "-metadata",
        "creation_time=2026-11-29T08:15:00Z",
        "-metadata",
        "location=+52.3702+004.8952/",
        "-metadata",
        "make=BodyCam Inc.",
        "-movflags",
        "+faststart+use_metadata_tags",
        s(&p),
    ]);
    p
}

/// A MOV with H.264 video and PCM audio of `codec` (`pcm_s16le`, `pcm_s24le`).
fn pcm_clip(dir: &Path, name: &str, codec: &str) -> PathBuf {
    let p = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=160x120:r=25:d=1",
        "-f",
        "lavfi",
        "-i",
        "sine=f=1000:r=48000:d=1",
        "-ac",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        codec,
        "-shortest",
        s(&p),
    ]);
    p
}

fn no_temporaries(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".custody-tmp-"), "temporary file left: {n}");
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn opts(profile: Profile) -> Options {
    Options {
        profile,
        ..Default::default()
    }
}

fn proof_ok(a: &custody_transcode::Archived) {
    let p = a.proof.as_ref().expect("the proof ran");
    assert!(p.ok(), "proof failed: {p:#?}");
    assert!(a.kept);
}

#[test]
fn preservation_keeps_full_range_exactly_and_proves_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = full_range_clip(dir.path(), "CAM.mp4");
    let before = std::fs::read(&src).unwrap();
    let out = dir.path().join("CAM.preservation.mkv");
    let a = archive(&[&src], &out, &opts(Profile::Preservation), |_| true).unwrap();
    proof_ok(&a);
    assert_eq!(a.container, Container::Matroska);
    assert_eq!(std::fs::read(&src).unwrap(), before, "the original changed");
    let Some(Proof::Frames(f)) = &a.proof else {
        panic!("preservation is proven by decoded frames")
    };
    let v = &f.comparison.streams[0];
    assert_eq!(
        (v.kind, v.a_frames, v.b_frames, v.differing),
        ("video", 60, 60, 0)
    );
    assert!(
        f.copies.as_ref().is_some_and(|c| c.ok),
        "AAC is copied bit for bit"
    );
    assert_eq!(
        a.tracks[1].action,
        Action::Copied,
        "AAC is stream-copied, never decoded to FLAC"
    );
    // FFV1 version 3, every frame a keyframe, slice CRCs, full range kept.
    let probe = ffprobe(&[
        "-show_entries",
        "stream=codec_name,pix_fmt,color_range:format_tags",
        "-of",
        "default=nw=1",
        s(&out),
    ]);
    assert!(probe.contains("codec_name=ffv1"), "{probe}");
    assert!(
        probe.contains("pix_fmt=yuv420p") && probe.contains("color_range=pc"),
        "{probe}"
    );
    let source_hash = blake3::hash(&before).to_hex().to_string();
    assert!(
        probe.contains(&format!("CUSTODY_SOURCE_BLAKE3={source_hash}")),
        "{probe}"
    );
    assert!(probe.contains("CUSTODY_PROFILE=preservation"), "{probe}");
    assert!(
        probe.to_lowercase().contains("creation_time=2026-11-29"),
        "{probe}"
    );
    let frames = ffprobe(&[
        "-select_streams",
        "v",
        "-show_entries",
        "frame=key_frame",
        "-of",
        "csv=p=0",
        s(&out),
    ]);
    assert_eq!(
        frames.lines().filter(|l| l.trim() == "1").count(),
        60,
        "GOP 1"
    );
    // FFV1 version 3, 16 slices, slice CRCs (ec), intra only, as its decoder reports.
    let o = Command::new("ffmpeg")
        .args([
            "-v",
            "debug",
            "-debug",
            "pict",
            "-i",
            s(&out),
            "-frames:v",
            "1",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    let global = log
        .lines()
        .find(|l| l.contains("global: ver:"))
        .unwrap_or_default();
    assert!(global.contains("ver:3."), "{global}");
    assert!(
        global.contains("slices:4x4") && global.contains("ec:1") && global.contains("intra:1"),
        "{global}"
    );
    // The decoded-frame hashes agree picture by picture.
    let (x, y) = (
        frame_digests(&src, |_| true).unwrap(),
        frame_digests(&out, |_| true).unwrap(),
    );
    let hashes = |d: &custody_transcode::StreamDigest| {
        d.frames
            .iter()
            .map(|f| f.blake3.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(hashes(&x[0]), hashes(&y[0]));
    assert_eq!(x[0].frames.len(), 60);
    no_temporaries(dir.path());
}

#[test]
fn a_plain_ffv1_transcode_that_turns_full_range_limited_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let src = full_range_clip(dir.path(), "CAM.mp4");
    // What the ffmpeg CLI does without care: yuvj420p becomes limited-range yuv420p.
    let wrong = dir.path().join("wrong.mkv");
    ffmpeg(&[
        "-i",
        s(&src),
        "-c:v",
        "ffv1",
        "-level",
        "3",
        "-g",
        "1",
        "-c:a",
        "copy",
        s(&wrong),
    ]);
    assert!(
        ffprobe(&[
            "-show_entries",
            "stream=color_range",
            "-of",
            "csv=p=0",
            s(&wrong)
        ])
        .contains("tv")
    );
    let c = compare(&src, &wrong, |_| true).unwrap();
    assert!(!c.identical);
    let v = &c.streams[0];
    assert_eq!((v.a_frames, v.b_frames, v.differing), (60, 60, 60));
    let d = v.first.as_ref().unwrap();
    assert_eq!((d.frame, d.what, d.time), (0, "format", Some(0.0)));
    assert!(
        d.detail.contains("range=pc") && d.detail.contains("range=tv"),
        "{}",
        d.detail
    );
    // The pixels moved too (full range squeezed): the first one is located.
    assert_eq!((d.plane, d.x, d.y), (Some(0), Some(0), Some(0)), "{d:?}");
    // The audio was copied: identical once the priming FFmpeg 5.1 cannot
    // carry into Matroska is set aside.
    assert!(c.streams[1].identical, "{:?}", c.streams[1]);
}

#[test]
fn a_changed_pixel_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let src = pcm_clip(dir.path(), "CAM.mov", "pcm_s16le");
    // Same pictures, but a box drawn over part of pictures 10 onwards.
    let edited = dir.path().join("edited.mkv");
    ffmpeg(&[
        "-i",
        s(&src),
        "-vf",
        "drawbox=x=100:y=60:w=8:h=8:color=red:t=fill:enable='gte(n,10)'",
        "-c:v",
        "ffv1",
        "-c:a",
        "copy",
        s(&edited),
    ]);
    let c = compare(&src, &edited, |_| true).unwrap();
    let v = &c.streams[0];
    assert_eq!((v.a_frames, v.differing), (25, 15), "{v:?}");
    let d = v.first.as_ref().unwrap();
    assert_eq!((d.frame, d.what, d.plane), (10, "plane", Some(0)));
    assert_eq!((d.x, d.y), (Some(100), Some(60)), "{d:?}");
    assert!((d.time.unwrap() - 0.4).abs() < 0.001, "{d:?}");
    assert!(
        c.streams[1].identical,
        "PCM copied into Matroska: {:?}",
        c.streams[1]
    );
}

#[test]
fn remux_to_matroska_and_mp4_passes_the_packet_proof_and_keeps_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let src = full_range_clip(dir.path(), "CAM.mp4");
    for (profile, name) in [(Profile::RemuxMkv, "r.mkv"), (Profile::RemuxMp4, "r.mp4")] {
        let out = dir.path().join(name);
        let a = archive(&[&src], &out, &opts(profile), |_| true).unwrap();
        proof_ok(&a);
        let Some(Proof::Packets(p)) = &a.proof else {
            panic!("stream copies are proven by packets")
        };
        for t in &p.tracks {
            assert!(t.complete && t.matched == t.packets, "{t:?}");
        }
        assert_eq!(p.tracks[0].packets, 60);
        let tags = ffprobe(&[
            "-show_entries",
            "format_tags",
            "-of",
            "default=nw=1",
            s(&out),
        ])
        .to_lowercase();
        assert!(
            tags.contains("creation_time=2026-11-29"),
            "{profile}: {tags}"
        );
        assert!(
            tags.contains("location=+52.3702+004.8952/"),
            "{profile}: {tags}"
        );
        assert!(tags.contains("bodycam inc."), "{profile}: {tags}");
        assert!(tags.contains("custody_source_blake3="), "{profile}: {tags}");
    }
    // MP4 is written with its index first.
    let bytes = std::fs::read(dir.path().join("r.mp4")).unwrap();
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat, "faststart");
}

#[test]
fn a_packet_changed_after_the_copy_fails_the_packet_proof() {
    let dir = tempfile::tempdir().unwrap();
    let src = full_range_clip(dir.path(), "CAM.mp4");
    let out = dir.path().join("r.mkv");
    archive(&[&src], &out, &opts(Profile::RemuxMkv), |_| true).unwrap();
    // Re-encode one GOP's worth into a file with the same layout: not a copy.
    let other = dir.path().join("other.mkv");
    ffmpeg(&[
        "-i",
        s(&src),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "15",
        "-c:a",
        "copy",
        s(&other),
    ]);
    let p = prove_copy(&[&src], &other, true).unwrap();
    assert!(!p.ok);
    assert_eq!(p.unmatched[0].output_stream, 0);
    assert_eq!(p.tracks[0].matched, 0);
    assert!(p.tracks[1].complete, "the copied audio still matches");
    assert!(prove_copy(&[&src], &out, true).unwrap().ok);
}

#[test]
fn pcm_becomes_flac_bit_exact_in_16_and_24_bits() {
    let dir = tempfile::tempdir().unwrap();
    for (codec, bits) in [("pcm_s16le", "s16"), ("pcm_s24le", "s32")] {
        let src = pcm_clip(dir.path(), &format!("{codec}.mov"), codec);
        let out = dir.path().join(format!("{codec}.mkv"));
        let a = archive(&[&src], &out, &opts(Profile::Preservation), |_| true).unwrap();
        proof_ok(&a);
        assert_eq!(
            a.tracks[1].action,
            Action::Encoded {
                codec: "flac".into()
            }
        );
        let probe = ffprobe(&[
            "-select_streams",
            "a",
            "-show_entries",
            "stream=codec_name,sample_fmt,bits_per_raw_sample",
            "-of",
            "default=nw=1",
            s(&out),
        ]);
        assert!(
            probe.contains("codec_name=flac") && probe.contains(&format!("sample_fmt={bits}")),
            "{probe}"
        );
        let Some(Proof::Frames(f)) = &a.proof else {
            panic!()
        };
        let au = &f.comparison.streams[1];
        assert!(
            au.identical && au.a_frames > 40 && au.a_skipped + au.b_skipped == 0,
            "{au:?}"
        );
        // The samples, decoded by the ffmpeg CLI, are the same bytes.
        let pcm = |p: &Path| {
            let o = Command::new("ffmpeg")
                .args(["-v", "error", "-i", s(p), "-map", "0:a", "-f", "s32le", "-"])
                .output()
                .unwrap();
            o.stdout
        };
        assert_eq!(pcm(&src), pcm(&out), "{codec}");
    }
}

#[test]
fn access_copy_is_h264_aac_faststart_with_every_picture() {
    let dir = tempfile::tempdir().unwrap();
    let src = pcm_clip(dir.path(), "pcm.mov", "pcm_s16le");
    let out = dir.path().join("access.mp4");
    let o = Options {
        profile: Profile::Access,
        crf: 30,
        preset: "ultrafast".into(),
        ..Default::default()
    };
    let a = archive(&[&src], &out, &o, |_| true).unwrap();
    proof_ok(&a);
    assert_eq!(a.parameters["crf"], "30");
    assert_eq!(a.parameters["preset"], "ultrafast");
    let probe = ffprobe(&[
        "-show_entries",
        "stream=codec_name,pix_fmt,nb_frames",
        "-of",
        "default=nw=1",
        s(&out),
    ]);
    assert!(
        probe.contains("codec_name=h264") && probe.contains("codec_name=aac"),
        "{probe}"
    );
    assert!(
        probe.contains("pix_fmt=yuv420p") && probe.contains("nb_frames=25"),
        "{probe}"
    );
    let Some(Proof::Frames(f)) = &a.proof else {
        panic!()
    };
    assert!(!f.lossless && !f.comparison.identical && f.comparison.same_frames());
    let bytes = std::fs::read(&out).unwrap();
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat, "faststart");
}

/// An AVI of MPEG-4 Part 2 with B-frames leaves its last pictures without a
/// timestamp: the access copy gives each the next time, so its times
/// increase and the ffmpeg CLI decodes it without an error.
#[test]
fn pictures_without_timestamps_get_increasing_times_in_an_access_copy() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("bf.avi");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=25:d=2",
        "-c:v",
        "mpeg4",
        "-bf",
        "2",
        s(&src),
    ]);
    let frames = ffprobe(&[
        "-select_streams",
        "v",
        "-show_entries",
        "frame=pts",
        "-of",
        "csv",
        s(&src),
    ]);
    assert!(
        frames.contains("frame,N/A"),
        "the source has untimed pictures: {frames}"
    );
    let out = dir.path().join("access.mp4");
    let o = Options {
        profile: Profile::Access,
        preset: "ultrafast".into(),
        ..Default::default()
    };
    let a = archive(&[&src], &out, &o, |_| true).unwrap();
    proof_ok(&a);
    let dec = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i", s(&out), "-f", "null", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&dec.stderr);
    assert!(dec.status.success() && stderr.trim().is_empty(), "{stderr}");
    let pts: Vec<i64> = ffprobe(&[
        "-select_streams",
        "v",
        "-show_entries",
        "packet=pts",
        "-of",
        "csv=p=0",
        s(&out),
    ])
    .lines()
    .map(|l| l.trim().parse().unwrap())
    .collect();
    let mut sorted = pts.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        50,
        "50 pictures, each at its own time: {pts:?}"
    );
}

/// Frame `n` of `file` as 8-bit gray pixels (the ffmpeg CLI decodes it).
fn gray_frame(file: &Path, n: u32, out: &Path) -> Vec<u8> {
    ffmpeg(&[
        "-i",
        s(file),
        "-vf",
        &format!("select=eq(n\\,{n})"),
        "-frames:v",
        "1",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        s(out),
    ]);
    std::fs::read(out).unwrap()
}

/// Mean absolute difference of two 320-pixel-wide gray pictures over the
/// rectangle `x0..x1` × `y0..y1`.
fn region_diff(a: &[u8], b: &[u8], (x0, x1): (usize, usize), (y0, y1): (usize, usize)) -> f64 {
    let mut sum = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            sum += u64::from(a[y * 320 + x].abs_diff(b[y * 320 + x]));
        }
    }
    sum as f64 / ((x1 - x0) * (y1 - y0)) as f64
}

#[test]
fn access_overlay_burns_in_time_device_and_officer_and_the_proof_says_lossy() {
    let dir = tempfile::tempdir().unwrap();
    let src = full_range_clip(dir.path(), "SN1234_012345.MP4");
    let access = |name: &str, overlay: Option<custody_transcode::Overlay>| {
        let out = dir.path().join(name);
        let o = Options {
            profile: Profile::Access,
            crf: 18,
            preset: "ultrafast".into(),
            overlay,
            ..Default::default()
        };
        (archive(&[&src], &out, &o, |_| true).unwrap(), out)
    };
    // Text that would be an option separator, an expansion or an escape
    // if it reached drawtext's parsers unescaped.
    let overlay = custody_transcode::Overlay {
        start_utc: Some(1_796_026_500),
        device: Some("SN:1234 %{e:1} \\".into()),
        officer: Some("012345'".into()),
        font: None,
    };
    let (burned, burned_out) = access("burned.mp4", Some(overlay.clone()));
    let (plain, plain_out) = access("plain.mp4", None);
    for a in [&burned, &plain] {
        proof_ok(a);
        // Access is lossy: every picture at its time, never "identical".
        let Some(Proof::Frames(f)) = &a.proof else {
            panic!()
        };
        assert!(!f.lossless && !f.comparison.identical && f.comparison.same_frames());
    }
    assert_eq!(burned.parameters["overlay"], overlay.describe());
    assert!(!plain.parameters.contains_key("overlay"));
    let raw = dir.path().join("frame.gray");
    let mut frames = Vec::new();
    for f in [&src, &plain_out, &burned_out] {
        let _ = std::fs::remove_file(&raw);
        let g = gray_frame(f, 10, &raw);
        assert_eq!(g.len(), 320 * 240);
        frames.push(g);
    }
    let (src_f, plain_f, burned_f) = (&frames[0], &frames[1], &frames[2]);
    // The text box (top left) differs from the source far more than the
    // encoding alone makes it differ; the rest of the picture does not.
    let text = ((8, 150), (8, 36));
    let rest = ((160, 320), (120, 240));
    let (burned_text, plain_text) = (
        region_diff(src_f, burned_f, text.0, text.1),
        region_diff(src_f, plain_f, text.0, text.1),
    );
    assert!(
        burned_text > 20.0 && burned_text > 5.0 * plain_text,
        "text box: {burned_text} with the overlay, {plain_text} without"
    );
    let (burned_rest, plain_rest) = (
        region_diff(src_f, burned_f, rest.0, rest.1),
        region_diff(src_f, plain_f, rest.0, rest.1),
    );
    assert!(
        burned_rest < 2.0 * plain_rest + 1.0,
        "elsewhere: {burned_rest} with the overlay, {plain_rest} without"
    );
    // No font: a typed error on the font file, nothing left behind.
    let missing = custody_transcode::Overlay {
        font: Some(dir.path().join("no-such-font.ttf")),
        ..overlay.clone()
    };
    let o = Options {
        profile: Profile::Access,
        preset: "ultrafast".into(),
        overlay: Some(missing),
        ..Default::default()
    };
    let e = archive(&[&src], dir.path().join("nofont.mp4"), &o, |_| true).unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, .. } if path.ends_with("no-such-font.ttf")),
        "{e:?}"
    );
    assert!(!dir.path().join("nofont.mp4").exists());
    no_temporaries(dir.path());
    // The overlay belongs to the access profile.
    let o = Options {
        profile: Profile::Preservation,
        overlay: Some(overlay),
        ..Default::default()
    };
    let e = archive(&[&src], dir.path().join("p.mkv"), &o, |_| true).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
}

/// Two consecutive MPEG-TS segments of one recording, as a recorder splits it.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let whole = full_range_clip(dir, "whole.mp4");
    let pattern = dir.join("SEG%d.ts");
    ffmpeg(&[
        "-i",
        s(&whole),
        "-c",
        "copy",
        "-f",
        "segment",
        "-segment_time",
        "1",
        "-reset_timestamps",
        "0",
        s(&pattern),
    ]);
    let segs = vec![dir.join("SEG0.ts"), dir.join("SEG1.ts")];
    assert!(segs.iter().all(|p| p.is_file()));
    segs
}

#[test]
fn join_copies_segments_into_one_recording_with_chapters() {
    let dir = tempfile::tempdir().unwrap();
    let segs = segments(dir.path());
    for name in ["joined.mkv", "joined.mp4"] {
        let out = dir.path().join(name);
        let a = archive(&segs, &out, &opts(Profile::Join), |_| true).unwrap();
        proof_ok(&a);
        let Some(Proof::Packets(p)) = &a.proof else {
            panic!()
        };
        let v = &p.tracks[0];
        assert_eq!(v.coverage.len(), 2, "both segments, whole: {v:?}");
        assert_eq!(v.packets, 60);
        assert_eq!(a.chapters.len(), 2);
        assert_eq!(a.chapters[1].title, "SEG1.ts");
        assert!(a.chapters[0].end <= a.chapters[1].start + 1e-6);
        let ch = ffprobe(&["-show_chapters", "-of", "csv=p=0", s(&out)]);
        assert_eq!(ch.lines().count(), 2, "{name}: {ch}");
        // One recording: 60 pictures that decode as the original's.
        let c = compare(dir.path().join("whole.mp4"), &out, |_| true).unwrap();
        assert!(c.streams[0].identical, "{name}: {:?}", c.streams[0]);
    }
}

#[test]
fn join_refuses_segments_that_differ_and_names_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let segs = segments(dir.path());
    let other = dir.path().join("OTHER.ts");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x480:r=30:d=1",
        "-f",
        "lavfi",
        "-i",
        "sine=r=48000:d=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuvj420p",
        "-c:a",
        "aac",
        s(&other),
    ]);
    let out = dir.path().join("joined.mkv");
    let e = archive(&[&segs[0], &other], &out, &opts(Profile::Join), |_| true).unwrap_err();
    let Error::Mismatch { path, detail, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(path, &other);
    assert!(
        detail.contains("stream 0 (video): width 640") && detail.contains("320"),
        "{detail}"
    );
    assert!(!out.exists());
    no_temporaries(dir.path());
}

#[test]
fn clip_cuts_at_keyframes_and_reports_the_range_taken() {
    let dir = tempfile::tempdir().unwrap();
    let src = full_range_clip(dir.path(), "CAM.mp4");
    let out = dir.path().join("clip.mp4");
    let o = Options {
        profile: Profile::Clip,
        from: Some(0.7),
        to: Some(1.2),
        ..Default::default()
    };
    let a = archive(&[&src], &out, &o, |_| true).unwrap();
    proof_ok(&a);
    let r = a.range.unwrap();
    // GOPs of 15 pictures at 30 fps: keyframes at 0.5 and 1.5 s.
    assert_eq!(
        (r.requested_from, r.requested_to, r.from, r.to),
        (0.7, 1.2, 0.5, 1.5)
    );
    let Some(Proof::Packets(p)) = &a.proof else {
        panic!()
    };
    let v = &p.tracks[0];
    assert_eq!(v.coverage.len(), 1);
    assert_eq!((v.coverage[0].first, v.coverage[0].last), (15, 44));
    assert!(!v.complete);
    let frames = ffprobe(&[
        "-select_streams",
        "v",
        "-count_frames",
        "-show_entries",
        "stream=nb_read_frames",
        "-of",
        "csv=p=0",
        s(&out),
    ]);
    assert_eq!(frames.trim(), "30");
    // A range past the end is refused, leaving nothing.
    let o = Options {
        from: Some(5.0),
        to: Some(6.0),
        ..o
    };
    let past = dir.path().join("past.mkv");
    assert!(matches!(
        archive(&[&src], &past, &o, |_| true),
        Err(Error::Nothing { .. })
    ));
    assert!(!past.exists());
}

#[test]
fn audio_only_recordings_work() {
    let dir = tempfile::tempdir().unwrap();
    let m4a = dir.path().join("voice.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=300:r=44100:d=2",
        "-c:a",
        "aac",
        s(&m4a),
    ]);
    let wav = dir.path().join("voice.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=300:r=44100:d=2",
        "-c:a",
        "pcm_s16le",
        s(&wav),
    ]);
    for (src, profile, name) in [
        (&m4a, Profile::RemuxMkv, "a.mka"),
        (&m4a, Profile::Preservation, "b.mka"),
        (&wav, Profile::Preservation, "c.mka"),
        (&wav, Profile::RemuxMkv, "d.mka"),
        (&wav, Profile::Access, "e.m4a"),
    ] {
        let a = archive(&[src], dir.path().join(name), &opts(profile), |_| true)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        proof_ok(&a);
        assert_eq!(a.tracks.len(), 1);
    }
    let o = Options {
        profile: Profile::Clip,
        from: Some(0.5),
        to: Some(1.0),
        ..Default::default()
    };
    let a = archive(&[&m4a], dir.path().join("f.mka"), &o, |_| true).unwrap();
    proof_ok(&a);
    let r = a.range.unwrap();
    assert!(
        r.from >= 0.5 && r.from < 0.53 && r.to >= 1.0 && r.to < 1.03,
        "{r:?}"
    );
}

#[test]
fn damaged_truncated_and_empty_inputs_are_refused_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let src = full_range_clip(dir.path(), "CAM.mp4");
    let bytes = std::fs::read(&src).unwrap();
    // Cut short: the index (first, faststart) names samples past the end.
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    // Damaged: bytes of the pictures in the middle overwritten.
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 2000] {
        *b ^= 0x55;
    }
    let damaged = dir.path().join("damaged.mp4");
    std::fs::write(&damaged, &bad).unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let before = names(dir.path());
    for profile in Profile::ALL {
        let mut o = opts(profile);
        if profile == Profile::Clip {
            (o.from, o.to) = (Some(0.0), Some(1.9));
        }
        let out = dir.path().join(format!("out.{profile}.mkv"));
        let e = archive(&[&cut], &out, &o, |_| true).unwrap_err();
        let Error::Corrupt { path, position, .. } = &e else {
            panic!("{profile}: {e}")
        };
        assert_eq!(path, &cut);
        let offset = position.offset.expect("a byte offset");
        assert!(offset > 0 && offset <= bytes.len() as u64, "{e}");
        assert!(e.to_string().contains(&format!("byte {offset}")), "{e}");
        let e = archive(&[&empty], &out, &o, |_| true).unwrap_err();
        assert!(matches!(e, Error::Empty { .. }), "{profile}: {e}");
    }
    // Decoding finds the damage, and says where.
    let out = dir.path().join("damaged.mkv");
    let e = archive(&[&damaged], &out, &opts(Profile::Preservation), |_| true).unwrap_err();
    let Error::Corrupt { position, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(position.stream, Some(0));
    assert!(position.offset.is_some() && position.time.is_some(), "{e}");
    assert_eq!(names(dir.path()), before, "no output, no temporary file");
}

#[test]
fn cancelling_leaves_nothing_and_outputs_never_replace_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = full_range_clip(dir.path(), "CAM.mp4");
    let before = names(dir.path());
    for profile in [Profile::Preservation, Profile::RemuxMkv] {
        let mut calls = 0;
        let e = archive(&[&src], dir.path().join("x.mkv"), &opts(profile), |p| {
            calls += 1;
            !(p.phase == custody_transcode::Phase::Write && calls > 5)
        })
        .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e}");
        assert_eq!(names(dir.path()), before);
    }
    // The original is never replaced, nor any existing file.
    let e = archive(&[&src], &src, &opts(Profile::RemuxMp4), |_| true).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    let taken = dir.path().join("taken.mkv");
    std::fs::write(&taken, b"keep me").unwrap();
    assert!(archive(&[&src], &taken, &opts(Profile::RemuxMkv), |_| true).is_err());
    assert_eq!(std::fs::read(&taken).unwrap(), b"keep me");
}

// ---- The shared corpus ----

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("CUSTODY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    if dir.join("MANIFEST.txt").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CUSTODY_REQUIRE_CORPUS").is_none(),
        "the media corpus is required but missing at {}",
        dir.display()
    );
    eprintln!(
        "note: no media corpus at {}; corpus cases skipped",
        dir.display()
    );
    None
}

/// Every video file of the corpus that FFmpeg decodes: the ffmpeg CLI reads
/// every stream with no error and a video track holds at least one picture
/// (images and init segments without samples are not recordings).
fn decodable() -> &'static [PathBuf] {
    static LIST: OnceLock<Vec<PathBuf>> = OnceLock::new();
    LIST.get_or_init(|| {
        let Some(dir) = corpus() else {
            return Vec::new();
        };
        let mut files = Vec::new();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n != "MANIFEST.txt") {
                    files.push(p);
                }
            }
        }
        files.sort();
        files
            .into_iter()
            .filter(|p| {
                let fmt = ffprobe(&[
                    "-show_entries",
                    "format=format_name",
                    "-of",
                    "csv=p=0",
                    s(p),
                ]);
                if fmt.trim().is_empty() || fmt.contains("image2") || fmt.contains("_pipe") {
                    return false;
                }
                let out = Command::new("ffmpeg")
                    .args([
                        "-nostdin",
                        "-v",
                        "error",
                        "-i",
                        s(p),
                        "-map",
                        "0",
                        "-f",
                        "null",
                        "-",
                    ])
                    .output()
                    .unwrap();
                if !out.status.success() || !out.stderr.is_empty() {
                    return false;
                }
                let probe = ffprobe(&[
                    "-select_streams",
                    "v",
                    "-count_frames",
                    "-show_entries",
                    "stream=nb_read_frames:stream_disposition=attached_pic",
                    "-of",
                    "json",
                    s(p),
                ]);
                let v: serde_json::Value = serde_json::from_str(&probe).unwrap_or_default();
                v["streams"].as_array().is_some_and(|a| {
                    a.iter().any(|st| {
                        st["disposition"]["attached_pic"] != 1
                            && st["nb_read_frames"]
                                .as_str()
                                .and_then(|n| n.parse::<u64>().ok())
                                .is_some_and(|n| n > 0)
                    })
                })
            })
            .collect()
    })
}

fn rel(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.split("corpus/").last().unwrap_or(&s).to_string()
}

#[test]
fn every_decodable_corpus_video_passes_the_preservation_proof() {
    let files = decodable();
    if corpus().is_some() {
        // The corpus as of its MANIFEST: 42 video files FFmpeg decodes.
        assert_eq!(files.len(), 42, "{files:#?}");
        assert!(files.iter().any(|p| p.ends_with("gopro/karma.mp4")));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let out = dir.path().join(format!("{i}.mkv"));
        match archive(&[f], &out, &opts(Profile::Preservation), |_| true) {
            Ok(a) if a.proof.as_ref().is_some_and(|p| p.ok()) && a.kept => {}
            Ok(a) => failures.push(format!("{}: proof failed: {:?}", rel(f), a.proof)),
            Err(e) => failures.push(format!("{}: {e}", rel(f))),
        }
        let _ = std::fs::remove_file(&out);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_decodable_corpus_video_remuxes_and_clips_with_the_packet_proof() {
    let files = decodable();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let dur: f64 = ffprobe(&["-show_entries", "format=duration", "-of", "csv=p=0", s(f)])
            .trim()
            .parse()
            .unwrap_or(1.0_f64)
            .min(20.0);
        let clip = Options {
            profile: Profile::Clip,
            from: Some(dur * 0.25),
            to: Some(dur * 0.6),
            ..Default::default()
        };
        for (o, name) in [
            (opts(Profile::RemuxMkv), format!("{i}.mkv")),
            (opts(Profile::RemuxMp4), format!("{i}.mp4")),
            (clip, format!("{i}.clip.mkv")),
        ] {
            let out = dir.path().join(&name);
            match archive(&[f], &out, &o, |_| true) {
                Ok(a) if a.proof.as_ref().is_some_and(|p| p.ok()) && a.kept => {
                    if let Some(r) = a.range {
                        assert!(r.from <= r.requested_from + 1e-6 || r.from >= 0.0, "{r:?}");
                    }
                }
                Ok(a) => failures.push(format!("{} {name}: proof failed: {:?}", rel(f), a.proof)),
                Err(e) => failures.push(format!("{} {name}: {e}", rel(f))),
            }
            let _ = std::fs::remove_file(&out);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_corpus_file_cut_short_is_refused_at_the_offset_ffmpeg_names() {
    let Some(dir) = corpus() else { return };
    let f = dir.join("mp4parse-rust/invalid_userdata.mp4");
    let out = tempfile::tempdir().unwrap();
    let e = archive(
        &[&f],
        out.path().join("x.mkv"),
        &opts(Profile::RemuxMkv),
        |_| true,
    )
    .unwrap_err();
    let Error::Corrupt {
        position, message, ..
    } = &e
    else {
        panic!("{e}")
    };
    assert!(message.contains("partial file"), "{message}");
    // The sample the index places past the end of the 136 KB file.
    assert!(
        matches!(position.offset, Some(0x2110a) | Some(0x214b0)),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}
