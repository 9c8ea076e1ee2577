//! Independent references for what the other tests take on trust: the
//! synthetic MP4 writer (read back by ffprobe, not by our parser), sample
//! tables (against mp4parse and re_mp4), and content-hash form v1 (pinned
//! values, and the same bytes produced by `ffmpeg -c copy -f data`).

mod common;

use custody::container::Limits;
use custody::container::bmff::Mp4;
use custody::hash::content::content_hashes;
use custody_testkit::mp4::synthetic_recording;
use serde_json::Value;
use std::path::Path;

/// A video frame as (size, duration, pts - dts, keyframe).
type VideoFrame = (u64, i64, i64, bool);

/// What `synthetic_recording(seconds, fps, gop)` is documented to write, from
/// its specification rather than its code: per video frame (size, duration,
/// pts - dts, keyframe) at 90 kHz, and per AAC frame its size at 48 kHz.
fn synthetic_spec(seconds: u32, fps: u32, gop: u32) -> (Vec<VideoFrame>, Vec<u64>) {
    let tick = (90_000 / fps) as i64;
    let video = (0..seconds * fps)
        .map(|i| {
            let key = i % gop == 0;
            let size = if key { 180 } else { 24 + (i % 7) } as u64;
            (size, tick, [2, 0, 1][(i % 3) as usize] * tick, key)
        })
        .collect();
    let audio = (0..(seconds as u64 * 48_000).div_ceil(1024))
        .map(|i| 8 + i % 5)
        .collect();
    (video, audio)
}

fn ffprobe_json(path: &Path) -> Value {
    let out = common::tool_output(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_streams",
            "-show_packets",
            "-of",
            "json",
            path.to_str().unwrap(),
        ],
    )
    .expect("ffprobe reads the file");
    serde_json::from_slice(&out).unwrap()
}

fn int(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .or_else(|| v[key].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn ffprobe_reads_the_synthetic_writer_as_specified() {
    if !common::have_tool("ffprobe") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (seconds, fps, gop) in [(3, 30, 10), (2, 25, 25), (1, 60, 7)] {
        let path = dir.path().join(format!("s{seconds}-{fps}-{gop}.mp4"));
        std::fs::write(&path, synthetic_recording(seconds, fps, gop)).unwrap();
        let v = ffprobe_json(&path);
        let streams = v["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 2, "{path:?}");
        assert_eq!(
            (
                &streams[0]["codec_name"],
                int(&streams[0], "width"),
                int(&streams[0], "height")
            ),
            (&Value::from("h264"), 16, 16)
        );
        assert_eq!(
            (
                &streams[1]["codec_name"],
                int(&streams[1], "sample_rate"),
                int(&streams[1], "channels")
            ),
            (&Value::from("aac"), 48_000, 2)
        );
        let (video, audio) = synthetic_spec(seconds, fps, gop);
        let packets = v["packets"].as_array().unwrap();
        let of = |index: i64| -> Vec<&Value> {
            let mut p: Vec<&Value> = packets
                .iter()
                .filter(|p| int(p, "stream_index") == index)
                .collect();
            p.sort_by_key(|p| int(p, "dts"));
            p
        };
        // ffprobe's key flag comes from its H.264 parser reading the payload
        // (a fill pattern here), not from `stss`: sync samples are checked
        // against mp4parse and re_mp4 instead.
        let got: Vec<(u64, i64, i64)> = of(0)
            .iter()
            .map(|p| {
                (
                    int(p, "size") as u64,
                    int(p, "duration"),
                    int(p, "pts") - int(p, "dts"),
                )
            })
            .collect();
        let spec: Vec<_> = video.iter().map(|&(a, b, c, _)| (a, b, c)).collect();
        assert_eq!(got, spec, "video packets of {path:?}");
        let got: Vec<u64> = of(1).iter().map(|p| int(p, "size") as u64).collect();
        assert_eq!(got, audio, "audio packets of {path:?}");
        assert!(of(1).iter().all(|p| int(p, "duration") == 1024));
    }
}

/// Each track's samples as (offset, size, sync), sorted by offset.
type Table = Vec<Vec<(u64, u64, bool)>>;

/// The sample tables as mp4parse and re_mp4 read them (each `None` where
/// that parser cannot read the file), tracks in track-id order.
fn foreign_tables(data: &[u8]) -> (Option<Table>, Option<Table>) {
    let mp4parse = mp4parse::read_mp4(&mut std::io::Cursor::new(data))
        .ok()
        .and_then(|ctx| {
            ctx.tracks
                .iter()
                .map(|t| {
                    let mut v: Vec<_> = mp4parse::unstable::create_sample_table(t, 0i64.into())?
                        .iter()
                        .map(|i| (i.start_offset.0, i.end_offset.0 - i.start_offset.0, i.sync))
                        .collect();
                    v.sort();
                    Some(v)
                })
                .collect()
        });
    let re_mp4 = re_mp4::Mp4::read_bytes(data).ok().map(|m| {
        let mut tracks: Vec<_> = m.tracks().iter().collect();
        tracks.sort_by_key(|(id, _)| **id);
        tracks
            .into_iter()
            .map(|(_, t)| {
                let mut v: Vec<_> = t
                    .samples
                    .iter()
                    .map(|s| (s.offset, s.size, s.is_sync))
                    .collect();
                v.sort();
                v
            })
            .collect()
    });
    (mp4parse, re_mp4)
}

fn our_table(data: &[u8]) -> Table {
    let mp4 = Mp4::parse(data, Limits::default()).unwrap();
    let mut tracks: Vec<_> = mp4.tracks.iter().collect();
    tracks.sort_by_key(|t| t.id);
    tracks
        .into_iter()
        .map(|t| {
            let mut v: Vec<_> = t
                .samples()
                .map(|s| (s.offset, s.size as u64, s.keyframe))
                .collect();
            v.sort();
            v
        })
        .collect()
}

#[test]
fn sample_tables_agree_with_mp4parse_and_re_mp4() {
    for (seconds, fps, gop) in [(10, 30, 30), (7, 25, 12), (1, 60, 1)] {
        let data = synthetic_recording(seconds, fps, gop);
        let ours = our_table(&data);
        // The writer's sync samples are the ones its specification names.
        let (video, _) = synthetic_spec(seconds, fps, gop);
        let keys: Vec<bool> = our_decode_order_keys(&data);
        assert_eq!(keys, video.iter().map(|v| v.3).collect::<Vec<_>>());
        let (a, b) = foreign_tables(&data);
        assert!(a.as_ref() == Some(&ours), "mp4parse, synthetic {seconds}s");
        assert!(b.as_ref() == Some(&ours), "re_mp4, synthetic {seconds}s");
    }
    let Some(corpus) = common::corpus() else {
        return;
    };
    // Real files; each foreign parser that reads a file must agree exactly.
    for (f, with_re_mp4) in [
        ("androidx/mp4/sample.mp4", true),
        ("androidx/mp4/sample_with_metadata.mp4", true),
        ("androidx/mp4/pixel7_videoOnly_cleaned.mp4", true),
        ("androidx/mp4/h265_bframes.mp4", true),
        ("gopro/karma.mp4", true),
        // re_mp4 0.3 lists no samples for a `twos` PCM track.
        ("androidx/mp4/sample_twos_pcm.mp4", false),
    ] {
        let data = std::fs::read(corpus.join(f)).unwrap();
        let ours = our_table(&data);
        let (a, b) = foreign_tables(&data);
        assert!(a.as_ref() == Some(&ours), "mp4parse disagrees on {f}");
        if with_re_mp4 {
            assert!(b.as_ref() == Some(&ours), "re_mp4 disagrees on {f}");
        } else {
            assert_eq!(b.map(|t| t[1].len()), Some(0), "re_mp4 now reads {f}");
        }
    }
}

/// Keyframe flags of the first track in decode order, as our parser reads them.
fn our_decode_order_keys(data: &[u8]) -> Vec<bool> {
    let mp4 = Mp4::parse(data, Limits::default()).unwrap();
    mp4.tracks[0].samples().map(|s| s.keyframe).collect()
}

/// Content hashes of one synthetic recording, pinned: a change to canonical
/// form v1 (framing, NAL selection, ADTS handling) changes these values and
/// must come with a new form version instead.
#[test]
fn content_form_v1_is_pinned() {
    let data = synthetic_recording(2, 30, 10);
    let got: Vec<(u32, &str, String)> = content_hashes(&data, Limits::default())
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.form, t.content_blake3.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "h264-vcl-v1", PINNED_VIDEO.to_string()),
            (2, "aac-raw-v1", PINNED_AUDIO.to_string()),
        ]
    );
}

const PINNED_VIDEO: &str = "d7a25969ba7469dead7d925286b5b6901a2cdd914bbe376ba8984d1f93b6fe6a";
const PINNED_AUDIO: &str = "09c80d4979e5a025f9b986e742af8ff6d0138434c77cd3a0167e1e71281004e9";

/// The canonical bytes of form v1 rebuilt from what FFmpeg's stream copy
/// hands out: for H.264/H.265, the VCL units FFmpeg's `filter_units` keeps,
/// in Annex B, turned into 4-byte length prefixes with trailing zero bytes
/// dropped; for AAC, the raw frames as copied out of the MP4.
fn ffmpeg_reference(path: &Path, stream: usize, codec: &str) -> String {
    let bsf = match codec {
        "h264" => "h264_mp4toannexb,filter_units=pass_types=1-5",
        "hevc" => "hevc_mp4toannexb,filter_units=pass_types=0-31",
        _ => "null",
    };
    let map = format!("0:{stream}");
    let out = common::tool_output(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            path.to_str().unwrap(),
            "-map",
            &map,
            "-c",
            "copy",
            "-bsf",
            bsf,
            "-f",
            "data",
            "-",
        ],
    )
    .expect("ffmpeg copies the stream");
    let bytes = if codec == "aac" {
        out
    } else {
        let mut starts = Vec::new();
        let mut i = 0;
        while i + 3 <= out.len() {
            if out[i..i + 3] == [0, 0, 1] {
                starts.push(i + 3);
                i += 3;
            } else {
                i += 1;
            }
        }
        let mut canon = Vec::new();
        for (k, &s) in starts.iter().enumerate() {
            let e = starts.get(k + 1).map_or(out.len(), |&n| n - 3);
            let mut nal = &out[s..e];
            while let [rest @ .., 0] = nal {
                nal = rest;
            }
            canon.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            canon.extend_from_slice(nal);
        }
        canon
    };
    blake3::hash(&bytes).to_hex().to_string()
}

#[test]
fn content_hashes_match_ffmpeg_stream_copy() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    if !common::have_tool("ffmpeg") {
        return;
    }
    // (file, stream index, track id, codec)
    for (f, stream, id, codec) in [
        ("androidx/mp4/sample.mp4", 0, 1, "h264"),
        ("androidx/mp4/sample.mp4", 1, 2, "aac"),
        ("gopro/karma.mp4", 0, 1, "h264"),
        ("gopro/karma.mp4", 1, 2, "aac"),
        ("androidx/mp4/pixel7_videoOnly_cleaned.mp4", 0, 1, "h264"),
        ("androidx/mp4/h265_bframes.mp4", 0, 1, "hevc"),
    ] {
        let path = corpus.join(f);
        let ours = content_hashes(&std::fs::read(&path).unwrap(), Limits::default()).unwrap();
        let track = ours.iter().find(|t| t.id == id).unwrap();
        assert_eq!(track.codec, Some(codec), "{f} track {id}");
        assert_eq!(
            track.content_blake3.to_string(),
            ffmpeg_reference(&path, stream, codec),
            "{f} track {id} ({codec})"
        );
    }
}
