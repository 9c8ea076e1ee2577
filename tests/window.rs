//! Probing a file that is not mapped (removable media, `--no-mmap`) reads
//! only the ranges the probe looks at, and says exactly what a probe of the
//! whole file says; its content hashes, read sample by sample, equal those
//! of the mapped file: every corpus file, and every stored fuzz input.

mod common;

use custody_container::summary::ProbeOptions;
use custody_io::{Evidence, ReadMode};
use std::path::{Path, PathBuf};

/// Probe results (as text) of `path` read whole and read through its plan,
/// with the bytes the plan read.
fn both(path: &Path, opts: ProbeOptions) -> (String, String, u64) {
    let whole = Evidence::open(path, ReadMode::Map).unwrap();
    let planned = Evidence::open_planned(path, ReadMode::Read, |len, read| {
        custody_container::probe_ranges(len, opts, read)
    })
    .unwrap();
    (
        format!("{:?}", custody_container::probe(whole.bytes(), opts)),
        format!("{:?}", custody_container::probe(planned.bytes(), opts)),
        planned.bytes_read(),
    )
}

fn check(files: &[PathBuf]) -> (u64, u64, usize) {
    let (mut size, mut read, mut mp4) = (0u64, 0u64, 0usize);
    for f in files {
        let len = std::fs::metadata(f).unwrap().len();
        if len == 0 {
            continue;
        }
        for boxes in [false, true] {
            let opts = ProbeOptions {
                boxes,
                ..Default::default()
            };
            let (whole, planned, r) = both(f, opts);
            assert_eq!(whole, planned, "{} (boxes {boxes})", f.display());
            if !boxes {
                // Content hashes: mapped, and read as a probe reads plus
                // sample by sample (an MP4 is never read whole).
                let content = |mode| {
                    format!(
                        "{:?}",
                        custody::content_with(f, mode)
                            .map(|c| c.tracks)
                            .map_err(|e| (e.offset(), e.message()))
                    )
                };
                assert_eq!(
                    content(ReadMode::Map),
                    content(ReadMode::Read),
                    "content hashes of {}",
                    f.display()
                );
            }
            let head = &std::fs::read(f).unwrap()[..len.min(16) as usize];
            if !boxes && custody_container::detect(head) == Some(custody_container::Format::IsoBmff)
            {
                size += len;
                read += r;
                mp4 += 1;
            }
        }
    }
    (size, read, mp4)
}

#[test]
fn every_corpus_file_probes_the_same_from_its_planned_ranges() {
    let Some(dir) = common::corpus() else { return };
    let files = common::files(&dir);
    let (size, read, mp4) = check(&files);
    assert!(mp4 >= 10, "{mp4} MP4/MOV files");
    eprintln!("MP4/MOV: {mp4} files, {size} bytes, {read} read for probing");
    // About 10%: the corpus is small files whose index is a large part (one
    // is all index: a truncated audiobook); a camera's file is well under 1%.
    assert!(read * 5 < size, "{read} of {size} bytes read");
}

#[test]
fn every_stored_fuzz_input_probes_the_same_from_its_planned_ranges() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for sub in ["regressions", "corpus"] {
        for t in ["bmff", "content", "ts", "ps", "demux"] {
            let d = root.join(sub).join(t);
            if d.is_dir() {
                files.extend(common::files(&d));
            }
        }
    }
    assert!(
        !files.is_empty(),
        "no stored fuzz inputs under {}",
        root.display()
    );
    check(&files);
}

// ---------- transport and program streams, read through a window ----------

use custody_container::input::Windowed;
use custody_testkit::fuzz::{SliceSource, windowed};
use custody_testkit::ts::{self, PacketSize, TsWriter};
use proptest::prelude::*;

/// Windows from smaller than a packet to larger than most inputs.
const WINDOWS: [usize; 7] = [
    1,
    100,
    188,
    189,
    4096,
    65_537,
    Windowed::<SliceSource>::WINDOW,
];

fn is_stream(data: &[u8]) -> bool {
    custody_container::detect(data).is_some_and(custody_container::summary::reads_front_to_back)
}

/// Content hashes of `data` as a slice and through a window, as text.
fn content_both(data: &[u8], window: usize) -> (String, String) {
    let limits = Default::default();
    let w = Windowed::with_window(SliceSource(data), data.len() as u64, window);
    (
        format!("{:?}", custody_hash::content::content_hashes(data, limits)),
        format!(
            "{:?}",
            custody_hash::content::content_hashes_input(w, limits)
        ),
    )
}

#[test]
fn every_corpus_stream_parses_the_same_through_any_window() {
    let Some(dir) = common::corpus() else { return };
    let mut streams = 0;
    for f in common::files(&dir) {
        let data = std::fs::read(&f).unwrap();
        if !is_stream(&data) {
            continue;
        }
        streams += 1;
        for w in WINDOWS {
            windowed(&data, w);
            let (a, b) = content_both(&data, w);
            assert_eq!(a, b, "{} window {w}", f.display());
        }
        // The facade on the file itself: read front to back, or mapped.
        let probe = |mode| {
            let req = custody::ProbeRequest {
                options: ProbeOptions {
                    samples: true,
                    ..Default::default()
                },
                mode,
            };
            format!("{:?}", custody::probe(&f, &req).unwrap())
        };
        assert_eq!(
            probe(ReadMode::Read),
            probe(ReadMode::Map),
            "{}",
            f.display()
        );
        let content = |mode| format!("{:?}", custody::content_with(&f, mode).unwrap().tracks);
        assert_eq!(
            content(ReadMode::Read),
            content(ReadMode::Map),
            "{}",
            f.display()
        );
    }
    assert!(streams >= 10, "{streams} TS/PS files in the corpus");
}

#[test]
fn every_stored_fuzz_input_parses_the_same_through_a_window() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut checked = 0;
    for sub in ["regressions", "corpus"] {
        for t in ["ts", "ps", "content", "window", "bmff"] {
            let d = root.join(sub).join(t);
            if !d.is_dir() {
                continue;
            }
            for f in common::files(&d) {
                let data = std::fs::read(&f).unwrap();
                if !is_stream(&data) {
                    continue;
                }
                checked += 1;
                for w in [1, 189, 65_537] {
                    windowed(&data, w);
                    let (a, b) = content_both(&data, w);
                    assert_eq!(a, b, "{} window {w}", f.display());
                }
            }
        }
    }
    assert!(checked >= 6, "{checked} stored TS/PS fuzz inputs");
}

/// A PES packet: stream id, optional PTS, payload.
fn pes(sid: u8, pts: Option<u64>, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 1, sid, 0, 0, 0x80];
    match pts {
        Some(t) => {
            v.extend([0x80, 5]);
            v.extend(ts::pes_timestamp(2, t));
        }
        None => v.extend([0, 0]),
    }
    v.extend_from_slice(payload);
    let len = (v.len() - 6).min(0xffff) as u16;
    v[4..6].copy_from_slice(&len.to_be_bytes());
    v
}

/// An access unit's bytes for a stream kind: H.264 (delimiter, SPS/PPS on
/// keyframes, a slice), ADTS AAC frames, or opaque bytes.
fn unit_payload(kind: u8, i: usize, body: &[u8]) -> Vec<u8> {
    match kind {
        0x1b => {
            let mut v = vec![0, 0, 0, 1, 0x09, 0xf0];
            if i.is_multiple_of(5) {
                v.extend([
                    0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8,
                ]);
                v.extend([0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80]);
            }
            v.extend([0, 0, 1, if i.is_multiple_of(5) { 0x65 } else { 0x41 }, 0x88]);
            v.extend(body.iter().map(|&b| b | 0x80));
            v
        }
        0x0f => {
            let len = 7 + body.len();
            let mut v = vec![
                0xff,
                0xf1,
                0x50,
                0x80 | ((len >> 11) & 3) as u8,
                (len >> 3) as u8,
                ((len & 7) << 5) as u8 | 0x1f,
                0xfc,
            ];
            v.extend_from_slice(body);
            v
        }
        _ => body.to_vec(),
    }
}

/// A transport stream: PAT, PMT, then PES packets of the given streams
/// (stream types), interleaved, with a PAT/PMT repeat now and then.
fn gen_ts(size: usize, kinds: &[u8], units: &[Vec<u8>]) -> Vec<u8> {
    let size = PacketSize::from_bytes(size).expect("a TS packet size");
    let mut w = TsWriter::new(size).with_random_access();
    let streams: Vec<(u8, u16)> = (0..kinds.len())
        .map(|k| (kinds[k], 0x101 + k as u16))
        .collect();
    let tables = |w: &mut TsWriter| {
        w.psi(0, &ts::pat(0x100));
        w.psi(0x100, &ts::pmt(&streams));
    };
    tables(&mut w);
    for (i, body) in units.iter().enumerate() {
        if i % 7 == 6 {
            tables(&mut w);
        }
        let k = i % kinds.len();
        let pes = pes(
            0xe0 + k as u8,
            Some(9000 + 3000 * i as u64),
            &unit_payload(kinds[k], i, body),
        );
        w.pes(0x101 + k as u16, &pes);
    }
    w.into_bytes()
}

/// A program stream: pack headers, a system header, PES packets of MPEG
/// video, MPEG audio and private stream 1 (AC-3), an end code.
fn gen_ps(units: &[Vec<u8>], mpeg1: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, body) in units.iter().enumerate() {
        if i.is_multiple_of(3) {
            if mpeg1 {
                out.extend([0, 0, 1, 0xba, 0x21, 0, 1, 0, 1, 0x80, 0, 1]);
            } else {
                out.extend([
                    0,
                    0,
                    1,
                    0xba,
                    0x44,
                    0,
                    4,
                    0,
                    4,
                    1,
                    0x01,
                    0x89,
                    0xc3,
                    0xf8 | (i % 3) as u8,
                ]);
                out.extend(std::iter::repeat_n(0xff, i % 3));
            }
        }
        if i == 0 {
            out.extend([0, 0, 1, 0xbb, 0, 6, 0x80, 0, 1, 0x04, 0xe1, 0xff]);
        }
        let pts = Some(9000 + 3000 * i as u64);
        let packet = match i % 3 {
            0 => {
                let mut v = vec![0, 0, 1, 0xb3, 0x14, 0x00, 0xf0, 0x13, 0, 0, 1, 0, 0, 0x08];
                v.extend(body);
                pes(0xe0, pts, &v)
            }
            1 => {
                let mut v = vec![0xff, 0xfd, 0x90, 0x04];
                v.extend(body);
                pes(0xc0, pts, &v)
            }
            _ => {
                let mut v = vec![0x80, 1, 0, 1, 0x0b, 0x77];
                v.extend(body);
                pes(0xbd, pts, &v)
            }
        };
        out.extend(packet);
    }
    out.extend([0, 0, 1, 0xb9]);
    out
}

/// Damage to apply: (position as a fraction of the length, what).
#[derive(Debug, Clone)]
enum Damage {
    Flip(u8),
    Garbage(Vec<u8>),
    /// A run of zeros (longer than a 64 KiB sync search, at times), and
    /// perhaps bytes that end a start code (`01`) or begin a packet (`47`)
    /// right after it.
    Zeros(usize, Option<u8>),
    Cut(usize),
}

fn damage() -> impl Strategy<Value = (f64, Damage)> {
    (
        0.0..1.0f64,
        prop_oneof![
            any::<u8>().prop_map(Damage::Flip),
            prop::collection::vec(any::<u8>(), 1..400).prop_map(Damage::Garbage),
            (
                prop_oneof![1usize..300, 60_000usize..140_000],
                prop::option::of(prop_oneof![Just(1u8), Just(0x47)])
            )
                .prop_map(|(n, tail)| Damage::Zeros(n, tail)),
            (1usize..2000).prop_map(Damage::Cut),
        ],
    )
}

fn apply(mut data: Vec<u8>, damages: &[(f64, Damage)], truncate: Option<f64>) -> Vec<u8> {
    for (at, d) in damages {
        let at = ((data.len() as f64 * at) as usize).min(data.len());
        match d {
            Damage::Flip(x) if at < data.len() => data[at] ^= x | 1,
            Damage::Flip(_) => {}
            Damage::Garbage(g) => {
                data.splice(at..at, g.iter().copied());
            }
            Damage::Zeros(n, tail) => {
                let run = std::iter::repeat_n(0, *n).chain(*tail);
                data.splice(at..at, run);
            }
            Damage::Cut(n) => {
                data.drain(at..(at + n).min(data.len()));
            }
        }
    }
    if let Some(t) = truncate {
        data.truncate((data.len() as f64 * t) as usize);
    }
    data
}

fn window_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        1usize..400,
        400usize..70_000,
        Just(Windowed::<SliceSource>::WINDOW)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_transport_streams_parse_the_same_through_a_window(
        size in prop_oneof![Just(188usize), Just(192), Just(204)],
        kinds in prop::collection::vec(prop_oneof![Just(0x1bu8), Just(0x0f), Just(0x06), Just(0x03)], 1..4),
        units in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..900), 1..40),
        damages in prop::collection::vec(damage(), 0..5),
        truncate in prop::option::of(0.3..1.0f64),
        window in window_size(),
    ) {
        let data = apply(gen_ts(size, &kinds, &units), &damages, truncate);
        windowed(&data, window);
        if is_stream(&data) {
            let (a, b) = content_both(&data, window);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn generated_program_streams_parse_the_same_through_a_window(
        units in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 1..30),
        mpeg1 in any::<bool>(),
        damages in prop::collection::vec(damage(), 0..5),
        truncate in prop::option::of(0.3..1.0f64),
        window in window_size(),
    ) {
        let data = apply(gen_ps(&units, mpeg1), &damages, truncate);
        windowed(&data, window);
        if is_stream(&data) {
            let (a, b) = content_both(&data, window);
            prop_assert_eq!(a, b);
        }
    }
}
