//! Building the full sample index of a one-hour H.264 + AAC recording
//! (108,000 + 168,750 samples, moov at the end), against mp4parse and re_mp4
//! measured in the same run; and the packet index, through the one demuxer,
//! of a one-hour MJPEG AVI (`idx1`, and cut before it: `movi` walked) and a
//! one-hour Matroska file (108,000 tiny frames each).
//!
//! `cargo bench --bench index`

#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use custody::container::{Limits, bmff::Mp4, demux::demux};
use custody_testkit::mp4::synthetic_recording;
use std::hint::black_box;

fn custody_index(data: &[u8]) -> usize {
    let mp4 = Mp4::parse(data, Limits::default()).unwrap();
    mp4.tracks.iter().map(|t| t.index().len()).sum()
}

fn custody_iterate(data: &[u8]) -> usize {
    let mp4 = Mp4::parse(data, Limits::default()).unwrap();
    mp4.tracks.iter().map(|t| t.samples().count()).sum()
}

fn mp4parse_index(moov: &[u8]) -> usize {
    let ctx = mp4parse::read_mp4(&mut std::io::Cursor::new(moov)).unwrap();
    ctx.tracks
        .iter()
        .map(|t| mp4parse::unstable::create_sample_table(t, 0i64.into()).map_or(0, |v| v.len()))
        .sum()
}

fn re_mp4_index(data: &[u8]) -> usize {
    let mp4 = re_mp4::Mp4::read_bytes(data).unwrap();
    mp4.tracks().values().map(|t| t.samples.len()).sum()
}

fn bench(c: &mut Criterion) {
    let data = synthetic_recording(3600, 30, 30);
    // mp4parse reads through a `Read`: give it ftyp + moov only, so it is not
    // charged for skipping the media data.
    let mp4 = Mp4::parse(&data, Limits::default()).unwrap();
    let moov = mp4.boxes.iter().find(|b| &b.kind.0 == b"moov").unwrap();
    let mut head = data[..32].to_vec();
    head.extend_from_slice(&data[moov.offset as usize..]);
    let expected = 108_000 + 168_750;
    assert_eq!(custody_index(&data), expected);
    assert_eq!(custody_iterate(&data), expected);
    assert_eq!(mp4parse_index(&head), expected);
    assert_eq!(re_mp4_index(&data), expected);

    let mut g = c.benchmark_group("index_1h");
    g.sample_size(20);
    g.bench_with_input(BenchmarkId::new("custody", "index"), &data, |b, d| {
        b.iter(|| custody_index(black_box(d)))
    });
    g.bench_with_input(BenchmarkId::new("custody", "iterate"), &data, |b, d| {
        b.iter(|| custody_iterate(black_box(d)))
    });
    g.bench_with_input(BenchmarkId::new("mp4parse", "index"), &head, |b, d| {
        b.iter(|| mp4parse_index(black_box(d)))
    });
    g.bench_with_input(BenchmarkId::new("re_mp4", "index"), &data, |b, d| {
        b.iter(|| re_mp4_index(black_box(d)))
    });
    g.finish();
}

/// Packets the one demuxer indexes in `data`.
fn demux_packets(data: &[u8]) -> usize {
    let d = demux(data, Limits::default(), true, None).unwrap();
    (0..d.tracks().len()).map(|i| d.packets(i).count()).sum()
}

fn bench_other(c: &mut Criterion) {
    let frames = 3600 * 30;
    let avi = custody_testkit::avi::tiny_mjpeg_avi(frames);
    let cut = custody_testkit::hostile::avi_unindexed(frames as usize * 14);
    let mkv = custody_testkit::mkv::tiny(frames, 0);
    for d in [&avi, &cut, &mkv] {
        assert_eq!(demux_packets(d), frames as usize);
    }
    let mut g = c.benchmark_group("index_1h_demux");
    g.sample_size(20);
    for (name, d) in [("avi_idx1", &avi), ("avi_scan", &cut), ("mkv", &mkv)] {
        g.bench_with_input(BenchmarkId::new("custody", name), d, |b, d| {
            b.iter(|| demux_packets(black_box(d)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_other);
criterion_main!(benches);
