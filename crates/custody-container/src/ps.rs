//! MPEG program streams (`.mpg`, `.vob`, `.ps`): pack headers, system header,
//! program stream map and PES packets, split into access units (kept packed,
//! [`Units`]). [`Ps::parse_with_units`] hands each unit's bytes over as the
//! parse completes it.

use crate::codec::framer::{Framing, StreamInfo};
use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use crate::es::{Frame, MAX_INPUT, Units};
use crate::input::{Input, short_window};
use crate::pes::{self, Carried, Elementary, Out, REASSEMBLY_WINDOW, StreamKind};

/// One elementary stream of a program stream.
#[derive(Debug, Clone)]
pub struct PsStream {
    /// Stream id as FFmpeg numbers it: `0x100 | stream_id` for PES streams
    /// (`0x1e0` video, `0x1c0` audio, `0x1bf` private stream 2), and the
    /// sub-stream id (`0x80` AC-3, `0xa0` LPCM, `0x20` subpictures) for
    /// private stream 1.
    pub id: u16,
    /// FFmpeg's codec name, when known.
    pub codec: Option<&'static str>,
    /// Stream kind.
    pub kind: StreamKind,
    /// Access units in decode order.
    pub units: Units,
    /// Properties learnt from headers.
    pub info: StreamInfo,
}

/// A parsed program stream.
#[derive(Debug)]
pub struct Ps<'a> {
    /// The input; empty when it was read through a window
    /// ([`Ps::parse_from`]).
    pub data: &'a [u8],
    /// Number of pack headers.
    pub packs: u64,
    /// MPEG-1 (rather than MPEG-2) pack headers.
    pub mpeg1: bool,
    /// Streams in order of first appearance.
    pub streams: Vec<PsStream>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

impl Carried for PsStream {
    fn parts(&mut self) -> (&mut Units, &mut StreamInfo, &mut Option<&'static str>) {
        (&mut self.units, &mut self.info, &mut self.codec)
    }
}

/// Called with each access unit as the parse completes it: the stream's
/// index in [`Ps::streams`], the stream, the unit, and its bytes (`None`
/// when they are not all present).
pub type OnUnit<'c> = pes::OnUnit<'c, PsStream>;

/// Scans `d` for a `00 00 01` start code with a byte after it, from
/// `from`: `Ok` with its index, or `Err` with the first index not ruled
/// out (the scan stops three bytes short of the end).
#[inline]
fn scan_start(d: &[u8], from: usize) -> std::result::Result<usize, usize> {
    let mut i = from;
    while i + 3 < d.len() {
        match d[i + 2] {
            1 if d[i] == 0 && d[i + 1] == 0 => return Ok(i),
            0 => i += 1,
            _ => i += 3,
        }
    }
    Err(i)
}

/// Bytes of input a start-code search looks at per window.
const SCAN_WINDOW: usize = 1 << 16;

/// Longest pack header: 14 bytes and up to 7 of stuffing (16 are read).
const MAX_PACK_HEADER: usize = 14 + 7;

/// Finds the next `00 00 01` start code at or after `from` (with a byte
/// after it), window by window; runs the input knows are zeros (a code
/// needs its `01`) are stepped over without reading them.
fn next_start<I: Input>(input: &mut I, from: u64) -> Result<Option<u64>> {
    let size = input.size();
    let mut i = from;
    while i + 3 < size {
        let zeros = input.zeros_until(i + 2)?;
        if zeros > i + 2 {
            i = zeros - 2;
            continue;
        }
        let w = input.window(i, SCAN_WINDOW)?;
        match scan_start(w, 0) {
            Ok(k) => return Ok(Some(i + k as u64)),
            Err(_) if i + w.len() as u64 >= size => return Ok(None),
            Err(k) => i += k as u64,
        }
    }
    Ok(None)
}

impl<'a> Ps<'a> {
    /// Parses a program stream.
    pub fn parse(data: &'a [u8], limits: Limits) -> Result<Ps<'a>> {
        Self::parse_slice(data, limits, None, true)
    }

    /// Parses a program stream and calls `on_unit` with each access unit
    /// and its bytes as they are found (in decode order within a stream),
    /// in one pass over the input: the bytes are those the parser split into
    /// units, held only until the unit is complete.
    pub fn parse_with_units(
        data: &'a [u8],
        limits: Limits,
        on_unit: &mut OnUnit<'_>,
    ) -> Result<Ps<'a>> {
        Self::parse_slice(data, limits, Some(on_unit), true)
    }

    /// Like [`Ps::parse_with_units`], without keeping the unit index: every
    /// stream's `units` stays empty, and memory is bounded by the largest
    /// unit rather than by the number of units (content hashing needs no
    /// index).
    pub fn parse_streaming(
        data: &'a [u8],
        limits: Limits,
        on_unit: &mut OnUnit<'_>,
    ) -> Result<Ps<'a>> {
        Self::parse_slice(data, limits, Some(on_unit), false)
    }

    fn parse_slice(
        data: &'a [u8],
        limits: Limits,
        on_unit: Option<&mut OnUnit<'_>>,
        keep: bool,
    ) -> Result<Ps<'a>> {
        let mut ps = Ps::parse_from(data, limits, on_unit, keep)?;
        ps.data = data;
        Ok(ps)
    }
}

impl Ps<'static> {
    /// Parses a program stream read through `input` (a [`Windowed`] file,
    /// or a slice): the same parse as [`Ps::parse`], [`Ps::parse_with_units`]
    /// (with `on_unit`) or [`Ps::parse_streaming`] (with `on_unit`,
    /// `keep_units` false), reading the input once from front to back.
    /// [`Ps::data`] stays empty, so [`Ps::unit_bytes`] has nothing to
    /// reassemble from: take the bytes through `on_unit`.
    ///
    /// [`Windowed`]: crate::input::Windowed
    pub fn parse_from<I: Input>(
        mut input: I,
        limits: Limits,
        on_unit: Option<&mut OnUnit<'_>>,
        keep_units: bool,
    ) -> Result<Ps<'static>> {
        let mut out = Out {
            on_unit,
            keep: keep_units,
        };
        let size = input.size();
        if size >= MAX_INPUT {
            return Err(Error::new(
                0,
                "ps",
                ErrorKind::Unsupported(format!("program streams of {MAX_INPUT} bytes or more")),
            ));
        }
        let mut diag = Diag::new(limits.strict);
        if input.window(0, 4)?.get(..4) != Some(&[0, 0, 1, 0xba]) {
            return Err(Error::new(
                0,
                "ps",
                ErrorKind::Invalid("no pack header at the start".into()),
            ));
        }
        let mut ps = Ps {
            data: &[],
            packs: 0,
            mpeg1: false,
            streams: Vec::new(),
            warnings: Vec::new(),
        };
        let mut states: Vec<Elementary> = Vec::new();
        // Stream types from the program stream map, by stream id.
        let mut psm: Vec<(u8, u8)> = Vec::new();
        let mut pos = 0u64;
        while pos + 4 <= size {
            crate::cost::step(1);
            // A pack header, or a packet's header.
            let w = input.window(pos, MAX_PACK_HEADER)?;
            let Some(&[b0, b1, b2, code]) = w.first_chunk::<4>() else {
                return Err(short_window(pos));
            };
            if [b0, b1, b2] != [0, 0, 1] {
                match next_start(&mut input, pos)? {
                    Some(n) => {
                        diag.note(pos, "ps", format!("{} bytes of junk skipped", n - pos))?;
                        pos = n;
                        continue;
                    }
                    None => {
                        diag.note(pos, "ps", "trailing bytes are not program stream")?;
                        break;
                    }
                }
            }
            let off = pos;
            match code {
                0xba => {
                    ps.packs += 1;
                    let Some(&b4) = w.get(4) else { break };
                    let len = if b4 >> 6 == 1 {
                        let Some(&b13) = w.get(13) else {
                            break;
                        };
                        14 + (b13 & 7) as u64
                    } else {
                        ps.mpeg1 = true;
                        12
                    };
                    pos += len;
                }
                0xb9 => pos += 4,
                0xbb..=0xff => {
                    let Some(len) = w
                        .get(4..6)
                        .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize)
                    else {
                        diag.note(off, "ps", "truncated packet header")?;
                        break;
                    };
                    let end = pos + 6 + len as u64;
                    let w = input.window(pos, 6 + len)?;
                    if end > size {
                        diag.warn(Error::new(
                            off,
                            format!("ps/stream {code:#x}"),
                            ErrorKind::Truncated {
                                needed: 6 + len as u64,
                                available: size - pos,
                            },
                        ))?;
                    }
                    let pkt = &w[..(6 + len).min(w.len())];
                    pos = end;
                    if code == 0xbc {
                        parse_psm(pkt, &mut psm);
                        continue;
                    }
                    if matches!(code, 0xbb | 0xbe) {
                        continue;
                    }
                    let Some((hlen, pts, dts)) = pes::header(pkt) else {
                        diag.note(off, &format!("ps/stream {code:#x}"), "invalid PES header")?;
                        continue;
                    };
                    let Some((id, payload)) = stream_payload(code, pkt.get(hlen..).unwrap_or(&[]))
                    else {
                        continue;
                    };
                    let si = match ps.streams.iter().position(|s| s.id == id) {
                        Some(i) => i,
                        None => {
                            let st = psm.iter().find(|(s, _)| *s == code).map(|&(_, t)| t);
                            let (codec, kind, framing) = classify(id, st);
                            ps.streams.push(PsStream {
                                id,
                                codec,
                                kind,
                                units: Units::new(),
                                info: StreamInfo::default(),
                            });
                            states.push(Elementary::new(framing));
                            ps.streams.len() - 1
                        }
                    };
                    let (st, stream) = (&mut states[si], &mut ps.streams[si]);
                    st.start(si, stream, off, pts, dts, false, &mut out);
                    st.payload(si, stream, payload, &mut out);
                }
                _ => {
                    // A start code that is not a PS packet: resynchronise.
                    match next_start(&mut input, pos + 1)? {
                        Some(n) => {
                            diag.note(
                                off,
                                "ps",
                                format!(
                                    "unexpected start code {code:#x}; {} bytes skipped",
                                    n - pos
                                ),
                            )?;
                            pos = n;
                        }
                        None => break,
                    }
                }
            }
        }
        for (si, (st, s)) in states.iter_mut().zip(ps.streams.iter_mut()).enumerate() {
            let path = format!("ps/stream {:#x}", s.id);
            st.finish(si, s, &mut out, &mut diag, &path)?;
        }
        ps.warnings = diag.warnings;
        Ok(ps)
    }
}

/// The stream id (as in [`PsStream::id`]) and elementary payload of a PES
/// packet body, private stream 1's sub-stream header removed.
fn stream_payload(code: u8, payload: &[u8]) -> Option<(u16, &[u8])> {
    if code != 0xbd {
        return Some((0x100 | code as u16, payload));
    }
    let &sub = payload.first()?;
    let skip = match sub {
        0x80..=0x8f => 4,
        0xa0..=0xaf => 7,
        _ => 1,
    };
    Some((sub as u16, payload.get(skip..).unwrap_or(&[])))
}

/// Length of the pack header or packet starting at `at` (which holds `00 00 01`).
fn packet_len(d: &[u8], at: usize) -> Option<usize> {
    match *d.get(at + 3)? {
        0xba => {
            let b4 = *d.get(at + 4)?;
            if b4 >> 6 == 1 {
                Some(14 + (*d.get(at + 13)? & 7) as usize)
            } else {
                Some(12)
            }
        }
        0xb9 => Some(4),
        0xbb..=0xff => Some(6 + u16::from_be_bytes([*d.get(at + 4)?, *d.get(at + 5)?]) as usize),
        _ => None,
    }
}

impl Ps<'_> {
    /// Reassembles the bytes of access unit `unit` of stream `stream` (allocates),
    /// walking the packets from the one that carries its first byte; to read
    /// every unit, use [`Ps::parse_with_units`], which costs one pass in all.
    /// Returns `None` when the packets no longer hold the whole unit.
    pub fn unit_bytes(&self, stream: usize, unit: &Frame) -> Option<Vec<u8>> {
        let want = self.streams.get(stream)?.id;
        let size = usize::try_from(unit.size).ok()?;
        let d = self.data;
        let mut out = Vec::with_capacity(size.min(d.len()));
        let mut skip = usize::try_from(unit.in_pes).ok()?;
        let mut at = usize::try_from(unit.offset).ok()?;
        let limit = at.saturating_add(REASSEMBLY_WINDOW.max(size.saturating_mul(2)));
        while out.len() < size && at + 4 <= d.len() && at < limit {
            crate::cost::step(1);
            if d[at..at + 3] != [0, 0, 1] {
                return None;
            }
            let len = packet_len(d, at)?;
            let code = d[at + 3];
            if matches!(code, 0xbd | 0xbf | 0xc0..=0xef) {
                let pkt = d.get(at..at + len)?;
                // An MPEG-1 header may declare timestamps the packet is too short to
                // hold: its length then runs past the packet, as in `parse`.
                if let Some((hlen, _, _)) = pes::header(pkt)
                    && let Some((id, payload)) =
                        stream_payload(code, pkt.get(hlen..).unwrap_or(&[]))
                    && id == want
                {
                    let n = skip.min(payload.len());
                    skip -= n;
                    let take = (size - out.len()).min(payload.len() - n);
                    out.extend_from_slice(&payload[n..n + take]);
                }
            }
            at += len;
        }
        (out.len() == size).then_some(out)
    }
}

fn parse_psm(pkt: &[u8], out: &mut Vec<(u8, u8)>) {
    // 6-byte header, 2 flag bytes, info length, info, map length, entries.
    let Some(info_len) = pkt
        .get(8..10)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
    else {
        return;
    };
    let at = 10 + info_len;
    let Some(map_len) = pkt
        .get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
    else {
        return;
    };
    let mut i = at + 2;
    let end = (at + 2 + map_len).min(pkt.len());
    while i + 4 <= end {
        let (st, id) = (pkt[i], pkt[i + 1]);
        let elen = u16::from_be_bytes([pkt[i + 2], pkt[i + 3]]) as usize;
        if !out.iter().any(|(s, _)| *s == id) {
            out.push((id, st));
        }
        i += 4 + elen;
    }
}

fn classify(id: u16, stream_type: Option<u8>) -> (Option<&'static str>, StreamKind, Framing) {
    use StreamKind::*;
    match (id, stream_type) {
        (0x1e0..=0x1ef, Some(0x1b)) => (Some("h264"), Video, Framing::H264),
        (0x1e0..=0x1ef, Some(0x24)) => (Some("hevc"), Video, Framing::Hevc),
        (0x1e0..=0x1ef, Some(0x10)) => (Some("mpeg4"), Video, Framing::Pes),
        (0x1e0..=0x1ef, _) => (Some("mpeg2video"), Video, Framing::Mpeg2Video),
        (0x1c0..=0x1df, Some(0x0f)) => (Some("aac"), Audio, Framing::Adts),
        (0x1c0..=0x1df, _) => (Some("mp3"), Audio, Framing::MpegAudio),
        (0x1bf, _) => (Some("dvd_nav_packet"), Data, Framing::Pes),
        (0x80..=0x87, _) => (Some("ac3"), Audio, Framing::Ac3),
        (0x88..=0x8f, _) => (Some("dts"), Audio, Framing::Pes),
        (0xa0..=0xaf, _) => (Some("pcm_dvd"), Audio, Framing::Pes),
        (0x20..=0x3f, _) => (Some("dvd_subtitle"), Subtitle, Framing::Pes),
        _ => (None, Data, Framing::Pes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pes(sid: u8, pts: Option<u8>, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 1, sid, 0, 0, 0x80];
        match pts {
            Some(p) => v.extend([0x80, 5, 0x21, 0, 1, 0, (p << 1) | 1]),
            None => v.extend([0, 0]),
        }
        v.extend_from_slice(payload);
        let len = (v.len() - 6) as u16;
        v[4..6].copy_from_slice(&len.to_be_bytes());
        v
    }

    #[test]
    fn pictures_split_across_packs() {
        let pack = [0, 0, 1, 0xba, 0x44, 0, 4, 0, 4, 1, 0x01, 0x89, 0xc3, 0xf8];
        let mut d = pack.to_vec();
        // Sequence header + I picture, split over two PES packets; then a P picture.
        d.extend(pes(
            0xe0,
            Some(10),
            &[0, 0, 1, 0xb3, 0x14, 0x00, 0xf0, 0x13, 0, 0, 1, 0],
        ));
        d.extend(pes(0xe0, None, &[0x00, 0x08, 0xaa, 0xbb]));
        d.extend(pack);
        d.extend(pes(0xe0, Some(20), &[0, 0, 1, 0, 0x00, 0x10, 0xcc]));
        d.extend([0, 0, 1, 0xb9]);
        let ps = Ps::parse(&d, Limits::default()).unwrap();
        assert_eq!(ps.packs, 2);
        let s = &ps.streams[0];
        assert_eq!((s.id, s.codec), (0x1e0, Some("mpeg2video")));
        assert_eq!(s.units.len(), 2);
        assert!(s.units.get(0).unwrap().keyframe && !s.units.get(1).unwrap().keyframe);
        assert_eq!((s.info.width, s.info.height), (Some(320), Some(240)));
        assert!(ps.warnings.is_empty(), "{:?}", ps.warnings);
    }

    #[test]
    fn unit_spanning_a_truncated_mpeg1_header_is_reassembled() {
        let mut d = vec![0, 0, 1, 0xba, 0x44, 0, 4, 0, 4, 1, 0x01, 0x89, 0xc3, 0xf8];
        d.extend(pes(0xe0, Some(1), &[0, 0, 1, 0xb3, 0x14, 0x00, 0xf0, 0x13]));
        // MPEG-1 header flagging a PTS (0x21) with only 3 of its 5 bytes in the
        // packet: the header length (11) runs past the 9-byte packet.
        d.extend([0, 0, 1, 0xe0, 0, 3, 0x21, 0, 1]);
        d.extend(pes(0xe0, None, &[0xaa, 0xbb]));
        let ps = Ps::parse(&d, Limits::default()).unwrap();
        let s = &ps.streams[0];
        assert_eq!(s.units.len(), 1);
        assert_eq!(s.units.get(0).unwrap().size, 10);
        assert_eq!(
            ps.unit_bytes(0, &s.units.get(0).unwrap()),
            Some(vec![0, 0, 1, 0xb3, 0x14, 0x00, 0xf0, 0x13, 0xaa, 0xbb])
        );
    }

    #[test]
    fn junk_between_packets_is_skipped_with_a_warning() {
        let mut d = vec![0, 0, 1, 0xba, 0x44, 0, 4, 0, 4, 1, 0x01, 0x89, 0xc3, 0xf8];
        d.extend([1, 2, 3, 4, 5]);
        d.extend(pes(0xc0, Some(1), &[0xff, 0xfd, 0xa0, 0x04]));
        let ps = Ps::parse(&d, Limits::default()).unwrap();
        assert!(
            ps.warnings.iter().any(|w| w.offset == 14),
            "{:?}",
            ps.warnings
        );
        assert_eq!(ps.streams.len(), 1);
        assert!(
            Ps::parse(
                b"\0\0\x01\xba",
                Limits {
                    strict: true,
                    ..Limits::default()
                }
            )
            .is_ok()
        );
        assert!(Ps::parse(b"nope", Limits::default()).is_err());
    }
}
