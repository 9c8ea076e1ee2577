//! Writes small synthetic seed inputs for the fuzz targets into `fuzz/corpus/`.
//!
//! `cargo run --example fuzz_seeds`. Real-media seeds come from the shared
//! corpus at fuzzing time (see `scripts/fuzz.sh`); these are the ones the
//! repository can ship.

use custody_testkit::mp4::synthetic_recording;
use custody_testkit::ts::{PacketSize, TsWriter};

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    std::fs::create_dir_all(root.join("bmff"))?;
    std::fs::write(
        root.join("bmff/synthetic-1s.mp4"),
        synthetic_recording(1, 10, 5),
    )?;
    // A small MPEG-TS: PAT, PMT (H.264 + ADTS AAC), a few PES packets.
    std::fs::create_dir_all(root.join("ts"))?;
    std::fs::write(root.join("ts/synthetic.ts"), synthetic_ts())?;
    // A small MPEG-PS: pack header, MPEG-2 video and MPEG audio PES packets.
    std::fs::create_dir_all(root.join("ps"))?;
    std::fs::write(root.join("ps/synthetic.ps"), synthetic_ps())?;
    // The demuxer's parsers: PCM with a Broadcast Wave chunk, RF64, AVI,
    // Matroska with known and unknown sizes, FLV.
    std::fs::create_dir_all(root.join("demux"))?;
    std::fs::write(
        root.join("demux/tiny.avi"),
        custody_testkit::avi::tiny_mjpeg_avi(4),
    )?;
    std::fs::write(
        root.join("demux/tiny.mkv"),
        custody_testkit::mkv::tiny(4, 0),
    )?;
    std::fs::write(
        root.join("demux/live.mkv"),
        custody_testkit::mkv::tiny(4, 1),
    )?;
    std::fs::write(root.join("demux/tiny.flv"), custody_testkit::flv::tiny(4))?;
    // AMR-NB: every frame type once.
    let mut amr = b"#!AMR\n".to_vec();
    for (kind, size) in [13, 14, 16, 18, 20, 21, 27, 32, 6, 1]
        .into_iter()
        .enumerate()
    {
        amr.push((kind as u8) << 3 | 4);
        amr.resize(amr.len() + size - 1, kind as u8);
    }
    std::fs::write(root.join("demux/tiny.amr"), amr)?;
    std::fs::write(root.join("demux/opus.ogg"), custody_testkit::ogg::opus(6))?;
    let photo = custody_testkit::photo::ExifSpec {
        make: "ACME",
        model: "BWC-9",
        serial: "SN77",
        taken: "2026:11:29 08:30:00",
        offset: Some("+01:00"),
        gps: Some((-33.865, 151.2093, 12.5)),
    };
    std::fs::write(
        root.join("demux/exif.jpg"),
        custody_testkit::photo::jpeg(&photo),
    )?;
    std::fs::write(
        root.join("demux/time.png"),
        custody_testkit::photo::png(16, 8, Some([2026, 11, 29, 8, 30, 0])),
    )?;
    for (name, rf64, bext) in [
        (
            "demux/bwf.wav",
            false,
            Some(("2026-03-01", "14:05:09", 48_000)),
        ),
        ("demux/rf64.wav", true, None),
    ] {
        let spec = custody_testkit::wav::WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits: 16,
            frames: 2_000,
            bext,
            rf64,
        };
        std::fs::write(root.join(name), custody_testkit::wav::write(&spec))?;
    }
    // Content hashes read MP4 and TS: the same seeds.
    std::fs::create_dir_all(root.join("content"))?;
    std::fs::write(
        root.join("content/synthetic-1s.mp4"),
        synthetic_recording(1, 10, 5),
    )?;
    std::fs::write(root.join("content/synthetic.ts"), synthetic_ts())?;
    // Hostile shapes (custody_testkit::hostile), small: the most units,
    // samples or boxes per byte, for the cost limits the fuzzer enforces.
    use custody_testkit::hostile as h;
    for (path, data) in [
        ("ts/hostile-tiny-slices.ts", h::ts_tiny_slices(16_384)),
        ("ts/hostile-tiny-pes.ts", h::ts_tiny_pes(16_384)),
        ("ps/hostile-tiny-pes.ps", h::ps_tiny_pes(16_384)),
        (
            "ps/hostile-timestamped-pes.ps",
            h::ps_timestamped_pes(16_384),
        ),
        (
            "bmff/hostile-tracks-one-chunk.mp4",
            h::bmff_tracks_one_chunk(65_536),
        ),
        (
            "bmff/hostile-overlapping-runs.mp4",
            h::bmff_overlapping_runs(16_384),
        ),
        ("bmff/hostile-sample-runs.mp4", h::bmff_sample_runs(16_384)),
        ("bmff/hostile-many-boxes.mp4", h::bmff_many_boxes(16_384)),
        ("content/hostile-tiny-slices.ts", h::ts_tiny_slices(16_384)),
        (
            "content/hostile-timestamped-pes.ps",
            h::ps_timestamped_pes(16_384),
        ),
        (
            "content/hostile-tracks-one-chunk.mp4",
            h::bmff_tracks_one_chunk(65_536),
        ),
    ] {
        std::fs::write(root.join(path), data)?;
    }
    // The parsers' own targets: the demuxer's seeds by format, and each
    // parser's hostile shapes (small).
    for (dir, names) in [
        ("riff", &["bwf.wav", "rf64.wav", "tiny.avi"][..]),
        ("mkv", &["tiny.mkv", "live.mkv"][..]),
        ("flv", &["tiny.flv"][..]),
        ("ogg", &["opus.ogg"][..]),
        ("audio", &["tiny.amr"][..]),
        ("photo", &["exif.jpg", "time.png"][..]),
    ] {
        std::fs::create_dir_all(root.join(dir))?;
        for name in names {
            std::fs::copy(root.join("demux").join(name), root.join(dir).join(name))?;
        }
    }
    for (path, data) in [
        ("riff/hostile-unindexed.avi", h::avi_unindexed(16_384)),
        ("riff/hostile-many-chunks.wav", h::wav_many_chunks(16_384)),
        ("mkv/hostile-live-blocks.mkv", h::mkv_live_blocks(16_384)),
        ("flv/hostile-tiny-tags.flv", h::flv_tiny_tags(16_384)),
        ("ogg/hostile-tiny-packets.ogg", h::ogg_tiny_packets(16_384)),
        (
            "audio/hostile-empty-frames.aac",
            h::adts_empty_frames(16_384),
        ),
        (
            "audio/hostile-empty-frames.amr",
            h::amr_empty_frames(16_384),
        ),
        (
            "photo/hostile-many-segments.jpg",
            h::jpeg_many_segments(16_384),
        ),
    ] {
        std::fs::write(root.join(path), data)?;
    }
    // Chunk trees of one leaf, several leaves, and an empty file.
    std::fs::create_dir_all(root.join("tree"))?;
    for (name, len) in [
        ("one-leaf", 700usize),
        ("three-leaves", 2 * 1024 + 5),
        ("empty", 0),
    ] {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let tree = custody::hash::ChunkTree::of_bytes(&data, 1024);
        std::fs::write(root.join(format!("tree/{name}.b3tree")), tree.encode())?;
    }
    Ok(())
}

fn synthetic_ts() -> Vec<u8> {
    let mut w = TsWriter::new(PacketSize::Ts188);
    // Tables with their CRC fields left zero.
    w.packet(
        0,
        true,
        &[
            0, 0x00, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xe1, 0x00, 0, 0, 0, 0,
        ],
    );
    w.packet(
        0x100,
        true,
        &[
            0, 0x02, 0xb0, 23, 0, 1, 0xc1, 0, 0, 0xe1, 0x01, 0xf0, 0, 0x1b, 0xe1, 0x01, 0xf0, 0,
            0x0f, 0xe1, 0x02, 0xf0, 0, 0, 0, 0, 0,
        ],
    );
    for i in 0..4u8 {
        let nal = if i == 0 { 0x65 } else { 0x41 };
        let pes = [
            0,
            0,
            1,
            0xe0,
            0,
            0,
            0x80,
            0x80,
            5,
            0x21,
            0,
            1 + 2 * i,
            0,
            1,
            0,
            0,
            0,
            1,
            9,
            0xf0,
            0,
            0,
            1,
            nal,
            0x88,
            0x80,
            1,
            2,
            3,
        ];
        w.packet(0x101, true, &pes);
        let adts = [0xff, 0xf1, 0x4c, 0x80, 0x01, 0x40, 0x00, 1, 2, 3];
        let mut pes = vec![0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1 + 2 * i, 0, 1];
        pes.extend(adts);
        pes.extend(adts);
        w.packet(0x102, true, &pes);
    }
    w.into_bytes()
}

fn synthetic_ps() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..3u8 {
        out.extend([0, 0, 1, 0xba, 0x44, 0, 4, 0, 4, 1, 0x01, 0x89, 0xc3, 0xf8]);
        let video = [
            0,
            0,
            1,
            0xb3,
            0x28,
            0x01,
            0xe0,
            0x13,
            0,
            0,
            1,
            0,
            0,
            if i == 0 { 0x08 } else { 0x10 },
            0,
            0,
        ];
        let mut pes = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1 + 2 * i, 0, 1];
        pes.extend(video);
        let len = (pes.len() - 6) as u16;
        pes[4..6].copy_from_slice(&len.to_be_bytes());
        out.extend(pes);
        let mp2 = [0xff, 0xfd, 0x10, 0x04];
        let mut pes = vec![0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1 + 2 * i, 0, 1];
        pes.extend(mp2);
        pes.extend([0u8; 100]);
        let len = (pes.len() - 6) as u16;
        pes[4..6].copy_from_slice(&len.to_be_bytes());
        out.extend(pes);
    }
    out.extend([0, 0, 1, 0xb9]);
    out
}
