//! Content hashes: a BLAKE3 hash of each track's media in a canonical form
//! that does not depend on the container, so a remux (between MP4,
//! fragmented MP4, MPEG-TS, MPEG-PS, Matroska, AVI, FLV, WAV/RF64, Ogg,
//! ADTS, as FFmpeg moves a codec between them) is proved lossless without
//! decoding a frame. Every container reaches the hashes through one
//! demuxer ([`custody_container::demux`]), which hands over each packet's
//! bytes; the form depends only on the codec.
//!
//! # Canonical form, version 1
//!
//! Samples are taken in decode order. Per codec:
//!
//! - **H.264 / H.265** (`h264-vcl-v1`, `hevc-vcl-v1`): every VCL NAL unit
//!   (H.264 types 1-5; H.265 types 0-31) of every access unit, each written
//!   as a 4-byte big-endian length followed by the NAL unit's bytes (header
//!   included, emulation-prevention bytes kept, trailing zero bytes dropped:
//!   a conforming NAL unit never ends in 0x00, and Annex B framing cannot
//!   tell such bytes from its own padding). MP4 length prefixes, Annex B start codes, access unit
//!   delimiters, SEI and filler are not part of it. Parameter sets (H.264
//!   SPS/PPS/SPS-extension/subset SPS; H.265 VPS/SPS/PPS), from the sample
//!   entry and in-band alike, are hashed separately (`params_blake3`): the
//!   distinct units, sorted bytewise, each with a 4-byte length.
//! - **AAC** (`aac-raw-v1`): raw frames; ADTS headers (7 or 9 bytes) removed.
//! - **PCM** (`pcm-le-v1`): samples in little-endian byte order (big-endian
//!   `twos`/`in24`/`in32`/`fl32`/`fl64`/`ipcm` are swapped).
//! - **Everything else** (`bytes-v1`): each sample's bytes as stored.
//!
//! `content_blake3` is the BLAKE3 hash of that byte stream.

use crate::hex::Digest32;
use custody_container::demux::{Demuxed, Parsed, Sink, TrackRef, demux, demux_input};
use custody_container::input::Input;
use custody_container::summary::{Probe, ProbeOptions, summarise};
use custody_container::{Error, ErrorKind, Limits};
use std::collections::BTreeSet;

/// Version of the canonical form.
pub const CONTENT_VERSION: u32 = 1;

/// The content hash of one track.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrackContent {
    /// Track id (MP4) or PID (TS).
    pub id: u32,
    /// FFmpeg codec name.
    pub codec: Option<&'static str>,
    /// Samples hashed.
    pub samples: u64,
    /// Name of the canonical form used.
    pub form: &'static str,
    /// BLAKE3 of the canonical media bytes (hex in JSON).
    pub content_blake3: Digest32,
    /// BLAKE3 of the parameter sets (H.264/H.265), hex.
    pub params_blake3: Option<Digest32>,
    /// Samples the tables name but the file does not hold, or units that could not be read.
    pub missing: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// NAL units: `hevc`, and the length-prefix size (None: Annex B).
    Nal {
        hevc: bool,
        length_size: Option<u8>,
    },
    Adts,
    Pcm {
        width: u8,
        big_endian: bool,
    },
    Bytes,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::Nal { hevc: false, .. } => "h264-vcl-v1",
            Form::Nal { hevc: true, .. } => "hevc-vcl-v1",
            Form::Adts => "aac-raw-v1",
            Form::Pcm { .. } => "pcm-le-v1",
            Form::Bytes => "bytes-v1",
        }
    }
}

fn pcm_form(codec: &str) -> Option<Form> {
    let rest = codec.strip_prefix("pcm_")?;
    let big_endian = rest.ends_with("be");
    let width = match rest.trim_end_matches("be").trim_end_matches("le") {
        "s16" | "u16" => 2,
        "s24" | "u24" => 3,
        "s32" | "u32" | "f32" => 4,
        "f64" => 8,
        _ => 1,
    };
    Some(Form::Pcm { width, big_endian })
}

struct Canon {
    form: Form,
    content: blake3::Hasher,
    params: BTreeSet<Vec<u8>>,
    samples: u64,
    missing: u64,
    scratch: Vec<u8>,
}

impl Canon {
    fn new(form: Form) -> Self {
        Canon {
            form,
            content: blake3::Hasher::new(),
            params: BTreeSet::new(),
            samples: 0,
            missing: 0,
            scratch: Vec::new(),
        }
    }

    fn nal(&mut self, nal: &[u8], hevc: bool) {
        match nal_kind(nal, hevc) {
            Nal::Vcl(unit) => feed_vcl(unit, &mut self.content),
            Nal::Param(unit) if self.params.len() < 256 && !self.params.contains(unit) => {
                self.params.insert(unit.to_vec());
            }
            _ => {}
        }
    }

    fn sample(&mut self, s: &[u8]) {
        custody_container::cost::step(s.len() as u64);
        self.samples += 1;
        match self.form {
            Form::Nal { hevc, length_size } => {
                for_each_nal(s, length_size, |nal| self.nal(nal, hevc));
            }
            Form::Adts => {
                self.content.update(adts_payload(s));
            }
            Form::Pcm {
                width,
                big_endian: true,
            } if width > 1 => {
                self.scratch.clear();
                self.scratch.extend_from_slice(s);
                for c in self.scratch.chunks_exact_mut(width as usize) {
                    c.reverse();
                }
                self.content.update(&self.scratch);
            }
            Form::Pcm { .. } | Form::Bytes => {
                self.content.update(s);
            }
        }
    }

    fn finish(self, id: u32, codec: Option<&'static str>) -> TrackContent {
        let params = matches!(self.form, Form::Nal { .. }).then(|| {
            let mut h = blake3::Hasher::new();
            for p in &self.params {
                h.update(&(p.len() as u32).to_be_bytes());
                h.update(p);
            }
            Digest32(*h.finalize().as_bytes())
        });
        TrackContent {
            id,
            codec,
            samples: self.samples,
            form: self.form.name(),
            content_blake3: Digest32(*self.content.finalize().as_bytes()),
            params_blake3: params,
            missing: self.missing,
        }
    }
}

/// The canonical form of one packet (content-hash form version 1, as
/// [`content_hashes`] applies it to every sample of a track), for proving a
/// stream copy packet by packet:
///
/// - H.264 / H.265: each VCL NAL unit as a 4-byte big-endian length and its
///   bytes (trailing zero bytes dropped); length prefixes, Annex B start
///   codes, delimiters, SEI and parameter sets are not part of it;
/// - AAC: the raw frame, ADTS header removed;
/// - anything else: the bytes as stored.
///
/// ```
/// use custody_hash::content::PacketForm;
/// let annex_b = [0, 0, 0, 1, 0x65, 0xaa, 0, 0, 1, 0x06, 0x01];
/// let avcc = [0, 0, 0, 2, 0x65, 0xaa];
/// let hash = |form: PacketForm, d: &[u8]| {
///     let mut h = blake3::Hasher::new();
///     form.feed(d, &mut h);
///     h.finalize()
/// };
/// let nal = |length_size| PacketForm::Nal { hevc: false, length_size };
/// assert_eq!(hash(nal(None), &annex_b), hash(nal(Some(4)), &avcc));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketForm {
    /// H.264 (`hevc: false`) or H.265 NAL units; `length_size` is the size
    /// of the length prefix, `None` for Annex B.
    Nal {
        /// H.265 rather than H.264.
        hevc: bool,
        /// Bytes of each NAL unit's length prefix; `None` for Annex B.
        length_size: Option<u8>,
    },
    /// AAC, with or without ADTS headers.
    Aac,
    /// Bytes as stored.
    Bytes,
}

impl PacketForm {
    /// Feeds the canonical form of the packet `data` to `h`.
    pub fn feed(self, data: &[u8], h: &mut blake3::Hasher) {
        match self {
            PacketForm::Nal { hevc, length_size } => for_each_nal(data, length_size, |nal| {
                if let Nal::Vcl(unit) = nal_kind(nal, hevc) {
                    feed_vcl(unit, h);
                }
            }),
            PacketForm::Aac => {
                h.update(adts_payload(data));
            }
            PacketForm::Bytes => {
                h.update(data);
            }
        }
    }
}

/// What a NAL unit is to the content hash (trailing zero bytes dropped: a
/// conforming unit never ends in 0x00, and Annex B cannot carry one that
/// does).
enum Nal<'a> {
    Vcl(&'a [u8]),
    Param(&'a [u8]),
    Other,
}

fn nal_kind(nal: &[u8], hevc: bool) -> Nal<'_> {
    let mut end = nal.len();
    while end > 0 && nal[end - 1] == 0 {
        end -= 1;
    }
    let nal = &nal[..end];
    let Some(&h) = nal.first() else {
        return Nal::Other;
    };
    let (vcl, param) = if hevc {
        let t = (h >> 1) & 0x3f;
        (t < 32, matches!(t, 32..=34))
    } else {
        let t = h & 0x1f;
        ((1..=5).contains(&t), matches!(t, 7 | 8 | 13 | 15))
    };
    if vcl {
        Nal::Vcl(nal)
    } else if param {
        Nal::Param(nal)
    } else {
        Nal::Other
    }
}

fn feed_vcl(unit: &[u8], h: &mut blake3::Hasher) {
    h.update(&(unit.len() as u32).to_be_bytes());
    h.update(unit);
}

/// Calls `f` with each NAL unit of `s`: length-prefixed (`Some(size)`) or
/// Annex B (`None`).
fn for_each_nal(s: &[u8], length_size: Option<u8>, mut f: impl FnMut(&[u8])) {
    match length_size {
        Some(n) => {
            let n = n as usize;
            let mut at = 0;
            while n > 0 && at + n <= s.len() {
                let len = s[at..at + n]
                    .iter()
                    .fold(0usize, |a, &b| (a << 8) | b as usize);
                at += n;
                let end = at.saturating_add(len).min(s.len());
                f(&s[at..end]);
                at = end;
            }
        }
        None => annex_b(s).for_each(f),
    }
}

/// An AAC frame without its ADTS header, if it has one.
fn adts_payload(s: &[u8]) -> &[u8] {
    let header = match s {
        [0xff, b, ..] if b & 0xf6 == 0xf0 => {
            if b & 1 == 1 {
                7
            } else {
                9
            }
        }
        _ => 0,
    };
    s.get(header..).unwrap_or(&[])
}

/// Splits an Annex B byte stream into NAL units (without start codes or
/// trailing zeros), without allocating.
fn annex_b(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    /// The index just past the first `00 00 01` at or after `from`.
    fn after_start_code(s: &[u8], from: usize) -> Option<usize> {
        let mut i = from;
        while i + 3 <= s.len() {
            if s[i] == 0 && s[i + 1] == 0 && s[i + 2] == 1 {
                return Some(i + 3);
            }
            i += 1;
        }
        None
    }
    let mut next = after_start_code(s, 0);
    std::iter::from_fn(move || {
        let a = next?;
        next = after_start_code(s, a);
        let mut e = next.map_or(s.len(), |n| n - 3);
        while e > a && s[e - 1] == 0 {
            e -= 1;
        }
        Some(&s[a..e])
    })
}

fn form_for(codec: Option<&str>) -> Form {
    match codec {
        Some("h264") => Form::Nal {
            hevc: false,
            length_size: None,
        },
        Some("hevc") => Form::Nal {
            hevc: true,
            length_size: None,
        },
        Some("aac") => Form::Adts,
        Some(c) => pcm_form(c).unwrap_or(Form::Bytes),
        None => Form::Bytes,
    }
}

/// Content hashes of every track, built as the demuxer hands each packet's
/// bytes over (one pass, whatever the packets' sizes). A track's form is
/// chosen from its codec and configuration when its first packet arrives
/// (a stream's codec is known by then); `None` stands for a track with no
/// packet yet.
#[derive(Default)]
struct Canons {
    /// The hash being built, by track (boxed: a hasher is 2 KB, and a file
    /// may have many tracks).
    open: Vec<Option<Box<Canon>>>,
    /// Tracks finished early ([`Sink::track_done`]): one hasher live at a time.
    done: Vec<Option<TrackContent>>,
}

impl Canons {
    fn canon(&mut self, track: &TrackRef<'_>) -> &mut Canon {
        if self.open.len() <= track.index {
            self.open.resize_with(track.index + 1, || None);
        }
        self.open[track.index].get_or_insert_with(|| Box::new(track_canon(track)))
    }

    /// The results for the demuxed file's tracks.
    fn finish(mut self, d: &Demuxed<'_>) -> Result<Vec<TrackContent>, Error> {
        match &d.parsed {
            Parsed::Segment(e) => return Err(e.clone()),
            Parsed::Recognised => {
                return Err(Error::new(
                    0,
                    "",
                    ErrorKind::Unsupported(format!("content hashes of {} files", d.format.name())),
                ));
            }
            _ => {}
        }
        Ok(d.tracks()
            .iter()
            .map(
                |t| match self.done.get_mut(t.index).and_then(Option::take) {
                    Some(done) => done,
                    None => self
                        .open
                        .get_mut(t.index)
                        .and_then(Option::take)
                        .map_or_else(|| track_canon(t), |c| *c)
                        .finish(t.id, t.codec),
                },
            )
            .collect())
    }
}

impl Sink for Canons {
    fn packet(&mut self, track: &TrackRef<'_>, bytes: Option<&[u8]>) {
        let canon = self.canon(track);
        match bytes {
            Some(b) => canon.sample(b),
            None => canon.missing += 1,
        }
    }

    fn beyond_end(&mut self, track: &TrackRef<'_>, n: u64) {
        self.canon(track).missing += n;
    }

    fn track_done(&mut self, track: &TrackRef<'_>) {
        self.canon(track);
        let canon = self.open[track.index].take().expect("just made");
        if self.done.len() <= track.index {
            self.done.resize_with(track.index + 1, || None);
        }
        self.done[track.index] = Some(canon.finish(track.id, track.codec));
    }
}

/// Content hashes of every track of a file in a container Custody parses
/// (every one the demuxer parses: MP4/MOV/3GP, MPEG-TS, MPEG-PS, AVI,
/// WAV/RF64, Matroska, FLV, Ogg, AMR, MP3, ADTS, photos).
pub fn content_hashes(data: &[u8], limits: Limits) -> Result<Vec<TrackContent>, Error> {
    let mut canons = Canons::default();
    let d = demux(data, limits, false, Some(&mut canons))?;
    canons.finish(&d)
}

/// What one parse of a file says of it: its summary and its content
/// hashes (what ingest records of each file).
#[derive(Debug)]
pub struct Described {
    /// The probe summary.
    pub probe: Probe,
    /// The content hashes, or why there are none (a container that is
    /// recognised but not parsed, a media segment without its init).
    pub content: Result<Vec<TrackContent>, Error>,
    /// Samples the index names beyond the end of the file.
    pub samples_beyond_end: u64,
}

/// The probe summary and the content hashes of `data` from one parse.
pub fn describe(data: &[u8], opts: ProbeOptions) -> Result<Described, Error> {
    let mut canons = Canons::default();
    let d = demux(data, opts.limits, true, Some(&mut canons))?;
    Ok(Described {
        probe: summarise(&d, opts),
        samples_beyond_end: d.samples_beyond_end(),
        content: canons.finish(&d),
    })
}

/// A track's canonical form, primed with the parameter sets its sample
/// entry carries out of band.
fn track_canon(t: &TrackRef<'_>) -> Canon {
    let form = form_for(t.codec);
    match form {
        Form::Nal { hevc, .. } if t.length_prefixed => {
            let (params, n) = t.config.map_or((Vec::new(), 4), |c| {
                custody_container::codec::parameter_sets(&c.kind.0, c.bytes)
            });
            let mut canon = Canon::new(Form::Nal {
                hevc,
                length_size: Some(n),
            });
            for p in params {
                canon.nal(p, hevc);
            }
            canon
        }
        _ => Canon::new(form),
    }
}

/// The largest packet [`content_hashes_read`] reads into memory.
pub const MAX_READ_SAMPLE: u32 = 256 << 20;

/// Content hashes of a file that is not mapped, in a container whose
/// packets are each one run of bytes (MP4/MOV/3GP, WAV/RF64, AVI,
/// Matroska, FLV, audio files, photos): `d` is its demuxed index (parsed
/// from the ranges a probe reads, see `custody_container::probe_ranges`),
/// `len` the file's length, and `read(offset, buf)` fills `buf` from the
/// file. Each packet is read on its own, so memory holds the index and one
/// packet, never the file; the hashes equal [`content_hashes`] over the
/// whole file's bytes. A packet larger than [`MAX_READ_SAMPLE`] is refused
/// (`Unsupported`, at its offset) rather than read.
pub fn content_hashes_read(
    d: &Demuxed<'_>,
    len: u64,
    mut read: impl FnMut(u64, &mut [u8]) -> std::io::Result<()>,
) -> Result<Vec<TrackContent>, Error> {
    let mut canons = Canons::default();
    d.hand_over_read(len, MAX_READ_SAMPLE as u64, &mut read, &mut canons)?;
    canons.finish(d)
}

/// Content hashes of every stream of an MPEG-TS or MPEG-PS file read front
/// to back through `input` (a [`Windowed`] file that is not mapped): what
/// [`content_hashes`] gives for its bytes, holding a window and the units
/// being completed, never the file. Other containers are read at random: an
/// `Unsupported` error.
///
/// [`Windowed`]: custody_container::input::Windowed
pub fn content_hashes_input<I: Input>(
    input: I,
    limits: Limits,
) -> Result<Vec<TrackContent>, Error> {
    let mut canons = Canons::default();
    let d = demux_input(input, limits, false, Some(&mut canons))?;
    canons.finish(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_and_length_prefixed_agree() {
        let idr = [0x65, 0x88, 0x84, 0x00, 0x21];
        let sps = [0x67, 0x64, 0x00, 0x1f];
        let mut annexb = vec![0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1];
        annexb.extend_from_slice(&sps);
        annexb.extend_from_slice(&[0, 0, 1]);
        annexb.extend_from_slice(&idr);
        annexb.extend_from_slice(&[0, 0]);
        let mut a = Canon::new(Form::Nal {
            hevc: false,
            length_size: None,
        });
        a.sample(&annexb);
        let mut prefixed = (idr.len() as u32).to_be_bytes().to_vec();
        prefixed.extend_from_slice(&idr);
        let mut b = Canon::new(Form::Nal {
            hevc: false,
            length_size: Some(4),
        });
        b.params.insert(sps.to_vec());
        b.sample(&prefixed);
        assert_eq!(a.finish(1, None), b.finish(1, None));
    }

    #[test]
    fn adts_header_is_dropped_and_pcm_is_little_endian() {
        let mut a = Canon::new(Form::Adts);
        a.sample(&[0xff, 0xf1, 0x50, 0x80, 0x01, 0x7f, 0xfc, 1, 2, 3]);
        let mut b = Canon::new(Form::Bytes);
        b.sample(&[1, 2, 3]);
        assert_eq!(
            a.finish(1, None).content_blake3,
            b.finish(1, None).content_blake3
        );
        let mut be = Canon::new(pcm_form("pcm_s16be").unwrap());
        be.sample(&[0x12, 0x34, 0x56, 0x78]);
        let mut le = Canon::new(pcm_form("pcm_s16le").unwrap());
        le.sample(&[0x34, 0x12, 0x78, 0x56]);
        assert_eq!(
            be.finish(1, None).content_blake3,
            le.finish(1, None).content_blake3
        );
    }
}
