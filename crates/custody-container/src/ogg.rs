//! Ogg: pages (CRC checked) to logical streams to packets, with Opus,
//! Vorbis, FLAC, Speex and Theora identified from their first packet.
//! A packet split across pages is the list of byte ranges that make it;
//! the index holds 12 bytes per range and 24 per packet.
//!
//! Packets are counted as FFmpeg counts them: the codec's header packets
//! (Opus 2, Vorbis 3, ...) carry configuration and are no packet, and an
//! empty packet is none.
//!
//! ```
//! use custody_container::{Limits, ogg::Ogg};
//! let file = custody_testkit::ogg::opus(10);
//! let ogg = Ogg::parse(&file, Limits::default()).unwrap();
//! let s = &ogg.streams[0];
//! assert_eq!((s.codec(), s.channels), (Some("opus"), Some(2)));
//! assert_eq!(ogg.packets(0).count(), 10);
//! ```

use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use std::borrow::Cow;

/// A packet: where its bytes are (one or more ranges) and the granule
/// position of the page it ends on, when it is the last to end there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OggPacket {
    first_span: u32,
    spans: u32,
    /// Total size in bytes.
    pub size: u32,
    /// The granule position of the page where the packet ends, when it is
    /// the last packet ending on that page (else `None`).
    pub granule: Option<i64>,
}

/// One logical stream.
#[derive(Debug, Clone, Default)]
pub struct OggStream {
    /// The stream's serial number.
    pub serial: u32,
    /// What the first packet says: `OpusHead`, `\x01vorbis`, ...
    codec: Option<&'static str>,
    /// Header packets the codec starts with (not media).
    headers: u32,
    /// Sample rate (Opus: always 48 kHz).
    pub sample_rate: Option<u32>,
    /// Channels.
    pub channels: Option<u32>,
    /// Opus pre-skip, in 48 kHz samples.
    pub pre_skip: u32,
    packets: Vec<OggPacket>,
}

impl OggStream {
    /// FFmpeg's codec name.
    pub fn codec(&self) -> Option<&'static str> {
        self.codec
    }

    /// Whether the stream is video (Theora).
    pub fn is_video(&self) -> bool {
        self.codec == Some("theora")
    }

    /// The media packets (header packets excluded).
    fn media(&self) -> &[OggPacket] {
        self.packets.get(self.headers as usize..).unwrap_or(&[])
    }

    /// Duration from the last granule position, in seconds.
    pub fn duration_seconds(&self) -> Option<f64> {
        let rate = self.sample_rate.filter(|&r| r > 0)?;
        if self.is_video() {
            return None;
        }
        let last = self.packets.iter().rev().find_map(|p| p.granule)?;
        let samples = last.checked_sub(self.pre_skip as i64)?;
        (samples >= 0).then(|| samples as f64 / rate as f64)
    }
}

/// A parsed Ogg file.
#[derive(Debug, Clone)]
pub struct Ogg<'a> {
    /// The whole input.
    pub data: &'a [u8],
    /// The logical streams, in order of their first page.
    pub streams: Vec<OggStream>,
    spans: Vec<(u64, u32)>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

/// The Ogg CRC (polynomial 0x04c11db7, no reflection), table-driven.
fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut r = (i as u32) << 24;
        for _ in 0..8 {
            r = if r & 0x8000_0000 != 0 {
                r << 1 ^ 0x04c1_1db7
            } else {
                r << 1
            };
        }
        *e = r;
    }
    t
}

fn page_crc(table: &[u32; 256], page: &[u8]) -> u32 {
    let mut crc = 0u32;
    for (i, &b) in page.iter().enumerate() {
        // The CRC field itself counts as zeros.
        let b = if (22..26).contains(&i) { 0 } else { b };
        crc = crc << 8 ^ table[((crc >> 24) as u8 ^ b) as usize];
    }
    crc
}

impl<'a> Ogg<'a> {
    /// Parses an Ogg file: pages in order; a page whose CRC fails, or
    /// bytes that are not a page, are skipped with a warning (strict mode:
    /// an error); a packet left unfinished by the end of the file or a
    /// skipped page is dropped.
    pub fn parse(data: &'a [u8], limits: Limits) -> Result<Ogg<'a>> {
        let mut diag = Diag::new(limits.strict);
        if !data.starts_with(b"OggS") {
            return Err(Error::new(0, "", ErrorKind::Unrecognised));
        }
        let table = crc_table();
        let mut ogg = Ogg {
            data,
            streams: Vec::new(),
            spans: Vec::new(),
            warnings: Vec::new(),
        };
        // Per stream: the ranges of the packet being assembled.
        let mut open: Vec<Vec<(u64, u32)>> = Vec::new();
        let mut at = 0usize;
        let mut checked = 0u64;
        while at + 27 <= data.len() {
            crate::cost::step(1);
            if &data[at..at + 4] != b"OggS" {
                let next = data[at + 1..]
                    .windows(4)
                    .position(|w| w == b"OggS")
                    .map(|i| at + 1 + i);
                diag.note(at as u64, "ogg", "bytes that are not a page are skipped")?;
                match next {
                    Some(n) => {
                        at = n;
                        continue;
                    }
                    None => break,
                }
            }
            let flags = data[at + 5];
            let granule = i64::from_le_bytes(data[at + 6..at + 14].try_into().expect("8"));
            let serial = u32::from_le_bytes(data[at + 14..at + 18].try_into().expect("4"));
            let crc = u32::from_le_bytes(data[at + 22..at + 26].try_into().expect("4"));
            let n = data[at + 26] as usize;
            let Some(lacing) = data.get(at + 27..at + 27 + n) else {
                diag.note(at as u64, "ogg", "page header cut by the end of the file")?;
                break;
            };
            let body: usize = lacing.iter().map(|&l| l as usize).sum();
            let end = at + 27 + n + body;
            if end > data.len() {
                diag.note(
                    at as u64,
                    "ogg",
                    "page cut by the end of the file (truncated recording)",
                )?;
                break;
            }
            // Damage makes pages overlap as the walk resynchronises: the
            // bytes checked are bounded by twice the input.
            checked += (end - at) as u64;
            if checked > 2 * data.len() as u64 + 65_536 {
                diag.note(at as u64, "ogg", "too much damage: the rest is not read")?;
                break;
            }
            if page_crc(&table, &data[at..end]) != crc {
                diag.note(at as u64, "ogg", "page CRC mismatch: the page is skipped")?;
                if let Some(i) = ogg.streams.iter().position(|s| s.serial == serial) {
                    open[i].clear();
                }
                at += 1;
                continue;
            }
            let s = match ogg.streams.iter().position(|s| s.serial == serial) {
                Some(i) => i,
                None => {
                    ogg.streams.push(OggStream {
                        serial,
                        ..OggStream::default()
                    });
                    open.push(Vec::new());
                    ogg.streams.len() - 1
                }
            };
            if flags & 1 == 0 && !open[s].is_empty() {
                // A continued packet whose continuation never came.
                open[s].clear();
            }
            let mut pos = (at + 27 + n) as u64;
            let mut seg_start = pos;
            // The granule position belongs to the last packet ending here.
            let mut left = lacing.iter().filter(|&&l| l < 255).count();
            for &l in lacing {
                crate::cost::step(1);
                pos += l as u64;
                if l < 255 {
                    open[s].push((seg_start, (pos - seg_start) as u32));
                    left -= 1;
                    ogg.finish(s, &open[s], (left == 0).then_some(granule));
                    open[s].clear();
                    seg_start = pos;
                }
            }
            if pos > seg_start {
                open[s].push((seg_start, (pos - seg_start) as u32));
            }
            at = end;
        }
        if open.iter().any(|o| !o.is_empty()) {
            diag.note(
                data.len() as u64,
                "ogg",
                "a packet left unfinished at the end of the file",
            )?;
        }
        ogg.warnings = diag.warnings;
        Ok(ogg)
    }

    /// Adds a finished packet to stream `s` (merging adjacent ranges).
    fn finish(&mut self, s: usize, ranges: &[(u64, u32)], granule: Option<i64>) {
        let first_span = self.spans.len();
        for &(off, len) in ranges {
            let n = self.spans.len();
            match self.spans.last_mut() {
                Some(last) if n > first_span && last.0 + last.1 as u64 == off => last.1 += len,
                _ => self.spans.push((off, len)),
            }
        }
        let merged = &self.spans[first_span..];
        let size = merged.iter().map(|r| r.1).sum();
        let stream = &mut self.streams[s];
        let head = merged.first().map_or(&[][..], |&(o, l)| {
            &self.data[o as usize..o as usize + l as usize]
        });
        if stream.packets.is_empty() {
            identify(stream, head);
        } else if stream.codec == Some("flac")
            && stream.packets.len() == stream.headers as usize
            && head.first().is_some_and(|&b| b != 0xff)
        {
            // Ogg FLAC may not count its metadata blocks: each one before
            // the first frame (frames start 0xFF) is a header.
            stream.headers += 1;
        }
        stream.packets.push(OggPacket {
            first_span: first_span as u32,
            spans: merged.len() as u32,
            size,
            granule,
        });
    }

    /// The media packets of stream `s`, in order (empty packets, which
    /// carry no media, left out as FFmpeg leaves them).
    pub fn packets(&self, s: usize) -> impl Iterator<Item = &OggPacket> + '_ {
        self.streams[s].media().iter().filter(|p| p.size > 0)
    }

    /// A packet's bytes: a slice of the input, or assembled from the
    /// pieces of a packet split across pages.
    pub fn bytes(&self, p: &OggPacket) -> Cow<'a, [u8]> {
        let spans = &self.spans[p.first_span as usize..(p.first_span + p.spans) as usize];
        let piece = |&(o, l): &(u64, u32)| &self.data[o as usize..o as usize + l as usize];
        match spans {
            [one] => Cow::Borrowed(piece(one)),
            many => Cow::Owned(many.iter().flat_map(piece).copied().collect()),
        }
    }

    /// The first byte of a packet.
    pub fn offset(&self, p: &OggPacket) -> u64 {
        self.spans.get(p.first_span as usize).map_or(0, |s| s.0)
    }
}

/// Fills a stream's codec and format from its first packet.
fn identify(s: &mut OggStream, p: &[u8]) {
    let le32 = |at: usize| {
        p.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4")))
    };
    if p.starts_with(b"OpusHead") {
        s.codec = Some("opus");
        s.headers = 2;
        s.sample_rate = Some(48_000);
        s.channels = p.get(9).map(|&c| c as u32);
        s.pre_skip = p
            .get(10..12)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as u32);
    } else if p.starts_with(b"\x01vorbis") {
        s.codec = Some("vorbis");
        s.headers = 3;
        s.channels = p.get(11).map(|&c| c as u32);
        s.sample_rate = le32(12);
    } else if p.starts_with(b"\x7fFLAC") {
        s.codec = Some("flac");
        s.headers = 1 + p
            .get(7..9)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as u32);
        // STREAMINFO after "fLaC" and a 4-byte block header: rate (20 bits),
        // channels - 1 (3 bits).
        if let Some(b) = p.get(27..31) {
            s.sample_rate = Some((b[0] as u32) << 12 | (b[1] as u32) << 4 | (b[2] as u32) >> 4);
            s.channels = Some(((b[2] >> 1) & 7) as u32 + 1);
        }
    } else if p.starts_with(b"Speex   ") {
        s.codec = Some("speex");
        s.headers = 2 + le32(68).unwrap_or(0).min(16);
        s.sample_rate = le32(36);
        s.channels = le32(48);
    } else if p.starts_with(b"\x80theora") {
        s.codec = Some("theora");
        s.headers = 3;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_split_across_pages_are_whole_and_damage_is_skipped() {
        let f = custody_testkit::ogg::opus(40);
        let ogg = Ogg::parse(&f, Limits::default()).unwrap();
        assert!(ogg.warnings.is_empty(), "{:?}", ogg.warnings);
        let sizes: Vec<usize> = ogg.packets(0).map(|p| ogg.bytes(p).len()).collect();
        // The writer makes packet i of 100 + 13 i bytes: some span pages.
        assert_eq!(sizes, (0..40).map(|i| 100 + 13 * i).collect::<Vec<_>>());
        assert!(ogg.packets(0).any(|p| p.spans > 1));
        for (i, p) in ogg.packets(0).enumerate() {
            assert!(ogg.bytes(p).iter().all(|&b| b == i as u8));
        }
        assert_eq!(
            ogg.streams[0].duration_seconds(),
            Some((40.0 * 960.0 - 312.0) / 48_000.0)
        );
        // A flipped byte fails a page's CRC: that page's packets are dropped.
        let mut g = f.clone();
        let n = g.len();
        g[n / 2] ^= 1;
        let bad = Ogg::parse(&g, Limits::default()).unwrap();
        assert!(bad.packets(0).count() < 40);
        assert!(bad.warnings.iter().any(|w| w.message.contains("CRC")));
        for cut in 0..f.len() {
            let _ = Ogg::parse(&f[..cut], Limits::default());
        }
    }
}
