//! A minimal ISO-BMFF writer for tests, benchmarks and fuzz seeds.
//!
//! It writes `ftyp`, an `mdat` of interleaved chunks and a `moov` at the end
//! (the layout recorders produce), with run-length `stts`/`ctts`, `stss`,
//! `stsc`, `stsz` and `stco`/`co64` tables. Sample payloads are filled with a
//! repeating pattern; the tables are what it is for.

use custody_container::FourCC;
use custody_container::bmff::write_box;

/// One sample to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSpec {
    /// Size in bytes.
    pub size: u32,
    /// Duration in the track timescale.
    pub duration: u32,
    /// Composition offset (pts - dts).
    pub cts: i32,
    /// Sync sample.
    pub keyframe: bool,
}

/// One track to write.
#[derive(Debug, Clone)]
pub struct TrackSpec {
    /// Handler type (`vide`, `soun`, `meta`).
    pub handler: [u8; 4],
    /// Media timescale.
    pub timescale: u32,
    /// The complete sample entry box (see [`avc1_entry`], [`mp4a_entry`]).
    pub sample_entry: Vec<u8>,
    /// Samples in decode order.
    pub samples: Vec<SampleSpec>,
}

fn full(version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    v.extend_from_slice(&((version as u32) << 24 | flags).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 8);
    write_box(&mut v, FourCC(*kind), payload, false);
    v
}

/// A visual sample entry `avc1` with the given `avcC` payload.
pub fn avc1_entry(width: u16, height: u16, avcc: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 78];
    p[7] = 1; // data_reference_index
    p[24..26].copy_from_slice(&width.to_be_bytes());
    p[26..28].copy_from_slice(&height.to_be_bytes());
    p[28..32].copy_from_slice(&0x0048_0000u32.to_be_bytes());
    p[32..36].copy_from_slice(&0x0048_0000u32.to_be_bytes());
    p[40..42].copy_from_slice(&1u16.to_be_bytes());
    p[74..76].copy_from_slice(&0x18u16.to_be_bytes());
    p[76..78].copy_from_slice(&0xffffu16.to_be_bytes());
    p.extend_from_slice(&boxed(b"avcC", avcc));
    boxed(b"avc1", &p)
}

/// An audio sample entry `mp4a` with an `esds` carrying `asc` (AudioSpecificConfig).
pub fn mp4a_entry(rate: u16, channels: u16, asc: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 28];
    p[7] = 1;
    p[16..18].copy_from_slice(&channels.to_be_bytes());
    p[18..20].copy_from_slice(&16u16.to_be_bytes());
    p[24..26].copy_from_slice(&rate.to_be_bytes());
    // ES_Descriptor > DecoderConfigDescriptor (AAC) > DecoderSpecificInfo.
    let dsi = [&[0x05, asc.len() as u8][..], asc].concat();
    let mut dcd = vec![0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    dcd.extend_from_slice(&dsi);
    let dcd = [&[0x04, dcd.len() as u8][..], &dcd].concat();
    let mut es = vec![0, 1, 0];
    es.extend_from_slice(&dcd);
    es.extend_from_slice(&[0x06, 1, 2]);
    let es = [&[0x03, es.len() as u8][..], &es].concat();
    p.extend_from_slice(&boxed(b"esds", &full(0, 0, &es)));
    boxed(b"mp4a", &p)
}

/// Run-length encodes `(count, value)` pairs.
fn runs(values: impl Iterator<Item = u32>) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some((n, last)) if *last == v => *n += 1,
            _ => out.push((1, v)),
        }
    }
    out
}

/// Writes a flat MP4 (moov at the end) with chunks of about `chunk_seconds`.
pub fn write_mp4(tracks: &[TrackSpec], chunk_seconds: f64) -> Vec<u8> {
    let mut out = Vec::new();
    write_mp4_to(&mut out, tracks, chunk_seconds).expect("writing to a Vec cannot fail");
    out
}

/// Streams a flat MP4 to `w`: sample bytes are written as they are laid out,
/// so files of many gigabytes need no more memory than their tables.
pub fn write_mp4_to(
    w: &mut impl std::io::Write,
    tracks: &[TrackSpec],
    chunk_seconds: f64,
) -> std::io::Result<()> {
    // Split every track into chunks by time, then interleave chunks by start time.
    let mut chunks: Vec<(f64, usize, std::ops::Range<usize>)> = Vec::new();
    for (ti, t) in tracks.iter().enumerate() {
        let limit = (chunk_seconds * t.timescale as f64).max(1.0) as u64;
        let mut start = 0;
        let mut acc = 0u64;
        let mut time = 0u64;
        for (i, s) in t.samples.iter().enumerate() {
            acc += s.duration as u64;
            if acc >= limit || i + 1 == t.samples.len() {
                chunks.push((time as f64 / t.timescale as f64, ti, start..i + 1));
                time += acc;
                acc = 0;
                start = i + 1;
            }
        }
    }
    chunks.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41");
    let mdat_payload: u64 = tracks
        .iter()
        .flat_map(|t| t.samples.iter())
        .map(|s| s.size as u64)
        .sum();
    let large = mdat_payload + 16 > u32::MAX as u64;
    let mdat_header = if large { 16 } else { 8 };
    let mut out = ftyp;
    let mut offsets: Vec<Vec<(u64, u32)>> = vec![Vec::new(); tracks.len()]; // (offset, samples)
    let mut pos = out.len() as u64 + mdat_header;
    for (_, ti, r) in &chunks {
        offsets[*ti].push((pos, r.len() as u32));
        pos += tracks[*ti].samples[r.clone()]
            .iter()
            .map(|s| s.size as u64)
            .sum::<u64>();
    }
    if large {
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&(mdat_payload + 16).to_be_bytes());
    } else {
        out.extend_from_slice(&((mdat_payload + 8) as u32).to_be_bytes());
        out.extend_from_slice(b"mdat");
    }
    w.write_all(&out)?;
    out.clear();
    // Sample payloads: a repeating byte pattern, written in large blocks.
    let pattern: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
    let mut left = mdat_payload;
    while left > 0 {
        let n = left.min(pattern.len() as u64) as usize;
        w.write_all(&pattern[..n])?;
        left -= n as u64;
    }
    let movie_ts = 1000u32;
    let mut traks = Vec::new();
    let mut movie_dur = 0u64;
    for (ti, t) in tracks.iter().enumerate() {
        let dur: u64 = t.samples.iter().map(|s| s.duration as u64).sum();
        let mdur = dur * movie_ts as u64 / t.timescale.max(1) as u64;
        movie_dur = movie_dur.max(mdur);
        let mut tkhd = vec![0u8; 80];
        tkhd[8..12].copy_from_slice(&(ti as u32 + 1).to_be_bytes());
        tkhd[16..20].copy_from_slice(&(mdur as u32).to_be_bytes());
        let mut mdhd = vec![0u8; 20];
        mdhd[8..12].copy_from_slice(&t.timescale.to_be_bytes());
        mdhd[12..16].copy_from_slice(&(dur as u32).to_be_bytes());
        mdhd[16..18].copy_from_slice(&0x55c4u16.to_be_bytes()); // "und"
        let mut hdlr = vec![0u8; 21];
        hdlr[4..8].copy_from_slice(&t.handler);
        let stsd = full(0, 0, &[&1u32.to_be_bytes()[..], &t.sample_entry].concat());
        let table = |pairs: &[(u32, u32)]| {
            let mut b = (pairs.len() as u32).to_be_bytes().to_vec();
            for (a, v) in pairs {
                b.extend_from_slice(&a.to_be_bytes());
                b.extend_from_slice(&v.to_be_bytes());
            }
            b
        };
        let stts = full(0, 0, &table(&runs(t.samples.iter().map(|s| s.duration))));
        let mut stbl = boxed(b"stsd", &stsd);
        stbl.extend_from_slice(&boxed(b"stts", &stts));
        if t.samples.iter().any(|s| s.cts != 0) {
            let ctts = full(1, 0, &table(&runs(t.samples.iter().map(|s| s.cts as u32))));
            stbl.extend_from_slice(&boxed(b"ctts", &ctts));
        }
        if t.samples.iter().any(|s| !s.keyframe) {
            let keys: Vec<u32> = (0..t.samples.len() as u32)
                .filter(|&i| t.samples[i as usize].keyframe)
                .map(|i| i + 1)
                .collect();
            let mut b = (keys.len() as u32).to_be_bytes().to_vec();
            keys.iter()
                .for_each(|k| b.extend_from_slice(&k.to_be_bytes()));
            stbl.extend_from_slice(&boxed(b"stss", &full(0, 0, &b)));
        }
        let mut stsc_entries = Vec::new();
        let mut last = None;
        for (c, &(_, n)) in offsets[ti].iter().enumerate() {
            if last != Some(n) {
                stsc_entries.push([c as u32 + 1, n, 1]);
                last = Some(n);
            }
        }
        let mut stsc = (stsc_entries.len() as u32).to_be_bytes().to_vec();
        stsc_entries
            .iter()
            .flatten()
            .for_each(|v| stsc.extend_from_slice(&v.to_be_bytes()));
        stbl.extend_from_slice(&boxed(b"stsc", &full(0, 0, &stsc)));
        let mut stsz = 0u32.to_be_bytes().to_vec();
        stsz.extend_from_slice(&(t.samples.len() as u32).to_be_bytes());
        t.samples
            .iter()
            .for_each(|s| stsz.extend_from_slice(&s.size.to_be_bytes()));
        stbl.extend_from_slice(&boxed(b"stsz", &full(0, 0, &stsz)));
        let mut co = (offsets[ti].len() as u32).to_be_bytes().to_vec();
        if large {
            offsets[ti]
                .iter()
                .for_each(|(o, _)| co.extend_from_slice(&o.to_be_bytes()));
            stbl.extend_from_slice(&boxed(b"co64", &full(0, 0, &co)));
        } else {
            offsets[ti]
                .iter()
                .for_each(|(o, _)| co.extend_from_slice(&(*o as u32).to_be_bytes()));
            stbl.extend_from_slice(&boxed(b"stco", &full(0, 0, &co)));
        }
        let mut minf = match &t.handler {
            b"vide" => boxed(b"vmhd", &full(0, 1, &[0; 8])),
            b"soun" => boxed(b"smhd", &full(0, 0, &[0; 4])),
            _ => boxed(b"nmhd", &full(0, 0, &[])),
        };
        let url = boxed(b"url ", &full(0, 1, &[]));
        minf.extend_from_slice(&boxed(
            b"dinf",
            &boxed(
                b"dref",
                &full(0, 0, &[&1u32.to_be_bytes()[..], &url].concat()),
            ),
        ));
        minf.extend_from_slice(&boxed(b"stbl", &stbl));
        let mut mdia = boxed(b"mdhd", &full(0, 0, &mdhd));
        mdia.extend_from_slice(&boxed(b"hdlr", &full(0, 0, &hdlr)));
        mdia.extend_from_slice(&boxed(b"minf", &minf));
        let mut trak = boxed(b"tkhd", &full(0, 3, &tkhd));
        trak.extend_from_slice(&boxed(b"mdia", &mdia));
        traks.extend_from_slice(&boxed(b"trak", &trak));
    }
    let mut mvhd = vec![0u8; 96];
    mvhd[8..12].copy_from_slice(&movie_ts.to_be_bytes());
    mvhd[12..16].copy_from_slice(&(movie_dur as u32).to_be_bytes());
    mvhd[16..20].copy_from_slice(&0x0001_0000u32.to_be_bytes());
    mvhd[20..22].copy_from_slice(&0x0100u16.to_be_bytes());
    mvhd[92..96].copy_from_slice(&(tracks.len() as u32 + 1).to_be_bytes());
    let mut moov = boxed(b"mvhd", &full(0, 0, &mvhd));
    moov.extend_from_slice(&traks);
    w.write_all(&boxed(b"moov", &moov))
}

/// A recording like a camera's: H.264 at `fps` with a keyframe every `gop`
/// frames and B-frame reordering, plus 48 kHz AAC; tiny frames.
pub fn synthetic_recording(seconds: u32, fps: u32, gop: u32) -> Vec<u8> {
    let mut out = Vec::new();
    write_synthetic_recording(&mut out, seconds, fps, gop, 0)
        .expect("writing to a Vec cannot fail");
    out
}

/// Streams a [`synthetic_recording`] to `w`, with `extra` bytes added to every
/// video frame (to reach realistic file sizes).
pub fn write_synthetic_recording(
    w: &mut impl std::io::Write,
    seconds: u32,
    fps: u32,
    gop: u32,
    extra: u32,
) -> std::io::Result<()> {
    let frames = seconds * fps;
    let video: Vec<SampleSpec> = (0..frames)
        .map(|i| SampleSpec {
            size: extra + if i % gop == 0 { 180 } else { 24 + (i % 7) },
            duration: 90_000 / fps,
            cts: [2, 0, 1][(i % 3) as usize] * (90_000 / fps) as i32,
            keyframe: i % gop == 0,
        })
        .collect();
    let aac_frames = (seconds as u64 * 48_000).div_ceil(1024) as u32;
    let audio: Vec<SampleSpec> = (0..aac_frames)
        .map(|i| SampleSpec {
            size: 8 + (i % 5),
            duration: 1024,
            cts: 0,
            keyframe: true,
        })
        .collect();
    let avcc = [
        1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee,
    ];
    write_mp4_to(
        w,
        &[
            TrackSpec {
                handler: *b"vide",
                timescale: 90_000,
                sample_entry: avc1_entry(16, 16, &avcc),
                samples: video,
            },
            TrackSpec {
                handler: *b"soun",
                timescale: 48_000,
                sample_entry: mp4a_entry(48_000, 2, &[0x11, 0x90]),
                samples: audio,
            },
        ],
        1.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use custody_container::Limits;
    use custody_container::bmff::Mp4;

    #[test]
    fn written_file_parses_back() {
        let file = synthetic_recording(10, 30, 30);
        let mp4 = Mp4::parse(&file, Limits::default()).unwrap();
        assert!(mp4.warnings.is_empty(), "{:?}", mp4.warnings);
        assert_eq!(mp4.tracks.len(), 2);
        assert_eq!(mp4.tracks[0].codec(), Some("h264"));
        assert_eq!(mp4.tracks[1].codec(), Some("aac"));
        let v = mp4.tracks[0].index();
        assert_eq!(v.len(), 300);
        assert_eq!(v.keyframes().count(), 10);
        assert_eq!(v.get(1).unwrap().pts - v.get(1).unwrap().dts, 0);
        assert_eq!(mp4.tracks[1].index().len(), 469);
        assert_eq!(mp4.tracks[0].duration_seconds(1000), Some(10.0));
    }
}
