//! One summary for every container: what `custody probe` prints.

use crate::avi::{Avi, AviKind, StreamFormat};
use crate::bmff::{Location, MetaValue, Mp4, TrackKind};
use crate::demux::{Demuxed, Parsed, demux, demux_input};
use crate::detect::{Format, detect};
use crate::error::{Error, ErrorKind, Limits, Result, Warning};
use crate::es::{Frame, Units};
use crate::exif::ExifValue;
use crate::flv::{AmfValue, Flv, FlvKind};
use crate::input::Input;
use crate::mkv::Mkv;
use crate::names::{Codec, Container};
use crate::ogg::Ogg;
use crate::photo::Photo;
use crate::rawaudio::RawAudio;
use crate::ts::StreamKind;
use crate::wav::Wav;
use std::collections::BTreeMap;

/// What to produce.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProbeOptions {
    /// Parsing limits and strictness.
    pub limits: Limits,
    /// Include each track's sample index.
    pub samples: bool,
    /// Include the ISO-BMFF box tree.
    pub boxes: bool,
}

/// A sample as listed by `--samples`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SampleRow {
    // Fields in the order of their JSON names, so that serialising directly
    // writes what a sorted `serde_json::Value` would (`custody probe --json`).
    /// Decode timestamp in the track's timescale (TS/PS: 90 kHz; WAV: the
    /// sample rate; AVI: the stream's `scale / rate` units; Matroska: the
    /// timestamp scale; FLV: milliseconds; audio files: the sample rate; Ogg:
    /// granule positions, on the packet that ends a page).
    pub dts: Option<i64>,
    /// Random access point.
    pub keyframe: bool,
    /// Absolute byte offset (for TS/PS: the packet that carries the first byte).
    pub offset: u64,
    /// Presentation timestamp.
    pub pts: Option<i64>,
    /// Size in bytes.
    pub size: u64,
}

/// One track or elementary stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackSummary {
    // Fields in the order of their JSON names, so that serialising directly
    // writes what a sorted `serde_json::Value` would (`custody probe --json`).
    /// Audio channels.
    pub channels: Option<u32>,
    /// FFmpeg's codec name.
    pub codec: Option<Codec>,
    /// Sample entry four-cc (MP4) or stream type (TS, as `0x1b`).
    pub codec_tag: Option<String>,
    /// Duration in seconds.
    pub duration_s: Option<f64>,
    /// Picture height.
    pub height: Option<u32>,
    /// Track id (MP4), PID (TS) or stream id (PS).
    pub id: u32,
    /// Sync samples.
    pub keyframes: u64,
    /// What the track carries: `video`, `audio`, `subtitle`, `timecode` or `data`.
    pub kind: TrackKind,
    /// ISO 639-2 language.
    pub language: Option<String>,
    /// Media duration in seconds, before any edit list (MP4 only).
    pub media_duration_s: Option<f64>,
    /// The sample index, with `--samples`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_index: Option<Vec<SampleRow>>,
    /// Audio sample rate.
    pub sample_rate: Option<u32>,
    /// Samples (access units) present.
    pub samples: u64,
    /// Picture width.
    pub width: Option<u32>,
}

/// What a file holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Probe {
    // Fields in the order of their JSON names, so that serialising directly
    // writes what a sorted `serde_json::Value` would (`custody probe --json`).
    /// The box tree, with `--boxes` (ISO-BMFF only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boxes: Option<Vec<crate::bmff::BoxNode>>,
    /// ISO-BMFF major brand.
    pub brand: Option<String>,
    /// Container name: `mp4`, `mov`, `3gp`, `mpegts`, `m2ts`, `mpegps`, `matroska`, ...
    pub container: Container,
    /// Creation time, UTC (RFC 3339).
    pub created: Option<String>,
    /// Duration in seconds.
    pub duration_s: Option<f64>,
    /// Fragmented MP4.
    pub fragmented: bool,
    /// Recording location.
    pub location: Option<Location>,
    /// Metadata items.
    pub metadata: BTreeMap<String, MetaValue>,
    /// File path (set by the caller).
    pub path: Option<String>,
    /// File size in bytes.
    pub size: u64,
    /// Tracks or elementary streams.
    pub tracks: Vec<TrackSummary>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

impl Probe {
    fn new(size: u64, container: Container) -> Self {
        Probe {
            path: None,
            size,
            container,
            brand: None,
            fragmented: false,
            duration_s: None,
            created: None,
            tracks: Vec::new(),
            metadata: BTreeMap::new(),
            location: None,
            warnings: Vec::new(),
            boxes: None,
        }
    }
}

/// Probes `data`: recognises the container and summarises it.
pub fn probe(data: &[u8], opts: ProbeOptions) -> Result<Probe> {
    let mut p = probe_format(data, opts)?;
    if opts.boxes && detect(data) == Some(Format::IsoBmff) {
        let (nodes, warnings) = crate::bmff::tree(data, opts.limits)?;
        p.boxes = Some(nodes);
        for w in warnings {
            if !p.warnings.contains(&w) {
                p.warnings.push(w);
            }
        }
    }
    Ok(p)
}

fn probe_format(data: &[u8], opts: ProbeOptions) -> Result<Probe> {
    Ok(summarise(&demux(data, opts.limits, true, None)?, opts))
}

/// The summary of a demuxed file (parsed with its index): what `custody
/// probe` prints.
pub fn summarise(d: &Demuxed<'_>, opts: ProbeOptions) -> Probe {
    match &d.parsed {
        Parsed::Mp4(mp4) => from_mp4(mp4, opts),
        Parsed::Segment(_) => {
            let mut p = Probe::new(d.size, Container::Mp4);
            p.fragmented = true;
            p.warnings.push(Warning {
                offset: 0,
                path: String::new(),
                message: "media segment without a moov: give its init segment to list tracks"
                    .into(),
            });
            p
        }
        Parsed::Ts(ts) => from_streams(
            d.size,
            d.format.container(),
            ts.streams.iter().map(|s| StreamView {
                id: s.pid as u32,
                kind: s.kind,
                codec: s.codec,
                tag: Some(format!("{:#04x}", s.stream_type)),
                language: s.language.clone(),
                units: &s.units,
                info: s.info,
            }),
            ts.warnings.clone(),
            opts,
        ),
        Parsed::Ps(ps) => from_streams(
            d.size,
            d.format.container(),
            ps.streams.iter().map(|s| StreamView {
                id: s.id as u32,
                kind: s.kind,
                codec: s.codec,
                tag: None,
                language: None,
                units: &s.units,
                info: s.info,
            }),
            ps.warnings.clone(),
            opts,
        ),
        Parsed::Wav(wav) => from_wav(wav, d.format.container(), opts),
        Parsed::Avi(avi) => from_avi(avi, opts),
        Parsed::Mkv(mkv) => from_mkv(mkv, d.format.container(), opts),
        Parsed::Flv(flv) => from_flv(flv, opts),
        Parsed::Audio(a) => from_audio(a, d.format.container(), opts),
        Parsed::Ogg(o) => from_ogg(o, opts),
        Parsed::Photo(p) => from_photo(p, d.format.container()),
        _ => {
            let mut p = Probe::new(d.size, d.format.container());
            p.warnings.push(Warning {
                offset: 0,
                path: String::new(),
                message: format!(
                    "{} is recognised; its tracks are not parsed yet",
                    d.format.name()
                ),
            });
            p
        }
    }
}

/// Probes an MPEG-TS/M2TS or MPEG-PS file read front to back through
/// `input` (a [`Windowed`] file that is not mapped): exactly what [`probe`]
/// says of its bytes, at the cost of a window and the unit index, never the
/// file's size. Other containers are read at random: an
/// [`ErrorKind::Unsupported`] error (probe their [`probe_ranges`] image).
///
/// [`Windowed`]: crate::input::Windowed
pub fn probe_input<I: Input>(input: I, opts: ProbeOptions) -> Result<Probe> {
    Ok(summarise(
        &demux_input(input, opts.limits, true, None)?,
        opts,
    ))
}

/// Recognises the container of `input` from its first 64 KiB, as
/// [`detect`] does from the whole (it looks no further).
pub fn detect_input<I: Input>(input: &mut I) -> Result<Format> {
    let head = input.window(0, DETECT_SPAN)?;
    detect(&head[..head.len().min(DETECT_SPAN)])
        .ok_or_else(|| Error::new(0, "", ErrorKind::Unrecognised))
}

/// Whether [`probe_input`] (and content hashing) read `format` front to
/// back: transport and program streams.
pub fn reads_front_to_back(format: Format) -> bool {
    matches!(format, Format::MpegTs { .. } | Format::MpegPs)
}

/// Bytes [`detect`] looks at.
const DETECT_SPAN: usize = 1 << 16;

/// The byte ranges of a `len`-byte file that [`probe`] with `opts` reads,
/// found through `read_at` with a few small reads; `None` when it reads the
/// whole file: transport and program streams (scanned packet by packet:
/// read those front to back with [`probe_input`] instead), and Matroska,
/// FLV, Ogg and audio files, whose packet headers are spread through the
/// file, and photos (one packet: the whole file).
///
/// Give the ranges to `custody_io::Evidence::open_planned` to probe a file
/// that is not mapped (removable media) at the cost of its index: a probe of
/// the image equals a probe of the file.
pub fn probe_ranges(
    len: u64,
    opts: ProbeOptions,
    read_at: &mut crate::bmff::plan::ReadAt<'_>,
) -> std::io::Result<Option<Vec<std::ops::Range<u64>>>> {
    // Recognition looks at the first 64 KiB at most (`detect`).
    let n = len.min(DETECT_SPAN as u64) as usize;
    let mut head = vec![0u8; n];
    read_at(0, &mut head)?;
    Ok(match detect(&head) {
        Some(Format::IsoBmff) => {
            let mut r = crate::bmff::probe_ranges(len, opts.boxes, read_at)?;
            r.push(0..n.min(8) as u64);
            Some(r)
        }
        Some(Format::Wav | Format::Rf64 | Format::Avi) => crate::riff::probe_ranges(len, read_at)?,
        // Recognised only: nothing past the first bytes is read.
        Some(Format::AnnexB) | None => Some(std::iter::once(0..n as u64).collect()),
        // Streams, Matroska, FLV, Ogg and audio files: their packets' headers
        // are spread through the file; a photo is one packet, the whole file.
        Some(_) => None,
    })
}

/// Probes a media segment against its init segment.
pub fn probe_segment(init: &[u8], segment: &[u8], opts: ProbeOptions) -> Result<Probe> {
    let mp4 = Mp4::parse_segment(init, segment, opts.limits)?;
    Ok(from_mp4(&mp4, opts))
}

fn from_mp4(mp4: &Mp4<'_>, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(mp4.data.len() as u64, mp4.container());
    p.brand = mp4.major_brand.map(|b| b.to_string());
    p.fragmented = mp4.fragmented;
    p.duration_s = mp4.duration_seconds();
    p.created = crate::time::from_1904(mp4.metadata.created);
    p.metadata = mp4.metadata.items.clone();
    // For a media segment the XMP may come from the init segment, which is not
    // in `mp4.data`: it has no offset there.
    if let Some(xmp) = mp4.metadata.xmp
        && let Some(offset) = (xmp.as_ptr() as usize).checked_sub(mp4.data.as_ptr() as usize)
        && offset + xmp.len() <= mp4.data.len()
    {
        p.metadata.insert(
            "xmp".into(),
            MetaValue::Raw {
                offset: offset as u64,
                bytes: xmp.len() as u64,
            },
        );
    }
    p.location = mp4.metadata.location;
    p.warnings = mp4.warnings.clone();
    for t in &mp4.tracks {
        let mut samples = 0u64;
        let mut keyframes = 0u64;
        let mut it = t.samples();
        for s in it.by_ref() {
            samples += 1;
            keyframes += s.keyframe as u64;
        }
        // The listing, sized to the samples present (counted above).
        let rows = opts.samples.then(|| {
            let mut rows = Vec::with_capacity(samples as usize);
            rows.extend(t.samples().map(|s| SampleRow {
                offset: s.offset,
                size: s.size as u64,
                dts: Some(s.dts),
                pts: Some(s.pts),
                keyframe: s.keyframe,
            }));
            rows
        });
        if it.missing() > 0 {
            p.warnings.push(Warning {
                offset: t.data_len_hint(),
                path: t.path.clone(),
                message: format!(
                    "{} of {} samples lie beyond the end of the file (truncated recording)",
                    it.missing(),
                    t.declared_samples()
                ),
            });
        }
        let e = t.entries.first();
        let visual = t.kind == TrackKind::Video;
        let audio = t.kind == TrackKind::Audio;
        p.tracks.push(TrackSummary {
            id: t.id,
            kind: t.kind,
            codec: t.codec().map(Codec::new),
            codec_tag: t.codec_tag().map(|c| c.to_string()),
            samples,
            keyframes,
            duration_s: t.duration_seconds(mp4.movie.map_or(0, |m| m.timescale)),
            media_duration_s: t.media_duration_seconds(),
            width: e.and_then(|e| e.width).filter(|_| visual),
            height: e.and_then(|e| e.height).filter(|_| visual),
            sample_rate: e.and_then(|e| e.sample_rate).filter(|_| audio),
            channels: e.and_then(|e| e.channels).filter(|_| audio),
            language: t.language.clone(),
            sample_index: rows,
        });
    }
    p
}

/// A WAV, RF64 or BW64 file: one audio track (id 0) and the metadata of
/// its `bext`, `LIST/INFO` and `iXML` chunks.
fn from_wav(w: &Wav<'_>, container: Container, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(w.data.len() as u64, container);
    p.warnings = w.warnings.clone();
    p.duration_s = w.duration_seconds();
    if let Some(b) = &w.bext {
        for (key, value) in [
            ("bext:description", &b.description),
            ("bext:originator", &b.originator),
            ("bext:originator_reference", &b.originator_reference),
            ("bext:origination_date", &b.origination_date),
            ("bext:origination_time", &b.origination_time),
            ("bext:coding_history", &b.coding_history),
        ] {
            if !value.is_empty() {
                p.metadata
                    .insert(key.into(), MetaValue::Text(value.clone()));
            }
        }
        if let Some(t) = b.origination() {
            p.metadata
                .insert("bext:origination".into(), MetaValue::Text(t));
        }
        p.metadata.insert(
            "bext:time_reference".into(),
            MetaValue::Int(i64::try_from(b.time_reference).unwrap_or(i64::MAX)),
        );
    }
    for (id, value) in &w.info {
        p.metadata
            .insert(format!("INFO:{id}"), MetaValue::Text(value.clone()));
    }
    if let Some(x) = &w.ixml {
        p.metadata.insert(
            "iXML".into(),
            MetaValue::Raw {
                offset: x.start,
                bytes: x.end - x.start,
            },
        );
    }
    if w.audio.is_none() {
        return p;
    }
    let f = w.format;
    let rate = f.map_or(0, |f| f.sample_rate);
    // Packet times: sample frames before each packet, at the sample rate.
    let block = f.map_or(1, |f| f.block_align.max(1) as u64);
    let frames_per_block = match (w.sample_frames(), &w.audio) {
        (Some(n), Some(a)) if a.end > a.start => Some((n, (a.end - a.start) / block)),
        _ => None,
    };
    let start = w.audio.as_ref().map_or(0, |a| a.start);
    let time = |offset: u64| {
        frames_per_block
            .filter(|&(_, blocks)| blocks > 0)
            .map(|(n, blocks)| {
                let t = ((offset - start) / block) as u128 * n as u128 / blocks as u128;
                i64::try_from(t).unwrap_or(i64::MAX)
            })
    };
    let samples = w.packets().count() as u64;
    let rows = opts.samples.then(|| {
        w.packets()
            .map(|r| SampleRow {
                offset: r.start,
                size: r.end - r.start,
                dts: time(r.start),
                pts: time(r.start),
                keyframe: true,
            })
            .collect()
    });
    p.tracks.push(TrackSummary {
        id: 0,
        kind: TrackKind::Audio,
        codec: w.codec().map(Codec::new),
        codec_tag: w.codec_tag(),
        samples,
        keyframes: samples,
        duration_s: p.duration_s,
        media_duration_s: None,
        width: None,
        height: None,
        sample_rate: (rate > 0).then_some(rate),
        channels: f.map(|f| f.channels as u32).filter(|&c| c > 0),
        language: None,
        sample_index: rows,
    });
    p
}

/// An AVI file: a track per stream (ids are the streams' numbers) and the
/// metadata of its `LIST/INFO` and `IDIT` chunks.
fn from_avi(a: &Avi<'_>, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(a.data.len() as u64, Container::Avi);
    p.warnings = a.warnings.clone();
    p.duration_s = a.duration_seconds();
    for (id, value) in &a.info {
        p.metadata
            .insert(format!("INFO:{id}"), MetaValue::Text(value.clone()));
    }
    if let Some(d) = &a.idit {
        p.metadata.insert("IDIT".into(), MetaValue::Text(d.clone()));
    }
    p.metadata
        .insert("avi:index".into(), MetaValue::Text(a.index.into()));
    for (i, s) in a.streams.iter().enumerate() {
        let (mut samples, mut keyframes) = (0u64, 0u64);
        for pk in a.packets(i) {
            samples += 1;
            keyframes += pk.key as u64;
        }
        let rows = opts.samples.then(|| {
            a.packets(i)
                .map(|pk| {
                    let t = i64::try_from(pk.time).ok();
                    SampleRow {
                        offset: pk.offset,
                        size: pk.size as u64,
                        dts: t,
                        pts: t,
                        keyframe: pk.key,
                    }
                })
                .collect()
        });
        let (width, height) = match s.format {
            StreamFormat::Video { width, height, .. } => (Some(width), Some(height)),
            _ => (None, None),
        };
        let audio = match s.format {
            StreamFormat::Audio(f) => Some(f),
            _ => None,
        };
        p.tracks.push(TrackSummary {
            id: i as u32,
            kind: match s.kind {
                AviKind::Video => TrackKind::Video,
                AviKind::Audio => TrackKind::Audio,
                AviKind::Text => TrackKind::Subtitle,
                AviKind::Other => TrackKind::Data,
            },
            codec: s.codec().map(Codec::new),
            codec_tag: s.codec_tag(),
            samples,
            keyframes,
            duration_s: s.duration_seconds(),
            media_duration_s: None,
            width: width.filter(|&w| w > 0),
            height: height.filter(|&h| h > 0),
            sample_rate: s.sample_rate(),
            channels: audio.map(|f| f.channels as u32).filter(|&c| c > 0),
            language: None,
            sample_index: rows,
        });
    }
    p
}

/// A Matroska or WebM file: a track per `TrackEntry` (ids are their
/// positions), its `DateUTC`, title, apps, tags and chapters.
fn from_mkv(m: &Mkv<'_>, container: Container, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(m.data.len() as u64, container);
    p.warnings = m.warnings.clone();
    p.duration_s = m.duration_seconds();
    p.created = m.created_unix().map(crate::time::rfc3339_utc);
    for (key, value) in [
        ("title", &m.title),
        ("matroska:muxing_app", &m.muxing_app),
        ("matroska:writing_app", &m.writing_app),
    ] {
        if let Some(v) = value {
            p.metadata.insert(key.into(), MetaValue::Text(v.clone()));
        }
    }
    for (name, value) in &m.tags {
        p.metadata
            .entry(format!("tag:{name}"))
            .or_insert_with(|| MetaValue::Text(value.clone()));
    }
    if !m.chapters.is_empty() {
        p.metadata.insert(
            "chapters".into(),
            MetaValue::Int(i64::try_from(m.chapters.len()).unwrap_or(i64::MAX)),
        );
    }
    let unit = m.seconds_per_unit();
    for (i, t) in m.tracks.iter().enumerate() {
        let frames = t.frames();
        let default = t
            .default_duration
            .map_or(0, |ns| ns / m.timestamp_scale.max(1));
        let first = frames.iter().map(|f| f.time).min();
        let end = frames
            .iter()
            .map(|f| {
                let d = f.duration.unwrap_or(default);
                f.time.saturating_add(i64::try_from(d).unwrap_or(i64::MAX))
            })
            .max();
        let rows = opts.samples.then(|| {
            frames
                .iter()
                .map(|f| SampleRow {
                    offset: f.offset,
                    size: f.size as u64,
                    dts: None,
                    pts: Some(f.time),
                    keyframe: f.key,
                })
                .collect()
        });
        let kind = match t.kind {
            1 => TrackKind::Video,
            2 => TrackKind::Audio,
            0x11 => TrackKind::Subtitle,
            _ => TrackKind::Data,
        };
        let video = kind == TrackKind::Video;
        let audio = kind == TrackKind::Audio;
        p.tracks.push(TrackSummary {
            id: i as u32,
            kind,
            codec: t.codec().map(Codec::new),
            codec_tag: Some(t.codec_id.clone()),
            samples: frames.len() as u64,
            keyframes: frames.iter().filter(|f| f.key).count() as u64,
            duration_s: first
                .zip(end)
                .map(|(a, b)| b.saturating_sub(a) as f64 * unit),
            media_duration_s: None,
            width: t.width.filter(|_| video),
            height: t.height.filter(|_| video),
            sample_rate: t
                .sample_rate
                .filter(|r| audio && *r >= 1.0 && *r < u32::MAX as f64)
                .map(|r| r.round() as u32),
            channels: t.channels.filter(|_| audio),
            language: t.language.clone(),
            sample_index: rows,
        });
    }
    p
}

/// An FLV file: its video and audio tracks (ids in order of appearance)
/// and its `onMetaData`.
fn from_flv(f: &Flv<'_>, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(f.data.len() as u64, Container::Flv);
    p.warnings = f.warnings.clone();
    p.duration_s = f.duration_seconds();
    for (key, value) in &f.metadata {
        let v = match value {
            AmfValue::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => MetaValue::Int(*n as i64),
            AmfValue::Number(n) if n.is_finite() => MetaValue::Float(*n),
            AmfValue::Number(_) => continue,
            AmfValue::Bool(b) => MetaValue::Int(*b as i64),
            AmfValue::Text(t) => MetaValue::Text(t.clone()),
        };
        p.metadata.entry(format!("flv:{key}")).or_insert(v);
    }
    for (i, t) in f.tracks.iter().enumerate() {
        let packets = t.packets();
        let first = packets.iter().map(|x| x.pts).min();
        let last = packets.iter().map(|x| x.pts).max();
        // The last packet's duration: the commonest step between packets.
        let step = packets
            .windows(2)
            .map(|w| w[1].dts - w[0].dts)
            .filter(|&d| d > 0)
            .min()
            .unwrap_or(0);
        let rows = opts.samples.then(|| {
            packets
                .iter()
                .map(|x| SampleRow {
                    offset: x.offset,
                    size: x.size as u64,
                    dts: Some(x.dts),
                    pts: Some(x.pts),
                    keyframe: x.key,
                })
                .collect()
        });
        let video = t.kind == FlvKind::Video;
        let size = if video { t.picture_size() } else { None };
        let (rate, channels) = if video {
            (None, None)
        } else {
            t.audio_format()
        };
        p.tracks.push(TrackSummary {
            id: i as u32,
            kind: if video {
                TrackKind::Video
            } else {
                TrackKind::Audio
            },
            codec: t.codec().map(Codec::new),
            codec_tag: Some(format!("{:#04x}", t.codec_id)),
            samples: packets.len() as u64,
            keyframes: packets.iter().filter(|x| x.key).count() as u64,
            duration_s: first.zip(last).map(|(a, b)| (b - a + step) as f64 / 1000.0),
            media_duration_s: None,
            width: size.map(|s| s.0),
            height: size.map(|s| s.1),
            sample_rate: rate,
            channels,
            language: None,
            sample_index: rows,
        });
    }
    p
}

/// An AMR, MP3 or ADTS file: one audio track (id 0) and its ID3 tags.
fn from_audio(a: &RawAudio<'_>, container: Container, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(a.data.len() as u64, container);
    p.warnings = a.warnings.clone();
    p.duration_s = a.duration_seconds();
    for (key, value) in &a.tags {
        p.metadata
            .entry(key.clone())
            .or_insert_with(|| MetaValue::Text(value.clone()));
    }
    if let Some(n) = a.declared_frames {
        p.metadata
            .insert("declared_frames".into(), MetaValue::Int(n as i64));
    }
    let frames = a.frames();
    let rows = opts.samples.then(|| {
        let mut t = 0i64;
        frames
            .iter()
            .map(|f| {
                let row = SampleRow {
                    offset: f.offset,
                    size: f.size as u64,
                    dts: Some(t),
                    pts: Some(t),
                    keyframe: true,
                };
                t += f.samples as i64;
                row
            })
            .collect()
    });
    p.tracks.push(TrackSummary {
        id: 0,
        kind: TrackKind::Audio,
        codec: Some(Codec::new(a.codec)),
        codec_tag: None,
        samples: frames.len() as u64,
        keyframes: frames.len() as u64,
        duration_s: p.duration_s,
        media_duration_s: None,
        width: None,
        height: None,
        sample_rate: a.sample_rate,
        channels: a.channels,
        language: None,
        sample_index: rows,
    });
    p
}

/// An Ogg file: a track per logical stream (ids in order of their first
/// page).
fn from_ogg(o: &Ogg<'_>, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(o.data.len() as u64, Container::Ogg);
    p.warnings = o.warnings.clone();
    for (i, s) in o.streams.iter().enumerate() {
        let samples = o.packets(i).count() as u64;
        let rows = opts.samples.then(|| {
            o.packets(i)
                .map(|pk| SampleRow {
                    offset: o.offset(pk),
                    size: pk.size as u64,
                    dts: None,
                    pts: pk.granule,
                    keyframe: true,
                })
                .collect()
        });
        let duration_s = s.duration_seconds();
        if let Some(d) = duration_s {
            p.duration_s = Some(p.duration_s.map_or(d, |x: f64| x.max(d)));
        }
        let video = s.is_video();
        p.tracks.push(TrackSummary {
            id: i as u32,
            kind: if video {
                TrackKind::Video
            } else if s.codec().is_some() {
                TrackKind::Audio
            } else {
                TrackKind::Data
            },
            codec: s.codec().map(Codec::new),
            codec_tag: None,
            samples,
            keyframes: if video { 0 } else { samples },
            duration_s,
            media_duration_s: None,
            width: None,
            height: None,
            sample_rate: s.sample_rate.filter(|_| !video),
            channels: s.channels.filter(|_| !video),
            language: None,
            sample_index: rows,
        });
    }
    p
}

/// A photo: one picture (track 0), its EXIF fields (`exif:` keys, by
/// exiftool's names), when it was taken and where.
fn from_photo(ph: &Photo, container: Container) -> Probe {
    let mut p = Probe::new(ph.picture.end, container);
    p.warnings = ph.warnings.clone();
    if let Some(e) = &ph.exif {
        for (name, value) in &e.tags {
            let v = match value {
                ExifValue::Text(t) => MetaValue::Text(t.clone()),
                ExifValue::Ints(v) if v.len() == 1 => MetaValue::Int(v[0]),
                ExifValue::Numbers(v) if v.len() == 1 && v[0].is_finite() => MetaValue::Float(v[0]),
                ExifValue::Ints(v) => MetaValue::Text(
                    v.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                ExifValue::Numbers(v) => MetaValue::Text(
                    v.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            };
            p.metadata.entry(format!("exif:{name}")).or_insert(v);
        }
        p.location = e.location();
        if let Some((local, offset)) = e.taken() {
            p.metadata
                .insert("exif:taken".into(), MetaValue::Text(local.clone()));
            // With its offset the camera's time is UTC; without, it stays local.
            p.created = offset.and_then(|o| {
                let secs = crate::time::parse_local(&local)?;
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let h: i64 = o.get(1..3)?.parse().ok()?;
                let m: i64 = o.get(4..6)?.parse().ok()?;
                Some(crate::time::rfc3339_utc(secs - sign * (h * 3600 + m * 60)))
            });
        }
    }
    if let Some(t) = &ph.modified {
        p.metadata
            .insert("png:tIME".into(), MetaValue::Text(t.clone()));
    }
    for (k, v) in &ph.text {
        p.metadata
            .entry(format!("png:{k}"))
            .or_insert_with(|| MetaValue::Text(v.clone()));
    }
    if let Some(x) = &ph.xmp {
        p.metadata.insert(
            "xmp".into(),
            MetaValue::Raw {
                offset: x.start,
                bytes: x.end - x.start,
            },
        );
    }
    p.tracks.push(TrackSummary {
        id: 0,
        kind: TrackKind::Video,
        codec: Some(Codec::new(ph.codec)),
        codec_tag: None,
        samples: 1,
        keyframes: 1,
        duration_s: None,
        media_duration_s: None,
        width: (ph.width > 0).then_some(ph.width),
        height: (ph.height > 0).then_some(ph.height),
        sample_rate: None,
        channels: None,
        language: None,
        sample_index: None,
    });
    p
}

struct StreamView<'s> {
    id: u32,
    kind: StreamKind,
    codec: Option<&'static str>,
    tag: Option<String>,
    language: Option<String>,
    units: &'s Units,
    info: crate::es::StreamInfo,
}

/// The typical video frame duration (90 kHz): the commonest step between
/// consecutive decode times (the larger on a tie), 0 when there is none.
fn video_duration(units: &Units) -> i64 {
    let mut steps: Vec<i64> = Vec::new();
    let mut last: Option<i64> = None;
    for f in units.iter() {
        if let Some(d) = f.dts.or(f.pts) {
            if let Some(l) = last
                && d > l
            {
                steps.push(d - l);
            }
            last = Some(d);
        } else {
            last = None;
        }
    }
    steps.sort_unstable();
    let mut best = (0i64, 0usize);
    for run in steps.chunk_by(|a, b| a == b) {
        if run.len() >= best.1 {
            best = (run[0], run.len());
        }
    }
    best.0
}

/// A stream's units with their timestamps, gaps filled: (unit, dts, pts,
/// duration) in 90 kHz. Typical frame duration: audio from samples per
/// frame, video from the commonest DTS step.
fn timeline(
    units: &Units,
    sample_rate: Option<u32>,
) -> impl Iterator<Item = (Frame, Option<i64>, Option<i64>, i64)> + '_ {
    let audio_dur = move |f: &Frame| match sample_rate {
        Some(sr) if sr > 0 && f.samples > 0 => Some(f.samples as i64 * 90_000 / sr as i64),
        _ => None,
    };
    let video_dur = video_duration(units);
    let mut next: Option<i64> = None;
    units.iter().map(move |f| {
        let dur = audio_dur(&f).unwrap_or(video_dur);
        let dts = f.dts.or(f.pts).or(next);
        let pts = f.pts.or(if f.dts.is_none() { dts } else { None });
        next = dts.map(|d| d + dur);
        (f, dts, pts, dur)
    })
}

fn from_streams<'s>(
    size: u64,
    container: Container,
    streams: impl Iterator<Item = StreamView<'s>>,
    warnings: Vec<Warning>,
    opts: ProbeOptions,
) -> Probe {
    let mut p = Probe::new(size, container);
    p.warnings = warnings;
    let mut start = i64::MAX;
    let mut end = i64::MIN;
    for s in streams {
        let mut first = i64::MAX;
        let mut last_end = i64::MIN;
        let mut keyframes = 0u64;
        for (f, _, pts, dur) in timeline(s.units, s.info.sample_rate) {
            keyframes += f.keyframe as u64;
            if let Some(t) = pts {
                first = first.min(t);
                last_end = last_end.max(t + dur);
            }
        }
        let duration_s =
            (first <= last_end && first != i64::MAX).then(|| (last_end - first) as f64 / 90_000.0);
        if first != i64::MAX {
            start = start.min(first);
            end = end.max(last_end);
        }
        let rows = opts.samples.then(|| {
            let mut rows = Vec::with_capacity(s.units.len());
            rows.extend(
                timeline(s.units, s.info.sample_rate).map(|(f, dts, pts, _)| SampleRow {
                    offset: f.offset,
                    size: f.size,
                    dts,
                    pts,
                    keyframe: f.keyframe,
                }),
            );
            rows
        });
        let video = s.kind == StreamKind::Video;
        let audio = s.kind == StreamKind::Audio;
        p.tracks.push(TrackSummary {
            id: s.id,
            kind: s.kind.into(),
            codec: s.codec.map(Codec::new),
            codec_tag: s.tag,
            samples: s.units.len() as u64,
            keyframes,
            duration_s,
            media_duration_s: None,
            width: s.info.width.filter(|_| video),
            height: s.info.height.filter(|_| video),
            sample_rate: s.info.sample_rate.filter(|_| audio),
            channels: s.info.channels.filter(|_| audio),
            language: s.language,
            sample_index: rows,
        });
    }
    if start <= end && start != i64::MAX {
        p.duration_s = Some((end - start) as f64 / 90_000.0);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bmff::{meta::XMP_UUID, write_box};
    use crate::fourcc::FourCC;
    use custody_testkit::mp4::{TrackSpec, avc1_entry, write_mp4};

    #[test]
    fn xmp_outside_the_probed_bytes_gets_no_offset() {
        let mut init = write_mp4(
            &[TrackSpec {
                handler: *b"vide",
                timescale: 90_000,
                sample_entry: avc1_entry(16, 16, &[]),
                samples: Vec::new(),
            }],
            1.0,
        );
        let uuid_at = init.len() as u64;
        write_box(
            &mut init,
            FourCC(*b"uuid"),
            &[&XMP_UUID[..], b"<x:xmpmeta/>"].concat(),
            false,
        );
        let p = probe(&init, ProbeOptions::default()).unwrap();
        assert_eq!(
            p.metadata.get("xmp"),
            Some(&MetaValue::Raw {
                offset: uuid_at + 24,
                bytes: 12
            })
        );
        // The init segment's XMP is not in the media segment: no offset in it to give
        // (the init segment lies before the segment in memory here).
        let mut both = init.clone();
        write_box(&mut both, FourCC(*b"styp"), b"msdh\0\0\0\0msdh", false);
        let (init, segment) = both.split_at(init.len());
        let p = probe_segment(init, segment, ProbeOptions::default()).unwrap();
        assert_eq!(p.metadata.get("xmp"), None);
    }
}
