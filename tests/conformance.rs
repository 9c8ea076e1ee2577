//! Conformance over the shared corpus of real media.
//!
//! 1. No file (including the fuzz inputs, and every truncated prefix of each
//!    file) makes the parsers panic.
//! 2. For every MP4/MOV/3GP/M4A/M4S/TS/PS file that `ffprobe` reads, the
//!    track count, codec names and packet counts per track agree with
//!    `ffprobe -count_packets -show_streams -show_format`, and durations
//!    agree within 1 ms, except for the reasoned differences listed below.
//!    Every listed difference must still occur, so the list cannot go stale.

mod common;

use custody::container::summary::{Probe, ProbeOptions};
use custody::container::{Limits, detect, fuzzing, probe};
use serde_json::Value;
use std::collections::BTreeSet;

/// A field that may legitimately differ from ffprobe for one stream of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Streams,
    Codec,
    Packets,
    Duration,
    Size,
}

/// (file, stream id (0 for the file), field, why).
const EXPECTED_DIFFERENCES: &[(&str, u32, Field, &str)] = &[
    (
        "androidx/mp4/bt601.mov",
        1,
        Field::Packets,
        "FFmpeg drops the 2 AAC priming packets that the edit list starts after; we index every sample in the file",
    ),
    (
        "androidx/mp4/bt601.mov",
        1,
        Field::Duration,
        "FFmpeg adds the leading empty edit (1320/30000 s) to this track's duration; we report the non-empty edits (0.9753 s)",
    ),
    (
        "androidx/mp4/sample_empty_track.mp4",
        2,
        Field::Duration,
        "the track has no samples and an mdhd duration of 0; FFmpeg fills in the movie duration",
    ),
    (
        "androidx/mp4/sample_fragmented.mp4",
        1,
        Field::Duration,
        "FFmpeg reports 143165 s, an overflow from the fragments' decode times; the samples span 1.001 s",
    ),
    (
        "androidx/mp4/sample_fragmented.mp4",
        2,
        Field::Duration,
        "FFmpeg reports 97391 s, an overflow from the fragments' decode times; the samples span 1.068 s",
    ),
    (
        "androidx/mp4/sample_fragmented_sei.mp4",
        1,
        Field::Duration,
        "same file layout as sample_fragmented.mp4: FFmpeg's duration overflows",
    ),
    (
        "androidx/mp4/sample_fragmented_sei.mp4",
        2,
        Field::Duration,
        "same file layout as sample_fragmented.mp4: FFmpeg's duration overflows",
    ),
    (
        "androidx/mp4/sample_ipcm_16be.mp4",
        2,
        Field::Packets,
        "raw PCM: the file holds 45056 one-frame samples; FFmpeg regroups them into packets of 1024",
    ),
    (
        "androidx/mp4/sample_twos_pcm.mp4",
        2,
        Field::Packets,
        "raw PCM: the file holds 45056 one-frame samples; FFmpeg regroups them into packets of 1024",
    ),
    (
        "androidx/mp4/sowt-with-video.mov",
        2,
        Field::Packets,
        "raw PCM: the file holds 96000 one-frame samples; FFmpeg regroups them into packets of 1000",
    ),
    (
        "gopro/karma.mp4",
        4,
        Field::Duration,
        "the GPMF track's mdhd and tkhd both say 13.013 s, longer than the 12.079 s movie; FFmpeg clamps it to the movie",
    ),
    (
        "mp4parse-rust/test_case_1185230.mp4",
        2,
        Field::Packets,
        "the edit list starts after the first AAC frame and FFmpeg drops it (its timescale of 3523727305 is hostile)",
    ),
    (
        "mp4parse-rust/test_case_1185230.mp4",
        2,
        Field::Duration,
        "timescale 3523727305 overflows FFmpeg's duration to 0; the edit list gives 0.441 s",
    ),
    (
        "androidx/ts/sample_ac3.ts",
        1900,
        Field::Packets,
        "the stream starts with 73 bytes of a partial AC-3 frame; FFmpeg emits them as a packet, we report them as a warning",
    ),
    (
        "androidx/ts/sample_ait.ts",
        0,
        Field::Streams,
        "FFmpeg adds an 'epg' data stream for the EIT tables on PID 0x12, which is not an elementary stream",
    ),
    (
        "androidx/ts/sample_ait.ts",
        330,
        Field::Duration,
        "20 E-AC-3 frames of 1536 samples at 48 kHz last 0.640 s; FFmpeg falls back to the file's overall duration",
    ),
    (
        "androidx/ts/sample_h262_mpeg_audio.ts",
        257,
        Field::Duration,
        "4 MPEG audio frames last 4 x 1152 / 44100 = 0.1045 s; FFmpeg's end time ignores the last frame, which carries no PES timestamp",
    ),
    (
        "androidx/ts/sample_h264_mpeg_audio.ts",
        257,
        Field::Duration,
        "4 MPEG audio frames last 0.1045 s; FFmpeg ignores the last frame, which carries no PES timestamp",
    ),
    (
        "androidx/ts/sample_scte35.ts",
        257,
        Field::Duration,
        "4 MPEG audio frames last 0.1045 s; FFmpeg ignores the last frame, which carries no PES timestamp",
    ),
    (
        "androidx/ts/sample_latm.ts",
        256,
        Field::Duration,
        "5 LATM frames of 2048 output samples at 44.1 kHz last 0.232 s; FFmpeg counts only the frame that carries a PES timestamp",
    ),
    (
        "androidx/ts/sample_h262_mpeg_audio.ps",
        0x1bf,
        Field::Packets,
        "FFmpeg lists the DVD navigation stream but returns none of its 2 packets",
    ),
    (
        "androidx/ts/sample_h262_mpeg_audio.ps",
        0x1c0,
        Field::Duration,
        "4 MPEG audio frames last 0.1045 s; FFmpeg's estimate keeps one frame",
    ),
    (
        "androidx/ts/sample_h262_mpeg_audio.ps",
        0x1bf,
        Field::Duration,
        "navigation packets carry no timestamps: we report no duration, FFmpeg fills in the file's",
    ),
    (
        "androidx/ts/sample_ait.ts",
        0x172,
        Field::Duration,
        "a stream with no packets has no duration; FFmpeg fills in the file's",
    ),
    (
        "androidx/ts/sample_ait.ts",
        0x173,
        Field::Duration,
        "a stream with no packets has no duration; FFmpeg fills in the file's",
    ),
    (
        "androidx/ts/sample_with_sdt.ts",
        0x150,
        Field::Duration,
        "the MPEG-2 video PID carries no complete picture; FFmpeg fills in the file's duration",
    ),
];

fn ffprobe(path: &std::path::Path) -> Option<Value> {
    let p = path.to_str()?;
    let out = common::tool_output(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_packets",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
            p,
        ],
    )?;
    let v: Value = serde_json::from_slice(&out).ok()?;
    v.get("format")?;
    Some(v)
}

fn hex_id(s: &Value) -> Option<u32> {
    let id = s.get("id")?.as_str()?;
    u32::from_str_radix(id.trim_start_matches("0x"), 16).ok()
}

/// Exercises every structure of a parsed file through the fuzz entry points.
fn exercise(data: &[u8]) {
    fuzzing::bmff(data);
    fuzzing::ts(data);
    fuzzing::ps(data);
    custody::hash::fuzzing::content(data);
}

#[test]
fn no_file_or_prefix_panics() {
    let Some(dir) = common::corpus() else { return };
    let files = common::files(&dir);
    assert!(
        files.len() > 50,
        "corpus looks incomplete: {} files",
        files.len()
    );
    for f in &files {
        let data = std::fs::read(f).unwrap();
        exercise(&data);
        // Truncations at 16 points through the file (power loss mid-write).
        for k in 1..16 {
            exercise(&data[..data.len() * k / 16]);
        }
    }
}

fn check_file(
    rel: &str,
    ours: &Probe,
    ff: &Value,
    seen: &mut BTreeSet<(String, u32, Field)>,
    failures: &mut Vec<String>,
) {
    let expected = |id: u32, field: Field| {
        EXPECTED_DIFFERENCES
            .iter()
            .any(|e| e.0 == rel && e.1 == id && e.2 == field)
    };
    let mut differ = |id: u32, field: Field, what: String| {
        if expected(id, field) {
            seen.insert((rel.to_string(), id, field));
        } else {
            failures.push(format!("{rel}: {what}"));
        }
    };
    let streams: Vec<&Value> = ff["streams"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| s["disposition"]["attached_pic"].as_i64() != Some(1))
                .collect()
        })
        .unwrap_or_default();
    if streams.len() != ours.tracks.len() {
        differ(
            0,
            Field::Streams,
            format!("{} tracks, ffprobe {}", ours.tracks.len(), streams.len()),
        );
    }
    for s in streams {
        let Some(id) = hex_id(s) else { continue };
        let Some(t) = ours.tracks.iter().find(|t| t.id == id) else {
            differ(
                0,
                Field::Streams,
                format!(
                    "no track with id {id:#x} (ffprobe has {:?})",
                    s["codec_name"]
                ),
            );
            continue;
        };
        let ff_codec = s["codec_name"].as_str();
        if t.codec != ff_codec {
            differ(
                id,
                Field::Codec,
                format!("track {id:#x} codec {:?}, ffprobe {ff_codec:?}", t.codec),
            );
        }
        if s["codec_type"] == "video" {
            let ff = (s["width"].as_u64(), s["height"].as_u64());
            let ours = (t.width.map(u64::from), t.height.map(u64::from));
            if ff.0.is_some_and(|w| w > 0) && ours != ff {
                differ(
                    id,
                    Field::Size,
                    format!("track {id:#x}: picture {ours:?}, ffprobe {ff:?}"),
                );
            }
        }
        let packets = s["nb_read_packets"]
            .as_str()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if t.samples != packets {
            differ(
                id,
                Field::Packets,
                format!(
                    "track {id:#x}: {} samples, ffprobe {packets} packets",
                    t.samples
                ),
            );
        }
        if let Some(d) = s["duration"].as_str().and_then(|d| d.parse::<f64>().ok()) {
            match t.duration_s {
                Some(ours) if (ours - d).abs() <= 0.001 => {}
                other => differ(
                    id,
                    Field::Duration,
                    format!("track {id:#x}: duration {other:?}, ffprobe {d}"),
                ),
            }
        }
    }
}

#[test]
fn agrees_with_ffprobe() {
    let Some(dir) = common::corpus() else { return };
    if !common::have_tool("ffprobe") {
        return;
    }
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    let mut compared = 0;
    for f in common::files(&dir) {
        let rel = common::rel(&dir, &f);
        if rel.contains("fuzz-") {
            continue;
        }
        let data = std::fs::read(&f).unwrap();
        let Some(format) = detect(&data) else {
            continue;
        };
        if !matches!(format.name(), "mp4" | "mpegts" | "m2ts" | "mpegps") {
            continue;
        }
        let Some(ff) = ffprobe(&f) else { continue };
        if ff["streams"].as_array().is_none_or(|s| s.is_empty()) {
            // ffprobe cannot read it (a media segment without its init, a broken file).
            continue;
        }
        let ours = match probe(&data, ProbeOptions::default()) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{rel}: ffprobe reads it but custody fails: {e}"));
                continue;
            }
        };
        compared += 1;
        check_file(&rel, &ours, &ff, &mut seen, &mut failures);
    }
    for e in EXPECTED_DIFFERENCES {
        if !seen.contains(&(e.0.to_string(), e.1, e.2)) {
            failures.push(format!(
                "{}: listed difference {:?} on {:#x} no longer occurs; remove it",
                e.0, e.2, e.1
            ));
        }
    }
    assert!(compared >= 40, "only {compared} files compared");
    assert!(
        failures.is_empty(),
        "{} disagreements with ffprobe:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{compared} files agree with ffprobe ({} reasoned differences)",
        EXPECTED_DIFFERENCES.len()
    );
}

/// Media segments probed against their init segments: tracks and samples appear.
#[test]
fn media_segments_with_init() {
    let Some(dir) = common::corpus() else { return };
    let cases = [
        (
            "androidx/cmaf/multi-segment/video_init.mp4",
            "androidx/cmaf/multi-segment/video_1.m4s",
        ),
        (
            "androidx/cmaf/multi-segment/audio_init.mp4",
            "androidx/cmaf/multi-segment/audio_1.m4s",
        ),
        (
            "androidx/dash/multi-segment-with-emsg0/segment_init.mp4",
            "androidx/dash/multi-segment-with-emsg0/segment_1.m4s",
        ),
        (
            "androidx/hls/multi-segment/init.mp4",
            "androidx/hls/multi-segment/playlist0.m4s",
        ),
        ("mp4-rust/minimal_init.mp4", "mp4-rust/minimal_fragment.m4s"),
    ];
    for (init, seg) in cases {
        let init_b = std::fs::read(dir.join(init)).unwrap();
        let seg_b = std::fs::read(dir.join(seg)).unwrap();
        let p =
            custody::container::probe_segment(&init_b, &seg_b, ProbeOptions::default()).unwrap();
        assert!(!p.tracks.is_empty(), "{seg}: no tracks");
        assert!(p.tracks.iter().any(|t| t.samples > 0), "{seg}: no samples");
        // Cross-check against ffprobe reading the concatenation, as a player would.
        if common::have_tool("ffprobe") {
            let tmp = std::env::temp_dir().join(format!("custody-seg-{}.mp4", std::process::id()));
            let mut cat = init_b.clone();
            cat.extend_from_slice(&seg_b);
            std::fs::write(&tmp, &cat).unwrap();
            let ff = ffprobe(&tmp).unwrap();
            std::fs::remove_file(&tmp).ok();
            for s in ff["streams"].as_array().unwrap() {
                let id = hex_id(s).unwrap();
                let t = p.tracks.iter().find(|t| t.id == id).unwrap();
                let packets: u64 = s["nb_read_packets"].as_str().unwrap().parse().unwrap();
                assert_eq!(t.samples, packets, "{seg}: track {id}");
            }
        }
    }
}

/// Metadata that the corpus files are known to carry.
#[test]
fn metadata_and_location() {
    let Some(dir) = common::corpus() else { return };
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
    let sample = probe(&read("androidx/mp4/sample.mp4"), ProbeOptions::default()).unwrap();
    // Two locations: udta `©xyz` (+40.680-074.500/) and an ilst copy; the recorder's udta one wins.
    let loc = sample.location.expect("©xyz location");
    assert!(
        sample.metadata.contains_key("©xyz#2"),
        "{:?}",
        sample.metadata.keys()
    );
    assert!(
        (loc.lat - 40.68).abs() < 1e-9 && (loc.lon + 74.5).abs() < 1e-9,
        "{loc:?}"
    );
    assert!(sample.created.is_some());

    let slow = probe(
        &read("androidx/mp4/sample_android_slow_motion.mp4"),
        ProbeOptions::default(),
    )
    .unwrap();
    assert!(
        slow.metadata.contains_key("com.android.capture.fps"),
        "{:?}",
        slow.metadata.keys()
    );

    let karma = probe(&read("gopro/karma.mp4"), ProbeOptions::default()).unwrap();
    assert!(
        karma.metadata.contains_key("FIRM"),
        "{:?}",
        karma.metadata.keys()
    );
    let gpmd = karma
        .tracks
        .iter()
        .find(|t| t.codec_tag.as_deref() == Some("gpmd"))
        .expect("GPMF track");
    assert_eq!(gpmd.kind, "data");
    let tmcd = karma
        .tracks
        .iter()
        .find(|t| t.codec_tag.as_deref() == Some("tmcd"))
        .expect("timecode track");
    assert_eq!(tmcd.kind, "timecode");
}

/// Damaged files are recovered, not rejected, and the damage is reported with its offset.
#[test]
fn damaged_files_are_recovered_with_warnings() {
    let Some(dir) = common::corpus() else { return };
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
    // A 3-byte 'free' box right after ftyp: the walker resynchronises on the moov.
    let p = probe(
        &read("androidx/mp4/sample_malformed_free_box.mp4"),
        ProbeOptions::default(),
    )
    .unwrap();
    assert_eq!(p.tracks.len(), 2);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.offset == 32 && w.message.contains("skipped")),
        "{:?}",
        p.warnings
    );
    // mdat runs 8 bytes past the end of the file.
    let p = probe(
        &read("androidx/mp4/sample_mdat_too_long.mp4"),
        ProbeOptions::default(),
    )
    .unwrap();
    assert!(
        p.warnings
            .iter()
            .any(|w| w.path == "mdat" && w.offset == 2184),
        "{:?}",
        p.warnings
    );
    // moov with no mdat at all: every sample is missing and says so.
    let p = probe(
        &read("androidx/mp4/large_stbl_truncated_after_moov.m4b"),
        ProbeOptions::default(),
    )
    .unwrap();
    assert_eq!(p.tracks[0].samples, 0);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.message.contains("beyond the end of the file")),
        "{:?}",
        p.warnings
    );
    // Strict mode turns the first of those into an error with its location.
    let strict = ProbeOptions {
        limits: Limits {
            strict: true,
            ..Limits::default()
        },
        samples: false,
        boxes: false,
    };
    let e = probe(&read("androidx/mp4/sample_mdat_too_long.mp4"), strict).unwrap_err();
    assert_eq!((e.offset, e.path.as_str()), (2184, "mdat"));
}
