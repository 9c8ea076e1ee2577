//! ISO base media file format: MP4, MOV, 3GP, M4A, fragmented MP4, CMAF/DASH/HLS segments.
//!
//! [`Mp4::parse`] reads the box structure, the movie and track headers, the
//! sample tables (kept as slices of the input) and any movie fragments.
//! Samples come out through [`Track::samples`] (in place, no allocation) or
//! [`Track::index`] (24 bytes per sample, random access). Nothing is copied
//! from the media data: [`Mp4::sample_bytes`] returns a slice of the input.

pub mod boxes;
pub mod entry;
mod fragment;
pub mod meta;
pub mod plan;
pub mod sample;
mod track;
pub mod tree;

pub use boxes::{BoxIter, BoxRef, write_box};
pub use entry::{Config, SampleEntry};
pub use meta::{Location, MetaValue, Metadata};
pub use plan::probe_ranges;
pub use sample::{Sample, SampleIndex, SampleIter};
pub use track::{Edit, Track, TrackKind};
pub use tree::{BoxNode, tree};

use crate::bytes::{be32, be64};
use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use crate::fourcc::FourCC;

/// A top-level box as listed in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TopBox {
    /// Box type.
    pub kind: FourCC,
    /// Absolute offset.
    pub offset: u64,
    /// Declared size.
    pub size: u64,
}

/// Movie header (`mvhd`) fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MovieHeader {
    /// Ticks per second for movie-level durations.
    pub timescale: u32,
    /// Movie duration in `timescale` units.
    pub duration: u64,
    /// Creation time, seconds since 1904-01-01 UTC (0 when unset).
    pub created: u64,
    /// Modification time, seconds since 1904-01-01 UTC.
    pub modified: u64,
}

/// A segment index (`sidx`) summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SegmentIndex {
    /// Absolute offset of the `sidx` box.
    pub offset: u64,
    /// Stream the index describes.
    pub reference_id: u32,
    /// Ticks per second.
    pub timescale: u32,
    /// Earliest presentation time of the first referenced segment.
    pub earliest_pts: u64,
    /// Number of references.
    pub references: u16,
}

/// A parsed ISO-BMFF file (or init + media segment pair).
#[derive(Debug)]
pub struct Mp4<'a> {
    /// The bytes that sample offsets refer to.
    pub data: &'a [u8],
    /// Top-level boxes in file order.
    pub boxes: Vec<TopBox>,
    /// `ftyp` major brand.
    pub major_brand: Option<FourCC>,
    /// `ftyp` minor version.
    pub minor_version: u32,
    /// `ftyp` compatible brands.
    pub compatible_brands: Vec<FourCC>,
    /// Movie header, when a `moov` is present.
    pub movie: Option<MovieHeader>,
    /// Tracks in `moov` order.
    pub tracks: Vec<Track<'a>>,
    /// File-level metadata.
    pub metadata: Metadata<'a>,
    /// True when the file holds `mvex` or `moof` boxes.
    pub fragmented: bool,
    /// Segment indexes.
    pub segment_indexes: Vec<SegmentIndex>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

impl<'a> Mp4<'a> {
    /// Parses a whole file held in `data`.
    pub fn parse(data: &'a [u8], limits: Limits) -> Result<Mp4<'a>> {
        let mut diag = Diag::new(limits.strict);
        let mut mp4 = Mp4::empty(data);
        let moofs = mp4.walk_top(data, &mut diag)?;
        if mp4.movie.is_none() {
            let has_media = mp4
                .boxes
                .iter()
                .any(|b| &b.kind.0 == b"mdat" || &b.kind.0 == b"moof");
            let path = if has_media { "moov" } else { "" };
            return Err(Error::new(
                data.len() as u64,
                path,
                ErrorKind::Missing("moov"),
            ));
        }
        let unclaimed = track::claim_tables(&mut mp4.tracks, data.len() as u64, &mut diag)?;
        fragment::apply(&mut mp4, data, &moofs, unclaimed, &mut diag)?;
        mp4.finish(diag);
        Ok(mp4)
    }

    /// Parses a media segment (`.m4s`) against its separately given init segment.
    ///
    /// Sample offsets and [`Mp4::sample_bytes`] refer to `segment`.
    pub fn parse_segment(init: &'a [u8], segment: &'a [u8], limits: Limits) -> Result<Mp4<'a>> {
        let mut diag = Diag::new(limits.strict);
        let mut mp4 = Mp4::empty(segment);
        mp4.walk_top(init, &mut diag)?;
        if mp4.movie.is_none() {
            return Err(Error::new(
                init.len() as u64,
                "init",
                ErrorKind::Missing("moov"),
            ));
        }
        for t in &mut mp4.tracks {
            t.tables = sample::Tables::EMPTY;
            t.data_len = segment.len() as u64;
        }
        mp4.boxes.clear();
        let moofs = mp4.walk_top(segment, &mut diag)?;
        mp4.fragmented = true;
        fragment::apply(&mut mp4, segment, &moofs, segment.len() as u64, &mut diag)?;
        mp4.finish(diag);
        Ok(mp4)
    }

    fn empty(data: &'a [u8]) -> Self {
        Mp4 {
            data,
            boxes: Vec::new(),
            major_brand: None,
            minor_version: 0,
            compatible_brands: Vec::new(),
            movie: None,
            tracks: Vec::new(),
            metadata: Metadata::default(),
            fragmented: false,
            segment_indexes: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn finish(&mut self, diag: Diag) {
        self.warnings.extend(diag.warnings);
    }

    /// Walks the top-level boxes of `src`; returns the `moof` boxes found.
    fn walk_top(&mut self, src: &'a [u8], diag: &mut Diag) -> Result<Vec<BoxRef<'a>>> {
        let mut moofs = Vec::new();
        let mut iter = BoxIter::new(src, 0);
        while let Some(item) = iter.next() {
            let b = match item {
                Ok(b) => b,
                Err(e) => {
                    // Resynchronise on the next plausible top-level box, so one
                    // damaged header does not hide the recording behind it.
                    let from = usize::try_from(e.offset)
                        .unwrap_or(usize::MAX)
                        .saturating_add(1);
                    match find_top_box(src, from) {
                        Some(next) => {
                            diag.warn(Error::new(
                                e.offset,
                                e.path,
                                ErrorKind::Invalid(format!(
                                    "{}; skipped {} bytes to the next box at {next:#x}",
                                    e.kind,
                                    next as u64 - e.offset
                                )),
                            ))?;
                            iter = BoxIter::new(&src[next..], next as u64);
                            continue;
                        }
                        None if self.boxes.is_empty() => return Err(e),
                        None => {
                            let remaining = src.len() as u64 - e.offset;
                            diag.warn(Error::new(
                                e.offset,
                                e.path,
                                ErrorKind::Invalid(format!(
                                    "{}; the last {remaining} bytes of the file are not boxes",
                                    e.kind
                                )),
                            ))?;
                            break;
                        }
                    }
                }
            };
            self.boxes.push(TopBox {
                kind: b.kind,
                offset: b.offset,
                size: b.size,
            });
            if b.truncated {
                diag.warn(Error::new(
                    b.offset,
                    b.kind.to_string(),
                    ErrorKind::Truncated {
                        needed: b.size,
                        available: b.header_len as u64 + b.payload.len() as u64,
                    },
                ))?;
            }
            match &b.kind.0 {
                b"ftyp" | b"styp" if self.major_brand.is_none() => {
                    let p = b.payload;
                    self.major_brand = p.get(0..4).map(|m| FourCC([m[0], m[1], m[2], m[3]]));
                    self.minor_version = be32(p, 4).unwrap_or(0);
                    self.compatible_brands = p
                        .get(8..)
                        .unwrap_or(&[])
                        .chunks_exact(4)
                        .map(|c| FourCC([c[0], c[1], c[2], c[3]]))
                        .collect();
                }
                b"moov" => {
                    if self.movie.is_some() {
                        diag.note(b.offset, "moov", "a second moov box is ignored")?;
                    } else {
                        track::parse_moov(self, &b, src.len() as u64, diag)?;
                    }
                }
                b"moof" => {
                    self.fragmented = true;
                    moofs.push(b);
                }
                b"sidx" => {
                    if let Some(s) = parse_sidx(&b) {
                        self.segment_indexes.push(s);
                    }
                }
                b"uuid" if b.usertype == Some(meta::XMP_UUID) => {
                    self.metadata.xmp = Some(b.payload);
                }
                _ => {}
            }
        }
        Ok(moofs)
    }

    /// The bytes of a sample, or `None` when they are not all present.
    pub fn sample_bytes(&self, s: &Sample) -> Option<&'a [u8]> {
        let start = usize::try_from(s.offset).ok()?;
        self.data.get(start..start.checked_add(s.size as usize)?)
    }

    /// Container name: `mov`, `3gp` or `mp4`, from the major brand (no `ftyp`: `mov`).
    pub fn container_name(&self) -> &'static str {
        self.container().as_str()
    }

    /// The container, from the major brand (no `ftyp`: QuickTime).
    pub fn container(&self) -> crate::names::Container {
        use crate::names::Container;
        match self.major_brand.map(|b| b.0) {
            Some(b) if &b == b"qt  " => Container::Mov,
            Some([b'3', b'g', ..]) => Container::ThreeGp,
            Some(_) => Container::Mp4,
            // No ftyp at all: QuickTime files older than the brand box.
            None => Container::Mov,
        }
    }

    /// Movie duration in seconds: the longest of the movie header and the tracks.
    pub fn duration_seconds(&self) -> Option<f64> {
        let mv = self
            .movie
            .filter(|m| {
                m.timescale > 0
                    && m.duration > 0
                    && m.duration != u32::MAX as u64
                    && m.duration != u64::MAX
            })
            .map(|m| m.duration as f64 / m.timescale as f64);
        let tracks = self
            .tracks
            .iter()
            .filter_map(|t| t.duration_seconds(self.movie.map_or(0, |m| m.timescale)))
            .fold(None, |a: Option<f64>, d| Some(a.map_or(d, |a| a.max(d))));
        match (mv, tracks) {
            (Some(m), Some(t)) => Some(if self.fragmented { m.max(t) } else { m }),
            (a, b) => a.or(b),
        }
    }
}

/// Finds the next offset at or after `from` that starts a plausible top-level box.
fn find_top_box(src: &[u8], from: usize) -> Option<usize> {
    find_top_box_in(src, 0, from as u64, src.len() as u64).map(|at| at as usize)
}

/// [`find_top_box`] over `win`, the bytes of a file of `file_len` bytes that
/// start at offset `base`: the first plausible box start at or after `from`
/// (absolute) whose type lies wholly inside `win`.
pub(crate) fn find_top_box_in(win: &[u8], base: u64, from: u64, file_len: u64) -> Option<u64> {
    const TOP: [&[u8; 4]; 7] = [
        b"moov", b"mdat", b"moof", b"free", b"skip", b"wide", b"uuid",
    ];
    let mut at = usize::try_from(from.checked_sub(base)?)
        .ok()?
        .checked_add(4)?;
    while at + 4 <= win.len() {
        let t = &win[at..at + 4];
        if TOP.iter().any(|k| k.as_slice() == t) {
            let start = at - 4;
            let abs = base + start as u64;
            if let Some(size) = be32(win, start)
                && (size == 0 || size == 1 || (size >= 8 && abs + size as u64 <= file_len + 8))
            {
                return Some(abs);
            }
        }
        at += 1;
    }
    None
}

fn parse_sidx(b: &BoxRef<'_>) -> Option<SegmentIndex> {
    let (version, _, p) = b.full()?;
    let reference_id = be32(p, 0)?;
    let timescale = be32(p, 4)?;
    let (earliest_pts, at) = if version == 0 {
        (be32(p, 8)? as u64, 16)
    } else {
        (be64(p, 8)?, 24)
    };
    let references = crate::bytes::be16(p, at + 2)?;
    Some(SegmentIndex {
        offset: b.offset,
        reference_id,
        timescale,
        earliest_pts,
        references,
    })
}
