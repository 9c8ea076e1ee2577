//! Conformance over the shared corpus of real media.
//!
//! 1. No file (including the fuzz inputs, and every truncated prefix of each
//!    file) makes the parsers panic.
//! 2. For every MP4/MOV/3GP/M4A/M4S/TS/PS/WAV/RF64/AVI/MKV/FLV/Ogg/AMR/MP3/ADTS/JPEG/PNG file that `ffprobe` reads, the
//!    tracks pair up one to one by id with ffprobe's streams, and codec
//!    names, picture sizes and packet counts per track agree with
//!    `ffprobe -count_packets -show_streams -show_format`, and durations
//!    agree within 1 ms, except for the reasoned differences listed below,
//!    each with the exact pair of values it allows. Every listed difference
//!    must still occur, so the list cannot go stale. The files compared are
//!    listed exactly (`COMPARED`), and every other corpus file is listed with
//!    why it is not (`NOT_COMPARED`), so no file drops out unnoticed.

mod common;

use custody::container::summary::{Probe, ProbeOptions};
use custody::container::{Limits, detect, probe};
use custody_testkit::fuzz;
use serde_json::Value;
use std::collections::BTreeSet;

/// A field that may legitimately differ from ffprobe for one stream of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    /// The stream exists on one side only: the values are `kind/codec`, or `-` for absent.
    Streams,
    Codec,
    Packets,
    Duration,
    /// Picture `WIDTHxHEIGHT`.
    Size,
}

/// One reasoned difference from ffprobe. It applies only when our value and
/// ffprobe's are exactly `ours` and `ffprobe`, rendered as `check_file` renders
/// them (`-` for absent); any other value on the same field is a failure, and
/// so is an entry that no longer occurs.
struct Difference {
    file: &'static str,
    /// Track id (MP4), PID (TS) or stream id (PS).
    id: u32,
    field: Field,
    ours: &'static str,
    ffprobe: &'static str,
    /// Why the two legitimately differ.
    why: &'static str,
}

const EXPECTED_DIFFERENCES: &[Difference] = &[
    Difference {
        file: "mapillary_tools/DSC00001.JPG",
        id: 0,
        field: Field::Duration,
        ours: "-",
        ffprobe: "0.040000",
        why: "a photo has no duration; FFmpeg's image demuxer times its one picture as a frame at 25 fps",
    },
    Difference {
        file: "metadata-extractor-images/jpg/Apple_iPhone_4.jpg",
        id: 0,
        field: Field::Duration,
        ours: "-",
        ffprobe: "0.040000",
        why: "a photo has no duration; FFmpeg's image demuxer times its one picture as a frame at 25 fps",
    },
    Difference {
        file: "generated/opus.ogg",
        id: 0,
        field: Field::Duration,
        ours: "4",
        ffprobe: "4.006500",
        why: "FFmpeg counts Opus's pre-skip (312 samples the decoder discards, its start_time -0.0065) in the duration; ours is the sound played, (last granule - pre-skip) / 48 kHz",
    },
    Difference {
        file: "generated/nb.amr",
        id: 0,
        field: Field::Duration,
        ours: "4",
        ffprobe: "4.200000",
        why: "FFmpeg estimates a raw AMR file's duration from its bit rate (the frames here range from 1 to 32 bytes); ours counts its 200 frames of 20 ms",
    },
    Difference {
        file: "generated/tone.aac",
        id: 0,
        field: Field::Duration,
        ours: "4.032",
        ffprobe: "3.988584",
        why: "FFmpeg estimates a raw ADTS file's duration from its bit rate; ours counts its 189 frames of 1024 samples at 48 kHz",
    },
    Difference {
        file: "generated/wb.amr",
        id: 0,
        field: Field::Duration,
        ours: "4",
        ffprobe: "4.021625",
        why: "FFmpeg estimates a raw AMR file's duration from its bit rate (the frames here range from 1 to 61 bytes); ours counts its 200 frames of 20 ms",
    },
    Difference {
        file: "generated/cut.avi",
        id: 0,
        field: Field::Packets,
        ours: "86",
        ffprobe: "87",
        why: "the file ends inside a video chunk: FFmpeg returns that chunk's bytes as an 87th packet, short of its declared size; we keep whole chunks only",
    },
    Difference {
        file: "generated/cut.avi",
        id: 0,
        field: Field::Duration,
        ours: "2.8666666666666667",
        ffprobe: "2.800000",
        why: "without an index FFmpeg estimates the durations (2.8 s, shorter than the 86 whole frames it returns at 30 fps); ours is the whole chunks present",
    },
    Difference {
        file: "generated/cut.avi",
        id: 1,
        field: Field::Duration,
        ours: "2.88",
        ffprobe: "2.856000",
        why: "without an index FFmpeg estimates the durations; ours is the whole chunks present: 120 MP3 frames of 24 ms, 2 of them empty (the encoder's delay) and so no packet",
    },
    Difference {
        file: "androidx/mp4/bt601.mov",
        id: 1,
        field: Field::Packets,
        ours: "45",
        ffprobe: "43",
        why: "FFmpeg drops the 2 AAC priming packets that the edit list starts after; we index every sample in the file",
    },
    Difference {
        file: "androidx/mp4/bt601.mov",
        id: 1,
        field: Field::Duration,
        ours: "0.9753",
        ffprobe: "1.019297",
        why: "FFmpeg adds the leading empty edit (1320/30000 s) to this track's duration; we report the non-empty edits (0.9753 s)",
    },
    Difference {
        file: "androidx/mp4/sample_empty_track.mp4",
        id: 2,
        field: Field::Duration,
        ours: "0",
        ffprobe: "1.065600",
        why: "the track has no samples and an mdhd duration of 0; FFmpeg fills in the movie duration",
    },
    Difference {
        file: "androidx/mp4/sample_fragmented.mp4",
        id: 1,
        field: Field::Duration,
        ours: "1.001",
        ffprobe: "143165.576500",
        why: "FFmpeg reports 143165 s, an overflow from the fragments' decode times; the samples span 1.001 s",
    },
    Difference {
        file: "androidx/mp4/sample_fragmented.mp4",
        id: 2,
        field: Field::Duration,
        ours: "1.0681179138321995",
        ffprobe: "97391.548639",
        why: "FFmpeg reports 97391 s, an overflow from the fragments' decode times; the samples span 1.068 s",
    },
    Difference {
        file: "androidx/mp4/sample_fragmented_sei.mp4",
        id: 1,
        field: Field::Duration,
        ours: "1.001",
        ffprobe: "143165.576500",
        why: "same file layout as sample_fragmented.mp4: FFmpeg's duration overflows",
    },
    Difference {
        file: "androidx/mp4/sample_fragmented_sei.mp4",
        id: 2,
        field: Field::Duration,
        ours: "1.0681179138321995",
        ffprobe: "97391.548639",
        why: "same file layout as sample_fragmented.mp4: FFmpeg's duration overflows",
    },
    Difference {
        file: "androidx/mp4/sample_ipcm_16be.mp4",
        id: 2,
        field: Field::Packets,
        ours: "45056",
        ffprobe: "44",
        why: "raw PCM: the file holds 45056 one-frame samples; FFmpeg regroups them into packets of 1024",
    },
    Difference {
        file: "androidx/mp4/sample_twos_pcm.mp4",
        id: 2,
        field: Field::Packets,
        ours: "45056",
        ffprobe: "44",
        why: "raw PCM: the file holds 45056 one-frame samples; FFmpeg regroups them into packets of 1024",
    },
    Difference {
        file: "androidx/mp4/sowt-with-video.mov",
        id: 2,
        field: Field::Packets,
        ours: "96000",
        ffprobe: "96",
        why: "raw PCM: the file holds 96000 one-frame samples; FFmpeg regroups them into packets of 1000",
    },
    Difference {
        file: "gopro/karma.mp4",
        id: 4,
        field: Field::Duration,
        ours: "13.013",
        ffprobe: "12.079000",
        why: "the GPMF track's mdhd and tkhd both say 13.013 s, longer than the 12.079 s movie; FFmpeg clamps it to the movie",
    },
    Difference {
        file: "mp4parse-rust/test_case_1185230.mp4",
        id: 2,
        field: Field::Packets,
        ours: "2",
        ffprobe: "1",
        why: "the edit list starts after the first AAC frame and FFmpeg drops it (its timescale of 3523727305 is hostile)",
    },
    Difference {
        file: "mp4parse-rust/test_case_1185230.mp4",
        id: 2,
        field: Field::Duration,
        ours: "0.441",
        ffprobe: "0.000000",
        why: "timescale 3523727305 overflows FFmpeg's duration to 0; the edit list gives 0.441 s",
    },
    Difference {
        file: "androidx/ts/sample_ac3.ts",
        id: 1900,
        field: Field::Packets,
        ours: "9",
        ffprobe: "10",
        why: "the stream starts with 73 bytes of a partial AC-3 frame; FFmpeg emits them as a packet, we report them as a warning",
    },
    Difference {
        file: "androidx/ts/sample_ait.ts",
        id: 0x12,
        field: Field::Streams,
        ours: "-",
        ffprobe: "data/epg",
        why: "FFmpeg adds an 'epg' data stream for the EIT tables on PID 0x12; they are tables, not an elementary stream",
    },
    Difference {
        file: "androidx/ts/sample_ait.ts",
        id: 330,
        field: Field::Duration,
        ours: "0.64",
        ffprobe: "0.576000",
        why: "20 E-AC-3 frames of 1536 samples at 48 kHz last 0.640 s; FFmpeg falls back to the file's overall duration",
    },
    Difference {
        file: "androidx/ts/sample_h262_mpeg_audio.ts",
        id: 257,
        field: Field::Duration,
        ours: "0.1044888888888889",
        ffprobe: "0.078367",
        why: "4 MPEG audio frames last 4 x 1152 / 44100 = 0.1045 s; FFmpeg's end time ignores the last frame, which carries no PES timestamp",
    },
    Difference {
        file: "androidx/ts/sample_h264_mpeg_audio.ts",
        id: 257,
        field: Field::Duration,
        ours: "0.1044888888888889",
        ffprobe: "0.078367",
        why: "4 MPEG audio frames last 0.1045 s; FFmpeg ignores the last frame, which carries no PES timestamp",
    },
    Difference {
        file: "androidx/ts/sample_scte35.ts",
        id: 257,
        field: Field::Duration,
        ours: "0.1044888888888889",
        ffprobe: "0.078367",
        why: "4 MPEG audio frames last 0.1045 s; FFmpeg ignores the last frame, which carries no PES timestamp",
    },
    Difference {
        file: "androidx/ts/sample_latm.ts",
        id: 256,
        field: Field::Duration,
        ours: "0.23216666666666666",
        ffprobe: "0.046433",
        why: "5 LATM frames of 2048 output samples at 44.1 kHz last 0.232 s; FFmpeg counts only the frame that carries a PES timestamp",
    },
    Difference {
        file: "androidx/ts/sample_h262_mpeg_audio.ps",
        id: 0x1bf,
        field: Field::Packets,
        ours: "2",
        ffprobe: "0",
        why: "FFmpeg lists the DVD navigation stream but returns none of its 2 packets",
    },
    Difference {
        file: "androidx/ts/sample_h262_mpeg_audio.ps",
        id: 0x1c0,
        field: Field::Duration,
        ours: "0.1044888888888889",
        ffprobe: "0.026122",
        why: "4 MPEG audio frames last 0.1045 s; FFmpeg's estimate keeps one frame",
    },
    Difference {
        file: "androidx/ts/sample_h262_mpeg_audio.ps",
        id: 0x1bf,
        field: Field::Duration,
        ours: "-",
        ffprobe: "0.130911",
        why: "navigation packets carry no timestamps: we report no duration, FFmpeg fills in the file's",
    },
    Difference {
        file: "androidx/ts/sample_ait.ts",
        id: 0x172,
        field: Field::Duration,
        ours: "-",
        ffprobe: "0.576000",
        why: "a stream with no packets has no duration; FFmpeg fills in the file's",
    },
    Difference {
        file: "androidx/ts/sample_ait.ts",
        id: 0x173,
        field: Field::Duration,
        ours: "-",
        ffprobe: "0.576000",
        why: "a stream with no packets has no duration; FFmpeg fills in the file's",
    },
    Difference {
        file: "androidx/ts/sample_with_sdt.ts",
        id: 0x150,
        field: Field::Duration,
        ours: "-",
        ffprobe: "0.064000",
        why: "the MPEG-2 video PID carries no complete picture; FFmpeg fills in the file's duration",
    },
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

/// The stream's id (MP4 track id, PID, stream id); for containers whose
/// streams have none (WAV, AVI, Matroska, FLV), its index, which our track ids
/// follow there.
fn hex_id(s: &Value) -> Option<u32> {
    match s.get("id").and_then(Value::as_str) {
        Some(id) => u32::from_str_radix(id.trim_start_matches("0x"), 16).ok(),
        None => s.get("index")?.as_u64().and_then(|i| u32::try_from(i).ok()),
    }
}

/// Exercises every structure of a parsed file through the fuzz entry points.
fn exercise(data: &[u8]) {
    fuzz::bmff(data);
    fuzz::ts(data);
    fuzz::ps(data);
    fuzz::demux(data);
    fuzz::riff(data);
    fuzz::mkv(data);
    fuzz::flv(data);
    fuzz::ogg(data);
    fuzz::audio(data);
    fuzz::photo(data);
    fuzz::content(data);
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

/// Why a corpus file is not compared with ffprobe, as the test observes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// `detect` recognises no container.
    Undetected,
    /// `detect` names a container that this test does not compare.
    Other(&'static str),
    /// `ffprobe` exits with an error (or prints no format).
    FfprobeFails,
    /// `ffprobe` reads the file but lists no streams.
    NoStreams,
}

/// Every corpus file compared with ffprobe, sorted.
const COMPARED: &[&str] = &[
    "androidx/3gp/bbb_mono_8kHz_12.2kbps_amrnb.3gp",
    "androidx/avi/sample.avi",
    "androidx/cmaf/multi-segment/audio_init.mp4",
    "androidx/cmaf/multi-segment/video_init.mp4",
    "androidx/dash/multi-segment-with-emsg0/segment_init.mp4",
    "androidx/flv/sample.flv",
    "androidx/hls/multi-segment/init.mp4",
    "androidx/mka/bear-pcm-f64le.mka",
    "androidx/mkv/full_blocks.mkv",
    "androidx/mkv/sample.mkv",
    "androidx/mkv/sample_av1.mkv",
    "androidx/mkv/sample_last_cluster.mkv",
    "androidx/mkv/sample_with_srt.mkv",
    "androidx/mp4/bt601.mov",
    "androidx/mp4/edit_list_positive_shift.mp4",
    "androidx/mp4/fragmented_captions.mp4",
    "androidx/mp4/h265_bframes.mp4",
    "androidx/mp4/h265_with_metadata_track.mp4",
    "androidx/mp4/iibbibb_editlist_videoonly.mp4",
    "androidx/mp4/large_stbl_truncated_after_moov.m4b",
    "androidx/mp4/pixel7_videoOnly_cleaned.mp4",
    "androidx/mp4/sample.mp4",
    "androidx/mp4/sample_android_slow_motion.mp4",
    "androidx/mp4/sample_empty_track.mp4",
    "androidx/mp4/sample_fragmented.mp4",
    "androidx/mp4/sample_fragmented_seekable_multiple_sidx.mp4",
    "androidx/mp4/sample_fragmented_sei.mp4",
    "androidx/mp4/sample_ipcm_16be.mp4",
    "androidx/mp4/sample_mdat_too_long.mp4",
    "androidx/mp4/sample_missing_stsd.mp4",
    "androidx/mp4/sample_opus_fragmented.mp4",
    "androidx/mp4/sample_sef_slow_motion.mp4",
    "androidx/mp4/sample_twos_pcm.mp4",
    "androidx/mp4/sample_with_it35_track.mp4",
    "androidx/mp4/sample_with_metadata.mp4",
    "androidx/mp4/sample_without_stss.mp4",
    "androidx/mp4/sowt-with-video.mov",
    "androidx/mp4/water_180_mvhevc_5frames.mov",
    "androidx/ts/bbb_2500ms.ts",
    "androidx/ts/sample_ac3.ts",
    "androidx/ts/sample_ait.ts",
    "androidx/ts/sample_h262_mpeg_audio.ps",
    "androidx/ts/sample_h262_mpeg_audio.ts",
    "androidx/ts/sample_h264.ts",
    "androidx/ts/sample_h264_mpeg_audio.ts",
    "androidx/ts/sample_h264_no_access_unit_delimiters.ts",
    "androidx/ts/sample_h265.ts",
    "androidx/ts/sample_latm.ts",
    "androidx/ts/sample_scte35.ts",
    "androidx/ts/sample_with_sdt.ts",
    "androidx/wav/sample.wav",
    "androidx/wav/sample_ima_adpcm.wav",
    "androidx/wav/sample_rf64.wav",
    "gopro/karma.mp4",
    "mapillary_tools/DSC00001.JPG",
    "metadata-extractor-images/avi/100_0306.AVI",
    "metadata-extractor-images/jpg/Apple_iPhone_4.jpg",
    "mp4-rust/big_buck_bunny_metadata.m4v",
    "mp4-rust/extended_audio_object_type.mp4",
    "mp4-rust/minimal_init.mp4",
    "mp4ff/bbb5s_aac.isma",
    "mp4ff/init_prog.mp4",
    "mp4ff/prog_8s.mp4",
    "mp4parse-rust/amr_nb_1f.3gp",
    "mp4parse-rust/bipbop-cenc-audioinit.mp4",
    "mp4parse-rust/bipbop_cbcs_video_init.mp4",
    "mp4parse-rust/h264_white_frame_sar_16_9.mp4",
    "mp4parse-rust/hevc_white_frame.mp4",
    "mp4parse-rust/invalid_userdata.mp4",
    "mp4parse-rust/metadata.mp4",
    "mp4parse-rust/minimal.mp4",
    "mp4parse-rust/test_case_1185230.mp4",
    "wavefile/4bit-imaadpcm-8kHz-noBext-mono.wav",
    "wavefile/8bit-alaw-8kHz-noBext-mono-encoded.wav",
    "wavefile/8bit-mulaw-8kHz-noBext-mono-encoded.wav",
    "wavinfo/sounddevices/A101_3.WAV",
];

/// The mp4ff fuzz inputs (raw bytes that once crashed or hung mp4ff).
const FUZZ: &str = "a crash input for another MP4 parser, not a media file";

/// Every other corpus file, sorted, with how it drops out (as observed) and
/// why. A file that moves between the two lists, or to another `Skip`, or
/// appears in neither, fails the test.
const NOT_COMPARED: &[(&str, Skip, &str)] = &[
    (
        "androidx/cmaf/multi-segment/audio_1.m4s",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a media segment without its init segment (media_segments_with_init compares it with its init)",
    ),
    (
        "androidx/cmaf/multi-segment/video_1.m4s",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a media segment without its init segment (media_segments_with_init compares it with its init)",
    ),
    (
        "androidx/cmaf/multi-segment/video_2.m4s",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a media segment without its init segment",
    ),
    (
        "androidx/cmaf/multi-segment/video_3.m4s",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a media segment without its init segment",
    ),
    (
        "androidx/dash/multi-segment-with-emsg0/segment_1.m4s",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a media segment without its init segment (media_segments_with_init compares it with its init)",
    ),
    (
        "androidx/dash/multi-segment-with-emsg0/segment_2.m4s",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a media segment without its init segment",
    ),
    (
        "androidx/hls/multi-segment/playlist0.m4s",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a media segment without its init segment (media_segments_with_init compares it with its init)",
    ),
    (
        "androidx/mp4/sample_malformed_free_box.mp4",
        Skip::FfprobeFails,
        "ffprobe cannot read it: the 3-byte free box after ftyp stops FFmpeg before the moov (\"moov atom not found\")",
    ),
    (
        "mp4-rust/minimal_fragment.m4s",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a media segment without its init segment (media_segments_with_init compares it with its init)",
    ),
    (
        "mp4ff/2xSencNoMdat.mp4",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a lone moof without its init segment (\"trun track id unknown, no tfhd was found\")",
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/03385bd26887d5c9.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/0881196294cc083f.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/10b83fbad9664344.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/1136e47b781eb327.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/1978df2a55d418dc.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/1a7b8a4117130cda.bin",
        Skip::NoStreams,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/2192fa14d70c6a78.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/23703aaa5bfe5cdd.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/33b1a0aaeced0398.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/37ce9d69bfb85def.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/38e34af7de35b752.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/448cf9199c552c90.bin",
        Skip::NoStreams,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/45b2dd77f13e5e3c.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/4dec5c0d01da4d63.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/4e3e98fc202208ff.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/50c7bc836349b5bc.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/569a7e79736fc41b.bin",
        Skip::Other("annexb"),
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/5c6884035911db9f.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/5df1a8539aca8a33.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/6041c517bf46e9ee.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/678ac42ada4214c3.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/6a07523ea7a30640.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/6bccac380b12a9e3.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/75565444c6c2f1dd.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/77cf6e30648805ea.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/7e07cf8cc85e7f41.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/8853315897765b77.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/941fd151c8ef8610.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/95c1a4c24dba32de.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/a0334c98879b99dc.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/a580619ca9573635.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/add26251d86f2fbf.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/bae5403ad2c80bf4.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/d803322b7951eb9a.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/d80db6bbc0c3923b.bin",
        Skip::NoStreams,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/d9cf74d8446000e7.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/dc68c3d7e3180551.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/deeadc758a608dc3.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/f35f7ec3a8052c2a.bin",
        Skip::FfprobeFails,
        FUZZ,
    ),
    (
        "mp4ff/fuzz-FuzzDecodeBox/fd5caa1379b365a9.bin",
        Skip::Undetected,
        FUZZ,
    ),
    (
        "mp4ff/init_truncated.mp4",
        Skip::NoStreams,
        "ffprobe finds no streams: an init segment truncated to 100 bytes, before its first trak",
    ),
    (
        "mp4ff/multi_sidx_segment.m4s",
        Skip::FfprobeFails,
        "ffprobe cannot read it: a media segment without its init segment (\"trun track id unknown, no tfhd was found\")",
    ),
    (
        "mp4parse-rust/clusterfuzz-testcase-minimized-mp4-6093954524250112",
        Skip::FfprobeFails,
        "ffprobe cannot read it: an OSS-Fuzz reproducer whose moov claims 1,124,100,509 bytes of a 56-byte file",
    ),
    (
        "mp4parse-rust/sine-3s-xhe-aac-44khz-mono.mp4",
        Skip::FfprobeFails,
        "ffprobe cannot read it: FFmpeg 5.1 does not implement xHE-AAC (audio object type 42) and exits with an error",
    ),
];

/// `-` for an absent value.
fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Compares one file, recording which listed differences occurred (by index).
fn check_file(rel: &str, ours: &Probe, ff: &Value, seen: &mut [bool], failures: &mut Vec<String>) {
    let streams: Vec<&Value> = ff["streams"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| s["disposition"]["attached_pic"].as_i64() != Some(1))
                .collect()
        })
        .unwrap_or_default();
    // Streams pair up by id: every ffprobe stream with our track of the same
    // id, and every track of ours with an ffprobe stream.
    let mut ff_ids = BTreeSet::new();
    for s in &streams {
        match hex_id(s) {
            Some(id) if !ff_ids.insert(id) => {
                failures.push(format!("{rel}: ffprobe lists stream id {id:#x} twice"))
            }
            Some(_) => {}
            None => failures.push(format!(
                "{rel}: ffprobe stream {} has no usable id ({:?})",
                s["index"], s["id"]
            )),
        }
    }
    let mut our_ids = BTreeSet::new();
    for t in &ours.tracks {
        if !our_ids.insert(t.id) {
            failures.push(format!("{rel}: two tracks with id {:#x}", t.id));
        }
    }
    let mut differ = |id: u32, field: Field, ours: String, theirs: String, what: String| {
        let listed = EXPECTED_DIFFERENCES
            .iter()
            .position(|e| e.file == rel && e.id == id && e.field == field);
        match listed {
            Some(i) => {
                let e = &EXPECTED_DIFFERENCES[i];
                if (e.ours, e.ffprobe) == (ours.as_str(), theirs.as_str()) {
                    seen[i] = true;
                } else {
                    failures.push(format!(
                        "{rel}: {what}; the listed {field:?} difference on {id:#x} is ours {:?}, ffprobe {:?}, not ours {ours:?}, ffprobe {theirs:?}",
                        e.ours, e.ffprobe
                    ));
                }
            }
            None => failures.push(format!("{rel}: {what}")),
        }
    };
    for t in &ours.tracks {
        if !ff_ids.contains(&t.id) {
            let desc = format!("{}/{}", t.kind, opt(t.codec.map(|c| c.as_str())));
            differ(
                t.id,
                Field::Streams,
                desc.clone(),
                "-".into(),
                format!("track {:#x} ({desc}) is not in ffprobe's streams", t.id),
            );
        }
    }
    for s in streams {
        let Some(id) = hex_id(s) else { continue };
        let Some(t) = ours.tracks.iter().find(|t| t.id == id) else {
            let desc = format!(
                "{}/{}",
                opt(s["codec_type"].as_str()),
                opt(s["codec_name"].as_str())
            );
            differ(
                id,
                Field::Streams,
                "-".into(),
                desc.clone(),
                format!("no track with id {id:#x} (ffprobe has {desc})"),
            );
            continue;
        };
        let ff_codec = s["codec_name"].as_str();
        let codec = t.codec.map(|c| c.as_str());
        if codec != ff_codec {
            differ(
                id,
                Field::Codec,
                opt(codec),
                opt(ff_codec),
                format!("track {id:#x} codec {:?}, ffprobe {ff_codec:?}", codec),
            );
        }
        if s["codec_type"] == "video" {
            let ff = (s["width"].as_u64(), s["height"].as_u64());
            let ours = (t.width.map(u64::from), t.height.map(u64::from));
            if ff.0.is_some_and(|w| w > 0) && ours != ff {
                differ(
                    id,
                    Field::Size,
                    format!("{}x{}", opt(ours.0), opt(ours.1)),
                    format!("{}x{}", opt(ff.0), opt(ff.1)),
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
                t.samples.to_string(),
                packets.to_string(),
                format!(
                    "track {id:#x}: {} samples, ffprobe {packets} packets",
                    t.samples
                ),
            );
        }
        if let Some(text) = s["duration"].as_str()
            && let Ok(d) = text.parse::<f64>()
        {
            match t.duration_s {
                Some(ours) if (ours - d).abs() <= 0.001 => {}
                other => differ(
                    id,
                    Field::Duration,
                    opt(other),
                    text.to_string(),
                    format!("track {id:#x}: duration {other:?}, ffprobe {d}"),
                ),
            }
        }
    }
}

/// Compares `file` with ffprobe, or says why it cannot be compared.
/// `Err(None)`: ffprobe reads it but custody fails (already a failure).
fn compare(
    dir: &std::path::Path,
    file: &std::path::Path,
    seen: &mut [bool],
    failures: &mut Vec<String>,
) -> Result<(), Option<Skip>> {
    let rel = common::rel(dir, file);
    let data = std::fs::read(file).unwrap();
    let format = detect(&data).ok_or(Some(Skip::Undetected))?;
    if !matches!(
        format.name(),
        "mp4"
            | "mpegts"
            | "m2ts"
            | "mpegps"
            | "wav"
            | "rf64"
            | "avi"
            | "matroska"
            | "webm"
            | "flv"
            | "ogg"
            | "amr"
            | "mp3"
            | "adts"
            | "jpeg"
            | "png"
    ) {
        return Err(Some(Skip::Other(format.name())));
    }
    let ff = ffprobe(file).ok_or(Some(Skip::FfprobeFails))?;
    if ff["streams"].as_array().is_none_or(|s| s.is_empty()) {
        return Err(Some(Skip::NoStreams));
    }
    let ours = probe(&data, ProbeOptions::default()).map_err(|e| {
        failures.push(format!("{rel}: ffprobe reads it but custody fails: {e}"));
        None
    })?;
    check_file(&rel, &ours, &ff, seen, failures);
    Ok(())
}

#[test]
fn agrees_with_ffprobe() {
    let Some(dir) = common::corpus() else { return };
    if !common::have_tool("ffprobe") {
        return;
    }
    let mut failures = Vec::new();

    // The lists themselves: sorted, unique, disjoint, reasoned.
    assert!(
        COMPARED.windows(2).all(|w| w[0] < w[1]),
        "COMPARED must be sorted, without repeats"
    );
    assert!(
        NOT_COMPARED.windows(2).all(|w| w[0].0 < w[1].0),
        "NOT_COMPARED must be sorted, without repeats"
    );
    for (file, _, why) in NOT_COMPARED {
        assert!(
            !why.is_empty(),
            "{file}: NOT_COMPARED entry without a reason"
        );
        assert!(
            COMPARED.binary_search(file).is_err(),
            "{file} is in both COMPARED and NOT_COMPARED"
        );
    }
    for (i, e) in EXPECTED_DIFFERENCES.iter().enumerate() {
        assert!(!e.why.is_empty(), "{}: difference without a reason", e.file);
        assert!(
            EXPECTED_DIFFERENCES[..i]
                .iter()
                .all(|o| (o.file, o.id, o.field) != (e.file, e.id, e.field)),
            "{}: {:?} on {:#x} is listed twice",
            e.file,
            e.field,
            e.id
        );
    }

    let mut seen = vec![false; EXPECTED_DIFFERENCES.len()];
    let mut compared: Vec<String> = Vec::new();
    let mut not_compared: Vec<(String, Option<Skip>)> = Vec::new();
    for f in common::files(&dir) {
        let rel = common::rel(&dir, &f);
        match compare(&dir, &f, &mut seen, &mut failures) {
            Ok(()) => compared.push(rel),
            Err(skip) => not_compared.push((rel, skip)),
        }
    }

    // `files` sorts by path components; the lists sort as strings.
    compared.sort();
    not_compared.sort_by(|a, b| a.0.cmp(&b.0));
    // Exactly the listed files are compared; every other file is not, for its listed reason.
    for rel in &compared {
        if COMPARED.binary_search(&rel.as_str()).is_err() {
            failures.push(format!(
                "{rel}: compared with ffprobe, but not in COMPARED; add it there (and remove it from NOT_COMPARED)"
            ));
        }
    }
    for (rel, skip) in &not_compared {
        let listed = NOT_COMPARED.iter().find(|n| n.0 == rel);
        match (skip, listed) {
            (None, _) => {} // custody failed: already a failure
            (Some(skip), Some((_, want, _))) if skip == want => {}
            (Some(skip), Some((_, want, _))) => failures.push(format!(
                "{rel}: not compared because {skip:?}, but NOT_COMPARED says {want:?}"
            )),
            (Some(skip), None) => failures.push(format!(
                "{rel}: not compared ({skip:?}), but not in NOT_COMPARED; {}",
                if COMPARED.contains(&rel.as_str()) {
                    "it is listed in COMPARED"
                } else {
                    "it is in neither list"
                }
            )),
        }
    }
    let corpus: BTreeSet<&str> = compared
        .iter()
        .chain(not_compared.iter().map(|n| &n.0))
        .map(String::as_str)
        .collect();
    for file in COMPARED.iter().chain(NOT_COMPARED.iter().map(|n| &n.0)) {
        if !corpus.contains(file) {
            failures.push(format!("{file}: listed, but not in the corpus"));
        }
    }
    if compared != COMPARED {
        failures.push(format!(
            "the files compared differ from COMPARED:\n  compared: {compared:?}\n  COMPARED: {COMPARED:?}"
        ));
    }

    for (e, seen) in EXPECTED_DIFFERENCES.iter().zip(&seen) {
        // Differences of generated files are checked by their own test.
        if !seen && !e.file.starts_with("generated/") {
            failures.push(format!(
                "{}: listed {:?} difference on {:#x} (ours {:?}, ffprobe {:?}) did not occur; remove or correct it",
                e.file, e.field, e.id, e.ours, e.ffprobe
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements with ffprobe:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} files agree with ffprobe ({} reasoned differences); {} files not compared",
        compared.len(),
        EXPECTED_DIFFERENCES.len(),
        not_compared.len()
    );
}

/// Runs the ffmpeg CLI, failing the test on an error.
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

/// Files the ffmpeg CLI writes at test time, in the formats recorders use,
/// agree with ffprobe as corpus files do (`GENERATED` differences listed in
/// `EXPECTED_DIFFERENCES` like theirs): MJPEG and H.264 AVI, an OpenDML AVI
/// over 1 GB (with an `AVIX` extension), an AVI cut short (no index: its
/// packets are found by walking `movi`), Matroska and a live Matroska (elements
/// of unknown size), FLV, Ogg (Opus, Vorbis, FLAC), MP3 with ID3 and Xing,
/// ADTS, AMR (NB and WB),
/// Broadcast Wave with `bext`, an RF64 over 4 GB
/// (sparse), and a Matroska file with laced audio blocks (mkvmerge).
#[test]
fn generated_recordings_agree_with_ffprobe() {
    if !common::have_tool("ffprobe") || !common::have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let s = |name: &str| p(name).to_str().unwrap().to_string();
    // Arguments split on spaces (the paths have none).
    let run = |args: String| ffmpeg(&args.split_whitespace().collect::<Vec<_>>());
    let av = "-f lavfi -i testsrc2=s=320x240:r=30:d=4 -f lavfi -i sine=f=440:r=48000:d=4";
    run(format!("{av} -c:v mjpeg -c:a pcm_s16le {}", s("mjpeg.avi")));
    let x264 = "-c:v libx264 -g 30 -bf 2";
    run(format!("{av} {x264} -c:a libmp3lame {}", s("h264.avi")));
    // About 1.1 GB of raw pictures: past 1 GB, an AVIX extension and OpenDML indexes.
    run(format!(
        "-f lavfi -i color=black:s=1920x1080:r=30 -f lavfi -i sine=f=440:r=48000 \
         -frames:v 360 -t 12 -c:v rawvideo -pix_fmt yuv420p -c:a pcm_s16le {}",
        s("odml.avi")
    ));
    // Matroska, and a live one (Segment and Clusters of unknown size).
    run(format!("{av} {x264} -c:a aac {}", s("h264.mkv")));
    run(format!(
        "{av} {x264} -c:a aac -live 1 -f matroska {}",
        s("live.mkv")
    ));
    run(format!("{av} {x264} -c:a aac {}", s("h264.flv")));
    let tone = "-f lavfi -i sine=f=440:r=48000:d=4";
    // Ogg: Opus, Vorbis and FLAC.
    run(format!("{tone} -c:a libopus {}", s("opus.ogg")));
    run(format!("{tone} -c:a libvorbis {}", s("vorbis.ogg")));
    run(format!("{tone} -c:a flac {}", s("flac.ogg")));
    // MP3 with ID3v2 and a Xing header, AAC in ADTS.
    run(format!(
        "{tone} -c:a libmp3lame -metadata title=Scene {}",
        s("tagged.mp3")
    ));
    run(format!("{tone} -c:a aac -f adts {}", s("tone.aac")));
    // AMR, which FFmpeg decodes but Debian's cannot encode: frames of every
    // type written here (speech, SID, no data), narrow- and wideband.
    for (name, magic, sizes) in [
        (
            "nb.amr",
            &b"#!AMR\n"[..],
            &[13usize, 14, 16, 18, 20, 21, 27, 32, 6, 1][..],
        ),
        (
            "wb.amr",
            &b"#!AMR-WB\n"[..],
            &[18, 24, 33, 37, 41, 47, 51, 59, 61, 6][..],
        ),
    ] {
        let mut f = magic.to_vec();
        for i in 0..200usize {
            let kind = if i % 10 == 9 {
                15
            } else {
                i % (sizes.len() - 1)
            };
            let size = if kind == 15 { 1 } else { sizes[kind] };
            f.push((kind as u8) << 3 | 0x04);
            f.extend((1..size).map(|j| (i * 31 + j) as u8));
        }
        std::fs::write(p(name), f).unwrap();
    }
    // Matroska with laced blocks (mkvmerge laces audio; FFmpeg's muxer never
    // does): the H.264 + AAC Matroska's tracks and an MP3 remuxed together.
    if common::have_tool_asked("mkvmerge", "--version") {
        let out = std::process::Command::new("mkvmerge")
            .args(["-q", "-o"])
            .arg(p("laced.mkv"))
            .arg(p("h264.mkv"))
            .arg(p("tagged.mp3"))
            .output()
            .unwrap();
        assert!(out.status.success(), "mkvmerge: {out:?}");
    }
    // The H.264 AVI cut at 70%: no idx1 (a recorder that lost power).
    let h264 = std::fs::read(p("h264.avi")).unwrap();
    std::fs::write(p("cut.avi"), &h264[..h264.len() * 7 / 10]).unwrap();
    run(format!(
        "-f lavfi -i sine=f=440:r=48000:d=4 -c:a pcm_s24le -write_bext 1 \
         -metadata origination_date=2026-11-29 -metadata origination_time=08:30:00 \
         -metadata originator=BWC-7 {}",
        s("bwf.wav")
    ));
    // RF64 over 4 GB, sparse: a ds64 data size past 32 bits, the audio zeros.
    let mut rf64 = custody_testkit::wav::write(&custody_testkit::wav::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits: 16,
        frames: 1_000,
        bext: None,
        rf64: true,
    });
    let data = (4u64 << 30) + 4_000_000;
    let ds64 = rf64.windows(4).position(|w| w == b"ds64").unwrap() + 8;
    rf64[ds64 + 8..ds64 + 16].copy_from_slice(&data.to_le_bytes());
    rf64[ds64 + 16..ds64 + 24].copy_from_slice(&(data / 4).to_le_bytes());
    let audio = rf64.len() as u64 - 4_000;
    let riff = audio + data - 8;
    rf64[ds64..ds64 + 8].copy_from_slice(&riff.to_le_bytes());
    rf64.truncate(audio as usize);
    let f = std::fs::File::create(p("big.rf64.wav")).unwrap();
    std::io::Write::write_all(&mut &f, &rf64).unwrap();
    f.set_len(audio + data).unwrap();
    drop(f);

    let mut failures = Vec::new();
    let mut seen = vec![false; EXPECTED_DIFFERENCES.len()];
    // Every file written above is compared: none is left out.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let laced = names.iter().any(|n| n == "laced.mkv");
    assert_eq!(names.len(), 16 + laced as usize, "{names:?}");
    for name in names.iter().map(String::as_str) {
        let path = p(name);
        let ff = ffprobe(&path).unwrap_or_else(|| panic!("ffprobe cannot read {name}"));
        let ev = custody_io::Evidence::open(&path, custody_io::ReadMode::Map).unwrap();
        let ours = probe(ev.bytes(), ProbeOptions::default()).unwrap();
        assert!(!ours.tracks.is_empty(), "{name}: {ours:?}");
        check_file(
            &format!("generated/{name}"),
            &ours,
            &ff,
            &mut seen,
            &mut failures,
        );
        match name {
            "odml.avi" => assert_eq!(
                ours.metadata.get("avi:index"),
                Some(&custody::container::bmff::MetaValue::Text("odml".into()))
            ),
            "cut.avi" => {
                assert_eq!(
                    ours.metadata.get("avi:index"),
                    Some(&custody::container::bmff::MetaValue::Text("scan".into()))
                );
                assert!(ours.warnings.iter().any(|w| w.message.contains("no index")));
            }
            "laced.mkv" => {
                // Laced frames share their block's time: some audio frames do.
                let m = custody::container::mkv::Mkv::parse(ev.bytes(), Limits::default()).unwrap();
                let shared = m
                    .tracks
                    .iter()
                    .filter(|t| t.kind == 2)
                    .all(|t| t.frames().windows(2).any(|w| w[0].time == w[1].time));
                assert!(shared, "laced.mkv: no laced audio frames");
                // The H.264 and AAC content equals the source's, lacing undone.
                let hashes = |d: &[u8]| {
                    custody::hash::content::content_hashes(d, Limits::default())
                        .unwrap()
                        .into_iter()
                        .map(|t| (t.codec, t.content_blake3.to_string()))
                        .collect::<Vec<_>>()
                };
                let ours = hashes(ev.bytes());
                assert_eq!(ours[..2], hashes(&std::fs::read(p("h264.mkv")).unwrap()));
                // mkvmerge keeps the MP3's Xing/Info frame as the track's first
                // block, which the MP3 file's demuxers (FFmpeg's and ours) leave
                // out: the other frames are the file's, byte for byte.
                let mp3 = std::fs::read(p("tagged.mp3")).unwrap();
                let file =
                    custody::container::rawaudio::RawAudio::parse(&mp3, Limits::default()).unwrap();
                let frames: Vec<&[u8]> = file.frames().iter().map(|f| file.bytes(f)).collect();
                let track = m.tracks.iter().find(|t| t.codec() == Some("mp3")).unwrap();
                let blocks: Vec<&[u8]> = track.frames().iter().map(|f| m.bytes(f)).collect();
                assert_eq!(blocks.len(), frames.len() + 1, "laced.mkv mp3 blocks");
                assert!(
                    blocks[0].windows(4).any(|w| w == b"Xing" || w == b"Info"),
                    "laced.mkv: the first mp3 block is not the Xing/Info frame"
                );
                assert!(blocks[1..] == frames[..], "laced.mkv: mp3 frames differ");
            }
            "bwf.wav" => assert_eq!(
                ours.metadata.get("bext:origination"),
                Some(&custody::container::bmff::MetaValue::Text(
                    "2026-11-29T08:30:00".into()
                ))
            ),
            _ => {}
        }
    }
    for (e, seen) in EXPECTED_DIFFERENCES.iter().zip(&seen) {
        if e.file.starts_with("generated/") && !seen {
            failures.push(format!("{}: listed difference did not occur", e.file));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// EXIF fields, picture sizes and GPS positions agree with `exiftool -n`
/// on every JPEG and PNG in the corpus and on photos tagged here by
/// exiftool itself (a JPEG and a PNG from ffmpeg, with make, model,
/// serial, time, offset, sub-second and a southern, western, below-sea
/// position): text fields exactly, positions within 1e-6 degrees.
#[test]
fn photos_agree_with_exiftool() {
    if !common::have_tool_asked("exiftool", "-ver") || !common::have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    if let Some(corpus) = common::corpus() {
        for f in common::files(&corpus) {
            let head = std::fs::read(&f).unwrap();
            if matches!(detect(&head).map(|f| f.name()), Some("jpeg" | "png")) {
                files.push(f);
            }
        }
        assert!(files.len() >= 2, "{files:?}");
    }
    for ext in ["jpg", "png"] {
        let f = dir.path().join(format!("tagged.{ext}"));
        let path = f.to_str().unwrap();
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x240",
            "-frames:v",
            "1",
            path,
        ]);
        let out = std::process::Command::new("exiftool")
            .args([
                "-q",
                "-overwrite_original",
                "-Make=ACME",
                "-Model=BWC-9",
                "-Software=fw 2.1",
                "-SerialNumber=SN0077",
                "-DateTimeOriginal=2026:11:29 08:30:00",
                "-OffsetTimeOriginal=+01:00",
                "-SubSecTimeOriginal=250",
                "-GPSLatitude=33.8651234",
                "-GPSLatitudeRef=S",
                "-GPSLongitude=70.2090123",
                "-GPSLongitudeRef=W",
                "-GPSAltitude=4.5",
                "-GPSAltitudeRef=1",
                path,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        files.push(f);
    }
    const TEXT: [&str; 7] = [
        "Make",
        "Model",
        "Software",
        "SerialNumber",
        "DateTimeOriginal",
        "OffsetTimeOriginal",
        "SubSecTimeOriginal",
    ];
    let mut failures = Vec::new();
    for f in &files {
        let p = f.to_str().unwrap();
        let mut args = vec!["-n", "-j", "-ImageWidth", "-ImageHeight"];
        let tags: Vec<String> = TEXT.iter().map(|t| format!("-{t}")).collect();
        args.extend(tags.iter().map(String::as_str));
        args.extend([
            "-Composite:GPSLatitude",
            "-Composite:GPSLongitude",
            "-Composite:GPSAltitude",
            p,
        ]);
        let out = common::tool_output("exiftool", &args).expect("exiftool runs");
        let v: Value = serde_json::from_slice(&out).unwrap();
        let x = &v[0];
        let ev = custody_io::Evidence::open(f, custody_io::ReadMode::Map).unwrap();
        let ours = probe(ev.bytes(), ProbeOptions::default()).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let mut check = |what: &str, theirs: String, mine: String| {
            if theirs != mine {
                failures.push(format!(
                    "{name}: {what}: exiftool {theirs:?}, ours {mine:?}"
                ));
            }
        };
        let plain = |v: &Value| match v {
            Value::Null => "-".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for t in TEXT {
            let mine = match ours.metadata.get(&format!("exif:{t}")) {
                Some(custody::container::bmff::MetaValue::Text(s)) => s.clone(),
                Some(other) => format!("{other:?}"),
                None => "-".into(),
            };
            check(t, plain(&x[t]), mine);
        }
        let track = &ours.tracks[0];
        check("ImageWidth", plain(&x["ImageWidth"]), opt(track.width));
        check("ImageHeight", plain(&x["ImageHeight"]), opt(track.height));
        let near = |theirs: &Value, mine: Option<f64>| match (theirs.as_f64(), mine) {
            (None, None) => true,
            (Some(a), Some(b)) => (a - b).abs() <= 1e-6,
            _ => false,
        };
        let loc = ours.location;
        for (what, mine) in [
            ("GPSLatitude", loc.map(|l| l.lat)),
            ("GPSLongitude", loc.map(|l| l.lon)),
            ("GPSAltitude", loc.and_then(|l| l.alt)),
        ] {
            if !near(&x[what], mine) {
                failures.push(format!(
                    "{name}: {what}: exiftool {}, ours {mine:?}",
                    x[what]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
    assert_eq!(gpmd.kind.as_str(), "data");
    let tmcd = karma
        .tracks
        .iter()
        .find(|t| t.codec_tag.as_deref() == Some("tmcd"))
        .expect("timecode track");
    assert_eq!(tmcd.kind.as_str(), "timecode");
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

/// The keyframe flags of ffprobe's packets of the first video stream, in
/// its read order; `None` when ffprobe cannot read the file.
fn ffprobe_keyframes(path: &std::path::Path) -> Option<Vec<bool>> {
    let out = common::tool_output(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=flags",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ],
    )?;
    let flags = String::from_utf8(out).ok()?;
    Some(
        flags
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.starts_with('K'))
            .collect(),
    )
}

/// Corpus files whose keyframe flags differ from ffprobe's, with why.
const KEYFRAME_DIFFERENCES: &[(&str, &str)] = &[(
    "mp4parse-rust/test_case_1185230.mp4",
    "stss names the first sample a sync sample, as we report; its bytes are \
     not H.264 (a fuzzed file, most samples beyond its end) and FFmpeg's \
     parser, which sets the flag from the bytes, finds no picture",
)];

/// Groups of pictures through the one demuxer interface: the same H.264
/// and HEVC streams (a keyframe every 12 pictures, B-frames) written by
/// the ffmpeg CLI into every container a recorder uses, with MJPEG AVI
/// and MPEG-2 program and transport streams beside them, give per packet
/// the keyframe flags ffprobe gives, hence the same groups of pictures;
/// every packet has a time base and bytes inside the file.
#[test]
fn keyframes_and_gops_agree_with_ffprobe() {
    if !common::have_tool("ffprobe") || !common::have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let run = |args: String| ffmpeg(&args.split_whitespace().collect::<Vec<_>>());
    let src = "-f lavfi -i testsrc2=s=320x240:r=30:d=4 -f lavfi -i sine=f=440:r=48000:d=4";
    let gop = "-g 12 -keyint_min 12 -sc_threshold 0 -bf 2";
    let mut cases = Vec::new();
    for (codec, exts) in [
        (
            "libx264",
            &["mp4", "mov", "ts", "mkv", "avi", "flv", "frag.mp4"][..],
        ),
        (
            "libx265 -x265-params log-level=error",
            &["mp4", "ts", "mkv"][..],
        ),
        ("mpeg2video", &["mpg", "ts"][..]),
        ("mjpeg", &["avi", "mkv"][..]),
    ] {
        for ext in exts {
            let name = format!("{}.{ext}", codec.split(' ').next().unwrap());
            let audio = if *ext == "mpg" {
                "-c:a mp2"
            } else {
                "-c:a aac"
            };
            let frag = if ext.starts_with("frag") {
                "-movflags frag_keyframe+empty_moov"
            } else {
                ""
            };
            let gop = if codec == "mjpeg" { "" } else { gop };
            run(format!(
                "{src} -c:v {codec} {gop} {audio} {frag} {}",
                p(&name).display()
            ));
            cases.push(name);
        }
    }
    let mut failures = Vec::new();
    for name in &cases {
        let path = p(name);
        let data = std::fs::read(&path).unwrap();
        let d = custody::container::demux::demux(&data, Limits::default(), true, None).unwrap();
        let tracks = d.tracks();
        let video = tracks
            .iter()
            .position(|t| {
                matches!(
                    t.codec,
                    Some("h264" | "hevc" | "mjpeg" | "mpeg2video" | "mpeg1video")
                )
            })
            .unwrap_or_else(|| panic!("{name}: no video track in {tracks:?}"));
        let packets: Vec<_> = d.packets(video).collect();
        assert!(d.time_base(video).is_some(), "{name}: no time base");
        for pk in &packets {
            assert!(pk.offset + pk.size <= data.len() as u64, "{name}: {pk:?}");
        }
        let ours: Vec<bool> = packets.iter().map(|p| p.keyframe).collect();
        let theirs = ffprobe_keyframes(&path)
            .unwrap_or_else(|| panic!("ffprobe cannot read {}", path.display()));
        let keys = |v: &[bool]| -> Vec<usize> {
            v.iter()
                .enumerate()
                .filter(|(_, k)| **k)
                .map(|(i, _)| i)
                .collect()
        };
        if ours != theirs {
            failures.push(format!(
                "{name}: {} packets, keyframes at {:?}; ffprobe: {} packets, keyframes at {:?}",
                ours.len(),
                keys(&ours),
                theirs.len(),
                keys(&theirs)
            ));
            continue;
        }
        let gops = d.gops(video);
        let expected = custody::container::demux::gops(theirs.iter().copied());
        assert_eq!(gops, expected, "{name}");
        // 120 pictures: ten groups of 12 (x264, x265), or one per picture
        // (MJPEG); FFmpeg's MPEG-2 encoder closes its first group after 10
        // pictures and leaves 2 in its last (11 groups), as ffprobe shows.
        let want = match name.split('.').next() {
            Some("mjpeg") => 120,
            Some("mpeg2video") => 11,
            _ => 10,
        };
        if gops.len() != want {
            failures.push(format!(
                "{name}: {} groups of pictures, not {want}",
                gops.len()
            ));
        }
    }
    // The corpus's video files (photos are one MJPEG keyframe), each with
    // ffprobe's flags or a listed difference, which must still occur.
    if let Some(corpus) = common::corpus() {
        let mut seen = [false; KEYFRAME_DIFFERENCES.len()];
        for path in common::files(&corpus) {
            let rel = common::rel(&corpus, &path);
            let data = std::fs::read(&path).unwrap();
            let Ok(d) = custody::container::demux::demux(&data, Limits::default(), true, None)
            else {
                continue;
            };
            let Some(video) = d.tracks().iter().position(|t| {
                matches!(
                    t.codec,
                    Some("h264" | "hevc" | "mjpeg" | "mpeg2video" | "mpeg1video")
                )
            }) else {
                continue;
            };
            let ours: Vec<bool> = d.packets(video).map(|p| p.keyframe).collect();
            // Files ffprobe cannot read are listed in `NOT_COMPARED`.
            let Some(theirs) = ffprobe_keyframes(&path) else {
                continue;
            };
            if ours == theirs {
                continue;
            }
            match KEYFRAME_DIFFERENCES.iter().position(|(f, _)| *f == rel) {
                Some(k) => seen[k] = true,
                None => failures.push(format!("{rel}: keyframes {ours:?}; ffprobe: {theirs:?}")),
            }
        }
        for ((file, _), seen) in KEYFRAME_DIFFERENCES.iter().zip(seen) {
            if !seen {
                failures.push(format!("{file}: listed keyframe difference did not occur"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
