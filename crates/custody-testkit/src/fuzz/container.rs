//! The container parsers' fuzz entry points.

use custody_container::Limits;
use custody_container::bmff::Mp4;
use custody_container::input::{Source, Windowed};
use custody_container::ps::Ps;
use custody_container::summary::{ProbeOptions, probe};
use custody_container::ts::Ts;

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
            let _ = custody_container::demux::gops(index.iter().map(|s| s.keyframe));
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
        assert_eq!(
            handed,
            ts.streams.iter().map(|s| s.units.len()).sum::<usize>()
        );
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
        assert_eq!(
            handed,
            ps.streams.iter().map(|s| s.units.len()).sum::<usize>()
        );
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

/// Probing from the planned ranges ([`custody_container::probe_ranges`]): an image
/// holding only them (zeros elsewhere) probes exactly as the whole input,
/// with and without the box tree; and a transport or program stream parsed
/// through a [`Windowed`] input equals its slice parse ([`windowed`]), for
/// a window smaller than a packet and one of a few hundred KiB.
pub fn window(data: &[u8]) {
    // The smallest window refills on every packet: kept to small inputs.
    if data.len() <= 1 << 16 {
        windowed(data, 1);
    }
    windowed(data, 200_003 + data.len() % 4099);
    let len = data.len() as u64;
    for boxes in [false, true] {
        let opts = ProbeOptions {
            boxes,
            ..Default::default()
        };
        let plan = custody_container::summary::probe_ranges(len, opts, &mut |at, buf| {
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

/// A slice as a [`Source`]: it tells its runs of zeros as holes (as a
/// sparse file does), so scans step over them.
pub struct SliceSource<'a>(pub &'a [u8]);

impl Source for SliceSource<'_> {
    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let at = usize::try_from(at).map_err(std::io::Error::other)?;
        let src = at
            .checked_add(buf.len())
            .and_then(|end| self.0.get(at..end))
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn data_from(&mut self, at: u64) -> std::io::Result<u64> {
        let from = usize::try_from(at).unwrap_or(usize::MAX).min(self.0.len());
        let zeros = self.0[from..].iter().take_while(|&&b| b == 0).count();
        Ok((from + zeros) as u64)
    }
}

/// What a parse produced and handed over, as text: equal texts, equal parses.
fn handed_text(stream: usize, unit: &custody_container::es::Frame, bytes: Option<&[u8]>) -> String {
    use std::hash::{Hash, Hasher};
    let digest = bytes.map(|b| {
        let mut h = std::hash::DefaultHasher::new();
        b.hash(&mut h);
        (b.len(), h.finish())
    });
    format!("{stream} {unit:?} {digest:?}\n")
}

/// A transport or program stream read through a [`Windowed`] input of
/// `window` bytes (its runs of zeros told as holes) parses exactly as the
/// slice: the same probe, streams, warnings and errors, and the same units
/// handed over with the same bytes, with and without the unit index.
/// Anything else is left alone.
pub fn windowed(data: &[u8], window: usize) {
    let input = || Windowed::with_window(SliceSource(data), data.len() as u64, window);
    let opts = ProbeOptions {
        limits: Limits::default(),
        samples: true,
        boxes: false,
    };
    let is_ts = match custody_container::detect(data) {
        Some(custody_container::Format::MpegTs { .. }) => true,
        Some(custody_container::Format::MpegPs) => false,
        _ => return,
    };
    assert_eq!(
        format!("{:?}", probe(data, opts)),
        format!(
            "{:?}",
            custody_container::summary::probe_input(input(), opts)
        ),
        "probe, window {window}"
    );
    for keep in [true, false] {
        let (mut a, mut b) = (String::new(), String::new());
        let (slice, streamed) = if is_ts {
            let text = |r: custody_container::Result<Ts<'_>>| {
                r.map(|t| {
                    format!(
                        "{} {:?} {:?} {:?}",
                        t.packet_size, t.programs, t.streams, t.warnings
                    )
                })
            };
            (
                text(Ts::parse_from(
                    data,
                    Limits::default(),
                    Some(&mut |i, _, u, x| a.push_str(&handed_text(i, u, x))),
                    keep,
                )),
                text(Ts::parse_from(
                    input(),
                    Limits::default(),
                    Some(&mut |i, _, u, x| b.push_str(&handed_text(i, u, x))),
                    keep,
                )),
            )
        } else {
            let text = |r: custody_container::Result<Ps<'_>>| {
                r.map(|p| format!("{} {} {:?} {:?}", p.packs, p.mpeg1, p.streams, p.warnings))
            };
            (
                text(Ps::parse_from(
                    data,
                    Limits::default(),
                    Some(&mut |i, _, u, x| a.push_str(&handed_text(i, u, x))),
                    keep,
                )),
                text(Ps::parse_from(
                    input(),
                    Limits::default(),
                    Some(&mut |i, _, u, x| b.push_str(&handed_text(i, u, x))),
                    keep,
                )),
            )
        };
        assert_eq!(slice, streamed, "parse, window {window}, keep {keep}");
        assert!(
            a == b,
            "units handed over differ, window {window}, keep {keep}"
        );
    }
}

/// Lenient and strict limits.
fn both_limits() -> [Limits; 2] {
    [
        Limits::default(),
        Limits {
            strict: true,
            ..Limits::default()
        },
    ]
}

/// Panics unless `[offset, offset + size)` lies inside `data`.
fn inside(data: &[u8], offset: u64, size: u64) {
    let end = offset.checked_add(size);
    assert!(
        end.is_some_and(|e| e <= data.len() as u64),
        "a packet outside the input"
    );
}

/// WAV/RF64/BW64 and AVI/OpenDML (lenient and strict): every packet lies
/// inside the input.
pub fn riff(data: &[u8]) {
    use custody_container::{avi::Avi, wav::Wav};
    for limits in both_limits() {
        if let Ok(w) = Wav::parse(data, limits) {
            for p in w.packets() {
                assert!(p.start < p.end);
                inside(data, p.start, p.end - p.start);
            }
            let _ = (w.duration_seconds(), w.bext.map(|b| b.origination()));
        }
        if let Ok(a) = Avi::parse(data, limits) {
            for i in 0..a.streams.len() {
                a.packets(i)
                    .for_each(|p| inside(data, p.offset, p.size as u64));
            }
            let _ = a.duration_seconds();
        }
    }
}

/// Matroska/WebM (lenient and strict): every frame lies inside the input.
pub fn mkv(data: &[u8]) {
    use custody_container::mkv::Mkv;
    for limits in both_limits() {
        if let Ok(m) = Mkv::parse(data, limits) {
            for t in &m.tracks {
                t.frames()
                    .iter()
                    .for_each(|f| inside(data, f.offset, f.size as u64));
            }
            let _ = (m.duration_seconds(), m.created_unix());
        }
    }
}

/// FLV (lenient and strict): every packet lies inside the input.
pub fn flv(data: &[u8]) {
    use custody_container::flv::Flv;
    for limits in both_limits() {
        if let Ok(f) = Flv::parse(data, limits) {
            for t in &f.tracks {
                t.packets()
                    .iter()
                    .for_each(|p| inside(data, p.offset, p.size as u64));
                let _ = (t.picture_size(), t.audio_format());
            }
        }
    }
}

/// Ogg (lenient and strict): every packet's bytes are as long as it says.
pub fn ogg(data: &[u8]) {
    use custody_container::ogg::Ogg;
    for limits in both_limits() {
        if let Ok(o) = Ogg::parse(data, limits) {
            for i in 0..o.streams.len() {
                for p in o.packets(i) {
                    assert_eq!(o.bytes(p).len(), p.size as usize);
                }
                let _ = o.streams[i].duration_seconds();
            }
        }
    }
}

/// AMR, MP3 and ADTS files (lenient and strict): every frame lies inside
/// the input.
pub fn audio(data: &[u8]) {
    use custody_container::rawaudio::RawAudio;
    for limits in both_limits() {
        if let Ok(a) = RawAudio::parse(data, limits) {
            a.frames()
                .iter()
                .for_each(|f| inside(data, f.offset, f.size as u64));
            let _ = a.duration_seconds();
        }
    }
}

/// JPEG and PNG photos (lenient and strict), and the TIFF/EXIF reader on
/// its own (a PNG's `eXIf` holds the bare structure).
pub fn photo(data: &[u8]) {
    use custody_container::{exif::Exif, photo::Photo};
    for limits in both_limits() {
        if let Ok(p) = Photo::parse(data, limits)
            && let Some(e) = p.exif
        {
            let _ = (e.location(), e.taken());
        }
    }
    if let Some(e) = Exif::parse(data) {
        let _ = (e.location(), e.taken());
    }
}

/// Any input through the one demuxer: it hands over exactly the packets
/// the summary counts, and its packet index lists them (the parsers behind
/// it have a target each: [`riff`], [`mkv`], [`flv`], [`ogg`], [`audio`],
/// [`photo`]).
pub fn demux(data: &[u8]) {
    use custody_container::demux::{Sink, TrackRef, demux};
    /// Counts the packets handed over (those beyond the end of an MP4 apart).
    struct Count(u64, u64);
    impl Sink for Count {
        fn packet(&mut self, _: &TrackRef<'_>, bytes: Option<&[u8]>) {
            self.0 += 1;
            self.1 += bytes.is_none() as u64;
        }
        fn beyond_end(&mut self, _: &TrackRef<'_>, _: u64) {}
    }
    let mut count = Count(0, 0);
    if let Ok(d) = demux(data, Limits::default(), true, Some(&mut count)) {
        let p = custody_container::summary::summarise(
            &d,
            ProbeOptions {
                limits: Limits::default(),
                samples: true,
                boxes: false,
            },
        );
        // Containers indexed in place hand every packet's bytes over.
        if !matches!(
            d.parsed,
            custody_container::demux::Parsed::Ts(_) | custody_container::demux::Parsed::Ps(_)
        ) {
            assert_eq!(count.1, 0, "a packet without its bytes");
        }
        assert_eq!(count.0, p.tracks.iter().map(|t| t.samples).sum::<u64>());
        // The index lists the packets the sink got, and its groups of
        // pictures cover them all, in order.
        let mut listed = 0;
        for i in 0..d.tracks().len() {
            let n = d.packets(i).count();
            listed += n as u64;
            let g = d.gops(i);
            assert_eq!(g.first().map_or(0, |r| r.start), 0);
            assert_eq!(g.last().map_or(0, |r| r.end), n);
            assert!(g.windows(2).all(|w| w[0].end == w[1].start));
            let _ = d.time_base(i).map(|tb| tb.seconds(1));
        }
        assert_eq!(listed, count.0, "the index and the sink disagree");
    }
}
