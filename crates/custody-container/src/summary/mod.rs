//! One summary for every container: what `custody probe` prints.

use crate::bmff::{Location, MetaValue, Mp4, TrackKind};
use crate::demux::{Demuxed, Parsed, demux, demux_input};
use crate::detect::{Format, detect};
use crate::error::{Error, ErrorKind, Limits, Result, Warning};
use crate::input::Input;
use crate::names::{Codec, Container};
use std::collections::BTreeMap;

mod files;
mod mp4;
mod photo;
mod streams;

use files::{from_audio, from_avi, from_flv, from_mkv, from_ogg, from_wav};
use mp4::from_mp4;
use photo::from_photo;
use streams::{StreamView, from_streams};

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
        Some(Format::Flv) => Some(crate::flv::probe_ranges(len, read_at)?),
        Some(Format::Matroska | Format::WebM) => {
            let mut r = crate::mkv::probe_ranges(len, read_at)?;
            // Recognition reads the first 64 bytes (the doc type).
            r.push(0..n.min(64) as u64);
            Some(r)
        }
        // Recognised only: nothing past the first bytes is read.
        Some(Format::AnnexB) | None => Some(std::iter::once(0..n as u64).collect()),
        // Streams, Ogg (whose pages' checksums cover every byte) and audio
        // files (a frame header every few hundred bytes): read whole, or
        // streamed; a photo is one packet, the whole file.
        Some(_) => None,
    })
}

/// Probes a media segment against its init segment.
pub fn probe_segment(init: &[u8], segment: &[u8], opts: ProbeOptions) -> Result<Probe> {
    let mp4 = Mp4::parse_segment(init, segment, opts.limits)?;
    Ok(from_mp4(&mp4, opts))
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
