//! Entry points for fuzzing: each runs one parser over untrusted bytes and
//! touches everything it produced. The cargo-fuzz targets in `fuzz/` call
//! these, and `cargo test` replays the fuzz corpora through them.

use crate::Limits;
use crate::bmff::Mp4;
use crate::ps::Ps;
use crate::summary::{ProbeOptions, probe};
use crate::ts::Ts;

/// ISO-BMFF: probe (lenient and strict), then iterate, index and slice every sample.
pub fn bmff(data: &[u8]) {
    let _ = probe(
        data,
        ProbeOptions {
            limits: Limits::default(),
            samples: true,
            boxes: true,
        },
    );
    let strict = Limits {
        strict: true,
        ..Limits::default()
    };
    let _ = Mp4::parse(data, strict);
    if let Ok(mp4) = Mp4::parse(data, Limits::default()) {
        for t in &mp4.tracks {
            let index = t.index();
            // The iterator and the compact index hold the same samples: the
            // same values, and as many of them.
            let mut compact = index.iter();
            for a in t.samples() {
                let b = compact
                    .next()
                    .expect("the compact index has fewer samples than the iterator");
                assert_eq!(
                    (a.offset, a.size, a.dts, a.keyframe),
                    (b.offset, b.size, b.dts, b.keyframe)
                );
                assert!(
                    mp4.sample_bytes(&a).is_some(),
                    "yielded sample outside the data"
                );
            }
            assert!(
                compact.next().is_none(),
                "the compact index has more samples than the iterator"
            );
            let _ = crate::bmff::gops(index.keyframes(), index.len());
            let _ = t.duration_seconds(mp4.movie.map_or(0, |m| m.timescale));
        }
        let _ = mp4.duration_seconds();
    }
    // The same bytes as a media segment against themselves as init.
    let _ = Mp4::parse_segment(data, data, Limits::default());
}

/// MPEG-TS: parse, summarise and reassemble every unit.
pub fn ts(data: &[u8]) {
    let _ = probe(
        data,
        ProbeOptions {
            limits: Limits::default(),
            samples: true,
            boxes: false,
        },
    );
    let mut handed = 0usize;
    let parsed = Ts::parse_with_units(data, Limits::default(), &mut |_, _, u, b| {
        // Every unit's bytes are held until it is complete.
        let b = b.expect("a unit's bytes were not held until it was complete");
        assert_eq!(b.len() as u64, u.size);
        handed += 1;
    });
    if let Ok(ts) = parsed {
        assert_eq!(handed, ts.streams.iter().map(|s| s.units.len()).sum());
        // Handing bytes over does not change what is parsed.
        let plain = Ts::parse(data, Limits::default()).expect("parses without bytes too");
        // Without keeping the index, the same units are handed over.
        let mut streamed = 0usize;
        Ts::parse_streaming(data, Limits::default(), &mut |_, _, _, b| {
            assert!(b.is_some());
            streamed += 1;
        })
        .expect("parses without keeping units too");
        assert_eq!(streamed, handed);
        for (a, b) in ts.streams.iter().zip(&plain.streams) {
            assert!(a.units.iter().eq(b.units.iter()));
        }
        // The on-demand reassembly walks from each unit's PES start: a few units.
        for (i, s) in ts.streams.iter().enumerate() {
            for u in s.units.iter().take(64) {
                if let Some(b) = ts.unit_bytes(i, &u) {
                    assert_eq!(b.len() as u64, u.size);
                }
            }
        }
    }
}

/// MPEG-PS: parse, summarise and reassemble every unit.
pub fn ps(data: &[u8]) {
    let _ = probe(
        data,
        ProbeOptions {
            limits: Limits::default(),
            samples: true,
            boxes: false,
        },
    );
    let mut handed = 0usize;
    let parsed = Ps::parse_with_units(data, Limits::default(), &mut |_, _, u, b| {
        let b = b.expect("a unit's bytes were not held until it was complete");
        assert_eq!(b.len() as u64, u.size);
        assert!(u.offset <= data.len() as u64);
        handed += 1;
    });
    if let Ok(ps) = parsed {
        assert_eq!(handed, ps.streams.iter().map(|s| s.units.len()).sum());
        let plain = Ps::parse(data, Limits::default()).expect("parses without bytes too");
        // Without keeping the index, the same units are handed over.
        let mut streamed = 0usize;
        Ps::parse_streaming(data, Limits::default(), &mut |_, _, _, b| {
            assert!(b.is_some());
            streamed += 1;
        })
        .expect("parses without keeping units too");
        assert_eq!(streamed, handed);
        for (a, b) in ps.streams.iter().zip(&plain.streams) {
            assert!(a.units.iter().eq(b.units.iter()));
        }
        for (i, s) in ps.streams.iter().enumerate() {
            for u in s.units.iter().take(64) {
                if let Some(b) = ps.unit_bytes(i, &u) {
                    assert_eq!(b.len() as u64, u.size);
                }
            }
        }
    }
}

/// Probing from the planned ranges ([`crate::probe_ranges`]): an image
/// holding only them (zeros elsewhere) probes exactly as the whole input,
/// with and without the box tree.
pub fn window(data: &[u8]) {
    let len = data.len() as u64;
    for boxes in [false, true] {
        let opts = ProbeOptions {
            boxes,
            ..Default::default()
        };
        let plan = crate::summary::probe_ranges(len, opts, &mut |at, buf| {
            let at = usize::try_from(at).expect("within the input");
            buf.copy_from_slice(&data[at..at + buf.len()]);
            Ok(())
        })
        .expect("a read within the input cannot fail");
        let Some(ranges) = plan else { continue };
        let mut image = vec![0u8; data.len()];
        for r in ranges {
            assert!(
                r.start <= r.end && r.end <= len,
                "{r:?} outside {len} bytes"
            );
            let (s, e) = (r.start as usize, r.end as usize);
            image[s..e].copy_from_slice(&data[s..e]);
        }
        assert_eq!(
            format!("{:?}", probe(data, opts)),
            format!("{:?}", probe(&image, opts)),
            "boxes {boxes}"
        );
    }
}
