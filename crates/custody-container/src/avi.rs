//! AVI and OpenDML AVI: `hdrl` (`avih`, `strl` with `strh`, `strf`,
//! `strn`, `indx`), `odml/dmlh`, the `movi` lists of the first `RIFF AVI `
//! and of every `RIFF AVIX` extension past 1 GB, and the packet index from,
//! in that order of preference, the OpenDML super-index and its `ix##`
//! standard indexes, the legacy `idx1`, or a scan of the `movi` lists
//! (files whose index was never written: a recorder that lost power).
//! Zero-copy and bounded: the index holds 16 bytes per packet, every count
//! is bounded by the bytes present, and each `ix##` chunk is read once.
//!
//! Packets are listed as FFmpeg reads them: empty video chunks (dropped
//! frames) keep their time but are no packet; constant-rate audio (PCM)
//! chunks are read 1024 blocks at a time.
//!
//! ```
//! use custody_container::{Limits, avi::Avi};
//! let file = custody_testkit::avi::tiny_mjpeg_avi(3);
//! let avi = Avi::parse(&file, Limits::default()).unwrap();
//! assert_eq!(avi.streams[0].codec(), Some("mjpeg"));
//! assert_eq!(avi.packets(0).count(), 3);
//! ```

use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use crate::fourcc::FourCC;
use crate::riff::{Chunk, chunks, fourcc, le16, le32, le64, text};

/// `idx1` flag: the chunk is a key frame.
const AVIIF_KEYFRAME: u32 = 0x10;

/// What a stream carries (`strh` `fccType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AviKind {
    /// `vids`
    Video,
    /// `auds`
    Audio,
    /// `txts`
    Text,
    /// Anything else (`mids`, `iavs`, ...).
    Other,
}

/// The stream format (`strf`), by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// `BITMAPINFOHEADER`.
    Video {
        /// Width in pixels.
        width: u32,
        /// Height in pixels (top-down pictures store it negative; this is its size).
        height: u32,
        /// `biCompression`.
        compression: FourCC,
    },
    /// `WAVEFORMATEX`.
    Audio(crate::wav::WaveFormat),
    /// Anything else, or a format too short to read.
    Raw,
}

/// One stream (`strl`).
#[derive(Debug, Clone)]
pub struct AviStream {
    /// Kind (`fccType`).
    pub kind: AviKind,
    /// `fccHandler`.
    pub handler: FourCC,
    /// Time base numerator (`dwScale`).
    pub scale: u32,
    /// Time base denominator (`dwRate`): `rate / scale` units per second.
    pub rate: u32,
    /// Start, in units.
    pub start: u32,
    /// Length in units, as the header declares it.
    pub length: u32,
    /// Bytes per unit of constant-size audio (`dwSampleSize`), 0 when each chunk is one unit.
    pub sample_size: u32,
    /// The format.
    pub format: StreamFormat,
    /// `strn`: the stream's name.
    pub name: Option<String>,
    /// The `strf` chunk's offset and size (kept raw: codec extradata).
    pub strf: Option<(u64, u32)>,
    /// The `strd` chunk's offset and size (vendor data, kept raw).
    pub strd: Option<(u64, u32)>,
    /// Chunks of this stream: data offset, size, key frame, in file order.
    chunks: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    offset: u64,
    size: u32,
    key: bool,
}

/// A packet: where its bytes are and when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AviPacket {
    /// Offset of the bytes in the file.
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Time in the stream's units (`scale / rate` seconds each).
    pub time: u64,
    /// Key frame.
    pub key: bool,
}

impl AviStream {
    /// FFmpeg's codec name: video by its FourCC (`biCompression`, else
    /// `fccHandler`), audio by its WAVE format tag.
    pub fn codec(&self) -> Option<&'static str> {
        match self.format {
            StreamFormat::Video { compression, .. } => {
                video_codec(compression).or_else(|| video_codec(self.handler))
            }
            StreamFormat::Audio(f) => crate::wav::codec_name(f.tag, f.bits_per_sample),
            StreamFormat::Raw => None,
        }
    }

    /// The codec tag probe output shows: the FourCC, or the WAVE tag (`0x0055`).
    pub fn codec_tag(&self) -> Option<String> {
        match self.format {
            StreamFormat::Video { compression, .. } if compression.0 != [0; 4] => {
                Some(compression.to_string())
            }
            StreamFormat::Video { .. } => Some(self.handler.to_string()),
            StreamFormat::Audio(f) => Some(format!("{:#06x}", f.tag)),
            StreamFormat::Raw => None,
        }
    }

    /// Bytes each packet of constant-size audio holds at most (FFmpeg reads
    /// 1024 units at a time); `None` when each chunk is one packet.
    fn piece(&self) -> Option<u64> {
        (self.kind == AviKind::Audio && self.sample_size > 1 && self.sample_size < 32)
            .then_some(1024 * self.sample_size as u64)
    }

    /// Units a chunk of `size` bytes spans.
    fn units(&self, size: u64) -> u64 {
        if self.sample_size > 0 {
            size / self.sample_size as u64
        } else {
            1
        }
    }

    /// Duration in seconds of the chunks present.
    pub fn duration_seconds(&self) -> Option<f64> {
        if self.rate == 0 || self.scale == 0 {
            return None;
        }
        let units: u64 = self.chunks.iter().map(|c| self.units(c.size as u64)).sum();
        Some(units as f64 * self.scale as f64 / self.rate as f64)
    }

    /// Audio sample rate (from the format, else the time base).
    pub fn sample_rate(&self) -> Option<u32> {
        match self.format {
            StreamFormat::Audio(f) if f.sample_rate > 0 => Some(f.sample_rate),
            _ => None,
        }
    }
}

/// A parsed AVI file.
#[derive(Debug, Clone)]
pub struct Avi<'a> {
    /// The whole input.
    pub data: &'a [u8],
    /// Microseconds per frame (`avih`).
    pub usec_per_frame: Option<u32>,
    /// Frames of the whole file (`odml/dmlh`, else `avih`).
    pub total_frames: Option<u32>,
    /// The streams, in `strl` order (stream `n` owns chunks `nn..`).
    pub streams: Vec<AviStream>,
    /// Where the index came from: `odml`, `idx1` or `scan`.
    pub index: &'static str,
    /// `RIFF AVIX` extensions.
    pub extensions: u32,
    /// `LIST/INFO` items (`ISFT`, `ICRD`, ...), in file order.
    pub info: Vec<(FourCC, String)>,
    /// The `IDIT` chunk: the recording's date as the camera wrote it.
    pub idit: Option<String>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

/// The stream number of a `movi` chunk id (`00dc` -> 0), for data chunks.
fn stream_of(id: FourCC) -> Option<usize> {
    let [a, b, c, d] = id.0;
    if !(a.is_ascii_digit() && b.is_ascii_digit()) || [c, d] == *b"pc" || [a, b] == *b"ix" {
        return None;
    }
    Some(((a - b'0') * 10 + (b - b'0')) as usize)
}

impl<'a> Avi<'a> {
    /// Parses an AVI file. A cut file keeps the chunks it holds whole; an
    /// index entry that points past the end, an index of the wrong shape, a
    /// missing index, are warnings (strict mode: errors).
    pub fn parse(data: &'a [u8], limits: Limits) -> Result<Avi<'a>> {
        let mut diag = Diag::new(limits.strict);
        let len = data.len() as u64;
        if data.get(..4) != Some(b"RIFF") || data.get(8..12) != Some(b"AVI ") {
            return Err(Error::new(0, "", ErrorKind::Unrecognised));
        }
        let mut avi = Avi {
            data,
            usec_per_frame: None,
            total_frames: None,
            streams: Vec::new(),
            index: "scan",
            extensions: 0,
            info: Vec::new(),
            idit: None,
            warnings: Vec::new(),
        };
        // The RIFF lists: `AVI ` first, then `AVIX` extensions.
        let mut movis: Vec<(u64, u64)> = Vec::new();
        let mut idx1: Option<Chunk> = None;
        let mut supers: Vec<Vec<(u64, u32)>> = Vec::new();
        let mut have_hdrl = false;
        for riff in chunks(data, 0, len) {
            if riff.cut < riff.body + riff.size {
                diag.note(
                    riff.at,
                    "RIFF",
                    format!(
                        "RIFF list declares {} bytes, {} present (truncated recording)",
                        riff.size,
                        riff.cut - riff.body
                    ),
                )?;
            }
            let form = fourcc(data, riff.body as usize);
            match (riff.id.0, form.map(|f| f.0)) {
                (ref r, Some(ref f)) if r == b"RIFF" && (f == b"AVI " || f == b"AVIX") => {
                    if f == b"AVIX" {
                        avi.extensions += 1;
                    }
                }
                _ => {
                    diag.note(
                        riff.at,
                        "",
                        format!("{} chunk after the RIFF lists", riff.id),
                    )?;
                    break;
                }
            }
            for c in chunks(data, riff.body + 4, riff.cut) {
                let list = (c.id.0 == *b"LIST")
                    .then(|| fourcc(data, c.body as usize))
                    .flatten();
                match (c.id.0, list.map(|l| l.0)) {
                    (_, Some(l)) if l == *b"hdrl" && !have_hdrl => {
                        have_hdrl = true;
                        avi.header(c, &mut supers, &mut diag)?;
                    }
                    (_, Some(l)) if l == *b"movi" => movis.push((c.body + 4, c.cut)),
                    (_, Some(l)) if l == *b"INFO" => {
                        for item in chunks(data, c.body + 4, c.cut) {
                            let b = &data[item.body.min(item.cut) as usize..item.cut as usize];
                            avi.info.push((item.id, text(b)));
                        }
                    }
                    (id, None) if id == *b"idx1" && idx1.is_none() => idx1 = Some(c),
                    (id, None) if id == *b"IDIT" => {
                        avi.idit = Some(text(&data[c.body as usize..c.cut as usize]));
                    }
                    _ => {}
                }
            }
        }
        if !have_hdrl {
            return Err(Error::new(12, "RIFF/AVI ", ErrorKind::Missing("hdrl")));
        }
        // The index: OpenDML, else idx1 (which covers the first RIFF only),
        // else a scan of the movi lists.
        let odml = supers.iter().any(|s| !s.is_empty());
        if odml && avi.read_odml(&supers, &mut diag)? {
            avi.index = "odml";
        } else if let (Some(c), 0) = (idx1, avi.extensions) {
            avi.read_idx1(c, movis.first().map(|m| m.0 - 4), &mut diag)?;
            avi.index = "idx1";
        } else {
            if idx1.is_none() && !movis.is_empty() {
                diag.note(
                    movis[0].0,
                    "RIFF/movi",
                    "no index: the packets are found by walking the movi list",
                )?;
            }
            for (from, end) in &movis {
                avi.scan(*from, *end, 0);
            }
            avi.index = "scan";
        }
        avi.warnings = diag.warnings;
        Ok(avi)
    }

    /// Reads `hdrl`: `avih`, every `strl`, `odml/dmlh`.
    fn header(
        &mut self,
        hdrl: Chunk,
        supers: &mut Vec<Vec<(u64, u32)>>,
        diag: &mut Diag,
    ) -> Result<()> {
        let d = self.data;
        for c in chunks(d, hdrl.body + 4, hdrl.cut) {
            let b = &d[c.body as usize..c.cut as usize];
            let list = (c.id.0 == *b"LIST")
                .then(|| fourcc(d, c.body as usize))
                .flatten();
            match (c.id.0, list.map(|l| l.0)) {
                (id, None) if id == *b"avih" => {
                    self.usec_per_frame = le32(b, 0);
                    self.total_frames = self.total_frames.or(le32(b, 16));
                }
                (_, Some(l)) if l == *b"strl" => {
                    let (s, index) = self.stream(c, diag)?;
                    self.streams.push(s);
                    supers.push(index);
                }
                (_, Some(l)) if l == *b"odml" => {
                    for x in chunks(d, c.body + 4, c.cut) {
                        if x.id.0 == *b"dmlh"
                            && let Some(n) =
                                le32(d, x.body as usize).filter(|_| x.cut >= x.body + 4)
                        {
                            self.total_frames = Some(n);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// One `strl`: the stream and its OpenDML super-index entries.
    fn stream(&self, strl: Chunk, diag: &mut Diag) -> Result<(AviStream, Vec<(u64, u32)>)> {
        let d = self.data;
        let mut s = AviStream {
            kind: AviKind::Other,
            handler: FourCC([0; 4]),
            scale: 0,
            rate: 0,
            start: 0,
            length: 0,
            sample_size: 0,
            format: StreamFormat::Raw,
            name: None,
            strf: None,
            strd: None,
            chunks: Vec::new(),
        };
        let mut index = Vec::new();
        let mut strh = false;
        for c in chunks(d, strl.body + 4, strl.cut) {
            let b = &d[c.body as usize..c.cut as usize];
            match &c.id.0 {
                b"strh" => {
                    let Some(sample_size) = le32(b, 44) else {
                        return Err(Error::new(
                            c.at,
                            "hdrl/strl/strh",
                            ErrorKind::Invalid(format!("strh of {} bytes: 48 needed", b.len())),
                        ));
                    };
                    strh = true;
                    s.kind = match &b[..4] {
                        b"vids" => AviKind::Video,
                        b"auds" => AviKind::Audio,
                        b"txts" => AviKind::Text,
                        _ => AviKind::Other,
                    };
                    s.handler = fourcc(b, 4).unwrap_or(FourCC([0; 4]));
                    s.scale = le32(b, 20).unwrap_or(0);
                    s.rate = le32(b, 24).unwrap_or(0);
                    s.start = le32(b, 28).unwrap_or(0);
                    s.length = le32(b, 32).unwrap_or(0);
                    s.sample_size = sample_size;
                }
                b"strf" => {
                    s.strf = Some((c.body, b.len() as u32));
                    s.format = match s.kind {
                        AviKind::Video if b.len() >= 20 => StreamFormat::Video {
                            width: le32(b, 4).unwrap_or(0),
                            height: (le32(b, 8).unwrap_or(0) as i32).unsigned_abs(),
                            compression: fourcc(b, 16).unwrap_or(FourCC([0; 4])),
                        },
                        AviKind::Audio => crate::wav::parse_format(b)
                            .map_or(StreamFormat::Raw, StreamFormat::Audio),
                        _ => StreamFormat::Raw,
                    };
                }
                b"strd" => s.strd = Some((c.body, b.len() as u32)),
                b"strn" => s.name = Some(text(b)),
                // AVISUPERINDEX: wLongsPerEntry, bIndexSubType, bIndexType,
                // nEntriesInUse, dwChunkId, reserved[3], then 16-byte entries.
                b"indx" if b.get(3) == Some(&0) && le16(b, 0) == Some(4) => {
                    let n = le32(b, 4).unwrap_or(0) as usize;
                    let fit = b.len().saturating_sub(24) / 16;
                    if n > fit {
                        diag.note(
                            c.at,
                            "hdrl/strl/indx",
                            format!("super-index claims {n} entries, {fit} fit"),
                        )?;
                    }
                    for i in 0..n.min(fit) {
                        let e = 24 + 16 * i;
                        if let (Some(off), Some(size)) = (le64(b, e), le32(b, e + 8)) {
                            index.push((off, size));
                        }
                    }
                }
                _ => {}
            }
        }
        if !strh {
            return Err(Error::new(strl.at, "hdrl/strl", ErrorKind::Missing("strh")));
        }
        Ok((s, index))
    }

    /// Fills the streams from their OpenDML standard indexes; false (with
    /// a warning) when they cannot be used, so another index is taken.
    fn read_odml(&mut self, supers: &[Vec<(u64, u32)>], diag: &mut Diag) -> Result<bool> {
        let d = self.data;
        let len = d.len() as u64;
        // Each ix## chunk once, and no two overlapping: the work is bounded
        // by the file's size whatever the super-indexes say.
        let mut all: Vec<(u64, u64, usize)> = Vec::new();
        for (stream, entries) in supers.iter().enumerate() {
            for &(off, size) in entries {
                all.push((off, off.saturating_add(size as u64), stream));
            }
        }
        all.sort_unstable();
        if all.windows(2).any(|w| w[1].0 < w[0].1) {
            diag.note(
                all[0].0,
                "hdrl/strl/indx",
                "standard indexes overlap: the OpenDML index is not used",
            )?;
            return Ok(false);
        }
        let mut found = vec![Vec::new(); self.streams.len()];
        for (off, _, stream) in all {
            let path = format!("ix{stream:02}");
            if off.checked_add(32).is_none_or(|e| e > len) {
                diag.note(off, &path, "standard index beyond the end of the file")?;
                continue;
            }
            let at = off as usize;
            let size = le32(d, at + 4).unwrap_or(0) as u64;
            let b = &d[at + 8..(off + 8 + size).min(len) as usize];
            // AVISTDINDEX: wLongsPerEntry 2, type 1, nEntriesInUse,
            // dwChunkId, qwBaseOffset, reserved, then 8-byte entries.
            if le16(b, 0) != Some(2) || b.get(3) != Some(&1) {
                diag.note(off, &path, "not a standard index chunk")?;
                continue;
            }
            let n = le32(b, 4).unwrap_or(0) as usize;
            let base = le64(b, 12).unwrap_or(0);
            let fit = b.len().saturating_sub(24) / 8;
            if n > fit {
                diag.note(off, &path, format!("claims {n} entries, {fit} present"))?;
            }
            for i in 0..n.min(fit) {
                let e = 24 + 8 * i;
                crate::cost::step(1);
                let (Some(rel), Some(size)) = (le32(b, e), le32(b, e + 4)) else {
                    break;
                };
                found[stream].push(Entry {
                    offset: base.saturating_add(rel as u64),
                    size: size & 0x7fff_ffff,
                    key: size & 0x8000_0000 == 0,
                });
            }
        }
        for (s, entries) in self.streams.iter_mut().zip(found) {
            s.chunks = entries;
        }
        self.drop_beyond_end(diag)?;
        Ok(true)
    }

    /// Fills the streams from `idx1`, whose offsets count from the `movi`
    /// list's type (`movi_at`) or, in some files, from the file's start.
    fn read_idx1(&mut self, c: Chunk, movi_at: Option<u64>, diag: &mut Diag) -> Result<()> {
        let d = self.data;
        let b = &d[c.body as usize..c.cut as usize];
        let n = b.len() / 16;
        if (c.size as usize) / 16 > n {
            diag.note(
                c.at,
                "idx1",
                format!("index cut short: {n} entries present"),
            )?;
        }
        let entry = |i: usize| {
            let e = 16 * i;
            Some((
                fourcc(b, e)?,
                le32(b, e + 4)?,
                le32(b, e + 8)? as u64,
                le32(b, e + 12)?,
            ))
        };
        // Relative to `movi` unless the first entry's chunk header is at
        // its offset from the file's start instead.
        let m = movi_at.unwrap_or(0);
        let base = match entry(0) {
            Some((id, _, off, _))
                if fourcc(d, (m + off) as usize) != Some(id)
                    && fourcc(d, off as usize) == Some(id) =>
            {
                0
            }
            _ => m,
        };
        for i in 0..n {
            crate::cost::step(1);
            let Some((id, flags, off, size)) = entry(i) else {
                break;
            };
            let Some(stream) = stream_of(id).filter(|&s| s < self.streams.len()) else {
                continue;
            };
            self.streams[stream].chunks.push(Entry {
                offset: base.saturating_add(off).saturating_add(8),
                size,
                key: flags & AVIIF_KEYFRAME != 0,
            });
        }
        self.drop_beyond_end(diag)
    }

    /// Fills the streams by walking a `movi` list (and the `rec ` lists in it).
    fn scan(&mut self, from: u64, end: u64, depth: u32) {
        let d = self.data;
        for c in chunks(d, from, end) {
            if c.id.0 == *b"LIST" && depth < 2 {
                self.scan(c.body + 4, c.cut, depth + 1);
                continue;
            }
            if c.cut < c.body + c.size {
                // The last chunk, cut short: not a whole packet.
                break;
            }
            let Some(stream) = stream_of(c.id).filter(|&s| s < self.streams.len()) else {
                continue;
            };
            let bytes = &d[c.body as usize..c.cut as usize];
            let key = match self.streams[stream].kind {
                AviKind::Video => is_key(self.streams[stream].codec(), bytes),
                _ => true,
            };
            self.streams[stream].chunks.push(Entry {
                offset: c.body,
                size: c.size as u32,
                key,
            });
        }
    }

    /// Drops index entries whose bytes are not all in the file, with a warning.
    fn drop_beyond_end(&mut self, diag: &mut Diag) -> Result<()> {
        let len = self.data.len() as u64;
        for (i, s) in self.streams.iter_mut().enumerate() {
            let before = s.chunks.len();
            s.chunks
                .retain(|e| e.offset.saturating_add(e.size as u64) <= len);
            let lost = before - s.chunks.len();
            if lost > 0 {
                diag.note(
                    len,
                    &format!("stream {i}"),
                    format!(
                        "{lost} of {before} indexed chunks lie beyond the end of the file (truncated recording)"
                    ),
                )?;
            }
        }
        Ok(())
    }

    /// The packets of stream `stream`, as FFmpeg reads them.
    pub fn packets(&self, stream: usize) -> impl Iterator<Item = AviPacket> + '_ {
        let s = &self.streams[stream];
        let piece = s.piece();
        let mut time = 0u64;
        s.chunks.iter().flat_map(move |c| {
            let start = time;
            time += s.units(c.size as u64);
            let size = c.size as u64;
            let step = piece.unwrap_or(size).max(1);
            let n = if size == 0 { 0 } else { size.div_ceil(step) };
            (0..n).map(move |i| {
                let a = i * step;
                AviPacket {
                    offset: c.offset + a,
                    size: (step.min(size - a)) as u32,
                    time: start + s.units(a),
                    // Every audio packet is a random access point.
                    key: c.key || s.kind == AviKind::Audio,
                }
            })
        })
    }

    /// A packet's bytes: a slice of the input.
    pub fn bytes(&self, p: &AviPacket) -> &'a [u8] {
        &self.data[p.offset as usize..(p.offset + p.size as u64) as usize]
    }

    /// Duration of the file: the longest stream.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.streams
            .iter()
            .filter_map(|s| s.duration_seconds())
            .reduce(f64::max)
    }
}

/// FFmpeg's codec for a video FourCC (as `libavformat/riff.c` maps the
/// common ones).
pub(crate) fn video_codec(f: FourCC) -> Option<&'static str> {
    Some(match &f.0 {
        b"H264" | b"h264" | b"X264" | b"x264" | b"avc1" | b"AVC1" | b"DAVC" | b"VSSH" => "h264",
        b"HEVC" | b"hevc" | b"H265" | b"h265" | b"hvc1" | b"hev1" => "hevc",
        b"MJPG" | b"mjpg" | b"AVRn" | b"dmb1" | b"JPGL" | b"SPMP" | b"AVDJ" => "mjpeg",
        b"FMP4" | b"fmp4" | b"XVID" | b"xvid" | b"DIVX" | b"divx" | b"DX50" | b"dx50" | b"MP4V"
        | b"mp4v" | b"M4S2" | b"UMP4" | b"3IV2" | b"BLZ0" | b"DIGI" | b"SEDG" => "mpeg4",
        b"DIV3" | b"div3" | b"MP43" | b"mp43" | b"DIV4" | b"DIV5" | b"DIV6" | b"AP41" => {
            "msmpeg4v3"
        }
        b"MPG2" | b"mpg2" | b"MPEG" | b"mpeg" | b"MMES" | b"mmes" => "mpeg2video",
        b"mpg1" | b"MPG1" | b"PIM1" => "mpeg1video",
        b"H263" | b"h263" | b"U263" => "h263",
        b"dvsd" | b"DVSD" | b"dvhd" | b"dv25" | b"dv50" | b"CDVC" => "dvvideo",
        b"VP80" => "vp8",
        b"VP90" => "vp9",
        b"AV01" => "av1",
        b"WMV3" => "wmv3",
        b"WMV2" => "wmv2",
        b"WMV1" => "wmv1",
        b"WVC1" => "vc1",
        b"cvid" => "cinepak",
        b"MJ2C" => "jpeg2000",
        b"MPNG" | b"PNG1" => "png",
        b"\0\0\0\0" | b"RGB " | b"DIB " | b"I420" | b"IYUV" | b"YV12" | b"YUY2" | b"YUYV"
        | b"UYVY" | b"NV12" | b"NV21" | b"Y800" | b"Y8  " | b"GREY" | b"YV16" | b"Y42B"
        | b"Y41P" | b"YVU9" => "rawvideo",
        _ => return None,
    })
}

/// Whether a video chunk found by scanning is a key frame: intra-only
/// codecs always; H.264 / HEVC with an IDR/IRAP picture; MPEG-4 part 2
/// with an I-VOP; MPEG-2 with a sequence header; unknown codecs never.
fn is_key(codec: Option<&str>, b: &[u8]) -> bool {
    let codes = || {
        b.windows(4)
            .enumerate()
            .filter(|(_, w)| w[..3] == [0, 0, 1])
            .map(|(i, w)| (i, w[3]))
    };
    match codec {
        Some("mjpeg" | "rawvideo" | "dvvideo" | "png" | "jpeg2000") => true,
        Some("h264") => codes().any(|(_, h)| h & 0x1f == 5),
        Some("hevc") => codes().any(|(_, h)| (16..=23).contains(&((h >> 1) & 0x3f))),
        Some("mpeg4") => {
            codes().any(|(i, h)| h == 0xb6 && b.get(i + 4).is_some_and(|v| v >> 6 == 0))
        }
        Some("mpeg1video" | "mpeg2video") => codes().any(|(_, h)| h == 0xb3),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idx1_and_a_scan_agree_and_a_cut_file_keeps_its_whole_chunks() {
        let f = custody_testkit::avi::tiny_mjpeg_avi(10);
        let a = Avi::parse(&f, Limits::default()).unwrap();
        assert_eq!(a.index, "idx1");
        let indexed: Vec<_> = a.packets(0).collect();
        assert_eq!(indexed.len(), 10);
        assert!(indexed.iter().all(|p| a.bytes(p)[..2] == [0xff, 0xd8]));
        assert_eq!(a.streams[0].duration_seconds(), Some(10.0 / 30.0));
        // Without its index (cut before idx1, and mid-picture): the whole
        // pictures before the cut, found by scanning, at the same places.
        let idx1_at = f.windows(4).rposition(|w| w == b"idx1").unwrap();
        for cut in [idx1_at, idx1_at - 3] {
            let s = Avi::parse(&f[..cut], Limits::default()).unwrap();
            assert_eq!(s.index, "scan");
            let scanned: Vec<_> = s.packets(0).collect();
            let whole = if cut == idx1_at { 10 } else { 9 };
            assert_eq!(scanned, indexed[..whole], "cut at {cut}");
            assert!(!s.warnings.is_empty());
            assert!(
                Avi::parse(
                    &f[..cut],
                    Limits {
                        strict: true,
                        ..Limits::default()
                    }
                )
                .is_err()
            );
        }
    }

    #[test]
    fn hostile_headers_give_typed_errors() {
        let f = custody_testkit::avi::tiny_mjpeg_avi(2);
        for cut in 0..f.len() {
            let _ = Avi::parse(&f[..cut], Limits::default());
        }
        assert_eq!(
            Avi::parse(b"RIFF\0\0\0\0AVI ", Limits::default())
                .unwrap_err()
                .kind,
            ErrorKind::Missing("hdrl")
        );
        // An idx1 entry pointing far past the end is dropped, said so.
        let mut g = f.clone();
        let at = g.windows(4).rposition(|w| w == b"idx1").unwrap() + 16;
        g[at..at + 4].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
        let a = Avi::parse(&g, Limits::default()).unwrap();
        assert_eq!(a.packets(0).count(), 1);
        assert!(
            a.warnings
                .iter()
                .any(|w| w.message.contains("beyond the end"))
        );
    }
}
