//! Content hashes survive remuxing with the real ffmpeg (MP4, fragmented MP4,
//! MPEG-TS, Matroska, FLV, AVI, WAV, ADTS, Ogg) and change when one byte of one sample changes.

mod common;

use custody_container::{Limits, bmff::Mp4};
use custody_hash::Digest32;
use custody_hash::content::{TrackContent, content_hashes};
use std::path::Path;

fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stream-copies `src` to `out` with the real ffmpeg; `options` (split on
/// spaces) go before the output.
fn copy(src: &Path, out: &Path, options: &str) {
    let (src, out) = (src.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["-i", src, "-c", "copy"];
    args.extend(options.split_whitespace());
    args.push(out);
    ffmpeg(&args);
}

fn hashes(p: &Path) -> Vec<TrackContent> {
    let data = std::fs::read(p).unwrap();
    content_hashes(&data, Limits::default()).unwrap()
}

/// Audio and video tracks only (TS cannot carry timecode or GPMF tracks), in a stable order.
fn av(v: Vec<TrackContent>) -> Vec<(Option<&'static str>, u64, Digest32, Option<Digest32>)> {
    let mut v: Vec<_> = v
        .into_iter()
        .filter(|t| matches!(t.codec, Some("h264" | "hevc" | "aac")))
        .map(|t| (t.codec, t.samples, t.content_blake3, t.params_blake3))
        .collect();
    v.sort();
    v
}

#[test]
fn remuxes_keep_their_content_hash() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    if !common::have("ffmpeg", "-version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "androidx/mp4/sample.mp4",
        "gopro/karma.mp4",
        "androidx/mp4/h265_with_metadata_track.mp4",
        "androidx/mp4/h265_bframes.mp4",
    ] {
        let src = corpus.join(f);
        let s = src.to_str().unwrap();
        let stem = Path::new(f).file_stem().unwrap().to_str().unwrap();
        let ts = dir.path().join(format!("{stem}.ts"));
        let frag = dir.path().join(format!("{stem}.frag.mp4"));
        let back = dir.path().join(format!("{stem}.back.mp4"));
        ffmpeg(&[
            "-i",
            s,
            "-map",
            "0:v?",
            "-map",
            "0:a?",
            "-c",
            "copy",
            ts.to_str().unwrap(),
        ]);
        ffmpeg(&[
            "-i",
            s,
            "-map",
            "0:v?",
            "-map",
            "0:a?",
            "-c",
            "copy",
            "-movflags",
            "frag_keyframe+empty_moov",
            frag.to_str().unwrap(),
        ]);
        ffmpeg(&[
            "-i",
            ts.to_str().unwrap(),
            "-c",
            "copy",
            back.to_str().unwrap(),
        ]);
        let flv = dir.path().join(format!("{stem}.flv"));
        if f == "androidx/mp4/sample.mp4" {
            // FLV holds H.264 and AAC (not HEVC, and one track of each).
            copy(&src, &flv, "");
            assert_eq!(av(hashes(&flv)), av(hashes(&src)), "{f} vs FLV");
            // The AAC track alone, in ADTS.
            let adts = dir.path().join("sample.aac");
            copy(&src, &adts, "-map 0:a -f adts");
            let aac = |v: Vec<TrackContent>| {
                v.into_iter()
                    .filter(|t| t.codec == Some("aac"))
                    .map(|t| (t.samples, t.content_blake3))
                    .collect::<Vec<_>>()
            };
            assert_eq!(aac(hashes(&adts)), aac(hashes(&src)), "{f} vs ADTS");
        }
        let mkv = dir.path().join(format!("{stem}.mkv"));
        copy(&src, &mkv, "-map 0:v? -map 0:a?");
        let original = av(hashes(&src));
        assert!(!original.is_empty(), "{f}");
        for other in [&ts, &frag, &back, &mkv] {
            assert_eq!(av(hashes(other)), original, "{f} vs {}", other.display());
        }
    }
    // Big-endian PCM rewritten as little-endian PCM: the same samples.
    let src = corpus.join("androidx/mp4/sample_twos_pcm.mp4");
    let sowt = dir.path().join("sowt.mov");
    ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c:v",
        "copy",
        "-c:a",
        "pcm_s16le",
        sowt.to_str().unwrap(),
    ]);
    let a: Vec<Digest32> = hashes(&src).into_iter().map(|t| t.content_blake3).collect();
    let b: Vec<Digest32> = hashes(&sowt)
        .into_iter()
        .map(|t| t.content_blake3)
        .collect();
    assert_eq!(a, b);
}

/// PCM moved between WAV, RF64, MOV and Matroska by the real ffmpeg keeps its
/// content hash (WAV audio, packetised 4096 bytes at a time, against
/// MOV's chunks of samples), for every corpus WAV in a PCM format MOV holds.
#[test]
fn pcm_in_wav_rf64_and_mov_has_one_content_hash() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    if !common::have("ffmpeg", "-version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "androidx/wav/sample.wav",
        "androidx/wav/sample_rf64.wav",
        "wavinfo/sounddevices/A101_3.WAV",
        "wavefile/8bit-alaw-8kHz-noBext-mono-encoded.wav",
        "wavefile/8bit-mulaw-8kHz-noBext-mono-encoded.wav",
    ] {
        let src = corpus.join(f);
        let original = hashes(&src);
        assert_eq!(original.len(), 1, "{f}");
        assert!(original[0].samples > 0 && original[0].missing == 0, "{f}");
        let mov = dir.path().join("copy.mov");
        let mkv = dir.path().join("copy.mkv");
        let rf64 = dir.path().join("copy.wav");
        copy(&src, &mkv, "");
        copy(&src, &mov, "");
        copy(&src, &rf64, "-rf64 always");
        for other in [&mov, &mkv, &rf64] {
            let got = hashes(other);
            assert_eq!(
                (got[0].codec, got[0].form, got[0].content_blake3),
                (
                    original[0].codec,
                    original[0].form,
                    original[0].content_blake3
                ),
                "{f} vs {}",
                other.display()
            );
        }
    }
}

/// H.264 moved from MP4 to AVI (Annex B) and MJPEG from AVI to MOV by the
/// real ffmpeg keep their content hashes.
#[test]
fn video_in_avi_and_mp4_has_one_content_hash() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    if !common::have("ffmpeg", "-version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = corpus.join("androidx/mp4/sample.mp4");
    let avi = dir.path().join("h264.avi");
    copy(&src, &avi, "-map 0:v -bsf:v h264_mp4toannexb");
    let video = |v: Vec<TrackContent>| {
        v.into_iter()
            .filter(|t| t.codec == Some("h264"))
            .map(|t| (t.samples, t.form, t.content_blake3, t.params_blake3))
            .collect::<Vec<_>>()
    };
    let original = video(hashes(&src));
    assert_eq!(original.len(), 1);
    assert_eq!(video(hashes(&avi)), original);
    let mjpeg = corpus.join("metadata-extractor-images/avi/100_0306.AVI");
    let mov = dir.path().join("mjpeg.mov");
    copy(&mjpeg, &mov, "-map 0:v");
    let first = |v: Vec<TrackContent>| {
        let t = &v[0];
        (t.codec, t.samples, t.form, t.content_blake3)
    };
    assert_eq!(first(hashes(&mjpeg)), first(hashes(&mov)));
}

/// Opus moved between Ogg, Matroska and MP4 by the real ffmpeg keeps its
/// content hash.
#[test]
fn opus_in_ogg_mkv_and_mp4_has_one_content_hash() {
    if !common::have("ffmpeg", "-version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let tone = ["-f", "lavfi", "-i", "sine=f=440:r=48000:d=3"];
    ffmpeg(&[&tone[..], &["-c:a", "libopus", &path("a.ogg")]].concat());
    let ogg = dir.path().join("a.ogg");
    copy(&ogg, &dir.path().join("a.mkv"), "");
    copy(&ogg, &dir.path().join("a.mp4"), "");
    let one = |n: &str| {
        let t = hashes(Path::new(&path(n)));
        assert_eq!(t.len(), 1, "{n}");
        (t[0].codec, t[0].samples, t[0].content_blake3)
    };
    assert_eq!(one("a.ogg").0, Some("opus"));
    assert_eq!(one("a.mkv"), one("a.ogg"));
    assert_eq!(one("a.mp4"), one("a.ogg"));
}

#[test]
fn one_changed_byte_changes_the_content_hash() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let data = std::fs::read(corpus.join("androidx/mp4/sample.mp4")).unwrap();
    let before = content_hashes(&data, Limits::default()).unwrap();
    let mp4 = Mp4::parse(&data, Limits::default()).unwrap();
    for (ti, track) in mp4.tracks.iter().enumerate() {
        let s = track.samples().nth(5).unwrap();
        let mut changed = data.clone();
        changed[(s.offset + s.size as u64 - 2) as usize] ^= 0x40;
        let after = content_hashes(&changed, Limits::default()).unwrap();
        for (k, (a, b)) in before.iter().zip(&after).enumerate() {
            assert_eq!(
                a.content_blake3 != b.content_blake3,
                k == ti,
                "track {k} after changing track {ti}"
            );
        }
    }
}

/// MPEG-2 video and MPEG audio moved between MPEG-TS and MPEG-PS (VOB) by the
/// real ffmpeg keep their content hashes.
#[test]
fn ts_and_ps_remuxes_keep_their_content_hash() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    if !common::have("ffmpeg", "-version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "androidx/ts/sample_h262_mpeg_audio.ts",
        "androidx/ts/bbb_2500ms.ts",
    ] {
        let src = corpus.join(f);
        let ps = dir.path().join("remux.mpg");
        let back = dir.path().join("back.ts");
        ffmpeg(&[
            "-i",
            src.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "vob",
            ps.to_str().unwrap(),
        ]);
        ffmpeg(&[
            "-i",
            ps.to_str().unwrap(),
            "-c",
            "copy",
            back.to_str().unwrap(),
        ]);
        let key = |v: Vec<TrackContent>| {
            let mut v: Vec<_> = v
                .into_iter()
                .filter(|t| t.codec.is_some_and(|c| c != "dvd_nav_packet"))
                .map(|t| (t.codec, t.samples, t.content_blake3, t.missing))
                .collect();
            v.sort();
            v
        };
        let original = key(hashes(&src));
        assert_eq!(original.len(), 2, "{f}");
        assert!(original.iter().all(|t| t.3 == 0 && t.1 > 0));
        assert_eq!(key(hashes(&ps)), original, "{f} as MPEG-PS");
        assert_eq!(key(hashes(&back)), original, "{f} back to MPEG-TS");
    }
}
