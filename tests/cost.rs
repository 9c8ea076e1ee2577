//! Cost regression: every parser (ISO-BMFF with fragments, MPEG-TS,
//! MPEG-PS, AVI, Matroska, FLV, Ogg, AMR, ADTS, WAV, JPEG), the one
//! demuxer's packet index, the content hashes of each and the box dump, on
//! generated hostile shapes (`custody_testkit::hostile`) of 64 KiB,
//! 256 KiB and 1 MiB.
//!
//! Cost is counted, never timed: steps of work (`custody::container::cost`,
//! counted with the `cost-counters` feature: packets, boxes, samples, bytes
//! framed or hashed), and bytes and blocks allocated and the peak of live
//! heap bytes, counted by this binary's global allocator for the thread that
//! runs the operation. Each count must grow linearly with the input (by at
//! most 1.5 times the growth of the size, plus a small constant), and each
//! stays within a fixed multiple of the input.

use custody::container::summary::{ProbeOptions, probe};
use custody::container::{Limits, bmff::Mp4, cost, demux::demux, ps::Ps, ts::Ts};
use custody::hash::content::content_hashes;
use custody_testkit::hostile;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts, per thread, the bytes and blocks allocated and the live bytes.
struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
    static BLOCKS: Cell<u64> = const { Cell::new(0) };
}

fn on_alloc(size: usize) {
    let _ = LIVE.try_with(|l| {
        let live = l.get() + size as i64;
        l.set(live);
        let _ = PEAK.try_with(|p| p.set(p.get().max(live)));
    });
    let _ = ALLOCATED.try_with(|a| a.set(a.get() + size as u64));
    let _ = BLOCKS.try_with(|b| b.set(b.get() + 1));
}

fn on_free(size: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get() - size as i64));
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counters are thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            on_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            on_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        on_free(layout.size());
    }

    // A reallocation counts as a new block of the new size replacing the old
    // one (large blocks are moved by remapping pages, never held twice).
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            on_free(layout.size());
            on_alloc(new_size);
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

// Steps are counted only with the feature (the dev-dependency enables it).
const _: () = assert!(
    cost::ENABLED,
    "custody-container is built without cost-counters"
);

/// What one operation cost on one input.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    /// Steps of work the parsers counted.
    steps: u64,
    /// Bytes allocated (a reallocation counts its new size).
    allocated: u64,
    /// Blocks allocated.
    blocks: u64,
    /// Most heap bytes live at once beyond those live before.
    peak: u64,
}

impl Cost {
    fn fields(&self) -> [(&'static str, u64, u64); 4] {
        // (name, value, constant allowed on top of linear growth)
        [
            ("steps", self.steps, 4096),
            ("allocated", self.allocated, 256 << 10),
            ("blocks", self.blocks, 256),
            ("peak", self.peak, 256 << 10),
        ]
    }
}

/// Runs `op` and counts what it costs on this thread (what it returns is
/// dropped inside the count, so the peak includes it).
fn measure(op: impl FnOnce()) -> Cost {
    let steps = cost::steps();
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    let allocated = ALLOCATED.with(Cell::get);
    let blocks = BLOCKS.with(Cell::get);
    op();
    Cost {
        steps: cost::steps() - steps,
        allocated: ALLOCATED.with(Cell::get) - allocated,
        blocks: BLOCKS.with(Cell::get) - blocks,
        peak: (PEAK.with(Cell::get) - live).max(0) as u64,
    }
}

const SIZES: [usize; 3] = [64 << 10, 256 << 10, 1 << 20];

/// One operation on one hostile shape, with its bounds per input byte.
struct Case {
    name: &'static str,
    shape: fn(usize) -> Vec<u8>,
    op: fn(&[u8]),
    /// Most steps per input byte.
    steps_per_byte: f64,
    /// Most live heap bytes per input byte.
    peak_per_byte: f64,
}

/// Measures `case` at each size (stopping at the first size whose cost
/// grows too fast, before a quadratic shape takes the machine's memory) and
/// checks the bounds.
fn check(case: &Case) {
    let mut costs: Vec<(usize, Cost)> = Vec::new();
    for len in SIZES {
        let data = (case.shape)(len);
        let n = data.len();
        let c = measure(|| (case.op)(&data));
        eprintln!("{} at {n} bytes: {c:?}", case.name);
        assert!(c.steps > 0, "{}: no work counted", case.name);
        assert!(
            c.steps as f64 <= case.steps_per_byte * n as f64 + 4096.0,
            "{} at {n} bytes: {} steps, more than {} per byte",
            case.name,
            c.steps,
            case.steps_per_byte
        );
        assert!(
            c.peak as f64 <= case.peak_per_byte * n as f64 + (256 << 10) as f64,
            "{} at {n} bytes: {} bytes live at the peak, more than {} per input byte",
            case.name,
            c.peak,
            case.peak_per_byte
        );
        if let Some(&(m, prev)) = costs.last() {
            growth(case.name, (m, prev), (n, c));
        }
        costs.push((n, c));
    }
    growth(case.name, costs[0], costs[2]);
}

/// Each count grows by at most 1.5 times the growth of the input.
fn growth(name: &str, (m, a): (usize, Cost), (n, b): (usize, Cost)) {
    let allowed = 1.5 * n as f64 / m as f64;
    for ((field, x, slack), (_, y, _)) in a.fields().into_iter().zip(b.fields()) {
        assert!(
            y as f64 <= allowed * x as f64 + slack as f64,
            "{name}: {field} grows from {x} at {m} bytes to {y} at {n} bytes, \
             more than {allowed:.1} times: not linear"
        );
    }
}

fn ts_parse(d: &[u8]) {
    let ts = Ts::parse(d, Limits::default()).unwrap();
    assert!(!ts.streams[0].units.is_empty());
}

fn ps_parse(d: &[u8]) {
    let ps = Ps::parse(d, Limits::default()).unwrap();
    assert!(!ps.streams[0].units.is_empty());
}

fn mp4_index(d: &[u8]) {
    let mp4 = Mp4::parse(d, Limits::default()).unwrap();
    let indexes: Vec<_> = mp4.tracks.iter().map(|t| t.index()).collect();
    assert!(indexes.iter().any(|i| !i.is_empty()));
}

/// `custody probe --json` (with `--samples` or `--boxes` as asked), the
/// JSON written as it is serialised, as the command does.
fn probe_json(d: &[u8], samples: bool, boxes: bool) {
    let p = probe(
        d,
        ProbeOptions {
            limits: Limits::default(),
            samples,
            boxes,
        },
    )
    .unwrap();
    serde_json::to_writer(std::io::sink(), &p).unwrap();
}

fn probe_plain(d: &[u8]) {
    probe_json(d, false, false)
}

fn probe_samples(d: &[u8]) {
    probe_json(d, true, false)
}

fn probe_boxes(d: &[u8]) {
    probe_json(d, false, true)
}

/// The one demuxer, its packet index, and the groups of pictures of its
/// video tracks.
fn demuxed(d: &[u8]) {
    let m = demux(d, Limits::default(), true, None).unwrap();
    let packets: usize = (0..m.tracks().len()).map(|i| m.packets(i).count()).sum();
    assert!(packets > 0, "{:?}", m.format);
    for (i, t) in m.tracks().iter().enumerate() {
        if matches!(t.codec, Some("mjpeg" | "h264")) {
            assert!(!m.gops(i).is_empty());
        }
    }
}

fn content(d: &[u8]) {
    let tracks = content_hashes(d, Limits::default()).unwrap();
    assert!(tracks.iter().any(|t| t.samples > 0), "{tracks:?}");
}

/// `custody probe --json` writes each probe as it is serialised rather than
/// through a `serde_json::Value` (which costs ~100 times the index): the
/// bytes must be those the sorted `Value` gave, every field of every type.
#[test]
fn probe_json_written_directly_is_what_a_sorted_value_gave() {
    use custody::container::bmff::{Location, MetaValue};
    use custody::container::{Warning, probe};
    use custody_testkit::mp4::synthetic_recording;
    let all = ProbeOptions {
        limits: Limits::default(),
        samples: true,
        boxes: true,
    };
    for data in [
        synthetic_recording(1, 10, 5),
        hostile::ts_tiny_pes(4096),
        hostile::ps_timestamped_pes(4096),
    ] {
        let mut p = probe(&data, all).unwrap();
        p.path = Some("a/b.mp4".into());
        p.location = Some(Location {
            lat: 1.5,
            lon: -2.25,
            alt: Some(3.0),
        });
        p.metadata
            .insert("©day".into(), MetaValue::Text("2024".into()));
        p.metadata.insert("n".into(), MetaValue::Int(-7));
        p.metadata.insert("f".into(), MetaValue::Float(0.5));
        p.metadata.insert(
            "xmp".into(),
            MetaValue::Raw {
                offset: 9,
                bytes: 12,
            },
        );
        p.warnings.push(Warning {
            offset: 1,
            path: "moov".into(),
            message: "odd".into(),
        });
        assert!(p.tracks.iter().all(|t| t.sample_index.is_some()));
        let direct = serde_json::to_string(&p).unwrap();
        let value = serde_json::to_value(&p).unwrap().to_string();
        assert_eq!(direct, value);
    }
}

macro_rules! cases {
    ($($(#[$doc:meta])* $test:ident: $shape:ident, $op:ident, $steps:expr, $peak:expr;)*) => {
        $(
            $(#[$doc])*
            #[test]
            fn $test() {
                check(&Case {
                    name: concat!(stringify!($shape), " / ", stringify!($op)),
                    shape: hostile::$shape,
                    op: $op,
                    steps_per_byte: $steps,
                    peak_per_byte: $peak,
                });
            }
        )*
    };
}

// test: shape, operation, most steps per input byte, most live heap bytes
// per input byte. Content hashes of TS and PS keep no unit index: their
// memory is a constant (the TS parser's PID tables) plus the largest unit.
cases! {
    // MPEG-TS: one PES of 5-byte IDR slices (37 units a packet), and a PES
    // with timestamps in every packet.
    ts_tiny_slices_parse: ts_tiny_slices, ts_parse, 2.0, 8.0;
    ts_tiny_slices_probe: ts_tiny_slices, probe_plain, 2.0, 8.0;
    ts_tiny_slices_samples: ts_tiny_slices, probe_samples, 2.0, 24.0;
    ts_tiny_slices_content: ts_tiny_slices, content, 4.0, 1.0;
    ts_tiny_pes_parse: ts_tiny_pes, ts_parse, 2.0, 8.0;
    ts_tiny_pes_samples: ts_tiny_pes, probe_samples, 2.0, 24.0;
    ts_tiny_pes_content: ts_tiny_pes, content, 4.0, 1.0;

    // MPEG-PS: empty 6-byte PES packets, and 20-byte ones with a PTS.
    ps_tiny_pes_parse: ps_tiny_pes, ps_parse, 2.0, 8.0;
    ps_tiny_pes_samples: ps_tiny_pes, probe_samples, 2.0, 24.0;
    ps_tiny_pes_content: ps_tiny_pes, content, 2.0, 1.0;
    ps_timestamped_parse: ps_timestamped_pes, ps_parse, 2.0, 8.0;
    ps_timestamped_samples: ps_timestamped_pes, probe_samples, 2.0, 24.0;
    ps_timestamped_content: ps_timestamped_pes, content, 2.0, 1.0;

    // ISO-BMFF: tracks that all index the same chunk, fragment runs that
    // claim the same bytes again and again, and one-byte samples listed in
    // `trun`s. One-byte samples are the worst case of a listing: every byte
    // a sample (56 bytes a row), every sample iterated a few times over.
    bmff_tracks_one_chunk_probe: bmff_tracks_one_chunk, probe_plain, 8.0, 8.0;
    bmff_tracks_one_chunk_samples: bmff_tracks_one_chunk, probe_samples, 8.0, 72.0;
    bmff_tracks_one_chunk_index: bmff_tracks_one_chunk, mp4_index, 8.0, 32.0;
    bmff_tracks_one_chunk_content: bmff_tracks_one_chunk, content, 8.0, 4.0;
    bmff_overlapping_runs_samples: bmff_overlapping_runs, probe_samples, 8.0, 72.0;
    bmff_overlapping_runs_content: bmff_overlapping_runs, content, 8.0, 4.0;
    bmff_sample_runs_samples: bmff_sample_runs, probe_samples, 8.0, 72.0;
    bmff_sample_runs_content: bmff_sample_runs, content, 8.0, 4.0;

    // The box dump (`probe --boxes`): empty boxes, nested to the depth limit.
    bmff_many_boxes_dump: bmff_many_boxes, probe_boxes, 4.0, 16.0;

    // The containers read at random, and audio files, at a packet (or a
    // chunk, a segment) every few bytes: the index they build is the memory
    // they may take, its vectors grown by doubling (up to twice the bytes
    // they hold); the content hashes walk it once. AMR: 16 bytes a frame,
    // a frame a byte. Ogg: 48 bytes a packet (32 for the packet, 16 for
    // its one span), a packet every 2.1 bytes.
    avi_tiny_frames_demux: avi_tiny_frames, demuxed, 2.0, 8.0;
    avi_tiny_frames_probe: avi_tiny_frames, probe_plain, 2.0, 8.0;
    avi_tiny_frames_content: avi_tiny_frames, content, 4.0, 8.0;
    avi_unindexed_demux: avi_unindexed, demuxed, 2.0, 8.0;
    avi_unindexed_content: avi_unindexed, content, 4.0, 8.0;
    mkv_tiny_blocks_demux: mkv_tiny_blocks, demuxed, 2.0, 8.0;
    mkv_tiny_blocks_content: mkv_tiny_blocks, content, 4.0, 8.0;
    mkv_live_blocks_demux: mkv_live_blocks, demuxed, 2.0, 8.0;
    flv_tiny_tags_demux: flv_tiny_tags, demuxed, 2.0, 8.0;
    flv_tiny_tags_content: flv_tiny_tags, content, 4.0, 8.0;
    ogg_tiny_packets_demux: ogg_tiny_packets, demuxed, 2.0, 48.0;
    ogg_tiny_packets_content: ogg_tiny_packets, content, 4.0, 48.0;
    amr_empty_frames_demux: amr_empty_frames, demuxed, 2.0, 32.0;
    amr_empty_frames_content: amr_empty_frames, content, 4.0, 32.0;
    adts_empty_frames_demux: adts_empty_frames, demuxed, 2.0, 8.0;
    adts_empty_frames_content: adts_empty_frames, content, 4.0, 8.0;
    wav_many_chunks_probe: wav_many_chunks, probe_plain, 2.0, 8.0;
    jpeg_many_segments_probe: jpeg_many_segments, probe_plain, 2.0, 8.0;
}
