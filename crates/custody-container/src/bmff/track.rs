//! `moov` and `trak` parsing: headers, edit lists, sample descriptions and tables.

use super::boxes::BoxRef;
use super::entry::{Layout, SampleEntry, parse_entry};
use super::sample::{Run, SampleIndex, SampleIter, Sizes, Tables};
use super::{MovieHeader, Mp4, meta};
use crate::bytes::{be16, be32, be64};
use crate::error::{Diag, Error, ErrorKind, Result};
use crate::fourcc::FourCC;

/// Tracks kept from one `moov`; recorders write a handful.
const MAX_TRACKS: usize = 1024;

/// Sample descriptions kept per track (the compact index stores 15 bits of entry index).
const MAX_ENTRIES: usize = 1024;

/// What a track carries, from its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    /// `vide`
    Video,
    /// `soun`
    Audio,
    /// `text`, `sbtl`, `subt`, `clcp`
    Subtitle,
    /// `tmcd`
    Timecode,
    /// `meta` and anything else
    Data,
}

impl std::fmt::Display for TrackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<crate::pes::StreamKind> for TrackKind {
    fn from(k: crate::pes::StreamKind) -> TrackKind {
        use crate::pes::StreamKind;
        match k {
            StreamKind::Video => TrackKind::Video,
            StreamKind::Audio => TrackKind::Audio,
            StreamKind::Subtitle => TrackKind::Subtitle,
            StreamKind::Data => TrackKind::Data,
        }
    }
}

impl TrackKind {
    /// The kind as probe output writes it (`video`, `audio`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
            TrackKind::Subtitle => "subtitle",
            TrackKind::Timecode => "timecode",
            TrackKind::Data => "data",
        }
    }

    fn from_handler(h: FourCC) -> Self {
        match &h.0 {
            b"vide" | b"auxv" | b"pict" => TrackKind::Video,
            b"soun" => TrackKind::Audio,
            b"text" | b"sbtl" | b"subt" | b"clcp" => TrackKind::Subtitle,
            b"tmcd" => TrackKind::Timecode,
            _ => TrackKind::Data,
        }
    }
}

/// One edit list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Edit {
    /// Duration of the edit in movie timescale units.
    pub segment_duration: u64,
    /// Start time in media timescale units; -1 is an empty edit.
    pub media_time: i64,
    /// Playback rate, 16.16 fixed point.
    pub media_rate: i32,
}

/// One track (`trak`).
#[derive(Debug, Clone)]
pub struct Track<'a> {
    /// Track id from `tkhd`.
    pub id: u32,
    /// Handler type from `hdlr`.
    pub handler: FourCC,
    /// Kind derived from the handler.
    pub kind: TrackKind,
    /// Media timescale (ticks per second).
    pub timescale: u32,
    /// Media duration from `mdhd`, in `timescale` units.
    pub duration: u64,
    /// ISO 639-2/T language code from `mdhd`.
    pub language: Option<String>,
    /// `mdhd` creation time, seconds since 1904.
    pub created: u64,
    /// `mdhd` modification time, seconds since 1904.
    pub modified: u64,
    /// Track duration from `tkhd`, in movie timescale units.
    pub header_duration: u64,
    /// Presentation width from `tkhd` (integer part).
    pub display_width: u32,
    /// Presentation height from `tkhd` (integer part).
    pub display_height: u32,
    /// Sample descriptions.
    pub entries: Vec<SampleEntry<'a>>,
    /// Edit list.
    pub edits: Vec<Edit>,
    /// Box path of this track, for messages.
    pub path: String,
    pub(crate) tables: Tables<'a>,
    pub(crate) runs: Vec<Run<'a>>,
    pub(crate) data_len: u64,
    pub(crate) trex: Option<Trex>,
}

/// `trex` defaults for fragments.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Trex {
    pub(crate) entry: u32,
    pub(crate) duration: u32,
    pub(crate) size: u32,
    pub(crate) flags: u32,
}

impl<'a> Track<'a> {
    /// Iterates the samples in decode order, in place (no allocation).
    pub fn samples(&self) -> SampleIter<'_> {
        SampleIter::new(self.tables, &self.runs, self.data_len)
    }

    /// Builds the compact random-access index (24 bytes per sample).
    pub fn index(&self) -> SampleIndex {
        // A run of one sample size counts as many samples as lie in the data
        // (it may claim up to 2^32 - 1 beyond it); other counts are bounded
        // by their table bytes, or by the data for fixed sizes: never reserve
        // more than one entry per byte of data.
        let runs: u64 = self
            .runs
            .iter()
            .map(|r| match (r.flags & 0x200, r.default_size as u64) {
                (0, 0) => 0,
                (0, size) => {
                    (self.data_len.saturating_sub(r.data_offset) / size).min(r.count as u64)
                }
                _ => r.count as u64,
            })
            .sum();
        let claimed = (self.tables.sample_count as u64).saturating_add(runs);
        let cap = claimed.min(self.data_len) as usize;
        SampleIndex::build(self.samples(), cap)
    }

    /// The first sample entry's codec name (FFmpeg naming).
    pub fn codec(&self) -> Option<&'static str> {
        self.entries.first().and_then(|e| e.codec)
    }

    /// The first sample entry's four-cc.
    pub fn codec_tag(&self) -> Option<FourCC> {
        self.entries.first().map(|e| e.format)
    }

    /// Media duration in `timescale` units.
    ///
    /// The `mdhd` duration, capped by the sum of the sample durations in the
    /// tables when that is shorter (a header that overstates its media is not
    /// believed); for fragmented tracks, the span of all samples.
    pub fn media_duration(&self) -> u64 {
        let declared = if self.duration == u32::MAX as u64 || self.duration == u64::MAX {
            0
        } else {
            self.duration
        };
        if !self.runs.is_empty() {
            let mut first = None;
            let mut end = 0i64;
            for s in self.samples() {
                first.get_or_insert(s.dts);
                end = end.max(s.dts.saturating_add(s.duration as i64));
            }
            return first.map_or(declared, |f| end.saturating_sub(f).max(0) as u64);
        }
        let table: u64 = self
            .tables
            .stts
            .chunks_exact(8)
            .map(|e| be32(e, 0).unwrap_or(0) as u64 * be32(e, 4).unwrap_or(0) as u64)
            .fold(0, u64::saturating_add);
        match (declared, table) {
            (0, t) => t,
            (d, 0) => d,
            (d, t) => d.min(t),
        }
    }

    /// Media duration in seconds; see [`Track::media_duration`].
    pub fn media_duration_seconds(&self) -> Option<f64> {
        (self.timescale > 0).then(|| self.media_duration() as f64 / self.timescale as f64)
    }

    /// Presentation duration in seconds: the edit list's non-empty edits when
    /// there are any (in the movie timescale), else the media duration.
    pub fn duration_seconds(&self, movie_timescale: u32) -> Option<f64> {
        let edited: u64 = self
            .edits
            .iter()
            .filter(|e| e.media_time != -1)
            .map(|e| e.segment_duration)
            .fold(0u64, u64::saturating_add);
        if edited > 0 && movie_timescale > 0 && self.runs.is_empty() {
            return Some(edited as f64 / movie_timescale as f64);
        }
        self.media_duration_seconds()
    }

    /// Offset used to locate whole-track messages: the end of the data.
    pub(crate) fn data_len_hint(&self) -> u64 {
        self.data_len
    }

    /// Number of chunks in the `moov` tables.
    pub fn chunk_count(&self) -> u32 {
        self.tables.chunk_count()
    }

    /// Number of sample entries claimed by `stsz` (present or not).
    pub fn declared_samples(&self) -> u64 {
        self.tables.sample_count as u64 + self.runs.iter().map(|r| r.count as u64).sum::<u64>()
    }
}

/// Reports a child box that claims more bytes than its parent holds (its
/// payload is then clamped to the parent): a warning, an error in strict
/// mode. A parent that is itself cut short (a truncated file) is reported
/// where it ends, so its children's overruns are not reported again.
pub(crate) fn check_fits(
    parent: &BoxRef<'_>,
    child: &BoxRef<'_>,
    path: impl FnOnce() -> String,
    diag: &mut Diag,
) -> Result<()> {
    if child.truncated && !parent.truncated {
        diag.warn(Error::new(
            child.offset,
            path(),
            ErrorKind::BadBoxSize { size: child.size },
        ))?;
    }
    Ok(())
}

/// Samples of the `moov` tables that lie in the data claim its bytes, and
/// all tracks together may claim no more bytes than the data holds (the
/// samples of real tracks never share bytes): otherwise many tracks over
/// one chunk would each index the whole file again (work and memory
/// growing with the square of its size). A track whose samples go beyond
/// what is left keeps those that fit, with a warning. Returns what is left
/// for movie fragments.
pub(crate) fn claim_tables(
    tracks: &mut [Track<'_>],
    data_len: u64,
    diag: &mut Diag,
) -> Result<u64> {
    let mut unclaimed = data_len;
    // What the tables claim, present or not, bounds what they can take.
    let claimed = tracks
        .iter()
        .map(|t| t.tables.claimed_bytes())
        .fold(0u64, u64::saturating_add);
    if claimed <= unclaimed {
        return Ok(unclaimed - claimed);
    }
    for t in tracks.iter_mut() {
        let mut it = SampleIter::new(t.tables, &[], t.data_len);
        let mut used = 0u64;
        let mut cap = None;
        while let Some(s) = it.next() {
            let size = s.size as u64;
            if size > unclaimed - used {
                cap = Some(it.table_position() - 1);
                break;
            }
            used += size;
        }
        unclaimed -= used;
        if let Some(n) = cap {
            diag.note(
                t.data_len,
                &format!("{}/mdia/minf/stbl", t.path),
                format!(
                    "samples from {} on lie on bytes that other samples already claim \
                     (the file holds {data_len} bytes); {n} of {} kept",
                    n + 1,
                    t.tables.sample_count
                ),
            )?;
            t.tables.sample_count = n;
        }
    }
    Ok(unclaimed)
}

pub(crate) fn parse_moov<'a>(
    mp4: &mut Mp4<'a>,
    moov: &BoxRef<'a>,
    data_len: u64,
    diag: &mut Diag,
) -> Result<()> {
    let mut movie = MovieHeader::default();
    let mut trak_n = 0;
    let mut trexes = Vec::new();
    for child in moov.children(0) {
        let b = match child {
            Ok(b) => b,
            Err(mut e) => {
                e.path = format!("moov/{}", e.path);
                diag.warn(e)?;
                break;
            }
        };
        check_fits(moov, &b, || format!("moov/{}", b.kind), diag)?;
        match &b.kind.0 {
            b"mvhd" => {
                if let Some((v, _, p)) = b.full() {
                    let (created, modified, ts, dur) = if v == 1 {
                        (be64(p, 0), be64(p, 8), be32(p, 16), be64(p, 20))
                    } else {
                        (
                            be32(p, 0).map(u64::from),
                            be32(p, 4).map(u64::from),
                            be32(p, 8),
                            be32(p, 12).map(u64::from),
                        )
                    };
                    movie = MovieHeader {
                        timescale: ts.unwrap_or(0),
                        duration: dur.unwrap_or(0),
                        created: created.unwrap_or(0),
                        modified: modified.unwrap_or(0),
                    };
                }
            }
            b"trak" => {
                let path = format!("moov/trak[{trak_n}]");
                trak_n += 1;
                if mp4.tracks.len() >= MAX_TRACKS {
                    diag.note(
                        b.offset,
                        &path,
                        format!("more than {MAX_TRACKS} tracks; the rest are ignored"),
                    )?;
                    continue;
                }
                if let Some(t) = parse_trak(&b, &path, data_len, diag)? {
                    mp4.tracks.push(t);
                }
            }
            b"mvex" => {
                mp4.fragmented = true;
                for m in b.children(0).flatten() {
                    check_fits(&b, &m, || format!("moov/mvex/{}", m.kind), diag)?;
                    if &m.kind.0 == b"trex"
                        && let Some((_, _, p)) = m.full()
                        && let (Some(id), Some(e), Some(d), Some(s), Some(f)) =
                            (be32(p, 0), be32(p, 4), be32(p, 8), be32(p, 12), be32(p, 16))
                    {
                        trexes.push((
                            id,
                            Trex {
                                entry: e,
                                duration: d,
                                size: s,
                                flags: f,
                            },
                        ));
                    }
                }
            }
            b"udta" => meta::parse_udta(&mut mp4.metadata, &b, diag)?,
            b"meta" => meta::parse_meta(&mut mp4.metadata, &b, diag)?,
            b"uuid" if b.usertype == Some(meta::XMP_UUID) => mp4.metadata.xmp = Some(b.payload),
            _ => {}
        }
    }
    for (id, trex) in trexes {
        if let Some(t) = mp4.tracks.iter_mut().find(|t| t.id == id) {
            t.trex = Some(trex);
        }
    }
    mp4.metadata.created = movie.created;
    mp4.metadata.modified = movie.modified;
    mp4.movie = Some(movie);
    Ok(())
}

fn parse_trak<'a>(
    trak: &BoxRef<'a>,
    path: &str,
    data_len: u64,
    diag: &mut Diag,
) -> Result<Option<Track<'a>>> {
    let mut t = Track {
        id: 0,
        handler: FourCC(*b"\0\0\0\0"),
        kind: TrackKind::Data,
        timescale: 0,
        duration: 0,
        language: None,
        created: 0,
        modified: 0,
        header_duration: 0,
        display_width: 0,
        display_height: 0,
        entries: Vec::new(),
        edits: Vec::new(),
        path: path.to_string(),
        tables: Tables::EMPTY,
        runs: Vec::new(),
        data_len,
        trex: None,
    };
    let mut stbl = None;
    for b in trak.children(0).flatten() {
        check_fits(trak, &b, || format!("{path}/{}", b.kind), diag)?;
        match &b.kind.0 {
            b"tkhd" => {
                if let Some((v, _, p)) = b.full() {
                    let (id, rest) = if v == 1 {
                        (be32(p, 16), 32)
                    } else {
                        (be32(p, 8), 20)
                    };
                    t.id = id.unwrap_or(0);
                    let dur = if v == 1 {
                        be64(p, 24)
                    } else {
                        be32(p, 16).map(u64::from)
                    };
                    t.header_duration = dur
                        .filter(|&d| d != u32::MAX as u64 && d != u64::MAX)
                        .unwrap_or(0);
                    // width/height are the last 8 bytes (16.16 fixed point).
                    let wh_at = rest + 8 + 2 + 2 + 2 + 2 + 36;
                    t.display_width = be32(p, wh_at).unwrap_or(0) >> 16;
                    t.display_height = be32(p, wh_at + 4).unwrap_or(0) >> 16;
                }
            }
            b"edts" => {
                for e in b.children(0).flatten() {
                    check_fits(&b, &e, || format!("{path}/edts/{}", e.kind), diag)?;
                    if &e.kind.0 == b"elst" {
                        t.edits = parse_elst(&e, &format!("{path}/edts/elst"), diag)?;
                    }
                }
            }
            b"mdia" => {
                for m in b.children(0).flatten() {
                    check_fits(&b, &m, || format!("{path}/mdia/{}", m.kind), diag)?;
                    match &m.kind.0 {
                        b"mdhd" => parse_mdhd(&m, &mut t),
                        b"hdlr" => {
                            if let Some((_, _, p)) = m.full() {
                                t.handler = p
                                    .get(4..8)
                                    .map_or(t.handler, |h| FourCC([h[0], h[1], h[2], h[3]]));
                                t.kind = TrackKind::from_handler(t.handler);
                            }
                        }
                        b"minf" => {
                            for s in m.children(0).flatten() {
                                check_fits(
                                    &m,
                                    &s,
                                    || format!("{path}/mdia/minf/{}", s.kind),
                                    diag,
                                )?;
                                if &s.kind.0 == b"stbl" {
                                    stbl = Some(s);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(stbl) = stbl {
        parse_stbl(&mut t, &stbl, &format!("{path}/mdia/minf/stbl"), diag)?;
    } else {
        diag.note(
            trak.offset,
            path,
            "track has no sample table (mdia/minf/stbl)",
        )?;
    }
    Ok(Some(t))
}

fn parse_mdhd(m: &BoxRef<'_>, t: &mut Track<'_>) {
    let Some((v, _, p)) = m.full() else { return };
    let (c, md, ts, d, lang_at) = if v == 1 {
        (be64(p, 0), be64(p, 8), be32(p, 16), be64(p, 20), 28)
    } else {
        (
            be32(p, 0).map(u64::from),
            be32(p, 4).map(u64::from),
            be32(p, 8),
            be32(p, 12).map(u64::from),
            16,
        )
    };
    t.created = c.unwrap_or(0);
    t.modified = md.unwrap_or(0);
    t.timescale = ts.unwrap_or(0);
    t.duration = d.unwrap_or(0);
    t.language = be16(p, lang_at).and_then(decode_language);
}

/// Decodes the packed ISO 639-2/T code (three 5-bit letters) or a QuickTime language code.
fn decode_language(v: u16) -> Option<String> {
    if v < 0x400 {
        // Macintosh language codes: 0 is English; others are rarely used.
        return if v == 0 { Some("eng".into()) } else { None };
    }
    let chars = [(v >> 10) & 0x1f, (v >> 5) & 0x1f, v & 0x1f];
    if chars.iter().any(|&c| c == 0 || c > 26) {
        return None;
    }
    Some(chars.iter().map(|&c| (c as u8 + 0x60) as char).collect())
}

fn parse_elst(e: &BoxRef<'_>, path: &str, diag: &mut Diag) -> Result<Vec<Edit>> {
    let Some((v, _, p)) = e.full() else {
        return Ok(Vec::new());
    };
    let width = if v == 1 { 20 } else { 12 };
    let count = be32(p, 0).unwrap_or(0) as usize;
    let n = checked_entries(count, width, p.len().saturating_sub(4), e, path, diag)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let at = 4 + i * width;
        let (dur, time, rate_at) = if v == 1 {
            (be64(p, at), be64(p, at + 8).map(|x| x as i64), at + 16)
        } else {
            (
                be32(p, at).map(u64::from),
                be32(p, at + 4).map(|x| x as i32 as i64),
                at + 8,
            )
        };
        out.push(Edit {
            segment_duration: dur.unwrap_or(0),
            media_time: time.unwrap_or(0),
            media_rate: be32(p, rate_at).unwrap_or(0) as i32,
        });
    }
    Ok(out)
}

/// Checks that `count` entries of `width` bytes fit in `holds` bytes; warns and clamps if not.
pub(crate) fn checked_entries(
    count: usize,
    width: usize,
    holds: usize,
    b: &BoxRef<'_>,
    path: &str,
    diag: &mut Diag,
) -> Result<usize> {
    let needs = (count as u64).saturating_mul(width as u64);
    if needs > holds as u64 {
        diag.warn(Error::new(
            b.offset,
            path,
            ErrorKind::TooManyEntries {
                count: count as u64,
                needs,
                holds: holds as u64,
            },
        ))?;
        return Ok(holds / width.max(1));
    }
    Ok(count)
}

/// Returns the entry bytes of a table box after its count field, checked against the count.
fn table<'a>(
    b: &BoxRef<'a>,
    width: usize,
    skip: usize,
    path: &str,
    diag: &mut Diag,
) -> Result<(&'a [u8], usize)> {
    let Some((_, _, p)) = b.full() else {
        diag.warn(Error::new(
            b.offset,
            path,
            ErrorKind::Truncated {
                needed: 4,
                available: b.payload.len() as u64,
            },
        ))?;
        return Ok((&[], 0));
    };
    let Some(count) = be32(p, skip) else {
        diag.warn(Error::new(
            b.offset,
            path,
            ErrorKind::Truncated {
                needed: skip as u64 + 8,
                available: b.payload.len() as u64,
            },
        ))?;
        return Ok((&[], 0));
    };
    let body = &p[skip + 4..];
    let n = checked_entries(count as usize, width, body.len(), b, path, diag)?;
    Ok((&body[..n * width], n))
}

fn parse_stbl<'a>(t: &mut Track<'a>, stbl: &BoxRef<'a>, path: &str, diag: &mut Diag) -> Result<()> {
    let mut tables = Tables::EMPTY;
    let mut have_sizes = false;
    for item in stbl.children(0) {
        let b = match item {
            Ok(b) => b,
            Err(mut e) => {
                e.path = format!("{path}/{}", e.path);
                diag.warn(e)?;
                break;
            }
        };
        let bpath = format!("{path}/{}", b.kind);
        check_fits(stbl, &b, || bpath.clone(), diag)?;
        match &b.kind.0 {
            b"stsd" => {
                let layout = match t.kind {
                    TrackKind::Video => Layout::Visual,
                    TrackKind::Audio => Layout::Audio,
                    _ => Layout::Other,
                };
                for e in b.children(8).flatten() {
                    if t.entries.len() >= MAX_ENTRIES {
                        diag.note(
                            e.offset,
                            &bpath,
                            format!("more than {MAX_ENTRIES} sample entries; the rest are ignored"),
                        )?;
                        break;
                    }
                    t.entries.push(parse_entry(&e, layout));
                }
            }
            b"stts" => tables.stts = table(&b, 8, 0, &bpath, diag)?.0,
            b"ctts" => tables.ctts = table(&b, 8, 0, &bpath, diag)?.0,
            b"stsc" => tables.stsc = table(&b, 12, 0, &bpath, diag)?.0,
            b"stco" => {
                tables.chunks = table(&b, 4, 0, &bpath, diag)?.0;
                tables.chunk_width = 4;
            }
            b"co64" => {
                tables.chunks = table(&b, 8, 0, &bpath, diag)?.0;
                tables.chunk_width = 8;
            }
            b"stss" => tables.stss = Some(table(&b, 4, 0, &bpath, diag)?.0),
            b"stsz" => {
                have_sizes = true;
                let Some((_, _, p)) = b.full() else { continue };
                let (Some(size), Some(count)) = (be32(p, 0), be32(p, 4)) else {
                    diag.note(b.offset, &bpath, "stsz header is truncated")?;
                    continue;
                };
                if size != 0 {
                    tables.sizes = Sizes::Fixed(size);
                    // Samples of one fixed size cannot outnumber what the file can hold.
                    let fit = t.data_len / size as u64;
                    if count as u64 > fit {
                        diag.note(
                            b.offset,
                            &bpath,
                            format!(
                                "{count} samples of {size} bytes cannot fit in the file; {fit} kept"
                            ),
                        )?;
                    }
                    tables.sample_count = count.min(fit.min(u32::MAX as u64) as u32);
                } else {
                    let (bytes, n) = table(&b, 4, 4, &bpath, diag)?;
                    tables.sizes = Sizes::Table { bytes, bits: 32 };
                    tables.sample_count = n as u32;
                }
            }
            b"stz2" => {
                have_sizes = true;
                let Some((_, _, p)) = b.full() else { continue };
                let (Some(bits), Some(count)) = (p.get(3).copied(), be32(p, 4)) else {
                    diag.note(b.offset, &bpath, "stz2 header is truncated")?;
                    continue;
                };
                if !matches!(bits, 4 | 8 | 16) {
                    diag.note(
                        b.offset,
                        &bpath,
                        format!("stz2 field size {bits} is not 4, 8 or 16"),
                    )?;
                    continue;
                }
                let body = &p[8..];
                let needed = (count as usize).saturating_mul(bits as usize).div_ceil(8);
                let n = if needed > body.len() {
                    checked_entries(
                        count as usize,
                        bits as usize,
                        body.len() * 8,
                        &b,
                        &bpath,
                        diag,
                    )?
                } else {
                    count as usize
                };
                tables.sizes = Sizes::Table { bytes: body, bits };
                tables.sample_count = n as u32;
            }
            _ => {}
        }
    }
    if !have_sizes {
        diag.note(
            stbl.offset,
            path,
            "sample table has no stsz or stz2: no samples",
        )?;
    }
    if tables.sample_count > 0 && (tables.stsc.is_empty() || tables.chunks.is_empty()) {
        diag.note(
            stbl.offset,
            path,
            format!(
                "{} samples declared but the table has no {}",
                tables.sample_count,
                if tables.stsc.is_empty() {
                    "stsc"
                } else {
                    "chunk offsets"
                }
            ),
        )?;
    }
    if t.entries.is_empty() {
        diag.note(
            stbl.offset,
            path,
            "sample table has no sample description (stsd)",
        )?;
    }
    t.tables = tables;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::bmff::{Mp4, write_box};
    use crate::{ErrorKind, FourCC, Limits};
    use custody_testkit::mp4::{SampleSpec, TrackSpec, avc1_entry, write_mp4};

    fn video(samples: u32) -> TrackSpec {
        TrackSpec {
            handler: *b"vide",
            timescale: 90_000,
            sample_entry: avc1_entry(16, 16, &[]),
            samples: (0..samples)
                .map(|_| SampleSpec {
                    size: 10,
                    duration: 3000,
                    cts: 0,
                    keyframe: true,
                })
                .collect(),
        }
    }

    /// A box inside a complete `moov` that claims 2^63 bytes (far more than
    /// the `moov` holds) is an error with its path and offset in strict
    /// mode, and a warning otherwise.
    #[test]
    fn a_box_larger_than_its_parent_is_an_error_in_strict_mode() {
        let file = write_mp4(&[video(3)], 1.0);
        let moov_at = file.windows(4).position(|w| w == b"moov").unwrap() - 4;
        let mut payload = file[moov_at + 8..].to_vec();
        let bad_at = (moov_at + 8 + payload.len()) as u64;
        payload.extend_from_slice(&1u32.to_be_bytes());
        payload.extend_from_slice(b"free");
        payload.extend_from_slice(&(1u64 << 63).to_be_bytes());
        payload.extend_from_slice(&[0; 8]);
        let mut bad = file[..moov_at].to_vec();
        write_box(&mut bad, FourCC(*b"moov"), &payload, false);
        let strict = Limits {
            strict: true,
            ..Limits::default()
        };
        let e = Mp4::parse(&bad, strict).unwrap_err();
        assert_eq!(
            (e.offset, e.path.as_str(), e.kind),
            (bad_at, "moov/free", ErrorKind::BadBoxSize { size: 1 << 63 })
        );
        let mp4 = Mp4::parse(&bad, Limits::default()).unwrap();
        assert_eq!(mp4.tracks[0].samples().count(), 3);
        assert!(
            mp4.warnings
                .iter()
                .any(|w| w.offset == bad_at && w.path == "moov/free"),
            "{:?}",
            mp4.warnings
        );
        // The same box deep inside a track, and in the box dump.
        let (_, warnings) = crate::bmff::tree(&bad, Limits::default()).unwrap();
        assert!(
            warnings.iter().any(|w| w.path == "moov/free"),
            "{warnings:?}"
        );
        assert!(crate::bmff::tree(&bad, strict).is_err());
        // The original, whose boxes all fit, is fine in strict mode.
        Mp4::parse(&file, strict).unwrap();
        crate::bmff::tree(&file, strict).unwrap();
    }

    /// A file cut short inside `moov` is reported once, where it ends: the
    /// boxes inside it that overrun with it are not reported again.
    #[test]
    fn a_truncated_moov_is_reported_once() {
        let file = write_mp4(&[video(3)], 1.0);
        let cut = &file[..file.len() - 10];
        let mp4 = Mp4::parse(cut, Limits::default()).unwrap();
        let oversized = |w: &&crate::Warning| w.message.starts_with("invalid box size");
        assert_eq!(mp4.warnings[0].path, "moov", "{:?}", mp4.warnings);
        assert_eq!(mp4.warnings.iter().filter(oversized).count(), 0);
        let (_, warnings) = crate::bmff::tree(cut, Limits::default()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    /// Tracks whose samples all lie on the same bytes claim them once: the
    /// samples of all tracks together cover no more bytes than the file.
    #[test]
    fn tracks_over_one_chunk_claim_the_file_once() {
        for len in [16_384, 65_536] {
            let file = custody_testkit::hostile::bmff_tracks_one_chunk(len);
            let mp4 = Mp4::parse(&file, Limits::default()).unwrap();
            assert!(mp4.tracks.len() > 10);
            let bytes: u64 = mp4
                .tracks
                .iter()
                .flat_map(|t| t.samples())
                .map(|s| s.size as u64)
                .sum();
            assert!(bytes <= file.len() as u64, "{bytes} bytes of samples");
            // The first track keeps every sample that lies in the file.
            assert!(mp4.tracks[0].samples().count() >= len / 2);
            assert!(
                mp4.warnings
                    .iter()
                    .any(|w| w.message.contains("other samples already claim"))
            );
        }
    }

    #[test]
    fn table_duration_saturates() {
        let spec = |duration| SampleSpec {
            size: 1,
            duration,
            cts: 0,
            keyframe: true,
        };
        let mut file = write_mp4(
            &[TrackSpec {
                samples: vec![spec(10), spec(20)],
                ..video(0)
            }],
            1.0,
        );
        let find = |f: &[u8], k: &[u8]| f.windows(4).position(|w| w == k).unwrap();
        // Two stts entries of u32::MAX samples of u32::MAX ticks: their products
        // (each just under 2^64) overflow u64 when summed.
        let stts = find(&file, b"stts");
        file[stts + 12..stts + 28].fill(0xff);
        // An mdhd duration of u32::MAX means "unknown": the table's sum is used.
        let mdhd = find(&file, b"mdhd");
        file[mdhd + 20..mdhd + 24].fill(0xff);
        let mp4 = Mp4::parse(&file, Limits::default()).unwrap();
        assert_eq!(mp4.tracks[0].media_duration(), u64::MAX);
    }
}
