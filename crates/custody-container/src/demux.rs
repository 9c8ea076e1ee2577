//! One demuxer interface for every container: [`demux`] recognises the
//! container, parses it once, and hands each packet's bytes, in decode
//! order within its track, to a [`Sink`] as the parse reaches them; the
//! result ([`Demuxed`]) keeps the index (tracks, packets, timestamps,
//! keyframes, metadata, warnings) for summaries.
//!
//! Probe summaries ([`crate::summary`]) and content hashes
//! (`custody_hash::content`) both go through it, so a file is parsed once
//! for both, and a container is added in one place.
//!
//! ```
//! use custody_container::demux::{Sink, TrackRef, demux};
//! use custody_container::Limits;
//! use custody_testkit::mp4::synthetic_recording;
//!
//! /// Counts each track's packet bytes.
//! #[derive(Default)]
//! struct Bytes(Vec<u64>);
//! impl Sink for Bytes {
//!     fn packet(&mut self, track: &TrackRef<'_>, bytes: Option<&[u8]>) {
//!         self.0.resize(self.0.len().max(track.index + 1), 0);
//!         self.0[track.index] += bytes.map_or(0, |b| b.len() as u64);
//!     }
//! }
//!
//! let data = synthetic_recording(2, 30, 30);
//! let mut sink = Bytes::default();
//! let d = demux(&data, Limits::default(), true, Some(&mut sink)).unwrap();
//! assert_eq!(d.tracks().len(), 2);
//! assert_eq!(d.tracks()[0].codec, Some("h264"));
//! assert!(sink.0.iter().all(|&n| n > 0));
//! ```

use crate::avi::Avi;
use crate::bmff::{Config, Mp4, Track};
use crate::detect::{Format, detect};
use crate::error::{Error, ErrorKind, Limits, Result, Warning};
use crate::flv::Flv;
use crate::input::Input;
use crate::mkv::Mkv;
use crate::ogg::Ogg;
use crate::photo::Photo;
use crate::ps::Ps;
use crate::rawaudio::RawAudio;
use crate::ts::Ts;
use crate::wav::Wav;

/// A track as a [`Sink`] sees it when one of its packets arrives, and as
/// [`Demuxed::tracks`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackRef<'d> {
    /// The track's position among the file's tracks.
    pub index: usize,
    /// Track id (MP4), PID (TS), stream id (PS), or the stream's position
    /// (WAV, AVI, Matroska, FLV, Ogg, audio files, photos: as ffprobe numbers
    /// them).
    pub id: u32,
    /// FFmpeg's codec name, as known when the packet arrives.
    pub codec: Option<&'static str>,
    /// Out-of-band decoder configuration (`avcC`, `hvcC`, `esds`, ...).
    pub config: Option<Config<'d>>,
    /// NAL units are length-prefixed (MP4 samples) rather than Annex B.
    pub length_prefixed: bool,
}

/// Receives each packet's bytes as the demuxer reaches them.
pub trait Sink {
    /// A packet of `track`: its bytes, or `None` when the file does not
    /// hold them all (a cut recording, a unit with lost pieces).
    fn packet(&mut self, track: &TrackRef<'_>, bytes: Option<&[u8]>);

    /// `n` more packets of `track` that the index names beyond the end of
    /// the file (a truncated recording); by default each is a packet
    /// without bytes.
    fn beyond_end(&mut self, track: &TrackRef<'_>, n: u64) {
        for _ in 0..n {
            self.packet(track, None);
        }
    }

    /// Every packet of `track` has been handed over (containers read at
    /// random hand their tracks over one after the other; streams, whose
    /// packets interleave, never call it).
    fn track_done(&mut self, _track: &TrackRef<'_>) {}
}

/// What the demuxer found, by container.
#[derive(Debug)]
#[non_exhaustive]
pub enum Parsed<'a> {
    /// MP4, MOV, 3GP and their fragmented forms.
    Mp4(Mp4<'a>),
    /// An MP4 media segment without its `moov` (no track can be listed
    /// without the init segment); the error a parse of it gives.
    Segment(Error),
    /// MPEG-TS or M2TS.
    Ts(Ts<'static>),
    /// MPEG-PS.
    Ps(Ps<'static>),
    /// WAV, RF64, BW64.
    Wav(Wav<'a>),
    /// AVI, OpenDML AVI.
    Avi(Avi<'a>),
    /// Matroska, WebM.
    Mkv(Mkv<'a>),
    /// FLV.
    Flv(Flv<'a>),
    /// AMR, MP3, ADTS.
    Audio(RawAudio<'a>),
    /// Ogg.
    Ogg(Ogg<'a>),
    /// JPEG, PNG.
    Photo(Photo),
    /// A container recognised but not parsed.
    Recognised,
}

/// A demuxed file: its container, size, and what the parse found.
#[derive(Debug)]
pub struct Demuxed<'a> {
    /// The container recognised.
    pub format: Format,
    /// The input's size in bytes.
    pub size: u64,
    /// The parse.
    pub parsed: Parsed<'a>,
}

impl<'a> Demuxed<'a> {
    /// The tracks, in the file's order.
    pub fn tracks(&self) -> Vec<TrackRef<'_>> {
        match &self.parsed {
            Parsed::Mp4(mp4) => mp4
                .tracks
                .iter()
                .enumerate()
                .map(|(i, t)| mp4_track(i, t))
                .collect(),
            Parsed::Ts(ts) => ts
                .streams
                .iter()
                .enumerate()
                .map(|(i, s)| stream_track(i, s.pid as u32, s.codec))
                .collect(),
            Parsed::Ps(ps) => ps
                .streams
                .iter()
                .enumerate()
                .map(|(i, s)| stream_track(i, s.id as u32, s.codec))
                .collect(),
            Parsed::Wav(w) if w.audio.is_some() => vec![stream_track(0, 0, w.codec())],
            Parsed::Audio(a) => vec![stream_track(0, 0, Some(a.codec))],
            Parsed::Photo(p) => vec![stream_track(0, 0, Some(p.codec))],
            Parsed::Ogg(o) => o
                .streams
                .iter()
                .enumerate()
                .map(|(i, s)| stream_track(i, i as u32, s.codec()))
                .collect(),
            Parsed::Avi(a) => a
                .streams
                .iter()
                .enumerate()
                .map(|(i, s)| stream_track(i, i as u32, s.codec()))
                .collect(),
            Parsed::Mkv(m) => m
                .tracks
                .iter()
                .enumerate()
                .map(|(i, t)| record_track(i, t.codec(), t.codec_private))
                .collect(),
            Parsed::Flv(f) => f
                .tracks
                .iter()
                .enumerate()
                .map(|(i, t)| record_track(i, t.codec(), t.config()))
                .collect(),
            Parsed::Wav(_) | Parsed::Segment(_) | Parsed::Recognised => Vec::new(),
        }
    }

    /// Problems found and recovered from.
    pub fn warnings(&self) -> &[Warning] {
        match &self.parsed {
            Parsed::Mp4(m) => &m.warnings,
            Parsed::Ts(t) => &t.warnings,
            Parsed::Ps(p) => &p.warnings,
            Parsed::Wav(w) => &w.warnings,
            Parsed::Avi(a) => &a.warnings,
            Parsed::Mkv(m) => &m.warnings,
            Parsed::Flv(f) => &f.warnings,
            Parsed::Audio(a) => &a.warnings,
            Parsed::Ogg(o) => &o.warnings,
            Parsed::Photo(p) => &p.warnings,
            Parsed::Segment(_) | Parsed::Recognised => &[],
        }
    }

    /// Samples the index names beyond the end of the file (MP4: a
    /// recording cut short; 0 where the container has no index).
    pub fn samples_beyond_end(&self) -> u64 {
        (0..self.tracks().len()).map(|i| self.beyond_end(i)).sum()
    }
}

/// One packet as the index knows it, in decode order within its track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Offset of its first byte (transport and program streams: of the
    /// container packet that carries it; Ogg: of its first piece).
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Decode time in the track's [`TimeBase`], where the container
    /// tells it.
    pub dts: Option<i64>,
    /// Presentation time in the track's [`TimeBase`], where the container
    /// tells it.
    pub pts: Option<i64>,
    /// A random access point: decoding can start here.
    pub keyframe: bool,
}

/// Seconds per tick of a track's timestamps: `num / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBase {
    /// Numerator.
    pub num: u64,
    /// Denominator.
    pub den: u64,
}

impl TimeBase {
    /// `ticks` in seconds.
    pub fn seconds(self, ticks: i64) -> f64 {
        ticks as f64 * self.num as f64 / self.den.max(1) as f64
    }
}

/// Keyframe-delimited ranges of packet indices (groups of pictures),
/// from each packet's keyframe flag in order; packets before the first
/// keyframe form their own leading group.
///
/// ```
/// use custody_container::demux::gops;
/// let flags = [true, false, false, true, false, true, false];
/// assert_eq!(gops(flags), vec![0..3, 3..5, 5..7]);
/// assert_eq!(gops([false, false, true, false]), vec![0..2, 2..4]);
/// ```
pub fn gops(keyframes: impl IntoIterator<Item = bool>) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut len) = (0, 0);
    for (i, key) in keyframes.into_iter().enumerate() {
        if key && i > start {
            out.push(start..i);
            start = i;
        }
        len = i + 1;
    }
    if start < len {
        out.push(start..len);
    }
    out
}

impl Demuxed<'_> {
    /// The time base of track `track`'s packet timestamps (`None` for an
    /// unknown track, or an audio file whose rate no header tells).
    pub fn time_base(&self, track: usize) -> Option<TimeBase> {
        let tb = |num: u64, den: u64| (den > 0).then_some(TimeBase { num, den });
        match &self.parsed {
            Parsed::Mp4(m) => tb(1, m.tracks.get(track)?.timescale as u64),
            Parsed::Ts(t) => t.streams.get(track).and(tb(1, 90_000)),
            Parsed::Ps(p) => p.streams.get(track).and(tb(1, 90_000)),
            Parsed::Avi(a) => {
                let s = a.streams.get(track)?;
                tb(s.scale as u64, s.rate as u64)
            }
            Parsed::Mkv(m) => m
                .tracks
                .get(track)
                .and(tb(m.timestamp_scale, 1_000_000_000)),
            Parsed::Flv(f) => f.tracks.get(track).and(tb(1, 1000)),
            Parsed::Wav(w) if track == 0 => tb(1, w.format?.sample_rate as u64),
            Parsed::Audio(a) if track == 0 => tb(1, a.sample_rate? as u64),
            Parsed::Ogg(o) => tb(1, o.streams.get(track)?.sample_rate? as u64),
            Parsed::Photo(_) if track == 0 => tb(1, 1),
            _ => None,
        }
    }

    /// The packets of track `track` from the index, in decode order
    /// (transport and program streams: only when demuxed with `index`).
    pub fn packets(&self, track: usize) -> Box<dyn Iterator<Item = Packet> + '_> {
        let none = || -> Box<dyn Iterator<Item = Packet>> { Box::new(std::iter::empty()) };
        match &self.parsed {
            Parsed::Mp4(m) => match m.tracks.get(track) {
                Some(t) => Box::new(t.samples().map(|s| Packet {
                    offset: s.offset,
                    size: s.size as u64,
                    dts: Some(s.dts),
                    pts: Some(s.pts),
                    keyframe: s.keyframe,
                })),
                None => none(),
            },
            Parsed::Ts(t) => match t.streams.get(track) {
                Some(s) => Box::new(s.units.iter().map(unit_packet)),
                None => none(),
            },
            Parsed::Ps(p) => match p.streams.get(track) {
                Some(s) => Box::new(s.units.iter().map(unit_packet)),
                None => none(),
            },
            Parsed::Avi(a) if track < a.streams.len() => {
                Box::new(a.packets(track).map(|p| Packet {
                    offset: p.offset,
                    size: p.size as u64,
                    dts: Some(p.time as i64),
                    pts: None,
                    keyframe: p.key,
                }))
            }
            Parsed::Mkv(m) => match m.tracks.get(track) {
                Some(t) => Box::new(t.frames().iter().map(|f| Packet {
                    offset: f.offset,
                    size: f.size as u64,
                    dts: None,
                    pts: Some(f.time),
                    keyframe: f.key,
                })),
                None => none(),
            },
            Parsed::Flv(f) => match f.tracks.get(track) {
                Some(t) => Box::new(t.packets().iter().map(|p| Packet {
                    offset: p.offset,
                    size: p.size as u64,
                    dts: Some(p.dts),
                    pts: Some(p.pts),
                    keyframe: p.key,
                })),
                None => none(),
            },
            Parsed::Wav(w) if track == 0 => {
                let start = w.audio.as_ref().map_or(0, |r| r.start);
                let block = w.format.map_or(1, |f| f.block_align.max(1) as u64);
                Box::new(w.packets().map(move |r| {
                    let t = ((r.start - start) / block) as i64;
                    Packet {
                        offset: r.start,
                        size: r.end - r.start,
                        dts: Some(t),
                        pts: Some(t),
                        keyframe: true,
                    }
                }))
            }
            Parsed::Audio(a) if track == 0 => Box::new(a.frames_timed().map(|(f, t)| Packet {
                offset: f.offset,
                size: f.size as u64,
                dts: Some(t),
                pts: Some(t),
                keyframe: true,
            })),
            Parsed::Ogg(o) if track < o.streams.len() => {
                let video = o.streams[track].is_video();
                Box::new(o.packets(track).map(move |p| Packet {
                    offset: o.offset(p),
                    size: p.size as u64,
                    dts: None,
                    pts: None,
                    // Theora: a data packet (first bit clear) whose second
                    // bit is clear is an intra frame.
                    keyframe: !video || o.bytes(p).first().is_some_and(|b| b & 0xc0 == 0),
                }))
            }
            Parsed::Photo(p) if track == 0 => Box::new(std::iter::once(Packet {
                offset: p.picture.start,
                size: p.picture.end - p.picture.start,
                dts: Some(0),
                pts: Some(0),
                keyframe: true,
            })),
            _ => none(),
        }
    }

    /// The groups of pictures of track `track`: ranges of packet indices
    /// (as [`Demuxed::packets`] numbers them), each starting at a keyframe
    /// (but a leading group of packets before the first).
    pub fn gops(&self, track: usize) -> Vec<std::ops::Range<usize>> {
        gops(self.packets(track).map(|p| p.keyframe))
    }
}

fn unit_packet(f: crate::es::Frame) -> Packet {
    Packet {
        offset: f.offset,
        size: f.size,
        dts: f.dts,
        pts: f.pts,
        keyframe: f.keyframe,
    }
}

/// An MP4 track as a [`Sink`] sees it (`index`: its position in `moov`).
pub fn mp4_track<'d>(index: usize, t: &Track<'d>) -> TrackRef<'d> {
    TrackRef {
        index,
        id: t.id,
        codec: t.codec(),
        config: t.entries.first().and_then(|e| e.config),
        length_prefixed: true,
    }
}

/// A track whose H.264 or HEVC packets are length-prefixed, their
/// parameter sets in an `avcC` or `hvcC` record (Matroska's
/// `CodecPrivate`, FLV's sequence header); other codecs as they are.
fn record_track<'d>(
    index: usize,
    codec: Option<&'static str>,
    record: Option<&'d [u8]>,
) -> TrackRef<'d> {
    let kind = match codec {
        Some("h264") => Some(*b"avcC"),
        Some("hevc") => Some(*b"hvcC"),
        _ => None,
    };
    TrackRef {
        index,
        id: index as u32,
        codec,
        config: kind.zip(record).map(|(k, bytes)| Config {
            kind: crate::FourCC(k),
            bytes,
        }),
        length_prefixed: kind.is_some(),
    }
}

fn stream_track(index: usize, id: u32, codec: Option<&'static str>) -> TrackRef<'static> {
    TrackRef {
        index,
        id,
        codec,
        config: None,
        length_prefixed: false,
    }
}

/// Recognises and parses `data` once. With `index` false, transport and
/// program streams keep no unit index (memory bounded by the largest
/// unit: enough for content hashes, not for a summary's counts). `sink`
/// gets every packet's bytes, track by track for containers read at
/// random (MP4, WAV, AVI, Matroska, FLV), in file order for streams (TS,
/// PS).
///
/// An unrecognised input is an [`ErrorKind::Unrecognised`] error; a
/// recognised container that is not parsed yet is [`Parsed::Recognised`].
pub fn demux<'a>(
    data: &'a [u8],
    limits: Limits,
    index: bool,
    sink: Option<&mut dyn Sink>,
) -> Result<Demuxed<'a>> {
    let format = detect(data).ok_or_else(|| Error::new(0, "", ErrorKind::Unrecognised))?;
    let size = data.len() as u64;
    let parsed = match format {
        Format::IsoBmff => match Mp4::parse(data, limits) {
            Ok(mp4) => Parsed::Mp4(mp4),
            Err(e) if e.kind == ErrorKind::Missing("moov") && is_media_segment(data) => {
                Parsed::Segment(e)
            }
            Err(e) => return Err(e),
        },
        Format::MpegTs { .. } | Format::MpegPs => {
            return demux_stream(data, format, limits, index, sink);
        }
        Format::Wav | Format::Rf64 => Parsed::Wav(Wav::parse(data, limits)?),
        Format::Avi => Parsed::Avi(Avi::parse(data, limits)?),
        Format::Matroska | Format::WebM => Parsed::Mkv(Mkv::parse(data, limits)?),
        Format::Flv => Parsed::Flv(Flv::parse(data, limits)?),
        Format::Amr | Format::Mp3 | Format::Adts => Parsed::Audio(RawAudio::parse(data, limits)?),
        Format::Ogg => Parsed::Ogg(Ogg::parse(data, limits)?),
        Format::Jpeg | Format::Png => Parsed::Photo(Photo::parse(data, limits)?),
        _ => Parsed::Recognised,
    };
    let d = Demuxed {
        format,
        size,
        parsed,
    };
    if let Some(sink) = sink {
        d.hand_over(data, sink);
    }
    Ok(d)
}

impl Demuxed<'_> {
    /// Hands every packet of a container read at random to `sink`, track
    /// by track, each track closed with [`Sink::track_done`] (so a sink
    /// holds one track's state at a time).
    fn hand_over(&self, data: &[u8], sink: &mut dyn Sink) {
        for r in self.tracks() {
            let i = r.index;
            let mut give = |b: Option<&[u8]>| sink.packet(&r, b);
            let beyond = match &self.parsed {
                // One pass hands the samples over and counts those beyond
                // the end of the file.
                Parsed::Mp4(mp4) => {
                    let mut it = mp4.tracks[i].samples();
                    it.by_ref().for_each(|s| give(mp4.sample_bytes(&s)));
                    it.missing()
                }
                // A packet may span Ogg pages: the parser joins its pieces.
                Parsed::Ogg(o) => {
                    o.packets(i).for_each(|p| give(Some(&o.bytes(p))));
                    0
                }
                // Every other container's packets are one run of bytes each.
                _ => {
                    for p in self.packets(i) {
                        let start = usize::try_from(p.offset).ok();
                        let run = start.zip(usize::try_from(p.size).ok());
                        give(run.and_then(|(a, n)| data.get(a..a.checked_add(n)?)));
                    }
                    0
                }
            };
            if beyond > 0 {
                sink.beyond_end(&r, beyond);
            }
            sink.track_done(&r);
        }
    }
}

impl Demuxed<'_> {
    /// Hands every packet of a container whose packets are each one run of
    /// bytes (MP4, WAV, AVI, Matroska, FLV, audio files, photos) to `sink`
    /// as [`demux`] with a sink does, reading each packet through
    /// `read(offset, buf)` rather than from memory: for a file that is not
    /// mapped, demuxed from an image holding only its planned ranges
    /// (`probe_ranges`). Memory holds the index and one packet. A packet
    /// past `len` (the file's length) is one without bytes; one larger than
    /// `max` bytes is an [`ErrorKind::Unsupported`] error at its offset;
    /// a failed read is an [`ErrorKind::Read`] error. Ogg, whose packets
    /// may span pages, and transport and program streams (read them front
    /// to back: [`demux_input`]) are an [`ErrorKind::Unsupported`] error.
    pub fn hand_over_read(
        &self,
        len: u64,
        max: u64,
        read: &mut dyn FnMut(u64, &mut [u8]) -> std::io::Result<()>,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        if matches!(self.parsed, Parsed::Ogg(_) | Parsed::Ts(_) | Parsed::Ps(_)) {
            return Err(Error::new(
                0,
                "",
                ErrorKind::Unsupported(format!("{} packets read one by one", self.format.name())),
            ));
        }
        let mut buf = Vec::new();
        for r in self.tracks() {
            for p in self.packets(r.index) {
                if p.offset.checked_add(p.size).is_none_or(|end| end > len) {
                    sink.packet(&r, None);
                    continue;
                }
                if p.size > max {
                    return Err(Error::new(
                        p.offset,
                        "",
                        ErrorKind::Unsupported(format!(
                            "a {}-byte packet read without mapping the file (at most {max})",
                            p.size
                        )),
                    ));
                }
                buf.resize(p.size as usize, 0);
                read(p.offset, &mut buf)
                    .map_err(|e| Error::new(p.offset, "", ErrorKind::Read(e.to_string())))?;
                sink.packet(&r, Some(&buf));
            }
            let beyond = self.beyond_end(r.index);
            if beyond > 0 {
                sink.beyond_end(&r, beyond);
            }
            sink.track_done(&r);
        }
        Ok(())
    }

    /// Samples of track `track` that the index names beyond the end of the
    /// file (MP4; 0 elsewhere).
    fn beyond_end(&self, track: usize) -> u64 {
        match &self.parsed {
            Parsed::Mp4(mp4) => mp4.tracks.get(track).map_or(0, |t| {
                let mut it = t.samples();
                for _ in it.by_ref() {}
                it.missing()
            }),
            _ => 0,
        }
    }
}

/// Like [`demux`] for a file read front to back through `input` (a
/// [`Windowed`] file that is not mapped): transport and program streams
/// only; other containers are read at random (an
/// [`ErrorKind::Unsupported`] error: demux their planned image).
///
/// [`Windowed`]: crate::input::Windowed
pub fn demux_input<I: Input>(
    mut input: I,
    limits: Limits,
    index: bool,
    sink: Option<&mut dyn Sink>,
) -> Result<Demuxed<'static>> {
    let format = crate::summary::detect_input(&mut input)?;
    match format {
        Format::MpegTs { .. } | Format::MpegPs => demux_stream(input, format, limits, index, sink),
        other => Err(Error::new(
            0,
            "",
            ErrorKind::Unsupported(format!(
                "{} files are read at random, not front to back",
                other.name()
            )),
        )),
    }
}

/// Transport and program streams, read once front to back.
fn demux_stream<I: Input>(
    input: I,
    format: Format,
    limits: Limits,
    index: bool,
    sink: Option<&mut dyn Sink>,
) -> Result<Demuxed<'static>> {
    let size = input.size();
    // Bytes are assembled only for a sink: a summary needs the index alone.
    let parsed = match (format, sink) {
        (Format::MpegTs { .. }, None) => Parsed::Ts(Ts::parse_from(input, limits, None, index)?),
        (Format::MpegTs { .. }, Some(sink)) => {
            let mut on_unit = |i: usize, s: &crate::ts::Stream, _: &_, b: Option<&[u8]>| {
                sink.packet(&stream_track(i, s.pid as u32, s.codec), b)
            };
            Parsed::Ts(Ts::parse_from(input, limits, Some(&mut on_unit), index)?)
        }
        (_, None) => Parsed::Ps(Ps::parse_from(input, limits, None, index)?),
        (_, Some(sink)) => {
            let mut on_unit = |i: usize, s: &crate::ps::PsStream, _: &_, b: Option<&[u8]>| {
                sink.packet(&stream_track(i, s.id as u32, s.codec), b)
            };
            Parsed::Ps(Ps::parse_from(input, limits, Some(&mut on_unit), index)?)
        }
    };
    Ok(Demuxed {
        format,
        size,
        parsed,
    })
}

fn is_media_segment(data: &[u8]) -> bool {
    crate::bmff::BoxIter::new(data, 0)
        .flatten()
        .any(|b| matches!(&b.kind.0, b"moof" | b"styp" | b"sidx"))
}
