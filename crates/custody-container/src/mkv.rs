//! Matroska and WebM: the EBML header, `Info` (timestamp scale, duration,
//! `DateUTC`), `Tracks` (codec ids to FFmpeg names, `CodecPrivate`, video
//! and audio settings), `Cluster`s with `SimpleBlock` and `BlockGroup`
//! (Xiph, EBML and fixed lacing), `Cues`, `Tags` and `Chapters`; elements
//! of unknown size (live recordings) and files cut short.
//!
//! Zero-copy and bounded: the index holds 32 bytes per frame, nesting is
//! limited by [`Limits::max_depth`], and every size is checked against the
//! bytes its parent holds. Each laced frame is a packet, as FFmpeg counts.
//!
//! ```
//! use custody_container::{Limits, mkv::Mkv};
//! let file = custody_testkit::mkv::tiny(5, 0);
//! let mkv = Mkv::parse(&file, Limits::default()).unwrap();
//! assert_eq!(mkv.tracks[0].codec(), Some("mjpeg"));
//! assert_eq!(mkv.tracks[0].frames().len(), 5);
//! ```

use crate::bmff::plan::ReadAt;
use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use std::collections::HashMap;
use std::ops::Range;

/// Element ids (with their length markers, as the specification writes them).
mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const DATE_UTC: u32 = 0x4461;
    pub const TITLE: u32 = 0x7BA9;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const LANGUAGE: u32 = 0x22_B59C;
    pub const NAME: u32 = 0x536E;
    pub const DEFAULT_DURATION: u32 = 0x23_E383;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const BIT_DEPTH: u32 = 0x6264;
    pub const CONTENT_ENCODINGS: u32 = 0x6D80;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const BLOCK_GROUP: u32 = 0xA0;
    pub const BLOCK: u32 = 0xA1;
    pub const BLOCK_DURATION: u32 = 0x9B;
    pub const REFERENCE_BLOCK: u32 = 0xFB;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const TAGS: u32 = 0x1254_C367;
    pub const TAG: u32 = 0x7373;
    pub const SIMPLE_TAG: u32 = 0x67C8;
    pub const TAG_NAME: u32 = 0x45A3;
    pub const TAG_STRING: u32 = 0x4487;
    pub const CHAPTERS: u32 = 0x1043_A770;
    pub const EDITION_ENTRY: u32 = 0x45B9;
    pub const CHAPTER_ATOM: u32 = 0xB6;
    pub const CHAPTER_TIME_START: u32 = 0x91;
    pub const CHAPTER_DISPLAY: u32 = 0x80;
    pub const CHAP_STRING: u32 = 0x85;
    pub const ATTACHMENTS: u32 = 0x1941_A469;
}

/// The Segment's children: an element of unknown size ends where one starts.
const SEGMENT_CHILDREN: [u32; 8] = [
    id::SEEK_HEAD,
    id::INFO,
    id::TRACKS,
    id::CLUSTER,
    id::CUES,
    id::TAGS,
    id::CHAPTERS,
    id::ATTACHMENTS,
];

/// One frame (a laced block holds several): where, when, key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MkvFrame {
    /// Offset of the frame's bytes.
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Time in timestamp-scale units (the cluster's plus the block's).
    pub time: i64,
    /// Key frame (`SimpleBlock` flag, or a `BlockGroup` without `ReferenceBlock`).
    pub key: bool,
    /// `BlockDuration` of the frame's block, in timestamp-scale units
    /// (saturated at `u32::MAX`: 49 days in milliseconds; it keeps the
    /// frame at 32 bytes).
    pub duration: Option<u32>,
}

/// A track (`TrackEntry`).
#[derive(Debug, Clone, Default)]
pub struct MkvTrack<'a> {
    /// `TrackNumber`, as blocks name it.
    pub number: u64,
    /// `TrackType`: 1 video, 2 audio, 0x11 subtitle, 0x12 buttons, 0x20 metadata.
    pub kind: u64,
    /// `CodecID` (`V_MPEG4/ISO/AVC`, `A_AAC`, ...).
    pub codec_id: String,
    /// `CodecPrivate`, a slice of the input.
    pub codec_private: Option<&'a [u8]>,
    /// `Language`.
    pub language: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `DefaultDuration` in nanoseconds.
    pub default_duration: Option<u64>,
    /// `PixelWidth`.
    pub width: Option<u32>,
    /// `PixelHeight`.
    pub height: Option<u32>,
    /// `SamplingFrequency`.
    pub sample_rate: Option<f64>,
    /// `Channels` (1 when the track does not say, as the specification defaults).
    pub channels: Option<u32>,
    /// `BitDepth`.
    pub bit_depth: Option<u32>,
    /// The track's frames are stored encoded (`ContentEncodings`: compressed
    /// or encrypted), so their bytes are not the codec's.
    pub encoded: bool,
    frames: Vec<MkvFrame>,
}

impl MkvTrack<'_> {
    /// The frames, in file order.
    pub fn frames(&self) -> &[MkvFrame] {
        &self.frames
    }

    /// FFmpeg's codec name for the `CodecID`.
    pub fn codec(&self) -> Option<&'static str> {
        codec_name(&self.codec_id, self.bit_depth, self.codec_private)
    }
}

/// A parsed Matroska or WebM file.
#[derive(Debug, Clone)]
pub struct Mkv<'a> {
    /// The whole input.
    pub data: &'a [u8],
    /// `DocType`: `matroska` or `webm`.
    pub doc_type: String,
    /// Nanoseconds per timestamp unit.
    pub timestamp_scale: u64,
    /// `Duration`, in timestamp units.
    pub duration: Option<f64>,
    /// `DateUTC`: nanoseconds since 2001-01-01T00:00:00 UTC.
    pub date_utc: Option<i64>,
    /// `Title`, `MuxingApp`, `WritingApp`.
    pub title: Option<String>,
    /// `MuxingApp`.
    pub muxing_app: Option<String>,
    /// `WritingApp`.
    pub writing_app: Option<String>,
    /// The tracks, in file order.
    pub tracks: Vec<MkvTrack<'a>>,
    /// `SimpleTag` names and values, in file order.
    pub tags: Vec<(String, String)>,
    /// Chapters: start in nanoseconds and the first display string.
    pub chapters: Vec<(u64, String)>,
    /// `CuePoint`s.
    pub cue_points: u64,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

/// An element header: id, where the body starts, where it ends (cut at the
/// parent's end), and whether its size was unknown or ran past the parent.
#[derive(Debug, Clone, Copy)]
struct Element {
    id: u32,
    at: u64,
    body: u64,
    end: u64,
    unknown: bool,
    cut: bool,
}

/// A variable-length integer at `at`: (value without the marker, length).
fn vint(d: &[u8], at: usize) -> Option<(u64, usize)> {
    let first = *d.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let b = d.get(at..at + len)?;
    let mut v = (first as u64) & (0xff >> len);
    for &x in &b[1..] {
        v = v << 8 | x as u64;
    }
    Some((v, len))
}

/// An element id at `at` (marker kept, 1 to 4 bytes).
fn element_id(d: &[u8], at: usize) -> Option<(u32, usize)> {
    let first = *d.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 {
        return None;
    }
    let b = d.get(at..at + len)?;
    Some((b.iter().fold(0u32, |a, &x| a << 8 | x as u32), len))
}

fn uint(b: &[u8]) -> u64 {
    b.iter().take(8).fold(0u64, |a, &x| a << 8 | x as u64)
}

fn float(b: &[u8]) -> Option<f64> {
    match b.len() {
        4 => Some(f32::from_be_bytes(b.try_into().ok()?) as f64),
        8 => Some(f64::from_be_bytes(b.try_into().ok()?)),
        _ => None,
    }
    .filter(|v| v.is_finite())
}

fn string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The element whose header starts `head` (the bytes from `at` on),
/// inside a parent ending at `end`; `None` when no whole header fits.
fn decode(head: &[u8], at: u64, end: u64) -> Option<Element> {
    let (id, il) = element_id(head, 0)?;
    let (size, sl) = vint(head, il)?;
    let body = at + (il + sl) as u64;
    if body > end {
        return None;
    }
    let unknown = size == (1u64 << (7 * sl)) - 1;
    let declared = if unknown {
        u64::MAX
    } else {
        body.saturating_add(size)
    };
    Some(Element {
        id,
        at,
        body,
        end: declared.min(end),
        unknown,
        cut: !unknown && declared > end,
    })
}

struct Parser<'a, 'd> {
    d: &'a [u8],
    diag: &'d mut Diag,
    depth_limit: u32,
}

impl<'a> Parser<'a, '_> {
    /// The element at `at`, inside a parent ending at `end`; `None` when no
    /// whole header fits (the walk ends there).
    fn element(&mut self, at: u64, end: u64) -> Option<Element> {
        crate::cost::step(1);
        decode(self.d.get(at as usize..)?, at, end)
    }

    /// Calls `f` with each child of the body `[from, end)`; an element of
    /// unknown size ends where the next element that is not a child of it
    /// starts (`children`: the ids its body may hold).
    fn children(
        &mut self,
        from: u64,
        end: u64,
        depth: u32,
        path: &str,
        mut f: impl FnMut(&mut Self, Element, u32) -> Result<u64>,
    ) -> Result<u64> {
        if depth > self.depth_limit {
            return Err(Error::new(
                from,
                path,
                ErrorKind::TooDeep {
                    limit: self.depth_limit,
                },
            ));
        }
        let mut at = from;
        while at < end {
            let Some(e) = self.element(at, end) else {
                self.diag
                    .note(at, path, "element header does not fit: the rest is skipped")?;
                return Ok(end);
            };
            if e.cut {
                self.diag.note(
                    e.at,
                    path,
                    format!("element {:#x} runs past its parent (truncated file)", e.id),
                )?;
            }
            let next = f(self, e, depth + 1)?;
            if next <= at {
                return Ok(at);
            }
            at = next;
        }
        Ok(at)
    }
}

impl<'a> Mkv<'a> {
    /// Parses a Matroska or WebM file.
    pub fn parse(data: &'a [u8], limits: Limits) -> Result<Mkv<'a>> {
        let mut diag = Diag::new(limits.strict);
        let mut mkv = Mkv {
            data,
            doc_type: String::new(),
            timestamp_scale: 1_000_000,
            duration: None,
            date_utc: None,
            title: None,
            muxing_app: None,
            writing_app: None,
            tracks: Vec::new(),
            tags: Vec::new(),
            chapters: Vec::new(),
            cue_points: 0,
            warnings: Vec::new(),
        };
        let len = data.len() as u64;
        let mut p = Parser {
            d: data,
            diag: &mut diag,
            depth_limit: limits.max_depth,
        };
        let head = p
            .element(0, len)
            .filter(|e| e.id == id::EBML)
            .ok_or_else(|| Error::new(0, "", ErrorKind::Unrecognised))?;
        p.children(head.body, head.end, 1, "EBML", |p, e, _| {
            if e.id == id::DOC_TYPE {
                mkv.doc_type = string(&p.d[e.body as usize..e.end as usize]);
            }
            Ok(e.end)
        })?;
        let mut segment = false;
        // The tracks by number, once `Tracks` is read (the first one only,
        // as FFmpeg reads it); Clusters met before it wait for it.
        let mut blocks: Option<Blocks> = None;
        let mut waiting: Vec<(Element, u64)> = Vec::new();
        let mut at = head.end;
        while let Some(e) = p.element(at, len) {
            if e.id != id::SEGMENT {
                at = e.end;
                continue;
            }
            segment = true;
            let end = e.end;
            let mut pos = e.body;
            while pos < end {
                let Some(c) = p.element(pos, end) else { break };
                if c.cut {
                    p.diag.note(
                        c.at,
                        "Segment",
                        format!(
                            "element {:#x} runs past the end of the file (truncated file)",
                            c.id
                        ),
                    )?;
                }
                pos = match c.id {
                    id::INFO => mkv.info(&mut p, c)?,
                    id::TRACKS if blocks.is_some() => {
                        p.diag
                            .note(c.at, "Segment", "a second Tracks element is ignored")?;
                        c.end
                    }
                    id::TRACKS => {
                        let mut index = HashMap::new();
                        let next = mkv.tracks(&mut p, c, &mut index)?;
                        let b = blocks.insert(Blocks::new(index));
                        for (w, stop) in waiting.drain(..) {
                            mkv.cluster(&mut p, w, stop, b)?;
                        }
                        next
                    }
                    id::CLUSTER => {
                        let stop = cluster_end(&mut p, c);
                        match blocks.as_mut() {
                            Some(b) => mkv.cluster(&mut p, c, stop, b)?,
                            None => waiting.push((c, stop)),
                        }
                        stop
                    }
                    id::TAGS => mkv.tags(&mut p, c)?,
                    id::CHAPTERS => mkv.chapters(&mut p, c)?,
                    id::CUES => p.children(c.body, c.end, 2, "Segment/Cues", |_, x, _| {
                        mkv.cue_points += (x.id == id::CUE_POINT) as u64;
                        Ok(x.end)
                    })?,
                    _ if c.unknown => {
                        p.diag.note(
                            c.at,
                            "Segment",
                            format!("element {:#x} of unknown size", c.id),
                        )?;
                        end
                    }
                    _ => c.end,
                }
                .max(c.body);
            }
            break;
        }
        // No Tracks at all: every block is of an unknown track.
        let mut none = Blocks::new(HashMap::new());
        for (c, stop) in waiting {
            mkv.cluster(&mut p, c, stop, &mut none)?;
        }
        if !segment {
            return Err(Error::new(head.end, "", ErrorKind::Missing("Segment")));
        }
        mkv.warnings = diag.warnings;
        Ok(mkv)
    }

    fn info(&mut self, p: &mut Parser<'a, '_>, e: Element) -> Result<u64> {
        p.children(e.body, e.end, 2, "Segment/Info", |p, x, _| {
            let b = &p.d[x.body as usize..x.end as usize];
            match x.id {
                id::TIMESTAMP_SCALE if uint(b) > 0 => self.timestamp_scale = uint(b),
                id::DURATION => self.duration = float(b),
                id::DATE_UTC if b.len() == 8 => {
                    self.date_utc = Some(i64::from_be_bytes(b.try_into().expect("8 bytes")))
                }
                id::TITLE => self.title = Some(string(b)),
                id::MUXING_APP => self.muxing_app = Some(string(b)),
                id::WRITING_APP => self.writing_app = Some(string(b)),
                _ => {}
            }
            Ok(x.end)
        })
    }

    fn tracks(
        &mut self,
        p: &mut Parser<'a, '_>,
        e: Element,
        index: &mut HashMap<u64, usize>,
    ) -> Result<u64> {
        p.children(e.body, e.end, 2, "Segment/Tracks", |p, x, depth| {
            if x.id != id::TRACK_ENTRY {
                return Ok(x.end);
            }
            let mut t = MkvTrack::default();
            p.children(x.body, x.end, depth, "Segment/Tracks/TrackEntry", |p, f, depth| {
                let b: &'a [u8] = &p.d[f.body as usize..f.end as usize];
                match f.id {
                    id::TRACK_NUMBER => t.number = uint(b),
                    id::TRACK_TYPE => t.kind = uint(b),
                    id::CODEC_ID => t.codec_id = string(b),
                    id::CODEC_PRIVATE => t.codec_private = Some(b),
                    id::LANGUAGE => t.language = Some(string(b)),
                    id::NAME => t.name = Some(string(b)),
                    id::DEFAULT_DURATION => t.default_duration = Some(uint(b)),
                    id::CONTENT_ENCODINGS => t.encoded = true,
                    id::VIDEO | id::AUDIO => {
                        p.children(f.body, f.end, depth, "TrackEntry/Video", |p, s, _| {
                            let b = &p.d[s.body as usize..s.end as usize];
                            let small = |v: u64| u32::try_from(v).ok();
                            match s.id {
                                id::PIXEL_WIDTH => t.width = small(uint(b)),
                                id::PIXEL_HEIGHT => t.height = small(uint(b)),
                                id::SAMPLING_FREQUENCY => t.sample_rate = float(b),
                                id::CHANNELS => t.channels = small(uint(b)),
                                id::BIT_DEPTH => t.bit_depth = small(uint(b)),
                                _ => {}
                            }
                            Ok(s.end)
                        })?;
                    }
                    _ => {}
                }
                Ok(f.end)
            })?;
            if t.kind == 2 && t.channels.is_none() {
                t.channels = Some(1);
            }
            if t.encoded {
                p.diag.note(
                    x.at,
                    "Segment/Tracks/TrackEntry",
                    format!(
                        "track {} is stored encoded (ContentEncodings): its content hash covers the stored bytes",
                        t.number
                    ),
                )?;
            }
            match index.entry(t.number) {
                std::collections::hash_map::Entry::Occupied(_) => p.diag.note(
                    x.at,
                    "Segment/Tracks/TrackEntry",
                    format!("a second track numbered {} is ignored", t.number),
                )?,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(self.tracks.len());
                    self.tracks.push(t);
                }
            }
            Ok(x.end)
        })
    }

    /// The frames of the cluster `e`, whose children end at `stop`.
    fn cluster(
        &mut self,
        p: &mut Parser<'a, '_>,
        e: Element,
        stop: u64,
        blocks: &mut Blocks,
    ) -> Result<()> {
        let mut base = 0i64;
        let mut at = e.body;
        while at < stop {
            let Some(x) = p.element(at, stop) else { break };
            if x.cut {
                // The last element, cut short: its frames are not whole.
                break;
            }
            match x.id {
                id::TIMESTAMP => base = uint(&p.d[x.body as usize..x.end as usize]) as i64,
                id::SIMPLE_BLOCK => self.block(p, (x.body, x.end), base, None, blocks)?,
                id::BLOCK_GROUP => {
                    let (mut block, mut duration, mut reference) = (None, None, false);
                    p.children(x.body, x.end, 3, "Cluster/BlockGroup", |p, g, _| {
                        match g.id {
                            id::BLOCK if !g.cut => block = Some((g.body, g.end)),
                            id::BLOCK_DURATION => {
                                let d = uint(&p.d[g.body as usize..g.end as usize]);
                                duration = Some(u32::try_from(d).unwrap_or(u32::MAX))
                            }
                            id::REFERENCE_BLOCK => reference = true,
                            _ => {}
                        }
                        Ok(g.end)
                    })?;
                    if let Some(range) = block {
                        let group = Some((!reference, duration));
                        self.block(p, range, base, group, blocks)?;
                    }
                }
                _ => {}
            }
            at = x.end;
        }
        Ok(())
    }

    /// One block's frames (laced or not). `group`: a `BlockGroup`'s key
    /// flag and duration; `None` for a `SimpleBlock` (key from its flags).
    fn block(
        &mut self,
        p: &mut Parser<'a, '_>,
        (from, to): (u64, u64),
        base: i64,
        group: Option<(bool, Option<u32>)>,
        blocks: &mut Blocks,
    ) -> Result<()> {
        let d = p.d;
        let b = &d[from as usize..to as usize];
        let Some((track, tl)) = vint(b, 0) else {
            return p
                .diag
                .note(from, "Cluster/Block", "block header does not fit");
        };
        let (Some(rel), Some(&flags)) = (b.get(tl..tl + 2), b.get(tl + 2)) else {
            return p
                .diag
                .note(from, "Cluster/Block", "block header does not fit");
        };
        let Ok(t) = blocks.tracks.binary_search_by_key(&track, |e| e.0) else {
            // Said once per track number.
            if blocks.unknown.len() < 64 && !blocks.unknown.contains(&track) {
                blocks.unknown.push(track);
                p.diag.note(
                    from,
                    "Cluster/Block",
                    format!("blocks of unknown track {track}"),
                )?;
            }
            return Ok(());
        };
        let time = base.saturating_add(i16::from_be_bytes([rel[0], rel[1]]) as i64);
        let (key, duration) = group.unwrap_or((flags & 0x80 != 0, None));
        let t = blocks.tracks[t].1;
        let mut at = tl + 3;
        if lace_sizes(b, &mut at, flags, &mut blocks.sizes).is_none() {
            return p
                .diag
                .note(from, "Cluster/Block", "lacing does not fit the block");
        }
        let frames = &mut self.tracks[t].frames;
        let mut offset = from + at as u64;
        for &size in &blocks.sizes {
            frames.push(MkvFrame {
                offset,
                size,
                time,
                key,
                duration,
            });
            offset += size as u64;
        }
        Ok(())
    }

    /// A frame's bytes: a slice of the input.
    pub fn bytes(&self, f: &MkvFrame) -> &'a [u8] {
        &self.data[f.offset as usize..(f.offset + f.size as u64) as usize]
    }

    /// Seconds per timestamp unit.
    pub fn seconds_per_unit(&self) -> f64 {
        self.timestamp_scale as f64 / 1e9
    }

    /// `Duration` in seconds.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.duration.map(|d| d * self.seconds_per_unit())
    }

    /// `DateUTC` as Unix seconds.
    pub fn created_unix(&self) -> Option<i64> {
        const EPOCH_2001: i64 = 978_307_200;
        self.date_utc
            .map(|ns| EPOCH_2001 + ns.div_euclid(1_000_000_000))
    }

    fn tags(&mut self, p: &mut Parser<'a, '_>, e: Element) -> Result<u64> {
        let out = &mut self.tags;
        p.children(e.body, e.end, 2, "Segment/Tags", |p, tag, depth| {
            if tag.id != id::TAG {
                return Ok(tag.end);
            }
            p.children(tag.body, tag.end, depth, "Tags/Tag", |p, s, depth| {
                if s.id != id::SIMPLE_TAG {
                    return Ok(s.end);
                }
                let (mut name, mut value) = (None, None);
                p.children(s.body, s.end, depth, "Tag/SimpleTag", |p, f, _| {
                    let b = &p.d[f.body as usize..f.end as usize];
                    match f.id {
                        id::TAG_NAME => name = Some(string(b)),
                        id::TAG_STRING => value = Some(string(b)),
                        _ => {}
                    }
                    Ok(f.end)
                })?;
                if let (Some(n), Some(v)) = (name, value) {
                    out.push((n, v));
                }
                Ok(s.end)
            })
        })
    }

    fn chapters(&mut self, p: &mut Parser<'a, '_>, e: Element) -> Result<u64> {
        let out = &mut self.chapters;
        p.children(e.body, e.end, 2, "Segment/Chapters", |p, ed, depth| {
            if ed.id != id::EDITION_ENTRY {
                return Ok(ed.end);
            }
            p.children(
                ed.body,
                ed.end,
                depth,
                "Chapters/EditionEntry",
                |p, a, depth| {
                    if a.id != id::CHAPTER_ATOM {
                        return Ok(a.end);
                    }
                    let (mut start, mut title) = (0u64, String::new());
                    p.children(
                        a.body,
                        a.end,
                        depth,
                        "EditionEntry/ChapterAtom",
                        |p, f, depth| {
                            match f.id {
                                id::CHAPTER_TIME_START => {
                                    start = uint(&p.d[f.body as usize..f.end as usize])
                                }
                                id::CHAPTER_DISPLAY => {
                                    p.children(
                                        f.body,
                                        f.end,
                                        depth,
                                        "ChapterAtom/ChapterDisplay",
                                        |p, s, _| {
                                            if s.id == id::CHAP_STRING && title.is_empty() {
                                                title =
                                                    string(&p.d[s.body as usize..s.end as usize]);
                                            }
                                            Ok(s.end)
                                        },
                                    )?;
                                }
                                _ => {}
                            }
                            Ok(f.end)
                        },
                    )?;
                    out.push((start, title));
                    Ok(a.end)
                },
            )
        })
    }
}

/// Where the children of cluster `e` end: its end, or for a cluster of
/// unknown size (a live recording), where the next Segment child starts.
fn cluster_end(p: &mut Parser<'_, '_>, e: Element) -> u64 {
    if !e.unknown {
        return e.end;
    }
    let mut at = e.body;
    while at < e.end {
        match p.element(at, e.end) {
            Some(x) if !SEGMENT_CHILDREN.contains(&x.id) => at = x.end,
            _ => break,
        }
    }
    at
}

/// The sizes of a block's frames, reading the lacing header at `*at`
/// (advanced past it); `None` when the sizes do not fit the block.
fn lace_sizes(b: &[u8], at: &mut usize, flags: u8, sizes: &mut Vec<u32>) -> Option<()> {
    sizes.clear();
    let size = |s: u64| u32::try_from(s).ok();
    let lacing = (flags >> 1) & 3;
    if lacing == 0 {
        sizes.push(size(b.len().checked_sub(*at)? as u64)?);
        return Some(());
    }
    let n = *b.get(*at)? as usize + 1;
    *at += 1;
    match lacing {
        1 => {
            for _ in 0..n - 1 {
                let mut s = 0u64;
                loop {
                    let x = *b.get(*at)?;
                    *at += 1;
                    s += x as u64;
                    if x != 255 {
                        break;
                    }
                }
                sizes.push(size(s)?);
            }
        }
        3 => {
            let (first, l) = vint(b, *at)?;
            *at += l;
            sizes.push(size(first)?);
            let mut last = first as i64;
            for _ in 1..n - 1 {
                let (raw, l) = vint(b, *at)?;
                *at += l;
                let bias = (1i64 << (7 * l - 1)) - 1;
                last = last.checked_add(raw as i64 - bias)?;
                sizes.push(size(u64::try_from(last).ok()?)?);
            }
        }
        _ => {
            let rest = (b.len().checked_sub(*at)?) as u64;
            if !rest.is_multiple_of(n as u64) {
                return None;
            }
            sizes.resize(n, size(rest / n as u64)?);
            return Some(());
        }
    }
    let used: u64 = sizes.iter().map(|&s| s as u64).sum();
    let rest = (b.len().checked_sub(*at)? as u64).checked_sub(used)?;
    sizes.push(size(rest)?);
    Some(())
}

/// What the walk of the Clusters keeps: the tracks by number (sorted), the
/// unknown track numbers already reported, and the current block's lace
/// sizes (one buffer for every block).
struct Blocks {
    tracks: Vec<(u64, usize)>,
    unknown: Vec<u64>,
    sizes: Vec<u32>,
}

impl Blocks {
    fn new(index: HashMap<u64, usize>) -> Self {
        let mut tracks: Vec<(u64, usize)> = index.into_iter().collect();
        tracks.sort_unstable();
        Blocks {
            tracks,
            unknown: Vec::new(),
            sizes: Vec::new(),
        }
    }
}

/// FFmpeg's codec name for a Matroska `CodecID` (as
/// `libavformat/matroska.c` maps the common ones).
fn codec_name(codec_id: &str, bits: Option<u32>, private: Option<&[u8]>) -> Option<&'static str> {
    let bits = bits.unwrap_or(16);
    Some(match codec_id {
        "V_MPEG4/ISO/AVC" => "h264",
        "V_MPEGH/ISO/HEVC" => "hevc",
        "V_MJPEG" => "mjpeg",
        "V_VP8" => "vp8",
        "V_VP9" => "vp9",
        "V_AV1" => "av1",
        "V_MPEG1" => "mpeg1video",
        "V_MPEG2" => "mpeg2video",
        "V_THEORA" => "theora",
        "V_PRORES" => "prores",
        "V_UNCOMPRESSED" => "rawvideo",
        "V_FFV1" => "ffv1",
        c if c.starts_with("V_MPEG4/ISO/") => "mpeg4",
        "V_MS/VFW/FOURCC" => {
            let f = private.and_then(|p| crate::riff::fourcc(p, 16))?;
            return crate::avi::video_codec(f);
        }
        c if c.starts_with("A_AAC") => "aac",
        "A_OPUS" => "opus",
        "A_VORBIS" => "vorbis",
        "A_MPEG/L3" => "mp3",
        "A_MPEG/L2" => "mp2",
        "A_MPEG/L1" => "mp1",
        "A_AC3" => "ac3",
        "A_EAC3" => "eac3",
        "A_DTS" => "dts",
        "A_FLAC" => "flac",
        "A_ALAC" => "alac",
        "A_TRUEHD" => "truehd",
        "A_PCM/INT/LIT" => match bits {
            8 => "pcm_u8",
            24 => "pcm_s24le",
            32 => "pcm_s32le",
            _ => "pcm_s16le",
        },
        "A_PCM/INT/BIG" => match bits {
            8 => "pcm_s8",
            24 => "pcm_s24be",
            32 => "pcm_s32be",
            _ => "pcm_s16be",
        },
        "A_PCM/FLOAT/IEEE" => match bits {
            64 => "pcm_f64le",
            _ => "pcm_f32le",
        },
        "A_MS/ACM" => {
            let f = private.and_then(crate::wav::parse_format)?;
            return crate::wav::codec_name(f.tag, f.bits_per_sample);
        }
        "S_TEXT/UTF8" => "subrip",
        "S_TEXT/ASS" | "S_ASS" => "ass",
        "S_TEXT/SSA" | "S_SSA" => "ssa",
        "S_TEXT/WEBVTT" => "webvtt",
        "S_VOBSUB" => "dvd_subtitle",
        "S_HDMV/PGS" => "hdmv_pgs_subtitle",
        "S_DVBSUB" => "dvb_subtitle",
        _ => return None,
    })
}

/// The byte ranges of a `len`-byte Matroska or WebM file that probing it
/// reads, found with one small read per element: every element header, the
/// EBML header, `Info`, `Tracks`, `Tags`, `Chapters`, each Cluster's
/// `Timestamp` and the first bytes of each block (a laced block whole),
/// never the frames. A probe of an image holding only the ranges equals a
/// probe of the file.
///
/// ```
/// use custody_container::mkv::probe_ranges;
/// let file = custody_testkit::mkv::tiny(30, 0);
/// let ranges = probe_ranges(file.len() as u64, &mut |at, buf| {
///     buf.copy_from_slice(&file[at as usize..at as usize + buf.len()]);
///     Ok(())
/// })
/// .unwrap();
/// // An image holding only those bytes probes as the file does.
/// let mut image = vec![0u8; file.len()];
/// for r in ranges {
///     let r = r.start as usize..r.end as usize;
///     image[r.clone()].copy_from_slice(&file[r]);
/// }
/// let probe = |d: &[u8]| format!("{:?}", custody_container::probe(d, Default::default()));
/// assert_eq!(probe(&image), probe(&file));
/// ```
pub fn probe_ranges(len: u64, read_at: &mut ReadAt<'_>) -> std::io::Result<Vec<Range<u64>>> {
    let mut plan = Plan {
        len,
        read_at,
        out: Vec::new(),
    };
    let Some(head) = plan.element(0, len)? else {
        return Ok(plan.out);
    };
    plan.whole(head.at, head.end);
    let mut at = head.end;
    while let Some(e) = plan.element(at, len)? {
        if e.id != id::SEGMENT {
            at = e.end;
            continue;
        }
        let mut pos = e.body;
        while pos < e.end {
            let Some(c) = plan.element(pos, e.end)? else {
                break;
            };
            pos = match c.id {
                id::INFO | id::TRACKS | id::TAGS | id::CHAPTERS => {
                    plan.whole(c.body, c.end);
                    c.end
                }
                id::CUES => plan.headers(c.body, c.end, |_, _| Ok(()))?,
                id::CLUSTER => plan.cluster(c)?,
                _ if c.unknown => e.end,
                _ => c.end,
            }
            .max(c.body);
        }
        break;
    }
    Ok(plan.out)
}

/// What [`probe_ranges`] walks with.
struct Plan<'r, 'a> {
    len: u64,
    read_at: &'r mut ReadAt<'a>,
    out: Vec<Range<u64>>,
}

impl Plan<'_, '_> {
    /// The bytes `[from, to)` are read by the probe.
    fn whole(&mut self, from: u64, to: u64) {
        let to = to.min(self.len);
        if from < to {
            self.out.push(from..to);
        }
    }

    /// Reads the element header at `at` (as [`Parser::element`] does), and
    /// plans its bytes.
    fn element(&mut self, at: u64, end: u64) -> std::io::Result<Option<Element>> {
        let n = self.len.saturating_sub(at).min(12) as usize;
        let mut head = [0u8; 12];
        (self.read_at)(at, &mut head[..n])?;
        self.whole(at, at + n as u64);
        Ok(decode(&head[..n], at, end))
    }

    /// Walks the children headers of `[from, end)` as [`Parser::children`]
    /// does, calling `f` with each.
    fn headers(
        &mut self,
        from: u64,
        end: u64,
        mut f: impl FnMut(&mut Self, Element) -> std::io::Result<()>,
    ) -> std::io::Result<u64> {
        let mut at = from;
        while at < end {
            let Some(e) = self.element(at, end)? else {
                return Ok(end);
            };
            f(self, e)?;
            at = e.end;
        }
        Ok(at)
    }

    /// A Cluster: where it stops (as [`cluster_end`] finds it), its
    /// `Timestamp`, and the header of each block.
    fn cluster(&mut self, e: Element) -> std::io::Result<u64> {
        let mut stop = e.end;
        if e.unknown {
            let mut at = e.body;
            while at < e.end {
                match self.element(at, e.end)? {
                    Some(x) if !SEGMENT_CHILDREN.contains(&x.id) => at = x.end,
                    _ => break,
                }
            }
            stop = at;
        }
        let mut at = e.body;
        while at < stop {
            let Some(x) = self.element(at, stop)? else {
                break;
            };
            if x.cut {
                break;
            }
            match x.id {
                // An unsigned integer: its first 8 bytes are read.
                id::TIMESTAMP => self.whole(x.body, x.end.min(x.body + 8)),
                id::SIMPLE_BLOCK => self.block(x.body, x.end)?,
                id::BLOCK_GROUP => {
                    self.headers(x.body, x.end, |plan, g| match g.id {
                        id::BLOCK if !g.cut => plan.block(g.body, g.end),
                        // BlockDuration: an unsigned integer, as above.
                        _ => {
                            plan.whole(g.body, g.end.min(g.body + 8));
                            Ok(())
                        }
                    })?;
                }
                _ => {}
            }
            at = x.end;
        }
        Ok(stop)
    }

    /// A block's header: track number, timestamp, flags; a laced block
    /// whole (its lacing header lists the frames' sizes).
    fn block(&mut self, from: u64, to: u64) -> std::io::Result<()> {
        let n = to.min(self.len).saturating_sub(from).min(12) as usize;
        let mut b = [0u8; 12];
        (self.read_at)(from, &mut b[..n])?;
        self.whole(from, from + n as u64);
        if let Some((_, tl)) = vint(&b[..n], 0)
            && let Some(&flags) = b[..n].get(tl + 2)
            && (flags >> 1) & 3 != 0
        {
            self.whole(from, to);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laces_are_split_and_checked() {
        let lace_sizes = |b: &[u8], at: &mut usize, flags: u8| {
            let mut sizes = vec![99];
            super::lace_sizes(b, at, flags, &mut sizes).map(|()| sizes)
        };
        // Xiph: 3 frames of 2, 300 and the rest.
        let mut b = vec![0x81, 0, 0, 0x02, 2, 2, 255, 45];
        b.extend(vec![9u8; 2 + 300 + 4]);
        let mut at = 4;
        assert_eq!(lace_sizes(&b, &mut at, 0x02), Some(vec![2, 300, 4]));
        // Fixed: 2 frames of 3.
        let b = [0x81, 0, 0, 0x04, 1, 1, 2, 3, 4, 5, 6];
        let mut at = 4;
        assert_eq!(lace_sizes(&b, &mut at, 0x04), Some(vec![3, 3]));
        // Fixed lacing that does not divide, and Xiph sizes past the block.
        let mut at = 4;
        assert_eq!(lace_sizes(&b[..10], &mut at, 0x04), None);
        let b = [0x81, 0, 0, 0x02, 1, 200, 1];
        let mut at = 4;
        assert_eq!(lace_sizes(&b, &mut at, 0x02), None);
        // EBML: first 5, then +1 (bias 63 in one byte): 5, 6, rest.
        let mut b = vec![0x81, 0, 0, 0x06, 2, 0x85, 0x80 | 64];
        b.extend(vec![0u8; 5 + 6 + 7]);
        let mut at = 4;
        assert_eq!(lace_sizes(&b, &mut at, 0x06), Some(vec![5, 6, 7]));
    }

    #[test]
    fn hostile_and_cut_files_stay_bounded() {
        let f = custody_testkit::mkv::tiny(6, 0);
        let whole = Mkv::parse(&f, Limits::default()).unwrap();
        assert_eq!(whole.tracks[0].frames().len(), 6);
        for cut in 0..f.len() {
            if let Ok(m) = Mkv::parse(&f[..cut], Limits::default()) {
                // Frames kept from a cut file are whole, and the same.
                for (a, b) in m.tracks.iter().zip(&whole.tracks) {
                    assert_eq!(a.frames(), &b.frames()[..a.frames().len()]);
                }
            }
        }
        // Every size field at its largest, one at a time: bounded, no panic.
        for at in 0..f.len() {
            let mut g = f.clone();
            g[at] = 0xff;
            let _ = Mkv::parse(&g, Limits::default());
        }
    }

    #[test]
    fn live_recordings_of_unknown_size_are_read_to_the_end() {
        let f = custody_testkit::mkv::tiny(4, 0);
        let live = custody_testkit::mkv::tiny(4, 1);
        let a = Mkv::parse(&f, Limits::default()).unwrap();
        let b = Mkv::parse(&live, Limits::default()).unwrap();
        assert_eq!(a.tracks[0].frames().len(), b.tracks[0].frames().len());
        assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    }

    #[test]
    fn a_frame_takes_32_bytes() {
        assert_eq!(std::mem::size_of::<MkvFrame>(), 32);
    }
}
