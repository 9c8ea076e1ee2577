//! Hostile but well-formed inputs of a chosen size, for cost-regression
//! tests, benchmarks and fuzz seeds.
//!
//! Each generator writes about `len` bytes (never fewer than a minimal
//! file) shaped to make a parser do as much work, or build as large an
//! index, per input byte as the format allows: the shapes that once made
//! probing, hashing or indexing quadratic or memory-hungry. A parser whose
//! cost is linear handles each of them in time and memory proportional to
//! `len`.

use crate::ts::{self, PacketSize, TsWriter, pes_timestamp};
use custody_container::FourCC;
use custody_container::bmff::write_box;

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 8);
    write_box(&mut v, FourCC(*kind), payload, false);
    v
}

fn full(version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut v = (((version as u32) << 24) | flags).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// A transport stream whose PAT and PMT list one program with an
/// elementary stream of `stream_type` on PID 0x100.
fn ts_tables(stream_type: u8) -> TsWriter {
    let mut w = TsWriter::new(PacketSize::Ts188);
    w.psi(0, &ts::pat(0x20));
    w.psi(0x20, &ts::pmt(&[(stream_type, 0x100)]));
    w
}

/// An MPEG-TS with one H.264 stream whose single unbounded PES packet holds
/// nothing but 5-byte IDR slices (`00 00 01 65 88`), each its own access
/// unit: about 37 units per packet, all in one PES. Reassembling each unit
/// from its PES start costs the square of the size.
pub fn ts_tiny_slices(len: usize) -> Vec<u8> {
    let mut w = ts_tables(0x1b);
    // PES header without length (allowed for video) or timestamps.
    let mut es = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0, 0];
    let slice = [0u8, 0, 1, 0x65, 0x88];
    let mut first = true;
    while w.len() + 188 <= len.max(3 * 188) {
        while es.len() < 184 {
            es.extend_from_slice(&slice);
        }
        w.packet(0x100, first, &es[..184]);
        es.drain(..184);
        first = false;
    }
    w.into_bytes()
}

/// An MPEG-TS with one H.264 stream where every packet starts a PES with a
/// PTS and DTS and holds tiny slices: every PES and many units carry timestamps.
pub fn ts_tiny_pes(len: usize) -> Vec<u8> {
    let mut w = ts_tables(0x1b);
    let mut t = 0u64;
    while w.len() + 188 <= len.max(3 * 188) {
        let mut pes = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 10];
        pes.extend(pes_timestamp(3, t + 3000));
        pes.extend(pes_timestamp(1, t));
        t += 3000;
        while pes.len() + 5 <= 184 {
            pes.extend_from_slice(&[0, 0, 1, 0x65, 0x88]);
        }
        w.packet(0x100, true, &pes);
    }
    w.into_bytes()
}

/// An MPEG pack header (MPEG-2).
const PACK: [u8; 14] = [0, 0, 1, 0xba, 0x44, 0, 4, 0, 4, 1, 0x01, 0x89, 0xc3, 0xf8];

/// An MPEG-PS of one pack header followed by empty 6-byte private-stream-2
/// PES packets (`00 00 01 bf 00 00`): one access unit per 6 bytes.
pub fn ps_tiny_pes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 6);
    out.extend_from_slice(&PACK);
    while out.len() + 6 <= len.max(PACK.len() + 6) {
        out.extend_from_slice(&[0, 0, 1, 0xbf, 0, 0]);
    }
    out
}

/// An MPEG-PS of 20-byte private-stream-1 PES packets (DTS audio sub-stream,
/// one unit per packet), each with a PTS: one timestamped unit per 20 bytes.
pub fn ps_timestamped_pes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 20);
    out.extend_from_slice(&PACK);
    let mut t = 0u64;
    while out.len() + 20 <= len.max(PACK.len() + 20) {
        out.extend_from_slice(&[0, 0, 1, 0xbd, 0, 14, 0x80, 0x80, 5]);
        out.extend(pes_timestamp(2, t));
        // Sub-stream 0x88 (DTS) header, then two payload bytes.
        out.extend_from_slice(&[0x88, 1, 0, 1, 7, 7]);
        t += 3000;
    }
    out
}

/// A minimal `trak` whose sample table is `stbl` (a video track with `id`).
fn trak(id: u32, stbl: &[u8]) -> Vec<u8> {
    let mut tkhd = vec![0u8; 80];
    tkhd[8..12].copy_from_slice(&id.to_be_bytes());
    let mut mdhd = vec![0u8; 20];
    mdhd[8..12].copy_from_slice(&90_000u32.to_be_bytes());
    let mut hdlr = vec![0u8; 21];
    hdlr[4..8].copy_from_slice(b"vide");
    let mut mdia = boxed(b"mdhd", &full(0, 0, &mdhd));
    mdia.extend(boxed(b"hdlr", &full(0, 0, &hdlr)));
    mdia.extend(boxed(b"minf", &boxed(b"stbl", stbl)));
    let mut t = boxed(b"tkhd", &full(0, 3, &tkhd));
    t.extend(boxed(b"mdia", &mdia));
    boxed(b"trak", &t)
}

fn mvhd() -> Vec<u8> {
    let mut mvhd = vec![0u8; 96];
    mvhd[8..12].copy_from_slice(&1000u32.to_be_bytes());
    boxed(b"mvhd", &full(0, 0, &mvhd))
}

/// A sample description with one (empty) `avc1` entry.
fn stsd() -> Vec<u8> {
    let entry = crate::mp4::avc1_entry(16, 16, &[]);
    boxed(
        b"stsd",
        &full(0, 0, &[&1u32.to_be_bytes()[..], &entry].concat()),
    )
}

/// An MP4 whose `moov` holds as many tracks as half the file can carry (up
/// to 1,024), each claiming every byte of the `mdat` (the other half) as
/// one-byte samples of a single chunk: every track indexes the same bytes.
pub fn bmff_tracks_one_chunk(len: usize) -> Vec<u8> {
    let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isom");
    let mdat_len = (len / 2).max(64);
    let chunk = (ftyp.len() + 8) as u32;
    let mut stbl = stsd();
    stbl.extend(boxed(
        b"stts",
        &full(0, 0, &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]),
    ));
    stbl.extend(boxed(
        b"stsc",
        &full(
            0,
            0,
            &[
                &1u32.to_be_bytes()[..],
                &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1],
            ]
            .concat(),
        ),
    ));
    // Fixed one-byte samples, as many as a 32-bit count allows.
    stbl.extend(boxed(
        b"stsz",
        &full(0, 0, &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]),
    ));
    stbl.extend(boxed(
        b"stco",
        &full(
            0,
            0,
            &[&1u32.to_be_bytes()[..], &chunk.to_be_bytes()].concat(),
        ),
    ));
    let one = trak(1, &stbl).len();
    let tracks = ((len - mdat_len.min(len)) / one).clamp(1, 1024);
    let mut moov = mvhd();
    for id in 0..tracks {
        moov.extend(trak(id as u32 + 1, &stbl));
    }
    let mut out = ftyp;
    out.extend(boxed(b"mdat", &vec![0x11; mdat_len]));
    out.extend(boxed(b"moov", &moov));
    out
}

/// An init segment (one video track, with `mvex`) followed by one `moof`
/// whose `traf` holds as many `trun` boxes as fit, each resetting its data
/// offset to the start of the `mdat` and claiming 2^32 - 1 one-byte samples:
/// runs that claim the same bytes again and again.
pub fn bmff_overlapping_runs(len: usize) -> Vec<u8> {
    let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isom");
    let mut stbl = stsd();
    for k in [b"stts", b"stsc", b"stco"] {
        stbl.extend(boxed(k, &full(0, 0, &[0; 4])));
    }
    stbl.extend(boxed(b"stsz", &full(0, 0, &[0; 8])));
    let mut moov = mvhd();
    moov.extend(trak(1, &stbl));
    let trex = full(
        0,
        0,
        &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 0],
    );
    moov.extend(boxed(b"mvex", &boxed(b"trex", &trex)));
    let head = [ftyp, boxed(b"moov", &moov)].concat();
    // tfhd: track 1, default-base-is-moof, default duration and size.
    let tfhd = boxed(
        b"tfhd",
        &full(0, 0x02_0018, &[0, 0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 1]),
    );
    let runs = ((len / 2).saturating_sub(head.len()) / 20).max(1);
    let mdat_len = len.saturating_sub(head.len() + runs * 20 + 32).max(16);
    let moof_len = 8 + 8 + tfhd.len() + runs * 20;
    let data_offset = (moof_len + 8) as u32;
    let mut trun = 0x001u32.to_be_bytes().to_vec();
    trun.extend(u32::MAX.to_be_bytes());
    trun.extend(data_offset.to_be_bytes());
    let trun = boxed(b"trun", &trun);
    let mut traf = tfhd;
    for _ in 0..runs {
        traf.extend_from_slice(&trun);
    }
    let moof = boxed(b"moof", &boxed(b"traf", &traf));
    debug_assert_eq!(moof.len(), moof_len);
    [head, moof, boxed(b"mdat", &vec![0x22; mdat_len])].concat()
}

/// A fragmented MP4 of `moof`s whose `trun`s list per-sample sizes and
/// durations for one-byte samples: the largest sample count per byte that
/// per-sample fields allow.
pub fn bmff_sample_runs(len: usize) -> Vec<u8> {
    let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isom");
    let mut stbl = stsd();
    for k in [b"stts", b"stsc", b"stco"] {
        stbl.extend(boxed(k, &full(0, 0, &[0; 4])));
    }
    stbl.extend(boxed(b"stsz", &full(0, 0, &[0; 8])));
    let mut moov = mvhd();
    moov.extend(trak(1, &stbl));
    let trex = full(
        0,
        0,
        &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 0],
    );
    moov.extend(boxed(b"mvex", &boxed(b"trex", &trex)));
    let mut out = [ftyp, boxed(b"moov", &moov)].concat();
    // Fragments of 100 samples (8 bytes of table each, 1 byte of data).
    let per = 100usize;
    let tfhd = boxed(b"tfhd", &full(0, 0x02_0000, &[0, 0, 0, 1]));
    let mut t = 0u64;
    loop {
        let mut trun = (per as u32).to_be_bytes().to_vec();
        let moof_len = 8 + 8 + tfhd.len() + 20 + 20 + per * 8;
        trun.extend(((moof_len + 8) as u32).to_be_bytes());
        for _ in 0..per {
            trun.extend(10u32.to_be_bytes());
            trun.extend(1u32.to_be_bytes());
        }
        let mut traf = tfhd.clone();
        traf.extend(boxed(b"tfdt", &full(1, 0, &t.to_be_bytes())));
        traf.extend(boxed(b"trun", &full(0, 0x301, &trun)));
        t += 10 * per as u64;
        let moof = boxed(b"moof", &boxed(b"traf", &traf));
        debug_assert_eq!(moof.len(), moof_len);
        if t > 10 * per as u64 && out.len() + moof_len + 8 + per > len {
            break;
        }
        out.extend(moof);
        out.extend(boxed(b"mdat", &vec![0x33; per]));
    }
    out
}

/// An MP4 for `probe --boxes`: a `moov` of empty 8-byte `free` boxes and of
/// container boxes nested as deep as the depth limit, then top-level empty
/// boxes: the most box-tree nodes per byte.
pub fn bmff_many_boxes(len: usize) -> Vec<u8> {
    let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isom");
    // A chain of 30 nested container boxes ending in an empty one.
    let mut chain = boxed(b"free", &[]);
    for _ in 0..30 {
        chain = boxed(b"trak", &chain);
    }
    let mut moov = mvhd();
    while moov.len() + chain.len() + 64 < len / 2 {
        moov.extend_from_slice(&chain);
        moov.extend(boxed(b"free", &[]));
    }
    let mut out = ftyp;
    out.extend(boxed(b"moov", &moov));
    while out.len() + 8 <= len {
        out.extend(boxed(b"free", &[]));
    }
    out
}

/// An MJPEG AVI of 5-byte pictures, each listed in `idx1`: a packet for
/// every 30 bytes.
pub fn avi_tiny_frames(len: usize) -> Vec<u8> {
    crate::avi::tiny_mjpeg_avi((len / 30).max(1) as u32)
}

/// [`avi_tiny_frames`] cut before its `idx1`, as a recorder that lost
/// power leaves it: every packet is found by walking `movi`.
pub fn avi_unindexed(len: usize) -> Vec<u8> {
    // 14 bytes a picture in `movi`.
    let mut f = crate::avi::tiny_mjpeg_avi((len / 14).max(1) as u32);
    let idx1 = f.windows(4).rposition(|w| w == b"idx1").expect("an idx1");
    f.truncate(idx1);
    f
}

/// A Matroska file of 5-byte MJPEG frames, three SimpleBlocks a Cluster.
pub fn mkv_tiny_blocks(len: usize) -> Vec<u8> {
    crate::mkv::tiny((len / 28).max(1) as u32, 0)
}

/// [`mkv_tiny_blocks`] as a live recording writes it: the Segment and
/// every Cluster of unknown size.
pub fn mkv_live_blocks(len: usize) -> Vec<u8> {
    crate::mkv::tiny((len / 28).max(1) as u32, 1)
}

/// An FLV of 2-byte AVC frames, a tag each.
pub fn flv_tiny_tags(len: usize) -> Vec<u8> {
    crate::flv::tiny((len / 26).max(1) as u32)
}

/// An Ogg Opus file of one-byte packets, 255 a page.
pub fn ogg_tiny_packets(len: usize) -> Vec<u8> {
    crate::ogg::tiny_packets((len / 537).max(1) as u32)
}

/// An AMR-NB file of one-byte (no data) frames: a frame for every byte.
pub fn amr_empty_frames(len: usize) -> Vec<u8> {
    let mut f = b"#!AMR\n".to_vec();
    f.resize(len.max(16), 0x7c);
    f
}

/// An ADTS file of header-only 7-byte frames (AAC-LC, 44.1 kHz, stereo).
pub fn adts_empty_frames(len: usize) -> Vec<u8> {
    let frame = [0xff, 0xf1, 0x50, 0x80, 0x00, 0xff, 0xfc];
    frame.repeat((len / 7).max(2))
}

/// A WAV whose `fmt ` is followed by empty `JUNK` chunks (8 bytes each)
/// before a short `data`: a chunk for every 8 bytes.
pub fn wav_many_chunks(len: usize) -> Vec<u8> {
    let mut f = crate::wav::write(&crate::wav::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits: 16,
        frames: 8,
        bext: None,
        rf64: false,
    });
    let data = f
        .windows(4)
        .rposition(|w| w == b"data")
        .expect("a data chunk");
    let junk = b"JUNK\0\0\0\0".repeat(len / 8);
    f.splice(data..data, junk);
    let riff = (f.len() - 8) as u32;
    f[4..8].copy_from_slice(&riff.to_le_bytes());
    f
}

/// A JPEG whose picture follows empty comment segments (`FF FE 00 02`): a
/// segment for every 4 bytes.
pub fn jpeg_many_segments(len: usize) -> Vec<u8> {
    let mut f = crate::photo::jpeg(&crate::photo::ExifSpec {
        make: "Make",
        model: "Model",
        serial: "1",
        taken: "2026:12:02 08:00:00",
        offset: None,
        gps: None,
    });
    f.splice(2..2, [0xff, 0xfe, 0, 2].repeat(len / 4));
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use custody_container::{Limits, bmff::Mp4, ps::Ps, ts::Ts};

    #[test]
    fn shapes_parse_and_have_the_size_asked_for() {
        for len in [4096usize, 65_536] {
            let near = |d: &[u8]| {
                assert!(
                    d.len() <= len + 256 && d.len() + 10_000 >= len,
                    "{} for {len}",
                    d.len()
                )
            };
            let d = ts_tiny_slices(len);
            near(&d);
            let ts = Ts::parse(&d, Limits::default()).unwrap();
            assert!(
                ts.streams[0].units.len() > len / 6,
                "{}",
                ts.streams[0].units.len()
            );
            let d = ts_tiny_pes(len);
            near(&d);
            let ts = Ts::parse(&d, Limits::default()).unwrap();
            assert!(ts.streams[0].units.len() > len / 8);
            let d = ps_tiny_pes(len);
            near(&d);
            let ps = Ps::parse(&d, Limits::default()).unwrap();
            assert!(ps.streams[0].units.len() >= len / 6 - 3);
            let d = ps_timestamped_pes(len);
            near(&d);
            let ps = Ps::parse(&d, Limits::default()).unwrap();
            assert!(ps.streams[0].units.len() >= len / 20 - 2);
            for d in [
                bmff_tracks_one_chunk(len),
                bmff_overlapping_runs(len),
                bmff_sample_runs(len),
                bmff_many_boxes(len),
            ] {
                near(&d);
                Mp4::parse(&d, Limits::default()).unwrap();
            }
        }
    }
}
