//! FLV: the header, audio and video tags (AVC/HEVC and AAC sequence
//! headers, composition times), and the `onMetaData` script tag (AMF0).
//! Zero-copy and bounded: the index holds 24 bytes per packet and AMF
//! values nest at most 16 deep.
//!
//! Packets are counted as FFmpeg counts them: sequence headers and
//! end-of-sequence tags carry configuration, not media, and are no packet.
//!
//! ```
//! use custody_container::{Limits, flv::Flv};
//! let file = custody_testkit::flv::tiny(4);
//! let flv = Flv::parse(&file, Limits::default()).unwrap();
//! assert_eq!(flv.tracks[0].codec(), Some("h264"));
//! assert_eq!(flv.tracks[0].packets().len(), 4);
//! assert_eq!(flv.tracks[0].config().map(|c| c.len()), Some(15));
//! ```

use crate::bmff::plan::ReadAt;
use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use std::ops::Range;

/// A packet: the tag's media bytes and times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvPacket {
    /// Offset of the media bytes (after the codec's tag header).
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Decode time in milliseconds.
    pub dts: i64,
    /// Presentation time in milliseconds (AVC/HEVC composition time added).
    pub pts: i64,
    /// Key frame (video frame type 1; every audio packet).
    pub key: bool,
}

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlvKind {
    /// Video tags (type 9).
    Video,
    /// Audio tags (type 8).
    Audio,
}

/// One of the file's two possible tracks.
#[derive(Debug, Clone)]
pub struct FlvTrack<'a> {
    /// Audio or video.
    pub kind: FlvKind,
    /// The FLV codec id (video: 7 AVC, 12 HEVC, 2 Sorenson H.263, ...;
    /// audio: 10 AAC, 2 MP3, 7 A-law, 8 mu-law, ...).
    pub codec_id: u8,
    /// Audio: sampling rate from the tag flags (5 512 to 44 100 Hz).
    pub flag_rate: Option<u32>,
    /// Audio: 16-bit samples (tag flags).
    pub sixteen_bit: bool,
    /// Audio: stereo (tag flags).
    pub stereo: bool,
    config: Option<&'a [u8]>,
    packets: Vec<FlvPacket>,
}

impl<'a> FlvTrack<'a> {
    /// The packets, in file order.
    pub fn packets(&self) -> &[FlvPacket] {
        &self.packets
    }

    /// The first sequence header: `avcC`/`hvcC` record or AudioSpecificConfig.
    pub fn config(&self) -> Option<&'a [u8]> {
        self.config
    }

    /// FFmpeg's codec name.
    pub fn codec(&self) -> Option<&'static str> {
        Some(match (self.kind, self.codec_id) {
            (FlvKind::Video, 2) => "flv1",
            (FlvKind::Video, 3) => "flashsv",
            (FlvKind::Video, 4) => "vp6f",
            (FlvKind::Video, 5) => "vp6a",
            (FlvKind::Video, 6) => "flashsv2",
            (FlvKind::Video, 7) => "h264",
            (FlvKind::Video, 12) => "hevc",
            (FlvKind::Audio, 0 | 3) if !self.sixteen_bit => "pcm_u8",
            (FlvKind::Audio, 0 | 3) => "pcm_s16le",
            (FlvKind::Audio, 1) => "adpcm_swf",
            (FlvKind::Audio, 2 | 14) => "mp3",
            (FlvKind::Audio, 4..=6) => "nellymoser",
            (FlvKind::Audio, 7) => "pcm_alaw",
            (FlvKind::Audio, 8) => "pcm_mulaw",
            (FlvKind::Audio, 10) => "aac",
            (FlvKind::Audio, 11) => "speex",
            _ => return None,
        })
    }

    /// Whether packets carry the codec's own framing after a packet-type
    /// byte (AVC/HEVC: and a composition time).
    fn header_bytes(&self) -> usize {
        match (self.kind, self.codec_id) {
            (FlvKind::Video, 7 | 12) => 5,
            (FlvKind::Video, 4 | 5) => 2,
            (FlvKind::Video, _) => 1,
            (FlvKind::Audio, 10) => 2,
            (FlvKind::Audio, _) => 1,
        }
    }

    /// Picture size from the sequence header's SPS.
    pub fn picture_size(&self) -> Option<(u32, u32)> {
        let kind = match self.codec_id {
            7 => b"avcC",
            12 => b"hvcC",
            _ => return None,
        };
        crate::codec::picture_size(kind, self.config?)
    }

    /// Audio sample rate and channels: the AudioSpecificConfig's for AAC,
    /// else the tag flags'.
    pub fn audio_format(&self) -> (Option<u32>, Option<u32>) {
        if self.codec_id == 10
            && let Some(a) = self.config.and_then(crate::codec::audio_specific_config)
        {
            return (Some(a.sample_rate), a.channels);
        }
        let rate = match self.codec_id {
            4 => Some(16_000),
            5 | 14 => Some(8_000),
            _ => self.flag_rate,
        };
        (rate, Some(if self.stereo { 2 } else { 1 }))
    }
}

/// An AMF0 value from the script tag, flattened to what a probe reports.
#[derive(Debug, Clone, PartialEq)]
pub enum AmfValue {
    /// Number.
    Number(f64),
    /// Boolean.
    Bool(bool),
    /// String.
    Text(String),
}

/// A parsed FLV file.
#[derive(Debug, Clone)]
pub struct Flv<'a> {
    /// The whole input.
    pub data: &'a [u8],
    /// The tracks, in the order their first tag appears.
    pub tracks: Vec<FlvTrack<'a>>,
    /// `onMetaData` entries (numbers, booleans, strings; nested objects
    /// as `outer.inner`), in file order.
    pub metadata: Vec<(String, AmfValue)>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

/// Bytes of a tag header.
const TAG_HEADER: u64 = 11;

impl<'a> Flv<'a> {
    /// Parses an FLV file: tags are walked front to back; a tag cut by the
    /// end of the file, or one of an unknown type, ends the walk with a
    /// warning (strict mode: an error).
    pub fn parse(data: &'a [u8], limits: Limits) -> Result<Flv<'a>> {
        let mut diag = Diag::new(limits.strict);
        if data.get(..3) != Some(b"FLV") || data.len() < 9 {
            return Err(Error::new(0, "", ErrorKind::Unrecognised));
        }
        let header = u32::from_be_bytes(data[5..9].try_into().expect("4 bytes")) as u64;
        let mut flv = Flv {
            data,
            tracks: Vec::new(),
            metadata: Vec::new(),
            warnings: Vec::new(),
        };
        let len = data.len() as u64;
        // The header, then PreviousTagSize0.
        let mut at = header.max(9) + 4;
        while at + TAG_HEADER <= len {
            crate::cost::step(1);
            let a = at as usize;
            let kind = data[a] & 0x1f;
            let size = u32::from_be_bytes([0, data[a + 1], data[a + 2], data[a + 3]]) as u64;
            let ts = u32::from_be_bytes([data[a + 7], data[a + 4], data[a + 5], data[a + 6]]);
            let body = at + TAG_HEADER;
            let end = body + size;
            if end > len {
                diag.note(
                    at,
                    "flv/tag",
                    format!(
                        "tag of {size} bytes, {} present (truncated recording)",
                        len - body
                    ),
                )?;
                break;
            }
            let b = &data[body as usize..end as usize];
            match kind {
                8 | 9 if !b.is_empty() => flv.media(kind, b, body, ts as i32 as i64),
                8 | 9 => {}
                18 => {
                    if flv.metadata.is_empty() {
                        script(b, &mut flv.metadata);
                    }
                }
                _ => {
                    diag.note(at, "flv/tag", format!("tag of unknown type {kind}"))?;
                    break;
                }
            }
            at = end + 4;
        }
        flv.warnings = diag.warnings;
        Ok(flv)
    }

    /// One audio or video tag's body `b` at `body`.
    fn media(&mut self, kind: u8, b: &'a [u8], body: u64, dts: i64) {
        let k = if kind == 9 {
            FlvKind::Video
        } else {
            FlvKind::Audio
        };
        let (codec_id, key) = match k {
            FlvKind::Video => (b[0] & 0x0f, b[0] >> 4 == 1),
            FlvKind::Audio => (b[0] >> 4, true),
        };
        if k == FlvKind::Video && b[0] >> 4 == 5 {
            // Video info/command frame: no picture.
            return;
        }
        let t = match self.tracks.iter().position(|t| t.kind == k) {
            Some(i) => i,
            None => {
                self.tracks.push(FlvTrack {
                    kind: k,
                    codec_id,
                    flag_rate: (k == FlvKind::Audio)
                        .then(|| [5_512, 11_025, 22_050, 44_100][(b[0] >> 2 & 3) as usize]),
                    sixteen_bit: b[0] & 2 != 0,
                    stereo: b[0] & 1 != 0,
                    config: None,
                    packets: Vec::new(),
                });
                self.tracks.len() - 1
            }
        };
        let track = &mut self.tracks[t];
        let skip = track.header_bytes();
        let Some(media) = b.get(skip..) else { return };
        let mut pts = dts;
        if track.header_bytes() == 5 || (k == FlvKind::Audio && codec_id == 10) {
            // AVC/HEVC/AAC packet type: 0 sequence header, 1 media, 2 end of sequence.
            match b.get(1) {
                Some(0) => {
                    track.config.get_or_insert(media);
                    return;
                }
                Some(1) => {}
                _ => return,
            }
            if skip == 5 {
                let ct = i32::from_be_bytes([0, b[2], b[3], b[4]]) << 8 >> 8;
                pts = dts + ct as i64;
            }
        }
        track.packets.push(FlvPacket {
            offset: body + skip as u64,
            size: media.len() as u32,
            dts,
            pts,
            key,
        });
    }

    /// A packet's bytes: a slice of the input.
    pub fn bytes(&self, p: &FlvPacket) -> &'a [u8] {
        &self.data[p.offset as usize..(p.offset + p.size as u64) as usize]
    }

    /// `onMetaData`'s `duration`, in seconds.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.metadata
            .iter()
            .find_map(|(k, v)| match (k.as_str(), v) {
                ("duration", AmfValue::Number(d)) if d.is_finite() && *d >= 0.0 => Some(*d),
                _ => None,
            })
    }
}

/// Reads the script tag `onMetaData` into `out`.
fn script(b: &[u8], out: &mut Vec<(String, AmfValue)>) {
    let mut at = 0;
    // The event name, then its value.
    let Some(AmfRead::Value(AmfValue::Text(name))) = amf(b, &mut at, "", 0, out) else {
        return;
    };
    if name == "onMetaData" {
        let _ = amf(b, &mut at, "", 0, out);
    }
}

enum AmfRead {
    Value(AmfValue),
    /// An object or array, its entries added to the output.
    Nested,
    /// The object-end marker.
    End,
}

/// Reads one AMF0 value at `*at`; nested entries are added to `out` under
/// `prefix`. `None` when the bytes end or the type is unknown.
fn amf(
    b: &[u8],
    at: &mut usize,
    prefix: &str,
    depth: u32,
    out: &mut Vec<(String, AmfValue)>,
) -> Option<AmfRead> {
    let t = *b.get(*at)?;
    *at += 1;
    let u16at = |at: usize| Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?));
    let text = |at: &mut usize, n: usize| {
        let s = b.get(*at..at.checked_add(n)?)?;
        *at += n;
        Some(String::from_utf8_lossy(s).into_owned())
    };
    Some(match t {
        0 => {
            let v = f64::from_be_bytes(b.get(*at..*at + 8)?.try_into().ok()?);
            *at += 8;
            AmfRead::Value(AmfValue::Number(v))
        }
        1 => {
            let v = *b.get(*at)? != 0;
            *at += 1;
            AmfRead::Value(AmfValue::Bool(v))
        }
        2 => {
            let n = u16at(*at)? as usize;
            *at += 2;
            AmfRead::Value(AmfValue::Text(text(at, n)?))
        }
        12 => {
            let n = u32::from_be_bytes(b.get(*at..*at + 4)?.try_into().ok()?) as usize;
            *at += 4;
            AmfRead::Value(AmfValue::Text(text(at, n)?))
        }
        3 | 8 => {
            if t == 8 {
                *at += 4; // the ECMA array's approximate count
            }
            if depth >= 16 {
                return None;
            }
            loop {
                let n = u16at(*at)? as usize;
                *at += 2;
                let key = text(at, n)?;
                if n == 0 && b.get(*at) == Some(&9) {
                    *at += 1;
                    break;
                }
                let name = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                match amf(b, at, &name, depth + 1, out)? {
                    AmfRead::Value(v) => {
                        if out.len() < 4096 {
                            out.push((name, v));
                        }
                    }
                    AmfRead::Nested => {}
                    AmfRead::End => break,
                }
            }
            AmfRead::Nested
        }
        10 => {
            let n = u32::from_be_bytes(b.get(*at..*at + 4)?.try_into().ok()?) as usize;
            *at += 4;
            if depth >= 16 {
                return None;
            }
            for i in 0..n.min(b.len()) {
                let name = format!("{prefix}.{i}");
                if let AmfRead::Value(v) = amf(b, at, &name, depth + 1, out)?
                    && out.len() < 4096
                {
                    out.push((name, v));
                }
            }
            AmfRead::Nested
        }
        11 => {
            let v = f64::from_be_bytes(b.get(*at..*at + 8)?.try_into().ok()?);
            *at += 10;
            AmfRead::Value(AmfValue::Number(v))
        }
        5 | 6 => AmfRead::Nested,
        9 => AmfRead::End,
        _ => return None,
    })
}

/// The byte ranges of a `len`-byte FLV file that probing it reads, found
/// with one small read per tag: the file header, every tag's header and
/// the first bytes of its body (codec, packet type, composition time), and
/// the whole of `onMetaData` and of each sequence header; never the
/// frames. A probe of an image holding only the ranges equals a probe of
/// the file.
///
/// ```
/// use custody_container::flv::probe_ranges;
/// let file = custody_testkit::flv::tiny(30);
/// let ranges = probe_ranges(file.len() as u64, &mut |at, buf| {
///     buf.copy_from_slice(&file[at as usize..at as usize + buf.len()]);
///     Ok(())
/// })
/// .unwrap();
/// let mut image = vec![0u8; file.len()];
/// for r in ranges {
///     let r = r.start as usize..r.end as usize;
///     image[r.clone()].copy_from_slice(&file[r]);
/// }
/// let probe = |d: &[u8]| format!("{:?}", custody_container::probe(d, Default::default()));
/// assert_eq!(probe(&image), probe(&file));
/// ```
pub fn probe_ranges(len: u64, read_at: &mut ReadAt<'_>) -> std::io::Result<Vec<Range<u64>>> {
    // The file header (and the first PreviousTagSize).
    let mut out = Vec::new();
    out.push(0..len.min(13));
    if len < 9 {
        return Ok(out);
    }
    let mut h = [0u8; 9];
    read_at(0, &mut h)?;
    let header = u32::from_be_bytes(h[5..9].try_into().expect("4 bytes")) as u64;
    let mut at = header.max(9) + 4;
    while at + TAG_HEADER <= len {
        // The tag header and up to 5 bytes of its body, in one read.
        let n = (len - at).min(TAG_HEADER + 5) as usize;
        let mut t = [0u8; TAG_HEADER as usize + 5];
        read_at(at, &mut t[..n])?;
        out.push(at..at + n as u64);
        let kind = t[0] & 0x1f;
        let size = u32::from_be_bytes([0, t[1], t[2], t[3]]) as u64;
        let body = at + TAG_HEADER;
        let end = body + size;
        if end > len {
            break;
        }
        match kind {
            // A sequence header (packet type 0) is kept whole.
            8 | 9 if n > TAG_HEADER as usize + 1 && t[TAG_HEADER as usize + 1] == 0 => {
                out.push(body..end)
            }
            8 | 9 => {}
            18 => out.push(body..end),
            _ => break,
        }
        at = end + 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_packets_of_a_small_file() {
        let f = custody_testkit::flv::tiny(6);
        let flv = Flv::parse(&f, Limits::default()).unwrap();
        assert_eq!(flv.duration_seconds(), Some(0.2));
        assert!(
            flv.metadata
                .iter()
                .any(|(k, v)| k == "encoder" && *v == AmfValue::Text("testkit".into()))
        );
        let v = &flv.tracks[0];
        assert_eq!(v.packets().len(), 6);
        assert_eq!(v.packets().iter().filter(|p| p.key).count(), 1);
        assert!(
            v.packets()
                .iter()
                .all(|p| flv.bytes(p)[..4] == [0, 0, 0, 2])
        );
        // Cut anywhere: never a panic, packets kept are whole and the same.
        for cut in 0..f.len() {
            if let Ok(c) = Flv::parse(&f[..cut], Limits::default())
                && let Some(t) = c.tracks.first()
            {
                assert_eq!(t.packets(), &v.packets()[..t.packets().len()]);
            }
        }
    }

    #[test]
    fn amf_nesting_is_bounded() {
        // 100 nested objects: read to depth 16, then given up, without overflow.
        let mut b = vec![2, 0, 10];
        b.extend_from_slice(b"onMetaData");
        for _ in 0..100 {
            b.extend_from_slice(&[3, 0, 1, b'a']);
        }
        let mut out = Vec::new();
        script(&b, &mut out);
        assert!(out.is_empty());
    }
}
