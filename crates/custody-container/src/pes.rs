//! What transport and program streams share: PES headers and their
//! 33-bit timestamps, and the per-stream state (kept private) that turns
//! PES payloads into access units with a [`Framer`], hands each unit and
//! its bytes to the caller, and finishes the stream (codec names that only
//! the frames tell, the bytes no frame holds).
//!
//! ```
//! use custody_container::pes::Unwrap;
//! // A PTS that wraps past 2^33 keeps counting up.
//! let mut u = Unwrap::default();
//! assert_eq!(u.next((1 << 33) - 3000), (1 << 33) - 3000);
//! assert_eq!(u.next(1000), (1 << 33) + 1000);
//! ```

use crate::codec::framer::{Framer, Framing, StreamInfo};
use crate::error::{Diag, Result};
use crate::es::{Assembly, Frame, Units};

/// What a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// Video.
    Video,
    /// Audio.
    Audio,
    /// Subtitles.
    Subtitle,
    /// Anything else.
    Data,
}

/// Unwraps 33-bit timestamps into a monotonic 64-bit timeline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwrap {
    last: Option<i64>,
    offset: i64,
}

impl Unwrap {
    const WRAP: i64 = 1 << 33;

    /// Maps a 33-bit timestamp onto the running timeline.
    pub fn next(&mut self, ts: i64) -> i64 {
        if let Some(last) = self.last {
            let cur = ts + self.offset;
            if last - cur > Self::WRAP / 2 {
                self.offset += Self::WRAP;
            } else if cur - last > Self::WRAP / 2 && self.offset >= Self::WRAP {
                self.offset -= Self::WRAP;
            }
        }
        let v = ts + self.offset;
        self.last = Some(v);
        v
    }
}

/// Called with each access unit as the parse completes it: the stream's
/// index among the file's streams, the stream, the unit, and its bytes
/// (`None` when they are not all present).
pub type OnUnit<'c, S> = dyn FnMut(usize, &S, &Frame, Option<&[u8]>) + 'c;

/// A stream of a transport or program stream, as [`Elementary`] fills it.
pub(crate) trait Carried {
    /// Its access units, its properties and its codec name.
    fn parts(&mut self) -> (&mut Units, &mut StreamInfo, &mut Option<&'static str>);
}

/// Where the units a parse completes go: the caller's callback (which
/// also asks for the units' bytes), and the stream's index (`keep`).
pub(crate) struct Out<'o, 'c, S> {
    pub(crate) on_unit: Option<&'o mut OnUnit<'c, S>>,
    pub(crate) keep: bool,
}

/// One elementary stream being parsed: its framer, timestamp unwrapping,
/// the bytes of units not yet complete, and the offset of its first unit.
pub(crate) struct Elementary {
    pub(crate) framer: Framer,
    unwrap: Unwrap,
    asm: Assembly,
    /// Offset of the stream's first unit.
    first: Option<u64>,
    /// Frames the framer emitted, on their way to the stream's units.
    staged: Vec<Frame>,
}

impl Elementary {
    /// A stream framed by `framing`.
    pub(crate) fn new(framing: Framing) -> Self {
        Elementary {
            framer: Framer::new(framing),
            unwrap: Unwrap::default(),
            asm: Assembly::default(),
            first: None,
            staged: Vec::new(),
        }
    }

    /// A PES packet of the stream starts at file offset `offset`, with
    /// these 33-bit timestamps (the DTS defaults to the PTS).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start<S: Carried>(
        &mut self,
        stream: usize,
        s: &mut S,
        offset: u64,
        pts: Option<i64>,
        dts: Option<i64>,
        random_access: bool,
        out: &mut Out<'_, '_, S>,
    ) {
        let pts = pts.map(|t| self.unwrap.next(t));
        let dts = dts.map(|t| self.unwrap.next(t));
        self.framer
            .pes_start(offset, pts, dts.or(pts), random_access, &mut self.staged);
        self.flush(stream, s, out);
    }

    /// Payload bytes of the current PES packet.
    pub(crate) fn payload<S: Carried>(
        &mut self,
        stream: usize,
        s: &mut S,
        bytes: &[u8],
        out: &mut Out<'_, '_, S>,
    ) {
        let collect = out.on_unit.is_some();
        if collect {
            self.asm.add(self.framer.position(), bytes);
        }
        self.framer.push(bytes, &mut self.staged);
        self.flush(stream, s, out);
        if collect {
            self.asm.trim(self.framer.keep_from());
        }
    }

    /// A unit found whole outside any framer (a PSI section).
    pub(crate) fn whole<S: Carried>(
        &mut self,
        stream: usize,
        s: &mut S,
        f: &Frame,
        bytes: &[u8],
        out: &mut Out<'_, '_, S>,
    ) {
        if let Some(cb) = out.on_unit.as_mut() {
            cb(stream, s, f, Some(bytes));
        }
        self.first.get_or_insert(f.offset);
        if out.keep {
            s.parts().0.push(f);
        }
    }

    /// The end of the input: the last unit, the stream's properties, the
    /// codec names only the frames tell (MPEG audio layer, E-AC-3), and a
    /// warning at `path` for the bytes no frame holds.
    pub(crate) fn finish<S: Carried>(
        &mut self,
        stream: usize,
        s: &mut S,
        out: &mut Out<'_, '_, S>,
        diag: &mut Diag,
        path: &str,
    ) -> Result<()> {
        self.framer.finish(&mut self.staged);
        self.flush(stream, s, out);
        let info = self.framer.info;
        let (_, i, codec) = s.parts();
        *i = info;
        match self.framer.framing() {
            Framing::MpegAudio => {
                *codec = Some(match info.mpeg_audio_layer {
                    Some(1) => "mp1",
                    Some(2) => "mp2",
                    _ => "mp3",
                })
            }
            Framing::Ac3 if info.eac3 => *codec = Some("eac3"),
            _ => {}
        }
        if self.framer.skipped() > 0 {
            diag.note(
                self.first.unwrap_or(0),
                path,
                format!(
                    "{} bytes of the stream lie outside any frame (partial or damaged frames)",
                    self.framer.skipped()
                ),
            )?;
        }
        Ok(())
    }

    /// Hands the frames the framer staged over to the callback and the
    /// index.
    fn flush<S: Carried>(&mut self, stream: usize, s: &mut S, out: &mut Out<'_, '_, S>) {
        for f in self.staged.drain(..) {
            if let Some(cb) = out.on_unit.as_mut() {
                cb(stream, s, &f, self.asm.bytes(&f));
            }
            self.first.get_or_insert(f.offset);
            if out.keep {
                s.parts().0.push(&f);
            }
        }
    }
}

/// Longest PES header: 9 fixed bytes plus up to 255 optional ones.
pub(crate) const MAX_PES_HEADER: usize = 9 + 255;

/// How far past a unit's first packet reassembly looks for the rest of it.
pub(crate) const REASSEMBLY_WINDOW: usize = 64 << 20;

/// Reads a PES timestamp (5 bytes, 33 bits).
fn pes_ts(b: &[u8]) -> Option<i64> {
    let b = b.get(..5)?;
    Some(
        (((b[0] as i64 >> 1) & 7) << 30)
            | ((b[1] as i64) << 22)
            | (((b[2] as i64) >> 1) << 15)
            | ((b[3] as i64) << 7)
            | ((b[4] as i64) >> 1),
    )
}

/// Parses a PES header: (header length, PTS, DTS); `None` until enough bytes are present.
pub(crate) fn header(h: &[u8]) -> Option<(usize, Option<i64>, Option<i64>)> {
    if h.len() < 6 || h[0] != 0 || h[1] != 0 || h[2] != 1 {
        return None;
    }
    let sid = h[3];
    // Streams without the optional header.
    if matches!(sid, 0xbc | 0xbe | 0xbf | 0xf0 | 0xf1 | 0xff | 0xf2 | 0xf8) {
        return Some((6, None, None));
    }
    if h.len() < 9 {
        return None;
    }
    if h[6] & 0xc0 != 0x80 {
        // MPEG-1 PES header: stuffing, optional STD buffer, timestamps.
        let mut at = 6;
        while h.get(at) == Some(&0xff) {
            at += 1;
        }
        let b = *h.get(at)?;
        if b & 0xc0 == 0x40 {
            at += 2;
        }
        let b = *h.get(at)?;
        return match b >> 4 {
            2 => Some((at + 5, pes_ts(h.get(at..)?), None)),
            3 => Some((at + 10, pes_ts(h.get(at..)?), pes_ts(h.get(at + 5..)?))),
            _ => Some((at + 1, None, None)),
        };
    }
    let len = 9 + h[8] as usize;
    if h.len() < len {
        return None;
    }
    // Timestamps are read only from the header data the PES header declares:
    // a flag set without the bytes to back it gives no timestamp.
    let flags = h[7] >> 6;
    let data = &h[9..len];
    let pts = if flags & 2 != 0 { pes_ts(data) } else { None };
    let dts = if flags == 3 {
        data.get(5..).and_then(pes_ts)
    } else {
        None
    };
    Some((len, pts, dts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_unwrap_across_the_33_bit_boundary() {
        let mut u = Unwrap::default();
        let wrap = 1i64 << 33;
        assert_eq!(u.next(wrap - 3000), wrap - 3000);
        assert_eq!(u.next(1000), wrap + 1000);
        assert_eq!(u.next(4000), wrap + 4000);
        // A small step back (B-frame reordering) is not a wrap.
        assert_eq!(u.next(2000), wrap + 2000);
    }

    #[test]
    fn pes_headers() {
        // MPEG-2 PES with PTS and DTS.
        let h = [
            0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 10, 0x31, 0, 3, 0x5f, 0x91, 0x11, 0, 3, 0x46, 0x51,
            0xaa,
        ];
        let (len, pts, dts) = header(&h).unwrap();
        assert_eq!(len, 19);
        // 0x31 00 03 5f 91 and 0x11 00 03 46 51, decoded by hand (ISO 13818-1 2.4.3.7).
        assert_eq!((pts, dts), (Some(45_000), Some(41_768)));
        // Too short: no answer yet rather than a wrong one.
        assert_eq!(header(&h[..12]), None);
        // Not a start code.
        assert_eq!(header(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), None);
        // Private stream 2 has no optional header.
        assert_eq!(header(&[0, 0, 1, 0xbf, 0, 4]), Some((6, None, None)));
    }

    #[test]
    fn timestamp_flags_beyond_the_declared_header_give_no_timestamp() {
        // PTS and DTS flagged, but the header data length (4) covers neither
        // fully: the header is 13 bytes and nothing past it is read.
        let h = [0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 4, 0x31, 0, 3, 0x5f];
        assert_eq!(header(&h), Some((13, None, None)));
        // Length 5 covers the PTS only.
        let h = [0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 5, 0x31, 0, 3, 0x5f, 0x91];
        assert_eq!(header(&h), Some((14, Some(45_000), None)));
    }
}
